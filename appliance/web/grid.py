"""The journal grid of a subject group and term: students × lessons (issue 3)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("grid", __name__, url_prefix="/journal")
