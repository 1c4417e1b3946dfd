"""User activity for a period (§8.1: «формируется один раз за учебный период»).

Per user: roles, successful and failed logins, audited actions by area (marks,
attendance, lessons …), the last login and the last time seen. Per role and per area:
the totals. A fixed handful of queries whatever the number of users: logins and
actions are counted by SQL, grouped by user.

The accounts: every active one, plus any deactivated since that logged in or acted in
the period (a teacher who left in December still did the autumn's work). «Последний
раз в системе» looks no later than the period's end: a report on October does not
show a login of last week.

Personal data of students and parents: the page and its files are behind the
`user_activity` access object (director and deputy), not `reports`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from peewee import Case, fn

from .. import access
from ..audit_labels import SUBJECTS
from ..models import AuditEntry, LoginEvent, Person, RoleGrant, User, UserSession
from .table import ReportDocument, Table, ru_period


@dataclass
class LoginStats:
    logins: int = 0
    failures: int = 0
    last_at: dt.datetime | None = None


def login_stats(since: dt.datetime, until: dt.datetime | None = None) -> dict[int, LoginStats]:
    """Successful and failed logins per user id in [since, until) (one query); ``last_at``
    is the last successful one (a failed attempt is not being in the system).

    The admin's activity page (`admin_queries.activity_rows`) counts the same way.
    """
    success = fn.SUM(LoginEvent.success.cast("integer"))
    where = (LoginEvent.at >= since) & LoginEvent.user.is_null(False)
    if until is not None:
        where &= LoginEvent.at < until
    last_success = fn.MAX(Case(None, [(LoginEvent.success, LoginEvent.at)], None))
    query = (
        LoginEvent.select(LoginEvent.user, success, fn.COUNT(LoginEvent.id) - success, last_success)
        .where(where)
        .group_by(LoginEvent.user)
        .tuples()
    )
    return {
        user_id: LoginStats(ok or 0, failed or 0, _moment(last))
        for user_id, ok, failed, last in query
    }


def _moment(value) -> dt.datetime | None:
    """SQLite aggregates hand back text; peewee converts only plain columns."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def area_of(action: str) -> str:
    """The area of an audit code: «mark.set» → «mark», «ktp.lesson.update» → «ktp.lesson»."""
    return action.rpartition(".")[0] or action


def area_label(area: str) -> str:
    return SUBJECTS.get(area, area)


@dataclass
class UserActivity:
    account: User
    roles: list[str]  # access.ROLES keys
    logins: int = 0
    failures: int = 0
    actions: Counter = field(default_factory=Counter)  # area → count
    last_login: dt.datetime | None = None  # the last successful login in the period
    last_seen: dt.datetime | None = None  # the last request of a session, before its end

    @property
    def name(self) -> str:
        """The person's name; a deactivated account says so."""
        name = self.account.person.full_name
        return name if self.account.is_active else f"{name} (учётная запись отключена)"

    @property
    def last_active(self) -> dt.datetime | None:
        """The later of the last login and the last request of any session."""
        known = [t for t in (self.last_login, self.last_seen) if t is not None]
        return max(known) if known else None

    @property
    def action_count(self) -> int:
        return sum(self.actions.values())

    def top_areas(self, limit: int = 4) -> str:
        """«Отметка: 120, Посещаемость: 40, …» — the busiest areas first."""
        return ", ".join(f"{area_label(a)}: {n}" for a, n in self.actions.most_common(limit))


@dataclass
class RoleActivity:
    role: str
    users: int = 0
    active: int = 0  # logged in at least once in the period
    logins: int = 0
    actions: int = 0

    @property
    def label(self) -> str:
        return access.ROLES[self.role]


@dataclass
class ActivityReport:
    starts: dt.date
    ends: dt.date
    label: str  # «1 четверть», «01.09.2026 — 31.10.2026»
    users: list[UserActivity]
    roles: list[RoleActivity]
    areas: list[tuple[str, int, int]]  # (area, actions, users)

    @property
    def silent(self) -> list[UserActivity]:
        """Active staff who never logged in during the period (the control page shows them)."""
        staff = access.STAFF_ROLES
        return [
            u
            for u in self.users
            if not u.logins and u.account.is_active and staff.intersection(u.roles)
        ]


