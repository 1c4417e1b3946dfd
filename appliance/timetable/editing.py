"""The deputy edits the timetable: add an entry, change it, remove it, with validity dates.

Before the year starts an entry is changed in place. Once it has been in force, a
change from a date closes the old entry the day before and adds a new one from that
date, so past lessons keep the timetable they were held by. Conflicts never block
saving (the deputy may be half-way through a rebuild); `entry_conflicts` lists the
ones the entry takes part in so the page can warn.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..db import Recorder, snapshot, write
from ..models import (
    Lesson,
    Room,
    SchoolClass,
    SubjectGroup,
    TimetableChange,
    TimetableEntry,
    User,
)
from ..years import PlanningError, ensure_editable
from .conflicts import Conflict, year_conflicts
from .entries import MAX_NUMBER, WEEKDAYS


@dataclass(frozen=True)
class EntryFields:
    """An entry as the deputy typed it."""

    group: SubjectGroup
    weekday: int
    number: int
    room: Room | None
    valid_from: dt.date
    valid_to: dt.date | None = None


def _validate(school_class: SchoolClass, fields: EntryFields, skip: int | None = None) -> None:
    year = school_class.year
    if fields.group.school_class_id != school_class.id:
        raise PlanningError(f"Выберите предмет (группу) класса {school_class.name}.")
    if fields.weekday not in WEEKDAYS:
        raise PlanningError("День недели — от понедельника до субботы.")
    if not 1 <= fields.number <= MAX_NUMBER:
        raise PlanningError(f"Номер урока — от 1 до {MAX_NUMBER}.")
    if not year.starts <= fields.valid_from <= year.ends:
        raise PlanningError(
            f"Дата «действует с» — в пределах {year.name} учебного года "
            f"({year.starts:%d.%m.%Y}–{year.ends:%d.%m.%Y})."
        )
    if fields.valid_to is not None and not fields.valid_from <= fields.valid_to <= year.ends:
        raise PlanningError("Дата «действует по» — не раньше «действует с» и не позже конца года.")
    twins = TimetableEntry.select().where(
        (TimetableEntry.group == fields.group)
        & (TimetableEntry.weekday == fields.weekday)
        & (TimetableEntry.number == fields.number)
        & (TimetableEntry.id != (skip or 0))
        & (TimetableEntry.valid_to.is_null() | (TimetableEntry.valid_to >= fields.valid_from))
    )
    if fields.valid_to is not None:
        twins = twins.where(TimetableEntry.valid_from <= fields.valid_to)
    twin = twins.first()
    if twin is not None:
        raise PlanningError(
            f"У группы уже стоит урок в {WEEKDAYS[fields.weekday].lower()}, "
            f"{fields.number}-й урок (с {twin.valid_from:%d.%m.%Y}): измените его."
        )


def add_entry(
    school_class: SchoolClass, fields: EntryFields, *, user: User | None, ip: str = ""
) -> TimetableEntry:
    """Put a group of the class on a weekday and lesson number (warns, never refuses, on clash)."""
    ensure_editable(school_class.year)
    _validate(school_class, fields)
    with write(user=user, ip=ip) as rec:
        entry = TimetableEntry.create(
            group=fields.group,
            weekday=fields.weekday,
            number=fields.number,
            room=fields.room,
            valid_from=fields.valid_from,
            valid_to=fields.valid_to,
        )
        rec.record("timetable.entry.create", entry, op="create")
    return entry


def _has_been_in_force(entry: TimetableEntry, day: dt.date, today: dt.date) -> bool:
    """Whether the entry gave (or has given) lessons before ``day``: its past must stay."""
    if today < entry.group.year.starts or day <= entry.valid_from:
        return False
    held = Lesson.select().where((Lesson.timetable_entry == entry) & (Lesson.date < day)).exists()
    return held or entry.valid_from < today


def update_entry(
    entry: TimetableEntry,
    fields: EntryFields,
    *,
    user: User | None,
    ip: str = "",
    today: dt.date | None = None,
) -> TimetableEntry:
    """Change an entry from ``fields.valid_from`` on; returns the entry now in force then.

    In place before the year starts or while the entry has no past; otherwise the
    old entry ends the day before and a new one carries the change.
    """
    today = today or dt.date.today()
    school_class = entry.group.school_class
    ensure_editable(school_class.year)
    if fields.valid_from > (entry.valid_to or dt.date.max):
        raise PlanningError(f"Эта запись действует только по {entry.valid_to:%d.%m.%Y}.")
    split = _has_been_in_force(entry, fields.valid_from, today)
    _validate(school_class, fields, skip=entry.id)
    with write(user=user, ip=ip) as rec:
        if not split:
            before = snapshot(entry)
            entry.group = fields.group
            entry.weekday, entry.number = fields.weekday, fields.number
            entry.room = fields.room
            entry.valid_from, entry.valid_to = fields.valid_from, fields.valid_to
            entry.save()
            rec.record("timetable.entry.update", entry, before=before, op="update")
            return entry
        _close(entry, fields.valid_from, rec)
        new = TimetableEntry.create(
            group=fields.group,
            weekday=fields.weekday,
            number=fields.number,
            room=fields.room,
            valid_from=fields.valid_from,
            valid_to=fields.valid_to,
        )
        rec.record("timetable.entry.create", new, op="create")
        if (new.group_id, new.weekday, new.number) == (entry.group_id, entry.weekday, entry.number):
            # One-off changes from that day on belong to the meeting, now the new entry's.
            TimetableChange.update(entry=new).where(
                (TimetableChange.entry == entry) & (TimetableChange.date >= fields.valid_from)
            ).execute()
    return new


def _close(entry: TimetableEntry, day: dt.date, rec: Recorder) -> None:
    before = snapshot(entry)
    entry.valid_to = day - dt.timedelta(days=1)
    entry.save()
    rec.record("timetable.entry.close", entry, before=before, op="update")


def delete_entry(
    entry: TimetableEntry,
    day: dt.date,
    *,
    user: User | None,
    ip: str = "",
    today: dt.date | None = None,
) -> str:
    """Take an entry off the timetable from ``day``: "closed" (its past stays) or "deleted"."""
    today = today or dt.date.today()
    ensure_editable(entry.group.year)
    if day > (entry.valid_to or dt.date.max):
        raise PlanningError(f"Эта запись и так действует только по {entry.valid_to:%d.%m.%Y}.")
    keep_past = _has_been_in_force(entry, day, today)
    with write(user=user, ip=ip) as rec:
        if keep_past:
            _close(entry, day, rec)
            return "closed"
        before = snapshot(entry)
        entry.delete_instance()
        rec.record("timetable.entry.delete", entry, before=before, op="delete")
        return "deleted"


def entry_conflicts(entry: TimetableEntry) -> list[Conflict]:
    """The conflicts the entry takes part in over its validity (for the warning after saving)."""
    year = entry.group.year
    found = year_conflicts(year, entry.valid_from, entry.valid_to or year.ends)
    return [c for c in found if entry.id in c.entry_ids]
