"""Marks by subject: a term's marks with the weighted average and period mark; the year.

Averages follow the journal's rule (`journal.marks_in_period`: lessons of the dates,
not cancelled; `grading.weighted_average`) over the student's own published marks,
read for all subjects in one query rather than one query per subject.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from .. import grading
from ..models import (
    AcademicYear,
    Assignment,
    Lesson,
    Mark,
    PeriodMark,
    Person,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    Term,
    WorkType,
)
from ..publishing import readable, shown, visible
from ..terms import KIND_LABELS, default_period, grade_terms, periods_of


@dataclass(frozen=True)
class SubjectMark:
    """One published mark of the student, as a list of marks shows it."""

    subject_id: int
    date: dt.date
    value: str
    work_type: str
    short_name: str
    weight: int


def student_marks(student: Person, starts: dt.date, ends: dt.date) -> list[SubjectMark]:
    """The student's published marks on lessons of `starts`…`ends`, in the order given."""
    query = (
        Mark.select(
            SubjectGroup.subject,
            Lesson.date,
            shown(Mark, Mark.value),
            WorkType.name,
            WorkType.short_name,
            Assignment.weight,
        )
        .join(Assignment)
        .join(Lesson)
        .join(SubjectGroup)
        .switch(Assignment)
        .join(WorkType)
        .where(
            (Mark.student == student)
            & Lesson.date.between(starts, ends)
            & (Lesson.state != "cancelled")
            & readable(Mark)
        )
        .order_by(Lesson.date, Lesson.number, Assignment.id)
    )
    return [
        SubjectMark(subject, date, value, name, short or name, weight)
        for subject, date, value, name, short, weight in query.tuples()
    ]


def average(marks: list[SubjectMark]) -> Decimal | None:
    return grading.weighted_average((m.value, m.weight) for m in marks)


def subjects_of(student: Person, year: AcademicYear, also: set[int] = frozenset()) -> list[Subject]:
    """The subjects of the student's groups this year, plus any in `also` (marks elsewhere)."""
    in_groups = (
        SubjectGroup.select(SubjectGroup.subject)
        .join(SubjectGroupStudent)
        .where(
            (SubjectGroupStudent.student == student)
            & (SubjectGroup.year == year)
            & ~SubjectGroup.is_draft
        )
    )
    query = Subject.select().where(Subject.id.in_(in_groups))
    if also:
        query = Subject.select().where(Subject.id.in_(in_groups) | Subject.id.in_(sorted(also)))
    return list(query.order_by(Subject.sort_order, Subject.name))


def _class_group(school_class: SchoolClass) -> SubjectGroup:
    """An unsaved group standing for the whole class: `terms` reads periods off a group."""
    return SubjectGroup(year=school_class.year_id, school_class=school_class)


def _period_marks(student: Person, year_id: int) -> dict[tuple[int, str, int | None], str]:
    """(subject, kind, term) → the published period mark of the student this year."""
    query = (
        PeriodMark.select(SubjectGroup.subject, PeriodMark.kind, PeriodMark.term, PeriodMark.value)
        .join(SubjectGroup)
        .where(
            (PeriodMark.student == student) & (SubjectGroup.year == year_id) & visible(PeriodMark)
        )
        .order_by(PeriodMark.id)
    )
    return {(subject, kind, term): value for subject, kind, term, value in query.tuples()}


# --- a term ---------------------------------------------------------------------------


@dataclass
class SubjectTerm:
    subject: Subject
    marks: list[SubjectMark] = field(default_factory=list)
    period_mark: str = ""

    @property
    def average(self) -> Decimal | None:
        return average(self.marks)


@dataclass
class TermMarks:
    terms: list[Term]
    term: Term | None  # None: the school has set no terms for the grade, the year stands in
    starts: dt.date
    ends: dt.date
    label: str
    graded: bool
    subjects: list[SubjectTerm]


def term_marks(
    student: Person, school_class: SchoolClass, term_id: int | None = None, today=None
) -> TermMarks:
    """The student's marks of one term by subject (the current term by default).

    Raises LookupError for a term that is not one of the class's grade.
    """
    group = _class_group(school_class)
    terms = grade_terms(group)
    if term_id is not None:
        term = next((t for t in terms if t.id == term_id), None)
        if term is None:
            raise LookupError(term_id)
        period_label, starts, ends = term.name, term.starts, term.ends
    else:
        period = default_period(group, today or dt.date.today())
        term = period.term
        period_label, starts, ends = period.label, period.starts, period.ends
    marks = student_marks(student, starts, ends)
    period_marks = _period_marks(student, school_class.year_id)
    rows = []
    for subject in subjects_of(student, school_class.year, {m.subject_id for m in marks}):
        key = (subject.id, "term", term.id) if term else (subject.id, "year", None)
        rows.append(
            SubjectTerm(
                subject,
                [m for m in marks if m.subject_id == subject.id],
                period_marks.get(key, ""),
            )
        )
    return TermMarks(terms, term, starts, ends, period_label, school_class.graded, rows)


# --- the year ------------------------------------------------------------------------


@dataclass
class YearCell:
    average: Decimal | None = None
    mark: str = ""
    count: int = 0


@dataclass
class YearRow:
    subject: Subject
    terms: list[YearCell]
    year: YearCell
    final: str = ""


@dataclass
class YearOverview:
    terms: list[Term]
    rows: list[YearRow]
    has_final: bool
    graded: bool
    year_label: str = KIND_LABELS["year"]


def year_overview(student: Person, school_class: SchoolClass) -> YearOverview:
    """Subjects × terms: each term's average and period mark, the year's and the final."""
    periods = periods_of(_class_group(school_class))
    terms = [p.term for p in periods if p.kind == "term"]
    year = next(p for p in periods if p.kind == "year")
    marks = student_marks(student, year.starts, year.ends)
    period_marks = _period_marks(student, school_class.year_id)
    rows = []
    for subject in subjects_of(student, school_class.year, {m.subject_id for m in marks}):
        own = [m for m in marks if m.subject_id == subject.id]
        cells = []
        for term in terms:
            in_term = [m for m in own if term.starts <= m.date <= term.ends]
            mark = period_marks.get((subject.id, "term", term.id), "")
            cells.append(YearCell(average(in_term), mark, len(in_term)))
        whole = YearCell(average(own), period_marks.get((subject.id, "year", None), ""), len(own))
        final = period_marks.get((subject.id, "final", None), "")
        rows.append(YearRow(subject, cells, whole, final))
    has_final = any(p.kind == "final" for p in periods)
    return YearOverview(terms, rows, has_final, school_class.graded)
