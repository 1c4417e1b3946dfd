"""What the printed class journal shows, read one subject group and one month at a time.

The grid pages read their cells exactly as the screen grid does (`appliance.grid.table`:
a column per assignment with its work type and weight, then the lesson's attendance
column), over a month instead of a term, so the paper and the screen never disagree.
Nothing here holds more than one subject group's month of cells at a time (DESIGN §5);
the topics and period marks of a group are a few hundred short rows at most.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from babel.dates import format_date
from peewee import JOIN, fn

from .. import grading
from ..grid import scope as grid_scope
from ..grid import table as grid_table
from ..models import (
    AcademicYear,
    Assignment,
    Enrollment,
    Lesson,
    PeriodMark,
    Person,
    School,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupTeacher,
)
from ..terms import group_members, periods_of

# A landscape A4 page: 30 narrow cell columns beside the names, 30 rows under the heads.
COLUMNS_PER_PAGE = 30
ROWS_PER_PAGE = 30


@dataclass(frozen=True)
class TitleInfo:
    """The title page: who keeps this journal, for which class and year."""

    school: str
    class_name: str
    year_name: str
    class_teacher: str
    subjects: list[str]
    students: int
    printed_on: dt.date
    as_of: dt.date


@dataclass(frozen=True)
class HeadCell:
    """A column head of a grid page: the lesson's date over its work or «П» (attendance)."""

    day: str  # «03.09»
    label: str  # «Отв», «К/р», «П»
    weight: int | None  # the assignment's weight; None for attendance
    span: int  # columns under this date (set on a lesson's first column only, else 0)
    attendance: bool


@dataclass(frozen=True)
class GridPage:
    """One printed page of marks and attendance: a month's slice of columns and students."""

    group_name: str
    teacher: str
    month: str  # «сентябрь 2026»
    part: str  # «лист 1 из 2» of that month, "" when the month fits one page
    heads: list[HeadCell]
    rows: list[tuple[int, str, list[str | None]]]  # number, name, cells (None: not in group)


@dataclass(frozen=True)
class TopicRow:
    number: int
    date: dt.date
    topic: str
    homework: str
    teacher: str


@dataclass(frozen=True)
class PeriodTable:
    """A subject group's period marks: students × (terms, year, final)."""

    labels: list[str]
    rows: list[tuple[int, str, list[str]]]


def class_groups(school_class: SchoolClass, year: AcademicYear) -> list[SubjectGroup]:
    """The class's subject groups of the year in the school's subject order (subgroups apart)."""
    return list(
        SubjectGroup.select(SubjectGroup, Subject, SchoolClass, AcademicYear)
        .join(Subject)
        .switch(SubjectGroup)
        .join(SchoolClass)
        .switch(SubjectGroup)
        .join(AcademicYear)
        .where(
            (SubjectGroup.school_class == school_class)
            & (SubjectGroup.year == year)
            & ~SubjectGroup.is_draft
        )
        .order_by(Subject.sort_order, Subject.name, SubjectGroup.subgroup, SubjectGroup.id)
    )


def printed_until(year: AcademicYear, today: dt.date | None = None) -> dt.date:
    """The journal is printed as it stands: up to today within the year, the whole past year."""
    today = today or dt.date.today()
    return min(year.ends, today)


def title_info(
    school_class: SchoolClass, year: AcademicYear, groups: list[SubjectGroup], as_of: dt.date
) -> TitleInfo:
    school = School.get_or_none()
    teacher = school_class.class_teacher
    students = (
        Enrollment.select(Enrollment.student)
        .where(
            (Enrollment.school_class == school_class)
            & (Enrollment.starts <= as_of)
            & (Enrollment.ends.is_null() | (Enrollment.ends >= year.starts))
        )
        .distinct()
        .count()
    )
    return TitleInfo(
        school=school.name if school else "",
        class_name=school_class.name,
        year_name=year.name,
        class_teacher=teacher.full_name if teacher else "",
        subjects=[group_title(g) for g in groups],
        students=students,
        printed_on=dt.date.today(),
        as_of=as_of,
    )


