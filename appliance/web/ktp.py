"""КТП: import, checks, copy, export, submit and review (issue 4)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("ktp", __name__, url_prefix="/ktp")
