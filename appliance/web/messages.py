"""Messages: threads, who may write to whom, attachments, a class's parents at once (issue 5)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("messages", __name__, url_prefix="/messages")
