"""Real lessons from the timetable: one `Lesson` per group meeting on each school day."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from .bulk import insert_rows
from .models import (
    AcademicYear,
    Lesson,
    SchoolClass,
    SubjectGroup,
    SubjectGroupTeacher,
    TimetableEntry,
)
from .school_calendar import SchoolCalendar


@dataclass
class GenerationReport:
    created: int = 0
    kept: int = 0  # meetings that already had their lesson

    @property
    def total(self) -> int:
        return self.created + self.kept


def generate_lessons(year: AcademicYear, start: dt.date, end: dt.date) -> GenerationReport:
    """Create the lessons the timetable gives from ``start`` to ``end`` (inclusive).

    Idempotent: a lesson already stored for (group, date, number) is kept as it is.
    The teacher is the group's main teacher and the room the timetable's. Draft
    groups and closed classes get no lessons. Call inside a write transaction.
    """
    start, end = max(start, year.starts), min(end, year.ends)
    report = GenerationReport()
    if start > end:
        return report
    calendar = SchoolCalendar.load(year)

    entries = (
        TimetableEntry.select(TimetableEntry, SubjectGroup.id, SchoolClass.grade)
        .join(SubjectGroup)
        .join(SchoolClass)
        .where(
            (SubjectGroup.year == year)
            & ~SubjectGroup.is_draft
            & ~SchoolClass.closed
            & (TimetableEntry.valid_from <= end)
            & (TimetableEntry.valid_to.is_null() | (TimetableEntry.valid_to >= start))
        )
        # The newest entry wins when two claim the same group, weekday and number.
        .order_by(TimetableEntry.valid_from.desc(), TimetableEntry.id)
    )
    by_grade: dict[int, dict[int, list[TimetableEntry]]] = defaultdict(lambda: defaultdict(list))
    for entry in entries:
        by_grade[entry.group.school_class.grade][entry.weekday].append(entry)

    main_teacher: dict[int, int] = {}
    links = (
        SubjectGroupTeacher.select(SubjectGroupTeacher.group, SubjectGroupTeacher.teacher)
        .join(SubjectGroup)
        .where((SubjectGroup.year == year) & SubjectGroupTeacher.is_main)
        .order_by(SubjectGroupTeacher.id)
        .tuples()
    )
    for group_id, teacher_id in links:
        main_teacher.setdefault(group_id, teacher_id)

    existing = set(
        Lesson.select(Lesson.group, Lesson.date, Lesson.number)
        .join(SubjectGroup)
        .where((SubjectGroup.year == year) & Lesson.date.between(start, end))
        .tuples()
    )

    seen: set[tuple[int, dt.date, int]] = set()

    def new_lessons():
        for grade, weekdays in by_grade.items():
            for day in calendar.school_days(start, end, grade):
                for entry in weekdays.get(calendar.timetable_weekday(day, grade), ()):
                    if entry.valid_from > day or (entry.valid_to and entry.valid_to < day):
                        continue
                    key = (entry.group_id, day, entry.number)
                    if key in seen:
                        continue
                    seen.add(key)
                    if key in existing:
                        report.kept += 1
                        continue
                    report.created += 1
                    yield {
                        "group": entry.group_id,
                        "date": day,
                        "number": entry.number,
                        "room": entry.room_id,
                        "teacher": main_teacher.get(entry.group_id),
                        "timetable_entry": entry.id,
                        "state": "planned",
                    }

    insert_rows(Lesson, new_lessons())
    return report
