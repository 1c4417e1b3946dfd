"""The announcements board (§7.5): who posts, for whom, from when and until when.

The deputy, the director and the admin post announcements (meetings, timetable changes)
for an audience. One `Announcement` row says whom it is for:

- ``all`` — everyone; ``staff`` — all staff;
- ``parents`` / ``students`` — all parents or all students, or, with ``school_class``
  set, only the parents or only the students of that class;
- ``class`` with ``school_class`` — the class's parents and students;
- ``grade`` with ``grade`` — parents and students of every class of that grade.

An announcement is shown from ``publish_on`` through ``expires_on`` (inclusive); before
that it is scheduled, after it expired — hidden from first pages, kept in the archive.
The board is the box's own: announcements are audited but not queued for АСУ РСО.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from peewee import JOIN, Expression

from . import access
from .db import snapshot, write
from .imports_columns import parse_date
from .models import Announcement, Person, SchoolClass, User, now
from .numbers import is_number
from .school_calendar import current_year

MAX_TITLE = 200
MAX_BODY = 10_000
HOME_LIMIT = 5
ARCHIVE_LIMIT = 100

# What the form offers under «Кому» (the class and grade choices add a class or a grade).
AUDIENCE_CHOICES = {
    "all": "Всем",
    "staff": "Всем сотрудникам",
    "parents": "Всем родителям",
    "students": "Всем обучающимся",
    "class": "Одному классу",
    "grade": "Параллели (родителям и обучающимся)",
}
# Within one class: who of it.
CLASS_MEMBERS = {
    "both": "родителям и обучающимся",
    "parents": "только родителям",
    "students": "только обучающимся",
}


class AnnouncementError(ValueError):
    """An announcement refused for a reason the writer can fix (message in Russian)."""


# --- who sees what ------------------------------------------------------------------


def _now_shown(today: dt.date) -> Expression:
    return (Announcement.publish_on <= today) & (
        Announcement.expires_on.is_null() | (Announcement.expires_on >= today)
    )


def _school_wide(audience: str) -> Expression:
    return (
        (Announcement.audience == audience)
        & Announcement.school_class.is_null()
        & Announcement.grade.is_null()
    )


def _for_class(school_class: SchoolClass, member: str | None) -> Expression:
    """A class's announcements for its ``member``s ("parents"/"students"; None: either)."""
    audiences = ["class"] + ([member] if member else ["parents", "students"])
    return ((Announcement.school_class == school_class) & Announcement.audience.in_(audiences)) | (
        (Announcement.audience == "grade") & (Announcement.grade == school_class.grade)
    )


def audience_condition(user: User, active: access.ActiveRole, today: dt.date) -> Expression:
    """Which announcements the active role of ``user`` is in the audience of."""
    role = active.role
    condition = Announcement.audience == "all"
    if role in access.STAFF_ROLES:
        condition |= Announcement.audience == "staff"
        if role == "class_teacher" and active.class_id:
            # The class teacher hosts their class's meetings: they see what its families see.
            school_class = SchoolClass.get_or_none(SchoolClass.id == active.class_id)
            if school_class is not None:
                condition |= _for_class(school_class, None)
    elif role == "student":
        condition |= _school_wide("students")
        school_class = access.current_class_of(user.person, today)
        if school_class is not None:
            condition |= _for_class(school_class, "students")
    elif role == "parent":
        condition |= _school_wide("parents")
        for child in access.children_of(user.person):
            school_class = access.current_class_of(child, today)
            if school_class is not None:
                condition |= _for_class(school_class, "parents")
    return condition


def _query():
    """Announcements with their author and class, in one query."""
    return (
        Announcement.select(Announcement, User, Person, SchoolClass)
        .join(User)
        .join(Person)
        .switch(Announcement)
        .join(SchoolClass, JOIN.LEFT_OUTER)
    )


def _newest_first(query):
    return query.order_by(Announcement.publish_on.desc(), Announcement.id.desc())


