"""The сводная ведомость учёта успеваемости of one class (§9.1): kept 25 years.

Students × subjects × periods, each cell the period mark as the journal shows it. The
printed summary sheet and the archive use `build`; the report page and its XLSX/PDF
use `report`. Five queries whatever the size of the class.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..models import (
    AcademicYear,
    Enrollment,
    PeriodMark,
    Person,
    SchoolClass,
    Subject,
    SubjectGroup,
)
from ..terms import Period, periods_of
from .table import ReportDocument, Table


@dataclass(frozen=True)
class SummaryStudent:
    """A student of the class this year; ``left_on`` is set when they left before its end."""

    person: Person
    joined_on: dt.date | None  # set when they came after the year began
    left_on: dt.date | None

    @property
    def note(self) -> str:
        """«выбыл 12.02.2027» / «прибыл 10.10.2026» for the sheet's name column."""
        parts = []
        if self.joined_on:
            parts.append(f"прибыл(а) {self.joined_on:%d.%m.%Y}")
        if self.left_on:
            parts.append(f"выбыл(а) {self.left_on:%d.%m.%Y}")
        return ", ".join(parts)


@dataclass(frozen=True)
class SummarySubject:
    """One column group: a subject of the class, all its subgroups together."""

    subject: Subject
    group_ids: tuple[int, ...]

    @property
    def name(self) -> str:
        return self.subject.name


@dataclass(frozen=True)
class SummaryPeriod:
    """A column within a subject: a term (quarter / half-year), «год» or «итоговая»."""

    key: str  # "term:<id>", "year", "final"
    kind: str  # PeriodMark.KINDS
    term_id: int | None
    label: str  # «1 четверть», «год», «итоговая»
    short: str  # «1 ч.», «год», «итог.» (narrow printed columns)


@dataclass
class SummarySheet:
    """The сводная ведомость of one class for one year.

    Shape:
      - ``students``: everyone enrolled in the class at any time of the year,
        alphabetically; those who left before the year's end carry ``left_on`` (the
        sheet marks them «выбыл(а)»), late arrivals ``joined_on``;
      - ``subjects``: the class's subjects (its non-draft subject groups, subgroups of
        one subject merged into one column group), in the school's subject order;
      - ``periods``: the grade's terms in order, then «год», then «итоговая» (grades 9
        and 11 only) — the same list `appliance.terms.periods_of` gives the journal;
      - ``cells[(student_id, subject_id, period.key)]``: the period mark exactly as the
        journal stores and shows it («5», «н/а», «осв», «зач», «незач»); `mark` answers
        "" where there is none. A student in a subgroup gets that subgroup's marks.
    """

    school_class: SchoolClass
    year: AcademicYear
    students: list[SummaryStudent]
    subjects: list[SummarySubject]
    periods: list[SummaryPeriod]
    cells: dict[tuple[int, int, str], str] = field(default_factory=dict)

    def mark(self, student: SummaryStudent | Person, subject: SummarySubject, period) -> str:
        person = student.person if isinstance(student, SummaryStudent) else student
        return self.cells.get((person.id, subject.subject.id, period.key), "")

    def row(self, student: SummaryStudent) -> list[str]:
        """The student's marks, subject by subject and period by period."""
        return [self.mark(student, s, p) for s in self.subjects for p in self.periods]


def _period(period: Period) -> SummaryPeriod:
    if period.term is not None:
        number = period.term.number
        short = f"{number} ч." if period.term.kind == "quarter" else f"{number} п."
        return SummaryPeriod(f"term:{period.term.id}", "term", period.term.id, period.label, short)
    short = {"year": "год", "final": "итог."}[period.kind]
    return SummaryPeriod(period.kind, period.kind, None, period.label, short)


def _students(school_class: SchoolClass, year: AcademicYear) -> list[SummaryStudent]:
    """Everyone enrolled this year; several enrolments of one student are merged."""
    spans: dict[int, tuple[dt.date, dt.date | None]] = {}
    for student_id, starts, ends in (
        Enrollment.select(Enrollment.student, Enrollment.starts, Enrollment.ends)
        .where(Enrollment.school_class == school_class)
        .tuples()
    ):
        first, last = spans.get(student_id, (starts, ends))
        open_end = last is None or ends is None
        spans[student_id] = (min(first, starts), None if open_end else max(last, ends))
    people = (
        Person.select()
        .where(Person.id.in_(list(spans)))
        .order_by(Person.last_name, Person.first_name, Person.middle_name, Person.id)
    )
    result = []
    for person in people:
        starts, ends = spans[person.id]
        joined = starts if starts > year.starts else None
        left = ends if ends is not None and ends < year.ends else None
        result.append(SummaryStudent(person, joined, left))
    return result


def build(school_class: SchoolClass, year: AcademicYear | None = None) -> SummarySheet:
    """The class's summary sheet: every student's period, year and final marks."""
    year = year or school_class.year
    groups = list(
        SubjectGroup.select(SubjectGroup, Subject)
        .join(Subject)
        .where(
            (SubjectGroup.school_class == school_class)
            & (SubjectGroup.year == year)
            & ~SubjectGroup.is_draft
        )
        .order_by(Subject.sort_order, Subject.name, SubjectGroup.subgroup)
    )
    by_subject: dict[int, list[SubjectGroup]] = {}
    for group in groups:
        by_subject.setdefault(group.subject_id, []).append(group)
    subjects = [
        SummarySubject(found[0].subject, tuple(g.id for g in found))
        for found in by_subject.values()
    ]
    periods = [_period(p) for p in periods_of(groups[0])] if groups else []
    sheet = SummarySheet(school_class, year, _students(school_class, year), subjects, periods)
    if not groups:
        return sheet
    subject_of = {g.id: g.subject_id for g in groups}
    marks = (
        PeriodMark.select(
            PeriodMark.student, PeriodMark.group, PeriodMark.kind, PeriodMark.term, PeriodMark.value
        )
        .where(PeriodMark.group.in_(list(subject_of)))
        .order_by(PeriodMark.updated_at, PeriodMark.id)  # the latest wins between subgroups
        .tuples()
    )
    for student_id, group_id, kind, term_id, value in marks:
        key = f"term:{term_id}" if kind == "term" else kind
        sheet.cells[student_id, subject_of[group_id], key] = value
    return sheet


# --- the report page and its exports -------------------------------------------------------


def headers(sheet: SummarySheet) -> list[str]:
    """«№», «ФИО», then each subject's periods («1 ч.», «год») under the subject's name."""
    return ["№", "ФИО обучающегося"] + [p.short for _s in sheet.subjects for p in sheet.periods]


def document(sheet: SummarySheet) -> ReportDocument:
    rows = []
    for n, student in enumerate(sheet.students, 1):
        name = student.person.full_name
        if student.note:
            name = f"{name} ({student.note})"
        rows.append([n, name, *sheet.row(student)])
    widths = [5, 36] + [8] * (len(sheet.subjects) * len(sheet.periods))
    groups = [("", 2)] + [(s.name, len(sheet.periods)) for s in sheet.subjects]
    table = Table(
        f"Ведомость {sheet.school_class.name}",
        headers(sheet),
        rows,
        widths,
        groups=groups if sheet.periods else [],
        fixed=2,
    )
    teacher = sheet.school_class.class_teacher
    subtitle = f"{sheet.school_class.name} класс, {sheet.year.name} учебный год"
    if teacher is not None:
        subtitle += f"; классный руководитель {teacher.full_name}"
    return ReportDocument("Сводная ведомость учёта успеваемости", subtitle, [table])