def _roles(user_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    query = RoleGrant.select(RoleGrant.user, RoleGrant.role).where(RoleGrant.user.in_(user_ids))
    order = list(access.ROLES)
    for user_id, role in query.tuples():
        if role not in found[user_id]:
            found[user_id].append(role)
    for roles in found.values():
        roles.sort(key=order.index)
    return found


def _actions(since: dt.datetime, until: dt.datetime) -> dict[int, Counter]:
    found: dict[int, Counter] = defaultdict(Counter)
    query = (
        AuditEntry.select(AuditEntry.user, AuditEntry.action, fn.COUNT(AuditEntry.seq))
        .where((AuditEntry.at >= since) & (AuditEntry.at < until) & AuditEntry.user.is_null(False))
        .group_by(AuditEntry.user, AuditEntry.action)
        .tuples()
    )
    for user_id, action, count in query:
        found[user_id][area_of(action)] += count
    return found


def _last_seen(until: dt.datetime) -> dict[int, dt.datetime]:
    """The last request of any session before ``until`` (the period's end), per user."""
    query = (
        UserSession.select(UserSession.user, fn.MAX(UserSession.last_seen_at))
        .where(UserSession.last_seen_at < until)
        .group_by(UserSession.user)
    )
    return {user_id: _moment(at) for user_id, at in query.tuples()}


def _accounts(since: dt.datetime, until: dt.datetime, role: str) -> list[User]:
    """Active accounts and those deactivated since that logged in or acted in the period."""
    logged_in = LoginEvent.select(LoginEvent.user).where(
        (LoginEvent.at >= since) & (LoginEvent.at < until) & LoginEvent.user.is_null(False)
    )
    acted = AuditEntry.select(AuditEntry.user).where(
        (AuditEntry.at >= since) & (AuditEntry.at < until) & AuditEntry.user.is_null(False)
    )
    query = (
        User.select(User, Person)
        .join(Person)
        .where(User.is_active | User.id.in_(logged_in) | User.id.in_(acted))
    )
    if role:
        query = query.where(
            User.id.in_(RoleGrant.select(RoleGrant.user).where(RoleGrant.role == role))
        )
    return list(query.order_by(Person.last_name, Person.first_name, Person.middle_name))


def build(starts: dt.date, ends: dt.date, label: str = "", role: str = "") -> ActivityReport:
    """Activity of every account (or of one role's accounts) from ``starts`` to ``ends``."""
    since = dt.datetime.combine(starts, dt.time())
    until = dt.datetime.combine(ends + dt.timedelta(days=1), dt.time())
    logins = login_stats(since, until)
    actions = _actions(since, until)
    seen = _last_seen(until)
    accounts = _accounts(since, until, role)
    roles = _roles([a.id for a in accounts])

    users, by_role, by_area = [], {r: RoleActivity(r) for r in access.ROLES}, Counter()
    area_users: Counter = Counter()
    for account in accounts:
        stats = logins.get(account.id, LoginStats())
        row = UserActivity(
            account,
            roles.get(account.id, []),
            stats.logins,
            stats.failures,
            actions.get(account.id, Counter()),
            stats.last_at,
            seen.get(account.id),
        )
        users.append(row)
        for r in row.roles:
            total = by_role[r]
            total.users += 1
            total.active += 1 if row.logins else 0
            total.logins += row.logins
            total.actions += row.action_count
        by_area.update(row.actions)
        area_users.update(row.actions.keys())
    areas = [(a, n, area_users[a]) for a, n in by_area.most_common()]
    role_rows = [r for r in by_role.values() if r.users]
    return ActivityReport(starts, ends, label or ru_period(starts, ends), users, role_rows, areas)


def document(report: ActivityReport) -> ReportDocument:
    role_names = access.ROLES
    users = Table(
        "Пользователи",
        [
            "ФИО",
            "Логин",
            "Роли",
            "Входов",
            "Неудачных попыток",
            "Действий",
            "Основные разделы",
            "Последний раз в системе",
        ],
        [
            [
                u.name,
                u.account.username,
                ", ".join(role_names[r] for r in u.roles),
                u.logins,
                u.failures,
                u.action_count,
                u.top_areas(),
                _when(u.last_active),
            ]
            for u in report.users
        ],
        [34, 18, 28, 9, 11, 10, 50, 17],
    )
    roles = Table(
        "По ролям",
        ["Роль", "Пользователей", "Входили в систему", "Входов", "Действий"],
        [[r.label, r.users, r.active, r.logins, r.actions] for r in report.roles],
    )
    areas = Table(
        "По разделам",
        ["Раздел", "Действий", "Пользователей"],
        [[area_label(a), n, u] for a, n, u in report.areas],
    )
    return ReportDocument(
        "Отчёт об активности пользователей", f"Период: {report.label}", [roles, areas, users]
    )


def _when(value: dt.datetime | None) -> str:
    return f"{value:%d.%m.%Y %H:%M}" if value else ""
