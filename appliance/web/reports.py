"""Reports (§8, §9.1, §7.1): filled in by the reports work (issue 7)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")
