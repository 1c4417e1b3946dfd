"""Uploaded files waiting between a preview and its confirmation (class lists, КТП).

They hold children's personal data or a teacher's work, so they live in the data
directory (never /tmp), are named by a random token, and are thrown away after an hour.
"""

from __future__ import annotations

import time
from pathlib import Path

from flask import current_app

from . import settings_of

UPLOAD_TTL_SECONDS = 3600  # a preview not confirmed within an hour is thrown away


def upload_dir() -> Path:
    """The folder for previewed uploads; stale files are removed on each use."""
    path = settings_of(current_app).data_dir / "uploads"
    path.mkdir(exist_ok=True)
    deadline = time.time() - UPLOAD_TTL_SECONDS
    for stale in path.iterdir():
        if stale.stat().st_mtime < deadline:
            stale.unlink(missing_ok=True)
    return path
