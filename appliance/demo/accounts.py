"""Demo accounts: a login, a known password and role grants for every person."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .. import passwords
from ..bulk import insert_rows, next_id
from ..models import RoleGrant, User, now
from .names import Logins
from .roster import Member, Roster, StaffMember
from .staffing import ClassPlan

# Demo passwords are printed in a CSV anyway: a cheap hash keeps the build fast, and a
# real login re-hashes with the standard costs (`passwords.needs_rehash`).
DEMO_PASSWORD_PROFILE = "fast"
PASSWORD_LENGTH = 10
ALPHABET = passwords._ALPHABET  # the same letters as issued initial passwords


@dataclass(frozen=True)
class DemoAccount:
    role: str  # the account's main role: director, deputy, admin, teacher, class_teacher …
    username: str
    password: str
    full_name: str


@dataclass
class AccountPlan:
    member: Member
    role: str
    grants: list[tuple[str, int | None]] = field(default_factory=list)
    username: str = ""
    password: str = ""
    user_id: int = 0


def _full_name(member: Member) -> str:
    n = member.name
    return " ".join(p for p in (n.last_name, n.first_name, n.middle_name) if p)


def plan_accounts(
    rng: random.Random, roster: Roster, classes: list[ClassPlan]
) -> list[AccountPlan]:
    """Every account in the order of the accounts list: administration, teachers, families."""
    led = {cls.class_teacher.id: cls for cls in classes if cls.class_teacher}

    def staff_grants(member: StaffMember) -> list[tuple[str, int | None]]:
        grants = [(role, None) for role in member.spec.roles]
        if member.id in led:
            grants.append(("class_teacher", led[member.id].id))
        return grants

    by_role: dict[str, list[AccountPlan]] = {
        r: [] for r in ("director", "deputy", "admin", "teacher", "class_teacher")
    }
    for member in roster.staff:
        main = member.spec.roles[0]
        if main == "teacher" and member.id in led:
            main = "class_teacher"
        by_role[main].append(AccountPlan(member, main, staff_grants(member)))
    by_role["class_teacher"].sort(key=lambda a: led[a.member.id].index)
    plans = [account for accounts in by_role.values() for account in accounts]
    plans.append(AccountPlan(roster.inspector, "inspector", [("inspector", None)]))
    plans += [AccountPlan(p, "parent", [("parent", None)]) for p in roster.parents]
    plans += [AccountPlan(s, "student", [("student", None)]) for s in roster.students]

    logins = Logins()
    for account in plans:
        n = account.member.name
        account.username = logins.new(n.last_name, n.first_name, n.middle_name)
        account.password = "".join(rng.choice(ALPHABET) for _ in range(PASSWORD_LENGTH))
    return plans


def write_users(plans: list[AccountPlan]) -> int:
    """Insert the users and their role grants; return how many users."""
    first = next_id(User)
    changed = now()
    rows = []
    for offset, account in enumerate(plans):
        account.user_id = first + offset
        rows.append(
            {
                "id": account.user_id,
                "person": account.member.id,
                "username": account.username,
                "password_hash": passwords.hash_password(account.password, DEMO_PASSWORD_PROFILE),
                "must_change_password": False,
                "password_changed_at": changed,
            }
        )
    insert_rows(User, rows)
    insert_rows(
        RoleGrant,
        (
            {"user": account.user_id, "role": role, "school_class": class_id}
            for account in plans
            for role, class_id in account.grants
        ),
    )
    return len(rows)


def demo_accounts(plans: list[AccountPlan]) -> list[DemoAccount]:
    return [DemoAccount(a.role, a.username, a.password, _full_name(a.member)) for a in plans]


def write_accounts_csv(path: str | Path, accounts: Iterable[DemoAccount]) -> None:
    """The demo's logins and passwords as CSV: role,username,password,full_name (UTF-8)."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["role", "username", "password", "full_name"])
        for account in accounts:
            writer.writerow([account.role, account.username, account.password, account.full_name])
