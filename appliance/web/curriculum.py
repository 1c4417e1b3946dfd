"""The curriculum (учебный план): hours per grade and subject (issue 4)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("curriculum", __name__, url_prefix="/planning/curriculum")
