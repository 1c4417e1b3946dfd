"""The box's self-diagnosis on a page (issue 8): filled in by the doctor work."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("doctor", __name__, url_prefix="/doctor")
