"""The timetable: grids, conflicts, one-off changes, print, XLSX (issue 4)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("timetable", __name__, url_prefix="/timetable")