def for_viewer(
    user: User,
    active_role: access.ActiveRole,
    today: dt.date | None = None,
    limit: int | None = None,
) -> list[Announcement]:
    """What the viewer should see now, newest first (the first page and the board)."""
    today = today or dt.date.today()
    query = _query().where(_now_shown(today) & audience_condition(user, active_role, today))
    query = _newest_first(query)
    return list(query.limit(limit) if limit else query)


def on_home(user: User, active_role: access.ActiveRole) -> tuple[list[Announcement], bool]:
    """The first page's few newest announcements, and whether there are more."""
    shown = for_viewer(user, active_role, limit=HOME_LIMIT + 1)
    return shown[:HOME_LIMIT], len(shown) > HOME_LIMIT


def visible_to(
    announcement: Announcement,
    user: User,
    active_role: access.ActiveRole,
    today: dt.date | None = None,
) -> bool:
    """Is this announcement shown to the viewer now? (a reader opening it by its id)"""
    today = today or dt.date.today()
    return (
        Announcement.select()
        .where(
            (Announcement.id == announcement.id)
            & _now_shown(today)
            & audience_condition(user, active_role, today)
        )
        .exists()
    )


def may_write(active_role: access.ActiveRole) -> bool:
    """Any announcements writer may post, edit and delete any announcement."""
    return access.allowed(active_role.role, "announcements", access.WRITE)


@dataclass
class Board:
    """The whole board as a writer sees it."""

    current: list[Announcement]
    scheduled: list[Announcement]
    expired: list[Announcement]


def board(today: dt.date | None = None) -> Board:
    """Every announcement by state: shown now, scheduled, and the archive of expired ones."""
    today = today or dt.date.today()
    expired = Announcement.expires_on < today
    scheduled = Announcement.publish_on > today
    return Board(
        current=list(_newest_first(_query().where(_now_shown(today)))),
        scheduled=list(
            _query().where(scheduled).order_by(Announcement.publish_on, Announcement.id)
        ),
        expired=list(
            _query()
            .where(expired)
            .order_by(Announcement.expires_on.desc(), Announcement.id.desc())
            .limit(ARCHIVE_LIMIT)
        ),
    )


def state(announcement: Announcement, today: dt.date | None = None) -> str:
    """ "scheduled", "current" or "expired"."""
    today = today or dt.date.today()
    if announcement.publish_on > today:
        return "scheduled"
    if announcement.expires_on is not None and announcement.expires_on < today:
        return "expired"
    return "current"


def audience_label(announcement: Announcement) -> str:
    """«5А: только родителям», «5-е классы: родителям и обучающимся», «Всем»."""
    audience = announcement.audience
    if announcement.school_class_id is not None:
        member = {"class": "both", "parents": "parents", "students": "students"}[audience]
        return f"{announcement.school_class.name}: {CLASS_MEMBERS[member]}"
    if audience == "grade":
        return f"{announcement.grade}-е классы: родителям и обучающимся"
    return AUDIENCE_CHOICES.get(audience, audience)


def class_choices(including: SchoolClass | None = None) -> list[SchoolClass]:
    """The classes of the current year the form offers (and the edited one's own class)."""
    year = current_year()
    classes = []
    if year is not None:
        classes = list(
            SchoolClass.select()
            .where((SchoolClass.year == year) & ~SchoolClass.closed)
            .order_by(SchoolClass.grade, SchoolClass.letter)
        )
    if including is not None and including not in classes:
        classes.insert(0, including)
    return classes


# --- the form -------------------------------------------------------------------------


def form_values(announcement: Announcement) -> dict[str, str]:
    """The edit form's fields for a stored announcement (the reverse of `clean`)."""
    audience, members = announcement.audience, "both"
    if announcement.school_class_id is not None:
        members = "both" if audience == "class" else audience
        audience = "class"
    return {
        "title": announcement.title,
        "body": announcement.body,
        "audience": audience,
        "school_class": str(announcement.school_class_id or ""),
        "members": members,
        "grade": str(announcement.grade or ""),
        "publish_on": announcement.publish_on.isoformat(),
        "expires_on": announcement.expires_on.isoformat() if announcement.expires_on else "",
    }


