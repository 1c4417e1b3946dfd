"""Checking a year's timetable: weekly hours against the curriculum, and the «checked» mark.

The deputy marks the timetable checked only when it has no conflicts. The mark is
an audit entry carrying a fingerprint of the year's entries: any later edit, by any
path (the grid, an import, a script), changes the fingerprint and the mark lapses
by itself, so the page never calls a changed timetable checked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from dataclasses import dataclass

from ..db import write
from ..models import (
    AcademicYear,
    AuditEntry,
    CurriculumLine,
    SchoolClass,
    Subject,
    SubjectGroup,
    TimetableEntry,
    User,
)
from ..years import PlanningError, ensure_editable
from .conflicts import year_conflicts
from .entries import default_day, load_entries

CHECKED = "timetable.checked"


@dataclass(frozen=True)
class HoursRow:
    """One group whose lessons a week differ from the curriculum's hours."""

    class_name: str
    subject: str
    subgroup: int | None
    planned: int  # entries a week
    needed: int | None  # the curriculum's hours a week; None: the subject is not in it

    @property
    def status(self) -> str:
        if self.needed is None:
            return "нет в учебном плане"
        return "мало" if self.planned < self.needed else "много"

    @property
    def group_label(self) -> str:
        return f"{self.subject}, {self.subgroup} подгр." if self.subgroup else self.subject


def weekly_hours(year: AcademicYear, day: dt.date) -> list[HoursRow]:
    """Groups whose lessons a week on ``day``'s timetable differ from the curriculum.

    Each subgroup is counted on its own: every subgroup must get the subject's hours.
    Groups of a subject the curriculum has no hours for are listed when they meet.
    """
    planned = Counter(e.group_id for e in load_entries(year, start=day, end=day))
    needed = {
        (grade, subject): hours
        for grade, subject, hours in CurriculumLine.select(
            CurriculumLine.grade, CurriculumLine.subject, CurriculumLine.hours_week
        )
        .where(CurriculumLine.year == year)
        .tuples()
    }
    groups = (
        SubjectGroup.select(SubjectGroup, SchoolClass, Subject)
        .join(SchoolClass)
        .switch(SubjectGroup)
        .join(Subject)
        .where((SubjectGroup.year == year) & ~SchoolClass.closed)
        .order_by(SchoolClass.grade, SchoolClass.letter, Subject.sort_order, Subject.name)
    )
    rows = []
    for group in groups:
        have = planned.get(group.id, 0)
        want = needed.get((group.school_class.grade, group.subject_id))
        if (want is None and have) or (want is not None and have != want):
            rows.append(
                HoursRow(group.school_class.name, group.subject.name, group.subgroup, have, want)
            )
    return rows


def fingerprint(year: AcademicYear) -> str:
    """A hash of every entry of the year: it changes with any edit of the timetable."""
    rows = (
        TimetableEntry.select(
            TimetableEntry.id,
            TimetableEntry.group,
            TimetableEntry.weekday,
            TimetableEntry.number,
            TimetableEntry.room,
            TimetableEntry.valid_from,
            TimetableEntry.valid_to,
        )
        .join(SubjectGroup)
        .where(SubjectGroup.year == year)
        .order_by(TimetableEntry.id)
        .tuples()
    )
    digest = hashlib.sha256()
    for row in rows:
        digest.update(repr(tuple(str(v) for v in row)).encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class CheckStatus:
    checked: bool
    at: dt.datetime | None = None
    by: str = ""
    changed_since: bool = False  # checked once, edited after


def check_status(year: AcademicYear) -> CheckStatus:
    """Whether the year's timetable is marked checked and unchanged since."""
    mark = (
        AuditEntry.select()
        .where((AuditEntry.action == CHECKED) & (AuditEntry.entity_uuid == year.uuid))
        .order_by(AuditEntry.seq.desc())
        .first()
    )
    if mark is None:
        return CheckStatus(False)
    try:
        recorded = json.loads(mark.after or "{}").get("fingerprint")
    except ValueError:
        recorded = None
    same = recorded == fingerprint(year)
    return CheckStatus(same, mark.at, mark.username, changed_since=not same)


def mark_checked(year: AcademicYear, *, user: User | None, ip: str = "") -> int:
    """Mark the timetable checked; refused while it has conflicts. Returns the entry count."""
    ensure_editable(year)
    with write(user=user, ip=ip) as rec:
        entries = load_entries(year)
        if not entries:
            raise PlanningError("Расписание пусто: проверять нечего.")
        conflicts = year_conflicts(year, entries=entries)
        if conflicts:
            raise PlanningError(
                f"В расписании есть накладки ({len(conflicts)}): исправьте их, "
                "затем отметьте расписание проверенным."
            )
        rec.record(
            CHECKED,
            year,
            after={
                "fingerprint": fingerprint(year),
                "entries": len(entries),
                "hours_mismatches": len(weekly_hours(year, default_day(year))),
            },
        )
    return len(entries)
