"""The deputy's journal control: unlocks, substitutions, work types (issue 3)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("control", __name__, url_prefix="/control")
