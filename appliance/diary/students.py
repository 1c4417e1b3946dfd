"""Whose diary: the students a viewer may open, their subject groups, «данные на …»."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from peewee import fn

from .. import access
from ..models import (
    Attendance,
    Lesson,
    Mark,
    PeriodMark,
    Person,
    SubjectGroup,
    SubjectGroupStudent,
)
from ..publishing import visible


def diary_children(viewer: Person, active: access.ActiveRole) -> list[Person]:
    """The students whose diary the viewer reads: a student themself, a parent their children.

    Staff have the journal instead (the access matrix gives them no diary at all).
    """
    if active.role == "student":
        return [viewer]
    if active.role == "parent":
        return access.children_of(viewer)
    return []


def diary_student(
    viewer: Person, active: access.ActiveRole, student_id: int
) -> tuple[Person | None, list[Person]]:
    """The student if the viewer may read their diary (else None), and all they may read.

    A classmate, another family's child and a missing id all give None alike, so the
    pages answer 404 without a hint of who exists.
    """
    children = diary_children(viewer, active)
    return next((c for c in children if c.id == student_id), None), children


@dataclass(frozen=True)
class Membership:
    """The student in one subject group from `starts` to `ends` (open-ended: None)."""

    group_id: int
    starts: dt.date
    ends: dt.date | None

    def covers(self, day: dt.date) -> bool:
        return self.starts <= day and (self.ends is None or day <= self.ends)


def memberships(
    student: Person, starts: dt.date | None = None, ends: dt.date | None = None
) -> list[Membership]:
    """The student's subject-group links that overlap `starts`…`ends` (drafts left out)."""
    query = (
        SubjectGroupStudent.select(
            SubjectGroupStudent.group, SubjectGroupStudent.starts, SubjectGroupStudent.ends
        )
        .join(SubjectGroup)
        .where((SubjectGroupStudent.student == student) & ~SubjectGroup.is_draft)
    )
    if ends is not None:
        query = query.where(SubjectGroupStudent.starts <= ends)
    if starts is not None:
        query = query.where(
            SubjectGroupStudent.ends.is_null() | (SubjectGroupStudent.ends >= starts)
        )
    return [Membership(*row) for row in query.tuples()]


def data_as_of(student: Person) -> dt.datetime | None:
    """«Данные на …»: the newest published change among the student's diary data.

    Marks, attendance and period marks of the student, and the topics and homework of
    the lessons of their groups; one query.
    """
    groups = SubjectGroupStudent.select(SubjectGroupStudent.group).where(
        SubjectGroupStudent.student == student
    )
    parts = [
        model.select(fn.MAX(model.published_at)).where((model.student == student) & visible(model))
        for model in (Mark, Attendance, PeriodMark)
    ]
    parts.append(
        Lesson.select(fn.MAX(Lesson.published_at)).where(Lesson.group.in_(groups) & visible(Lesson))
    )
    union = parts[0]
    for part in parts[1:]:
        union = union + part  # UNION ALL
    stamps = [_as_datetime(value) for (value,) in union.tuples()]
    found = [stamp for stamp in stamps if stamp is not None]
    return max(found) if found else None


def _as_datetime(value) -> dt.datetime | None:
    """SQLite hands an aggregate of a datetime column back as text."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))