def group_title(group: SubjectGroup) -> str:
    suffix = f", {group.subgroup} подгруппа" if group.subgroup else ""
    return f"{group.subject.name}{suffix}"


def group_teachers(group: SubjectGroup) -> str:
    """The group's teachers as «Смирнова Е. В.», the main one first."""
    links = (
        SubjectGroupTeacher.select(SubjectGroupTeacher, Person)
        .join(Person)
        .where(SubjectGroupTeacher.group == group)
        .order_by(SubjectGroupTeacher.is_main.desc(), Person.last_name)
    )
    return ", ".join(link.teacher.short_name for link in links)


def months(starts: dt.date, ends: dt.date) -> list[tuple[dt.date, dt.date]]:
    """Calendar months covering [starts, ends], each clipped to the span."""
    found = []
    first = starts.replace(day=1)
    while first <= ends:
        following = (first + dt.timedelta(days=32)).replace(day=1)
        found.append((max(first, starts), min(following - dt.timedelta(days=1), ends)))
        first = following
    return found


def lesson_months(group: SubjectGroup, starts: dt.date, ends: dt.date) -> dict[dt.date, int]:
    """How many grid columns each month of the group has (a piece plan needs no cells)."""
    counts: dict[dt.date, int] = {}
    lessons = (
        Lesson.select(Lesson.id, Lesson.date)
        .where(
            (Lesson.group == group)
            & Lesson.date.between(starts, ends)
            & (Lesson.state != "cancelled")
        )
        .tuples()
    )
    per_lesson: dict[int, dt.date] = dict(lessons)
    assignments = _assignment_counts(group, starts, ends)
    for lesson_id, day in per_lesson.items():
        month = day.replace(day=1)
        # An attendance column, and its assignments' mark columns (at least none).
        counts[month] = counts.get(month, 0) + 1 + assignments.get(lesson_id, 0)
    return counts


def _assignment_counts(group: SubjectGroup, starts: dt.date, ends: dt.date) -> dict[int, int]:
    if _scale(group) == "none":
        return {}
    rows = (
        Assignment.select(Assignment.lesson, fn.COUNT(Assignment.id))
        .join(Lesson)
        .where((Lesson.group == group) & Lesson.date.between(starts, ends))
        .group_by(Assignment.lesson)
        .tuples()
    )
    return dict(rows)


def _scale(group: SubjectGroup) -> str:
    return grading.scale_of(group.subject.scale, group.school_class.graded)


def grid_pages(
    group: SubjectGroup, starts: dt.date, ends: dt.date, *, teacher: str = ""
) -> Iterator[GridPage]:
    """The marks-and-attendance pages of one month (or part of one), as the grid reads them."""
    span = grid_scope.Period(-1, "month", "", starts, ends)
    lessons = grid_table._lessons(group, span)
    if not lessons:
        return
    work_types = grid_table._work_types() if _scale(group) != "none" else []
    heads = grid_table._lesson_heads(group, lessons, work_types, span, placeholders=False)
    columns = [column for head in heads for column in head.columns]
    rows = grid_table._rows(group, span, columns)
    slices = _column_slices(heads)
    row_slices = [rows[i : i + ROWS_PER_PAGE] for i in range(0, len(rows), ROWS_PER_PAGE)] or [[]]
    total = len(slices) * len(row_slices)
    month = format_date(starts, "LLLL y", locale="ru")
    number = 0
    for first, last in slices:
        page_heads = _head_cells(heads, first, last)
        for index, part_rows in enumerate(row_slices):
            number += 1
            offset = ROWS_PER_PAGE * index
            yield GridPage(
                group_name=group_title(group),
                teacher=teacher,
                month=month,
                part=f"лист {number} из {total}" if total > 1 else "",
                heads=page_heads,
                rows=[
                    (offset + i, _row_name(row.student), row.cells[first:last])
                    for i, row in enumerate(part_rows, 1)
                ],
            )


