"""Calendar: academic years, terms and mark deadlines, holidays, bells (issue 4)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("calendar", __name__, url_prefix="/planning/calendar")
