"""Academic years and the rollover to the next year (issue 4)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("years", __name__, url_prefix="/planning/years")