def _row_name(student: Person) -> str:
    initials = "".join(f"{p[0]}." for p in (student.middle_name,) if p)
    return f"{student.last_name} {student.first_name} {initials}".strip()


def _column_slices(heads: list[grid_table.LessonHead]) -> list[tuple[int, int]]:
    """Column ranges of at most COLUMNS_PER_PAGE, never cutting a lesson's columns apart."""
    slices, first, width = [], 0, 0
    for head in heads:
        size = len(head.columns)
        if width and width + size > COLUMNS_PER_PAGE:
            slices.append((first, first + width))
            first, width = first + width, 0
        width += size
    if width:
        slices.append((first, first + width))
    return slices


def _head_cells(heads: list[grid_table.LessonHead], first: int, last: int) -> list[HeadCell]:
    cells: list[HeadCell] = []
    position = 0
    for head in heads:
        for index, column in enumerate(head.columns):
            if first <= position < last:
                day = head.lesson.date.strftime("%d.%m")
                span = len(head.columns) if index == 0 else 0
                if column.kind == "attendance":
                    cells.append(HeadCell(day, "П", None, span, True))
                else:
                    work = column.work_type
                    label = (work.short_name or work.name[:3]) if work else ""
                    weight = column.assignment.weight if column.assignment else None
                    cells.append(HeadCell(day, label, weight, span, False))
            position += 1
    return cells


def lesson_ids(group: SubjectGroup, starts: dt.date, ends: dt.date) -> list[int]:
    """The group's lessons of the span in journal order (ids only: cheap to hold)."""
    return [
        lesson_id
        for (lesson_id,) in Lesson.select(Lesson.id)
        .where(
            (Lesson.group == group)
            & Lesson.date.between(starts, ends)
            & (Lesson.state != "cancelled")
        )
        .order_by(Lesson.date, Lesson.number)
        .tuples()
    ]


def topic_rows(ids: list[int], first_number: int) -> list[TopicRow]:
    """Date, topic, homework and who gave the lesson, for the given lessons in order.

    A lesson whose teacher is unknown (the account was deleted) shows «—»: it is not
    credited to the group's teachers, who may not have given it.
    """
    lessons = (
        Lesson.select(Lesson, Person)
        .join(Person, on=(Lesson.teacher == Person.id), join_type=JOIN.LEFT_OUTER)
        .where(Lesson.id.in_(ids))
        .order_by(Lesson.date, Lesson.number)
    )
    return [
        TopicRow(
            number=first_number + i,
            date=lesson.date,
            topic=lesson.topic,
            homework=lesson.homework,
            teacher=lesson.teacher.short_name if lesson.teacher_id else "—",
        )
        for i, lesson in enumerate(lessons)
    ]


def period_table(group: SubjectGroup) -> PeriodTable:
    """The group's students with their term, year and final marks, as the screen lists them.

    Per period the students are `terms.group_members` (a student who moved to another
    subgroup of the subject gets that period's mark where they ended it): a row is
    everyone listed for any period, a period's cell only where they are listed for it.
    """
    periods = periods_of(group)
    listed = [{p.id: p for p in group_members(group, period)} for period in periods]
    people = {pid: person for members in listed for pid, person in members.items()}
    order = sorted(
        people.values(), key=lambda p: (p.last_name, p.first_name, p.middle_name or "", p.id)
    )
    values = {
        (student, kind, term): value
        for student, kind, term, value in PeriodMark.select(
            PeriodMark.student, PeriodMark.kind, PeriodMark.term, PeriodMark.value
        )
        .where(PeriodMark.group == group)
        .tuples()
    }
    rows = [
        (
            n,
            _row_name(person),
            [
                values.get((person.id, p.kind, p.term_id), "") if person.id in members else ""
                for p, members in zip(periods, listed, strict=True)
            ],
        )
        for n, person in enumerate(order, 1)
    ]
    return PeriodTable([p.label for p in periods], rows)
