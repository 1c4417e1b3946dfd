"""Queries behind the admin's pages: staff, accounts, activity, audit (no SQL in views)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from peewee import JOIN, fn

from .db import casefold
from .models import (
    AcademicYear,
    AuditEntry,
    LoginEvent,
    Person,
    PersonalDataView,
    RoleGrant,
    SchoolClass,
    User,
)
from .reports.activity import login_stats  # the §8.1 report counts logins the same way

PAGE = 100


@dataclass
class AccountRow:
    person: Person
    account: User | None
    roles: list[str]


def _roles_by_user(user_ids: list[int]) -> dict[int, list[str]]:
    roles: dict[int, list[str]] = {}
    if not user_ids:
        return roles
    query = (
        RoleGrant.select(RoleGrant, SchoolClass)
        .join(SchoolClass, JOIN.LEFT_OUTER)
        .where(RoleGrant.user.in_(user_ids))
    )
    for grant in query:
        label = grant.role
        if grant.school_class_id:
            label = f"{grant.role}:{grant.school_class.name}"
        roles.setdefault(grant.user_id, []).append(label)
    return roles


def staff_rows() -> list[AccountRow]:
    people = list(
        Person.select(Person, User)
        .join(User, JOIN.LEFT_OUTER, on=(User.person == Person.id))
        .where(Person.is_staff)
        .order_by(Person.last_name, Person.first_name)
    )
    accounts = [p.user for p in people if getattr(p, "user", None) and p.user.id]
    roles = _roles_by_user([a.id for a in accounts])
    rows = []
    for person in people:
        account = person.user if getattr(person, "user", None) and person.user.id else None
        rows.append(AccountRow(person, account, roles.get(account.id, []) if account else []))
    return rows


def account_rows(search: str = "", role: str = "") -> list[AccountRow]:
    query = User.select(User, Person).join(Person)
    if search:
        needle = casefold(search)
        query = query.where(
            fn.casefold(User.username).contains(needle)
            | fn.casefold(Person.last_name).contains(needle)
            | fn.casefold(Person.first_name).contains(needle)
        )
    if role:
        query = query.where(
            User.id.in_(RoleGrant.select(RoleGrant.user).where(RoleGrant.role == role))
        )
    accounts = list(query.order_by(Person.last_name, Person.first_name).limit(PAGE))
    roles = _roles_by_user([a.id for a in accounts])
    return [AccountRow(a.person, a, roles.get(a.id, [])) for a in accounts]


@dataclass
class ActivityRow:
    account: User
    logins: int
    failures: int
    last_login: dt.datetime | None


def activity_rows(days: int) -> list[ActivityRow]:
    """Per-user login statistics over the last `days` days (§7.2, §8.1)."""
    stats = login_stats(dt.datetime.now() - dt.timedelta(days=days))
    accounts = User.select(User, Person).join(Person).where(User.id.in_(list(stats)))
    rows = [
        ActivityRow(a, stats[a.id].logins, stats[a.id].failures, a.last_login_at) for a in accounts
    ]
    rows.sort(key=lambda r: (-r.logins, r.account.person.last_name))
    return rows


def login_events(account: User, limit: int = 200) -> list[LoginEvent]:
    return list(
        LoginEvent.select()
        .where(LoginEvent.user == account)
        .order_by(LoginEvent.at.desc())
        .limit(limit)
    )


def audit_entries(before_seq: int | None = None) -> list[AuditEntry]:
    query = AuditEntry.select().order_by(AuditEntry.seq.desc()).limit(PAGE)
    if before_seq:
        query = query.where(AuditEntry.seq < before_seq)
    return list(query)


def current_classes() -> list[SchoolClass]:
    return list(
        SchoolClass.select()
        .join(AcademicYear)
        .where(AcademicYear.is_current & ~SchoolClass.closed)
        .order_by(SchoolClass.grade, SchoolClass.letter)
    )


def log_view(user: User, person: Person, ip: str, what: str) -> None:
    """A personal-data view, kept for 152-ФЗ accountability (not an audited change)."""
    PersonalDataView.create(user=user, person=person, ip=ip, what=what)
