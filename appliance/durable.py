"""Durable files: what a write needs so that a power cut cannot lose it.

The box is a Raspberry Pi in a school, switched off at the wall: a file written and
renamed into place is only safe once its directory is synced too.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """Make a rename (or a new file, or a link) in ``folder`` survive a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
