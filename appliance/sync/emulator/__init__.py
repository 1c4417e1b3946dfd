"""АСУ РСО / NetSchool emulator: the other side the box syncs against in tests and the demo.

`create_emulator(data_dir, faults=...)` is a Flask app with its own SQLite state
(`store.EmulatorStore`), seeded from a box database by `seed.seed_from_box`; every path
it serves is in `paths.PATHS`; fault knobs are in `faults.Faults`.
"""

from __future__ import annotations

from .app import DB_NAME, create_emulator, password_hash
from .faults import Faults
from .paths import PATHS
from .seed import seed_from_box
from .store import EmulatorStore, Rejected

__all__ = [
    "DB_NAME",
    "PATHS",
    "EmulatorStore",
    "Faults",
    "Rejected",
    "create_emulator",
    "password_hash",
    "seed_from_box",
]
