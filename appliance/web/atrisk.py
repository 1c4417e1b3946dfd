"""Notices to parents: students at risk, one-click notices, letters, the log (issue 5)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("atrisk", __name__, url_prefix="/at-risk")
