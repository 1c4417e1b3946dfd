"""Database backups and the archive keys' status (issue 7): filled in by the backups work."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("backup", __name__, url_prefix="/backup")
