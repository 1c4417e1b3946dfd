"""The school's settings: name, letterhead, the admin's contacts, thresholds (issue 5)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("settings", __name__, url_prefix="/admin/school")
