"""The lesson page: topic, homework, attendance and marks on one screen (issue 3)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("lessons", __name__, url_prefix="/lessons")
