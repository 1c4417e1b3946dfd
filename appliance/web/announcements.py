"""The announcements board: posting for an audience, publish and expiry dates (issue 5)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("announcements", __name__, url_prefix="/announcements")
