"""The deputy edits the timetable: add an entry, change it, remove it, with validity dates.

A change «from a date» later than the entry's start closes the old entry the day
before and adds a new one from that date, so the days before keep their lesson and
past lessons keep the timetable they were held by. Only an entry that has never been
in force, changed from its very start (or earlier), is edited in place or deleted
outright; for an entry in force such a date would rewrite its past, so it is refused.
One-off changes of meetings an edit removes are dropped with their own audit entries
and their lessons put back (`changes.drop_changes`). Conflicts never block saving
(the deputy may be half-way through a rebuild); `entry_conflicts` lists the ones the
entry takes part in so the page can warn.
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
from .changes import drop_changes
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


def _in_force(entry: TimetableEntry, today: dt.date) -> bool:
    """Whether the entry has been in force: it began before today or gave a past lesson."""
    if entry.valid_from < today:
        return True
    return Lesson.select().where((Lesson.timetable_entry == entry) & (Lesson.date < today)).exists()


def _in_place(entry: TimetableEntry, day: dt.date, today: dt.date) -> bool:
    """True to edit or delete the entry itself, False to close it the day before ``day``.

    In place only from its start (or earlier) and only while it has no past; the
    same date for an entry in force would rewrite what was held by it: refused.
    """
    if day > entry.valid_from:
        return False
    if _in_force(entry, today):
        tomorrow = max(today + dt.timedelta(days=1), entry.valid_from + dt.timedelta(days=1))
        raise PlanningError(
            f"Эта запись действует с {entry.valid_from:%d.%m.%Y}, по ней уже шли уроки: "
            f"менять или убирать её можно только с более поздней даты "
            f"(например, с {tomorrow:%d.%m.%Y}), чтобы прошедшие уроки остались."
        )
    return True


def update_entry(
    entry: TimetableEntry,
    fields: EntryFields,
    *,
    user: User | None,
    ip: str = "",
    today: dt.date | None = None,
) -> TimetableEntry:
    """Change an entry from ``fields.valid_from`` on; returns the entry now in force then.

    In place when the date is the entry's start (or earlier) and it has never been
    in force; from a later date the old entry ends the day before and a new one
    carries the change. The meeting's one-off changes follow it to the new entry, or
    are dropped (audited, lessons put back) when the edit removes that meeting.
    """
    today = today or dt.date.today()
    school_class = entry.group.school_class
    ensure_editable(school_class.year)
    if fields.valid_from > (entry.valid_to or dt.date.max):
        raise PlanningError(f"Эта запись действует только по {entry.valid_to:%d.%m.%Y}.")
    in_place = _in_place(entry, fields.valid_from, today)
    _validate(school_class, fields, skip=entry.id)
    slot = (fields.group.id, fields.weekday, fields.number)
    same_slot = slot == (entry.group_id, entry.weekday, entry.number)
    with write(user=user, ip=ip) as rec:
        if in_place:
            gone = _changes(entry)
            if same_slot:
                gone = gone.where(
                    (TimetableChange.date < fields.valid_from)
                    | (TimetableChange.date > (fields.valid_to or dt.date.max))
                )
            drop_changes(list(gone), rec)
            before = snapshot(entry)
            entry.group = fields.group
            entry.weekday, entry.number = fields.weekday, fields.number
            entry.room = fields.room
            entry.valid_from, entry.valid_to = fields.valid_from, fields.valid_to
            entry.save()
            rec.record("timetable.entry.update", entry, before=before, op="update")
            return entry
        later = list(_changes(entry).where(TimetableChange.date >= fields.valid_from))
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
        end = fields.valid_to or dt.date.max
        kept = [c for c in later if same_slot and c.date <= end]
        for change in kept:  # one-off changes belong to the meeting, now the new entry's
            before = snapshot(change)
            change.entry = new
            change.save()
            rec.record("timetable.change.update", change, before=before, op="update")
        drop_changes([c for c in later if c not in kept], rec)
    return new


def _changes(entry: TimetableEntry):
    return (
        TimetableChange.select().where(TimetableChange.entry == entry).order_by(TimetableChange.id)
    )


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
    """Take an entry off the timetable from ``day``: "closed" (its past stays) or "deleted".

    Deleted only when ``day`` is its start (or earlier) and it has never been in
    force; from a later day it ends the day before. Either way the one-off changes
    of the meetings it no longer gives go first, each audited, their lessons put
    back (a lesson holding something new refuses the whole removal).
    """
    today = today or dt.date.today()
    ensure_editable(entry.group.year)
    if day > (entry.valid_to or dt.date.max):
        raise PlanningError(f"Эта запись и так действует только по {entry.valid_to:%d.%m.%Y}.")
    in_place = _in_place(entry, day, today)
    with write(user=user, ip=ip) as rec:
        drop_changes(list(_changes(entry).where(TimetableChange.date >= day)), rec)
        if not in_place:
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
