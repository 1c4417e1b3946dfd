"""Period marks, the class teacher's overview and excuses, КТП progress (issue 3)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("periods", __name__, url_prefix="/periods")