def _date(raw: str, what: str) -> dt.date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        day = parse_date(raw)
    except ValueError:
        raise AnnouncementError(f"{what}: не похоже на дату, нужно ДД.ММ.ГГГГ.") from None
    if not 2000 <= day.year <= 2100:
        raise AnnouncementError(f"{what}: проверьте год.")
    return day


def _audience(form: Mapping[str, str]) -> dict:
    audience = form.get("audience", "")
    if audience not in AUDIENCE_CHOICES:
        raise AnnouncementError("Выберите, кому объявление.")
    fields: dict = {"audience": audience, "school_class": None, "grade": None}
    if audience == "class":
        raw = form.get("school_class", "").strip()
        school_class = (
            SchoolClass.get_or_none(SchoolClass.id == int(raw)) if is_number(raw) else None
        )
        if school_class is None:
            raise AnnouncementError("Выберите класс.")
        members = form.get("members", "both") or "both"
        if members not in CLASS_MEMBERS:
            raise AnnouncementError("Выберите, кому в классе: родителям, обучающимся или всем.")
        fields["audience"] = "class" if members == "both" else members
        fields["school_class"] = school_class
    elif audience == "grade":
        raw = form.get("grade", "").strip()
        if not is_number(raw) or not 1 <= int(raw) <= 11:
            raise AnnouncementError("Параллель — номер класса от 1 до 11.")
        fields["grade"] = int(raw)
    return fields


def clean(form: Mapping[str, str], today: dt.date, *, new: bool) -> dict:
    """The model fields from a posted form, or AnnouncementError (Russian)."""
    title = " ".join(form.get("title", "").split())
    body = form.get("body", "").replace("\r\n", "\n").strip()
    if not title:
        raise AnnouncementError("Напишите заголовок объявления.")
    if len(title) > MAX_TITLE:
        raise AnnouncementError(f"Заголовок слишком длинный: не больше {MAX_TITLE} символов.")
    if not body:
        raise AnnouncementError("Напишите текст объявления.")
    if len(body) > MAX_BODY:
        raise AnnouncementError(f"Текст слишком длинный: не больше {MAX_BODY} символов.")
    fields = {"title": title, "body": body, **_audience(form)}
    publish_on = _date(form.get("publish_on", ""), "Дата публикации") or today
    expires_on = _date(form.get("expires_on", ""), "Показывать до")
    if expires_on is not None and expires_on < publish_on:
        raise AnnouncementError("«Показывать до» не может быть раньше даты публикации.")
    if new and expires_on is not None and expires_on < today:
        raise AnnouncementError("Срок показа уже прошёл: объявление никто не увидит.")
    fields.update(publish_on=publish_on, expires_on=expires_on)
    return fields


# --- writes ---------------------------------------------------------------------------


def post(
    form: Mapping[str, str], *, user: User, ip: str, today: dt.date | None = None
) -> Announcement:
    """Publish (or schedule) a new announcement."""
    fields = clean(form, today or dt.date.today(), new=True)
    with write(user=user, ip=ip) as rec:
        announcement = Announcement.create(author=user, **fields)
        rec.record("announcement.create", announcement, op="create")
    return announcement


def update(
    announcement: Announcement,
    form: Mapping[str, str],
    *,
    user: User,
    ip: str,
    today: dt.date | None = None,
) -> Announcement:
    """Change an announcement's text, audience or dates (the author stays)."""
    fields = clean(form, today or dt.date.today(), new=False)
    with write(user=user, ip=ip) as rec:
        before = snapshot(announcement)
        for name, value in fields.items():
            setattr(announcement, name, value)
        announcement.updated_at = now()
        announcement.save()
        rec.record("announcement.update", announcement, before=before, op="update")
    return announcement


def delete(announcement: Announcement, *, confirmed: bool, user: User, ip: str) -> None:
    """Remove an announcement for good (the audit keeps its text)."""
    if not confirmed:
        raise AnnouncementError("Отметьте «Да, удалить», чтобы удалить объявление.")
    with write(user=user, ip=ip) as rec:
        before = snapshot(announcement)
        announcement.delete_instance()
        rec.record("announcement.delete", announcement, before=before, op="delete")
