"""The demo school: a realistic ООШ with a term of journal history, for trying the box.

open_database(path); migrate()
accounts = create_demo_school(seed=1)
write_accounts_csv("demo-accounts.csv", accounts)
"""

from __future__ import annotations

from .accounts import DEMO_PASSWORD_PROFILE, DemoAccount, write_accounts_csv
from .build import DemoError, create_demo_school
from .timetable import timetable_slots

__all__ = [
    "DEMO_PASSWORD_PROFILE",
    "DemoAccount",
    "DemoError",
    "create_demo_school",
    "timetable_slots",
    "write_accounts_csv",
]
