"""One grid read in a constant number of queries: students × lessons × assignments."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from .. import grading, journal
from ..models import (
    Assignment,
    Attendance,
    Lesson,
    Mark,
    Person,
    School,
    SubjectGroup,
    SubjectGroupStudent,
    Unlock,
    WorkType,
    database,
    now,
)
from .scope import Period, periods_of, pick_period


@dataclass
class Column:
    """One sub-column: a mark column of an assignment, or a lesson's attendance column.

    A mark column without an assignment stands for a lesson that has none yet: the
    first mark typed there makes the default one (see `save_mark`).
    """

    kind: str  # "mark" or "attendance"
    lesson: Lesson
    assignment: Assignment | None = None
    work_type: WorkType | None = None
    locked: str = ""  # why the viewer cannot write here; "" when they can


@dataclass
class LessonHead:
    lesson: Lesson
    columns: list[Column]
    locked: str = ""  # why its cells cannot be written now
    open_for_work: bool = False  # its teacher may add an assignment (future lessons too)


@dataclass
class Row:
    student: Person
    cells: list[str | None]  # one per grid column; None: not in the group on that day
    average: Decimal | None = None
    marks_count: int = 0
    partial: bool = False  # joined or left the group within the period


@dataclass
class Grid:
    group: SubjectGroup
    period: Period
    periods: list[Period]
    lessons: list[LessonHead]
    columns: list[Column]
    rows: list[Row]
    scale: str  # "five", "pass_fail" or "none" (grade 1: attendance only)
    writable: bool  # the viewer is a teacher of the group
    notice: str = ""  # why nothing can be written (a closed year)
    work_types: list[WorkType] = field(default_factory=list)

    @property
    def graded(self) -> bool:
        return self.scale != "none"


def load_grid(
    group: SubjectGroup,
    period_id: int | None = None,
    *,
    writer: Person | None = None,
    today: dt.date | None = None,
) -> Grid | None:
    """Everything the grid page shows, in a constant number of queries; None: no such term.

    `writer`: the teacher looking at it, if they may write in this group (a teacher
    of the group); None for readers.
    """
    today = today or dt.date.today()
    periods = periods_of(group)
    period = pick_period(group, periods, period_id, today)
    if period is None:
        return None
    scale = grading.scale_of(group.subject.scale, group.school_class.graded)
    writable = writer is not None and journal.teaches(writer, group)
    notice = (
        "Учебный год закрыт: журнал доступен только для чтения." if group.year.read_only else ""
    )
    lessons = _lessons(group, period)
    work_types = _work_types() if scale != "none" else []
    heads = _lesson_heads(group, lessons, work_types, period, placeholders=writable)
    if writable:
        _lock(heads, today, notice)
    columns = [column for head in heads for column in head.columns]
    rows = _rows(group, period, columns)
    _count_other_subgroups(group, period, rows)
    return Grid(
        group,
        period,
        periods,
        heads,
        columns,
        rows,
        scale,
        writable,
        notice,
        work_types if writable else [],
    )


def _lessons(group: SubjectGroup, period: Period) -> list[Lesson]:
    return list(
        Lesson.select(
            Lesson.id, Lesson.uuid, Lesson.date, Lesson.number, Lesson.topic, Lesson.state
        )
        .where(
            (Lesson.group == group)
            & Lesson.date.between(period.starts, period.ends)
            & (Lesson.state != "cancelled")
        )
        .order_by(Lesson.date, Lesson.number)
    )


def _work_types() -> list[WorkType]:
    """In the order `journal.default_assignment` picks from: the default one first."""
    return list(WorkType.select().order_by(WorkType.is_default.desc(), WorkType.sort_order))


def _lesson_heads(
    group: SubjectGroup,
    lessons: list[Lesson],
    work_types: list[WorkType],
    period: Period,
    *,
    placeholders: bool,
) -> list[LessonHead]:
    """Each lesson's columns: its assignments, then attendance.

    `placeholders`: a lesson without assignments gets an empty mark column of the
    default work type, which its teacher's first mark turns into an assignment.
    """
    by_lesson: dict[int, list[Assignment]] = defaultdict(list)
    types = {wt.id: wt for wt in work_types}
    if work_types:
        assignments = (
            Assignment.select(
                Assignment.id,
                Assignment.uuid,
                Assignment.lesson,
                Assignment.work_type,
                Assignment.weight,
            )
            .join(Lesson)
            .where((Lesson.group == group) & Lesson.date.between(period.starts, period.ends))
            .order_by(Assignment.id)
        )
        for assignment in assignments:
            by_lesson[assignment.lesson_id].append(assignment)
    default = work_types[:1] if placeholders else []
    heads = []
    for lesson in lessons:
        columns = [
            Column("mark", lesson, a, types[a.work_type_id]) for a in by_lesson.get(lesson.id, ())
        ]
        if not columns and default:
            columns.append(Column("mark", lesson, None, default[0]))
        columns.append(Column("attendance", lesson))
        heads.append(LessonHead(lesson, columns))
    return heads


def _lock(heads: list[LessonHead], today: dt.date, notice: str) -> None:
    """Say, per lesson, why its teacher cannot write there now (as `journal` would refuse)."""
    if not heads:
        return
    days = School.get().past_edit_days
    unlocked = {
        u.entity_uuid
        for u in Unlock.select(Unlock.entity_uuid).where(
            (Unlock.entity_type == "Lesson")
            & Unlock.entity_uuid.in_([h.lesson.uuid for h in heads])
            & (Unlock.expires_at > now())
            & Unlock.used_at.is_null()
        )
    }
    for head in heads:
        lesson = head.lesson
        if notice:
            head.locked = notice
        elif lesson.date > today:
            head.locked = "Урок ещё не прошёл: оценки и посещаемость ставятся после него."
            head.open_for_work = True  # a test can be planned ahead
        elif lesson.date + dt.timedelta(days=days) < today and lesson.uuid not in unlocked:
            head.locked = (
                f"Урок старше {days} дней: изменить его можно после разрешения "
                "заместителя директора."
            )
        else:
            head.open_for_work = True
        for column in head.columns:
            column.locked = head.locked


def _members(group: SubjectGroup, period: Period) -> dict[Person, list[tuple]]:
    """Students in the group at any time of the period, with their membership spans."""
    links = (
        SubjectGroupStudent.select(SubjectGroupStudent, Person)
        .join(Person)
        .where(
            (SubjectGroupStudent.group == group)
            & (SubjectGroupStudent.starts <= period.ends)
            & (SubjectGroupStudent.ends.is_null() | (SubjectGroupStudent.ends >= period.starts))
        )
        .order_by(Person.last_name, Person.first_name, Person.middle_name, Person.id)
    )
    spans: dict[int, list[tuple]] = {}
    people: dict[int, Person] = {}
    for link in links:
        people.setdefault(link.student_id, link.student)
        spans.setdefault(link.student_id, []).append((link.starts, link.ends or dt.date.max))
    return {people[sid]: spans[sid] for sid in people}


def _rows(group: SubjectGroup, period: Period, columns: list[Column]) -> list[Row]:
    in_period = (Lesson.group == group) & Lesson.date.between(period.starts, period.ends)
    # Raw rows off the cursor: a full term holds thousands of cells, and peewee's
    # per-row wrapping costs more than the query itself.
    marks = {
        (assignment_id, student_id): value
        for assignment_id, student_id, value in _fetch(
            Mark.select(Mark.assignment, Mark.student, Mark.value)
            .join(Assignment)
            .join(Lesson)
            .where(in_period)
        )
    }
    attendance = {
        (lesson_id, student_id): code
        for lesson_id, student_id, code in _fetch(
            Attendance.select(Attendance.lesson, Attendance.student, Attendance.code)
            .join(Lesson)
            .where(in_period)
        )
    }
    # (date, is attendance, lookup key, weight) per column, read once, not once per cell.
    specs = [
        (
            c.lesson.date,
            c.kind == "attendance",
            c.lesson.id if c.kind == "attendance" else (c.assignment.id if c.assignment else 0),
            c.assignment.weight if c.assignment else 0,
        )
        for c in columns
    ]
    rows = []
    for student, spans in _members(group, period).items():
        sid = student.id
        whole = any(s <= period.starts and period.ends <= e for s, e in spans)
        cells: list[str | None] = []
        weighted: list[tuple[str, int]] = []
        for day, is_attendance, key, weight in specs:
            if not whole and not any(s <= day <= e for s, e in spans):
                cells.append(None)
            elif is_attendance:
                cells.append(attendance.get((key, sid), ""))
            else:
                value = marks.get((key, sid), "")
                cells.append(value)
                if value:
                    weighted.append((value, weight))
        average = grading.weighted_average(weighted)
        rows.append(Row(student, cells, average, len(weighted), partial=not whole))
    return rows


def _count_other_subgroups(group: SubjectGroup, period: Period, rows: list[Row]) -> None:
    """A student who joined or left mid-period (a move between subgroups) keeps the marks
    given in the other subgroup: their average is the one `journal.marks_in_period`
    gives, as on the period sheet, not only this group's columns."""
    if group.subgroup is None:  # moves happen between subgroups only
        return
    partial = [row for row in rows if row.partial]
    if not partial:
        return
    found = journal.marks_in_period(group, period.starts, period.ends)
    for row in partial:
        marks = found.get(row.student.id, [])
        row.average, row.marks_count = grading.weighted_average(marks), len(marks)


def _fetch(query) -> list[tuple]:
    return database.execute(query).fetchall()
