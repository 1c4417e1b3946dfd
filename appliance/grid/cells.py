"""One cell: a mark typed into the grid, the row's new totals, and the cell's history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from .. import grading, journal
from ..access import ActiveRole
from ..db import write
from ..models import (
    Assignment,
    Lesson,
    Mark,
    Person,
    SubjectGroup,
    SubjectGroupStudent,
    User,
    WorkType,
)
from .scope import periods_of, readable_group


@dataclass
class Summary:
    """A student's weighted average and number of marks in one period (for the grid row)."""

    student_id: int
    average: Decimal | None
    count: int


def student_summary(group: SubjectGroup, period_id: int, student_id: int) -> Summary | None:
    """The row totals after one mark changed; None when the group has no such period."""
    period = next((p for p in periods_of(group) if p.id == period_id), None)
    if period is None:
        return None
    weighted = journal.marks_in_period(group, period.starts, period.ends, student_id).get(
        student_id, []
    )
    return Summary(student_id, grading.weighted_average(weighted), len(weighted))


@dataclass
class MarkSaved:
    assignment: Assignment | None  # None: an empty lesson column cleared (nothing to do)
    mark: Mark | None
    summary: Summary | None


def save_mark(
    student_id: int,
    raw: str,
    *,
    user: User,
    ip: str,
    assignment: Assignment | None = None,
    lesson: Lesson | None = None,
    period_id: int | None = None,
) -> MarkSaved:
    """A mark typed into the grid: in an assignment's column, or a lesson's empty column.

    With `period_id` the student's new average for that period comes back as well.
    """
    # One transaction: a lesson's first column and its first mark are stored together,
    # and two devices typing the first mark at once cannot make two columns (the
    # IMMEDIATE lock makes the second one find the first one's column).
    with write(user=user, ip=ip):
        if assignment is None:
            if lesson is None:
                raise ValueError("save_mark needs an assignment or a lesson")
            assignment = _first_assignment(lesson, student_id, raw, user=user, ip=ip)
        if assignment is None:
            return MarkSaved(None, None, None)
        mark = journal.set_mark(assignment, student_id, raw, user=user, ip=ip)
    summary = None
    if period_id is not None:
        summary = student_summary(assignment.lesson.group, period_id, student_id)
    return MarkSaved(assignment, mark, summary)


def _first_assignment(
    lesson: Lesson, student_id: int, raw: str, *, user: User, ip: str
) -> Assignment | None:
    """The lesson's first assignment; made (default work type) only for a mark set_mark takes.

    Checks what `journal.set_mark` will check first, so a refused mark leaves no column.
    """
    first = Assignment.select().where(Assignment.lesson == lesson).order_by(Assignment.id).first()
    if first is not None:
        return first
    journal.check_lesson_writable(lesson, user.person, held=True)
    if all(s.id != student_id for s in journal.lesson_students(lesson)):
        raise journal.JournalError("Этого ученика нет в группе на дату урока.")
    if not raw.strip():
        return None
    grading.parse_mark(raw, journal.lesson_scale(lesson))
    return journal.default_assignment(lesson, user=user, ip=ip)


# --- history --------------------------------------------------------------------------


@dataclass
class Change:
    at: dt.datetime
    username: str
    ip: str
    before: str
    after: str
    note: str = ""  # an excuse's reason and document


@dataclass
class CellHistory:
    kind: str  # "mark" or "attendance"
    group: SubjectGroup
    lesson: Lesson
    assignment: Assignment | None
    student: Person
    changes: list[Change]


def cell_history(
    kind: str, row_id: int, student_id: int, person: Person, role: ActiveRole
) -> CellHistory | None:
    """Who changed one cell, when, before → after; None when missing or out of scope.

    `row_id` is the assignment (a mark cell) or the lesson (an attendance cell).
    """
    assignment = None
    if kind == "mark":
        assignment = (
            Assignment.select(Assignment, WorkType, Lesson)
            .join(WorkType)
            .switch(Assignment)
            .join(Lesson)
            .where(Assignment.id == row_id)
            .first()
        )
        lesson = assignment.lesson if assignment else None
    else:
        lesson = Lesson.get_or_none(Lesson.id == row_id)
    if lesson is None:
        return None
    group = readable_group(lesson.group_id, person, role)
    if group is None:
        return None
    student = (
        Person.select()
        .join(SubjectGroupStudent, on=SubjectGroupStudent.student)
        .where((SubjectGroupStudent.group == group) & (Person.id == student_id))
        .first()
    )
    if student is None:
        return None
    field_name = "value" if assignment is not None else "code"
    row_uuid = assignment.uuid if assignment is not None else lesson.uuid
    changes = [
        Change(
            e.at,
            e.username,
            e.ip,
            (e.before or {}).get(field_name) or "",
            (e.after or {}).get(field_name) or "",
            _note(e.after),
        )
        for e in journal.history(journal.cell_uuid(row_uuid, student))
    ]
    return CellHistory(kind, group, lesson, assignment, student, changes)


def _note(after: dict | None) -> str:
    if not after:
        return ""
    parts = [after.get("reason") or "", after.get("document") or ""]
    return ", ".join(p for p in parts if p)
