"""A year's timetable entries as plain rows: the one loader grids, checks and export share.

`load_entries` reads a year's entries with their group, class, subject, room and
teachers in three queries and returns frozen `EntryRow`s, so the conflict check over
a whole school (≈1 500 entries) runs in memory without touching the database again.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from peewee import JOIN

from ..imports_columns import CellError, parse_date
from ..models import (
    AcademicYear,
    Bell,
    BellSchedule,
    Person,
    Room,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupTeacher,
    TimetableEntry,
)

WEEKDAYS = {
    1: "Понедельник",
    2: "Вторник",
    3: "Среда",
    4: "Четверг",
    5: "Пятница",
    6: "Суббота",
}
WEEKDAY_SHORT = {1: "Пн", 2: "Вт", 3: "Ср", 4: "Чт", 5: "Пт", 6: "Сб"}
MAX_NUMBER = 10  # lesson numbers in a day (a second shift ends around the 10th)
FOREVER = dt.date.max


@dataclass(frozen=True)
class EntryRow:
    """One timetable entry with what a person needs to read it."""

    id: int
    group_id: int
    class_id: int
    class_name: str
    grade: int
    subject_id: int
    subject: str
    subgroup: int | None
    is_draft: bool
    weekday: int
    number: int
    room_id: int | None
    room: str
    valid_from: dt.date
    valid_to: dt.date | None
    teacher_ids: tuple[int, ...]

    @property
    def ends(self) -> dt.date:
        return self.valid_to or FOREVER

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day <= self.ends

    def meets_within(self, start: dt.date, end: dt.date) -> bool:
        return self.valid_from <= end and self.ends >= start

    @property
    def group_label(self) -> str:
        """«Английский язык, 1 подгр.» — the subject and, for a subgroup, its number."""
        return f"{self.subject}, {self.subgroup} подгр." if self.subgroup else self.subject

    @property
    def label(self) -> str:
        """«5А Математика»: which class has what (conflict messages, change lists)."""
        return f"{self.class_name} {self.group_label}"

    @property
    def room_label(self) -> str:
        return room_label(self.room)


def room_label(name: str) -> str:
    """«каб. 204» for a numbered room, a named one as it is («Спортзал»)."""
    if not name:
        return ""
    return f"каб. {name}" if name[0].isdigit() else name


def load_entries(
    year: AcademicYear,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    class_id: int | None = None,
) -> list[EntryRow]:
    """The year's entries (of open classes) valid at some day from ``start`` to ``end``.

    Without dates: every entry of the year. Drafts are included: the deputy builds
    next year's timetable while the carried-over groups are still drafts.
    """
    query = (
        TimetableEntry.select(
            TimetableEntry.id,
            TimetableEntry.group,
            SchoolClass.id,
            SchoolClass.grade,
            SchoolClass.letter,
            Subject.id,
            Subject.name,
            SubjectGroup.subgroup,
            SubjectGroup.is_draft,
            TimetableEntry.weekday,
            TimetableEntry.number,
            TimetableEntry.room,
            Room.name,
            TimetableEntry.valid_from,
            TimetableEntry.valid_to,
        )
        .join(SubjectGroup)
        .join(SchoolClass)
        .switch(SubjectGroup)
        .join(Subject)
        .switch(TimetableEntry)
        .join(Room, JOIN.LEFT_OUTER)
        .where((SubjectGroup.year == year) & ~SchoolClass.closed)
    )
    if end is not None:
        query = query.where(TimetableEntry.valid_from <= end)
    if start is not None:
        query = query.where(TimetableEntry.valid_to.is_null() | (TimetableEntry.valid_to >= start))
    if class_id is not None:
        query = query.where(SchoolClass.id == class_id)
    teachers = group_teachers(year)
    rows = []
    for (
        entry_id,
        group_id,
        class_id_,
        grade,
        letter,
        subject_id,
        subject,
        subgroup,
        is_draft,
        weekday,
        number,
        room_id,
        room,
        valid_from,
        valid_to,
    ) in query.tuples().iterator():
        rows.append(
            EntryRow(
                entry_id,
                group_id,
                class_id_,
                f"{grade}{letter}",
                grade,
                subject_id,
                subject,
                subgroup,
                bool(is_draft),
                weekday,
                number,
                room_id,
                room or "",
                _date(valid_from),
                _date(valid_to) if valid_to else None,
                teachers.get(group_id, ()),
            )
        )
    rows.sort(
        key=lambda e: (e.weekday, e.number, e.grade, e.class_name, e.subject, e.subgroup or 0)
    )
    return rows


def _date(value) -> dt.date:
    """SQLite hands dates of a `.tuples()` query back as text on some paths."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def group_teachers(year: AcademicYear) -> dict[int, tuple[int, ...]]:
    """Every group's teachers (the main one first), one query for the year."""
    found: dict[int, list[int]] = defaultdict(list)
    links = (
        SubjectGroupTeacher.select(SubjectGroupTeacher.group, SubjectGroupTeacher.teacher)
        .join(SubjectGroup)
        .where(SubjectGroup.year == year)
        .order_by(SubjectGroupTeacher.is_main.desc(), SubjectGroupTeacher.id)
        .tuples()
    )
    for group_id, teacher_id in links:
        found[group_id].append(teacher_id)
    return {group_id: tuple(ids) for group_id, ids in found.items()}


def short_names(person_ids: Iterable[int]) -> dict[int, str]:
    """«Смирнова Е. В.» by person id, for the people asked about."""
    ids = sorted(set(person_ids))
    names: dict[int, str] = {}
    for chunk in range(0, len(ids), 500):
        for person in Person.select().where(Person.id.in_(ids[chunk : chunk + 500])):
            names[person.id] = person.short_name
    return names


def entry_row(entry: TimetableEntry) -> EntryRow:
    """One stored entry as a row (after an edit, for its conflict warning)."""
    group = entry.group
    return EntryRow(
        entry.id,
        group.id,
        group.school_class_id,
        group.school_class.name,
        group.school_class.grade,
        group.subject_id,
        group.subject.name,
        group.subgroup,
        group.is_draft,
        entry.weekday,
        entry.number,
        entry.room_id,
        entry.room.name if entry.room_id else "",
        entry.valid_from,
        entry.valid_to,
        group_teachers(group.year).get(group.id, ()),
    )


# --- dates and bells ----------------------------------------------------------------------


def parse_day(raw: str | None) -> dt.date | None:
    """``?on=`` as ДД.ММ.ГГГГ or ГГГГ-ММ-ДД; None when empty or not a date."""
    if not raw or not raw.strip():
        return None
    try:
        return parse_date(raw)
    except CellError:
        return None


def default_day(year: AcademicYear, today: dt.date | None = None) -> dt.date:
    """The day whose timetable a page shows by default: today, clipped to the year."""
    today = today or dt.date.today()
    return min(max(today, year.starts), year.ends)


def week_of(day: dt.date) -> list[dt.date]:
    """Monday to Saturday of the week containing ``day``."""
    monday = day - dt.timedelta(days=day.weekday())
    return [monday + dt.timedelta(days=i) for i in range(6)]


def bell_times() -> dict[int, str]:
    """«08:30–09:10» by lesson number, from the default bell schedule."""
    schedule = (
        BellSchedule.select().order_by(BellSchedule.is_default.desc(), BellSchedule.id).first()
    )
    if schedule is None:
        return {}
    bells = Bell.select().where(Bell.schedule == schedule).order_by(Bell.number)
    return {b.number: f"{b.starts:%H:%M}–{b.ends:%H:%M}" for b in bells}
