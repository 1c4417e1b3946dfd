"""In-app help for each role (issue 5)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("help", __name__, url_prefix="/help")
