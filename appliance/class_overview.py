"""The class teacher's overview of a class (§7.3: «ведёт мониторинг успешности обучения»).

Every subject × student of the class for the current term: the weighted average, the
number of marks, the term mark, and each student's absences (Н, Б, УП, ОП) — in four
queries whatever the size of the class.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from . import access, grading
from .access import ActiveRole
from .models import (
    Assignment,
    Attendance,
    Lesson,
    Mark,
    PeriodMark,
    Person,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupTeacher,
    Term,
)

ABSENCE_CODES = ("Н", "Б", "УП", "ОП")


def may_view(person: Person, active: ActiveRole, school_class: SchoolClass) -> bool:
    """The class's own class teacher, a teacher of one of its groups, the office."""
    if active.role == "class_teacher":
        return active.class_id == school_class.id
    if active.role == "teacher":
        return bool(class_groups(person, active, school_class))
    return active.role in {"director", "deputy", "inspector"}


def class_groups(person: Person, active: ActiveRole, school_class: SchoolClass) -> list:
    """The class's groups the role may read: a subject teacher sees only their own."""
    query = (
        SubjectGroup.select(SubjectGroup, Subject)
        .join(Subject)
        .where((SubjectGroup.school_class == school_class) & ~SubjectGroup.is_draft)
    )
    if active.role == "class_teacher" and active.class_id != school_class.id:
        return []
    if active.role == "teacher":
        mine = SubjectGroupTeacher.select(SubjectGroupTeacher.group).where(
            SubjectGroupTeacher.teacher == person
        )
        query = query.where(SubjectGroup.id.in_(mine))
    elif active.role not in {"class_teacher", "director", "deputy", "inspector"}:
        return []
    return list(query.order_by(Subject.sort_order, Subject.name, SubjectGroup.subgroup))


def current_term(school_class: SchoolClass, today: dt.date) -> Term | None:
    """The quarter (half-year) of the class's grade containing today, else the last begun."""
    grade = school_class.grade
    return (
        Term.select()
        .where(
            (Term.year == school_class.year_id)
            & Term.kind.in_(("quarter", "half"))
            & (Term.grade_from <= grade)
            & (Term.grade_to >= grade)
            & (Term.starts <= today)
        )
        .order_by(Term.starts.desc())
        .first()
    )


@dataclass
class Cell:
    average: Decimal | None = None
    count: int = 0
    period_mark: str = ""


@dataclass
class Overview:
    school_class: SchoolClass
    term: Term | None
    starts: dt.date
    ends: dt.date
    students: list[Person]
    groups: list[SubjectGroup]
    cells: dict[tuple[int, int], Cell] = field(default_factory=dict)
    absences: dict[int, Counter] = field(default_factory=dict)

    def cell(self, student: Person, group: SubjectGroup) -> Cell | None:
        return self.cells.get((student.id, group.id))

    def absent(self, student: Person, code: str) -> int:
        return self.absences.get(student.id, Counter())[code]


def class_overview(
    school_class: SchoolClass, groups: list[SubjectGroup], today: dt.date | None = None
) -> Overview:
    """Averages, marks count, term marks and absences of the class for the current term."""
    today = today or dt.date.today()
    term = current_term(school_class, today)
    year = school_class.year
    starts, ends = (term.starts, term.ends) if term else (year.starts, year.ends)
    ids = access.class_student_ids(school_class, min(max(today, year.starts), year.ends))
    students = list(
        Person.select()
        .where(Person.id.in_(ids))
        .order_by(Person.last_name, Person.first_name, Person.middle_name)
    )
    view = Overview(school_class, term, starts, ends, students, groups)
    group_ids = [g.id for g in groups]
    if not students or not group_ids:
        return view

    marks = (
        Mark.select(Lesson.group, Mark.student, Mark.value, Assignment.weight)
        .join(Assignment)
        .join(Lesson)
        .where(
            Lesson.group.in_(group_ids)
            & Lesson.date.between(starts, ends)
            & (Lesson.state != "cancelled")
            & Mark.student.in_(ids)
        )
        .tuples()
    )
    got: dict[tuple[int, int], list[tuple[str, int]]] = defaultdict(list)
    for group_id, student_id, value, weight in marks:
        got[student_id, group_id].append((value, weight))
    for key, values in got.items():
        view.cells[key] = Cell(grading.weighted_average(values), len(values))

    if term is not None:
        for mark in PeriodMark.select().where(
            PeriodMark.group.in_(group_ids) & (PeriodMark.term == term)
        ):
            view.cells.setdefault((mark.student_id, mark.group_id), Cell()).period_mark = mark.value

    absences = (
        Attendance.select(Attendance.student, Attendance.code)
        .join(Lesson)
        .where(
            Lesson.group.in_(group_ids)
            & Lesson.date.between(starts, ends)
            & Attendance.code.in_(ABSENCE_CODES)
            & Attendance.student.in_(ids)
        )
        .tuples()
    )
    for student_id, code in absences:
        view.absences.setdefault(student_id, Counter())[code] += 1
    return view
