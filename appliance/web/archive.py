"""The year-end archive, keys and backups (§9.2): filled in by the archive work (issue 7)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("archive", __name__, url_prefix="/archive")
