"""Progress and attendance per class for a period or the year (§8.3).

«Отчёты по успеваемости и посещаемости формируются в конце учебных периодов и учебного
года.» Built from the period marks the teachers set (term, year or final) and from the
attendance of the period's lessons.

Each student of the class (enrolled on the period's last day, or today while it runs)
falls into exactly one group, checked in this order:

- **не аттестован** — at least one «н/а»;
- **без отметок** — no period mark yet in any subject (not counted as attested);
- **неуспевающий** — at least one «2» or «незач»;
- **только «зач»** — attested, but no five-point mark at all (only «зач»);
- **отличник** — every five-point mark «5»;
- **хорошист** — only «4» and «5», at least one «4»;
- **с одной «3»** — exactly one «3», the rest «4» and «5»;
- **с «3»** — the rest (two or more «3»).

Pass/fail marks («зач», «осв») are not grades: they never make a student «с «3»», and
next to five-point marks they change nothing («5» and «зач» is an отличник).

Both percentages have ONE base, the usual school formula: all students on the roll on
the period's last day (today while it runs), attested or not.
**Quality %** = (отличники + хорошисты) ÷ all students × 100.
**Success %** = students attested and without «2»/«незач» ÷ all students × 100, i.e.
all − неуспевающие − не аттестованные − без отметок.
**Average mark** = the mean of the class's five-point period marks.
Percentages and averages are rounded half up (31,25 → 31,3).

A class counts only its OWN subject groups: a student who moved from 6А to 6Б is
counted in the class they are in on the period's last day, with that class's period
marks and the absences on its lessons while they were enrolled there. So a class's
figures are the same whether it is shown alone or with all the others.
Missed lessons: «Н» is unexcused; «Б» and «УП» are excused; «ОП» (late) and «ОСВ»
(exempt) are not absences.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from peewee import fn

from ..grading import EXEMPT, FIVE_POINT, NOT_ASSESSED
from ..models import (
    AcademicYear,
    Attendance,
    Enrollment,
    Lesson,
    PeriodMark,
    Person,
    SchoolClass,
    Subject,
    SubjectGroup,
    Term,
)
from ..terms import FINER_TERMS
from .table import ReportDocument, Table, mean, percent

UNEXCUSED = ("Н",)
EXCUSED = ("Б", "УП")
FINAL_GRADES = (9, 11)

CATEGORIES = {
    "not_attested": "не аттестован",
    "unmarked": "без отметок",
    "failing": "неуспевающий",
    "passed": "только «зач»",
    "excellent": "отличник",
    "good": "хорошист",
    "one_three": "с одной «3»",
    "threes": "с «3»",
}


class ReportPeriodError(ValueError):
    """A period that does not exist in the chosen year (Russian message)."""


@dataclass(frozen=True)
class ReportPeriod:
    """What the report covers: a term (for its grades), the year, or the final marks."""

    key: str  # "term:<id>", "year", "final"
    kind: str  # PeriodMark.KINDS
    term: Term | None
    starts: dt.date
    ends: dt.date
    label: str

    def covers(self, grade: int) -> bool:
        if self.term is not None:
            return self.term.grade_from <= grade <= self.term.grade_to
        return self.kind != "final" or grade in FINAL_GRADES


def period_choices(year: AcademicYear) -> list[ReportPeriod]:
    """The year's terms (with their grades), then the year and the final marks."""
    terms = Term.select().where((Term.year == year) & Term.kind.in_(FINER_TERMS))
    found = [
        ReportPeriod(
            f"term:{t.id}",
            "term",
            t,
            t.starts,
            t.ends,
            f"{t.name} ({t.grade_from}–{t.grade_to} кл.)",
        )
        for t in terms.order_by(Term.grade_from, Term.starts)
    ]
    found.append(ReportPeriod("year", "year", None, year.starts, year.ends, "год"))
    found.append(
        ReportPeriod("final", "final", None, year.starts, year.ends, "итоговые (9 и 11 кл.)")
    )
    return found


def find_period(year: AcademicYear, key: str) -> ReportPeriod:
    for period in period_choices(year):
        if period.key == key:
            return period
    raise ReportPeriodError("Такого учебного периода в этом году нет.")


def default_period(year: AcademicYear, today: dt.date | None = None) -> ReportPeriod:
    """The last term ended by today (reports are made at a period's end), else the first."""
    today = today or dt.date.today()
    choices = period_choices(year)
    ended = [p for p in choices if p.term is not None and p.ends <= today]
    if ended:
        return max(ended, key=lambda p: (p.ends, -p.term.grade_from))
    return choices[0]


def latest_periods(year: AcademicYear, today: dt.date | None = None) -> list[ReportPeriod]:
    """For EACH grade range (quarters 2–9, half-years 10–11) its last term ended by today.

    A range none of whose terms has ended yet gives its first term. One period for the
    whole school would drop the grades of the other range (a quarter has no 10–11).
    """
    today = today or dt.date.today()
    ranges: dict[tuple[int, int], list[ReportPeriod]] = {}
    for period in period_choices(year):
        if period.term is not None:
            ranges.setdefault((period.term.grade_from, period.term.grade_to), []).append(period)
    found = []
    for periods in ranges.values():
        ended = [p for p in periods if p.ends <= today]
        found.append(max(ended, key=lambda p: p.ends) if ended else periods[0])
    return found


@dataclass
class StudentResult:
    student: Person
    category: str  # CATEGORIES key
    marks: dict[str, str] = field(default_factory=dict)  # subject name → mark
    missed: int = 0
    excused: int = 0
    unexcused: int = 0

    @property
    def category_label(self) -> str:
        return CATEGORIES[self.category]

    def subjects_with(self, *values: str) -> list[str]:
        return [name for name, value in self.marks.items() if value in values]


@dataclass
class ClassResult:
    school_class: SchoolClass
    students: list[StudentResult]
    average: Decimal | None

    @property
    def counts(self) -> Counter:
        return Counter(s.category for s in self.students)

    @property
    def attested(self) -> int:
        counts = self.counts
        return len(self.students) - counts["not_attested"] - counts["unmarked"]

    @property
    def quality(self) -> Decimal | None:
        """(отличники + хорошисты) of ALL students on the roll (the module docstring)."""
        counts = self.counts
        return percent(counts["excellent"] + counts["good"], len(self.students))

    @property
    def success(self) -> Decimal | None:
        """Attested and without «2» of ALL students on the roll: the same base as quality."""
        return percent(self.attested - self.counts["failing"], len(self.students))

    def total(self, name: str) -> int:
        return sum(getattr(s, name) for s in self.students)

    @property
    def failing(self) -> list[StudentResult]:
        return [s for s in self.students if s.category == "failing"]


@dataclass
class ProgressReport:
    year: AcademicYear
    period: ReportPeriod
    classes: list[ClassResult]

    def merged(self, other: ProgressReport) -> ProgressReport:
        """This report and another period's (another grade range), classes in grade order."""
        classes = sorted(
            self.classes + other.classes,
            key=lambda c: (c.school_class.grade, c.school_class.letter),
        )
        return ProgressReport(self.year, self.period, classes)


def categorize(values: list[str]) -> str:
    """The group of a student with these period marks (see the module docstring)."""
    values = [v for v in values if v]
    if NOT_ASSESSED in values:
        return "not_attested"
    if not values:
        return "unmarked"
    if "2" in values or "незач" in values:
        return "failing"
    points = [v for v in values if v in FIVE_POINT]  # «зач»/«осв» are not grades
    if not points:
        return "passed"
    threes = points.count("3")
    if all(v == "5" for v in points):
        return "excellent"
    if threes == 0:
        return "good"
    if threes == 1:
        return "one_three"
    return "threes"


def _classes(year: AcademicYear, period: ReportPeriod, class_id: int | None) -> list[SchoolClass]:
    query = SchoolClass.select().where((SchoolClass.year == year) & ~SchoolClass.closed)
    if class_id is not None:
        query = query.where(SchoolClass.id == class_id)
    classes = query.order_by(SchoolClass.grade, SchoolClass.letter)
    return [c for c in classes if c.graded and period.covers(c.grade)]


def _students(classes: list[SchoolClass], on: dt.date) -> dict[int, list[Person]]:
    """Each class's students enrolled on the day, alphabetically (one query)."""
    found: dict[int, list[Person]] = defaultdict(list)
    query = (
        Person.select(Person, Enrollment.school_class)
        .join(Enrollment, on=Enrollment.student)
        .where(
            Enrollment.school_class.in_(classes)
            & (Enrollment.starts <= on)
            & (Enrollment.ends.is_null() | (Enrollment.ends >= on))
        )
        .order_by(Person.last_name, Person.first_name, Person.middle_name, Person.id)
    )
    for person in query:
        found[person.enrollment.school_class_id].append(person)
    return found


def _period_marks(group_ids: list[int], period: ReportPeriod):
    """(class id, student id, subject, value) of the period's marks in these groups."""
    query = (
        PeriodMark.select(
            SubjectGroup.school_class, PeriodMark.student, Subject.name, PeriodMark.value
        )
        .join(SubjectGroup)
        .join(Subject)
        .where(PeriodMark.group.in_(group_ids) & (PeriodMark.kind == period.kind))
    )
    if period.term is not None:
        query = query.where(PeriodMark.term == period.term)
    return query.order_by(Subject.sort_order, Subject.name).tuples()


def _absences(
    group_ids: list[int], starts: dt.date, ends: dt.date
) -> dict[tuple[int, int], Counter]:
    """Per (class id, student id): absence codes on the class's own lessons, counted only
    while the student was enrolled in that class (one query)."""
    found: dict[tuple[int, int], Counter] = defaultdict(Counter)
    enrolled = Enrollment.select(Enrollment.id).where(
        (Enrollment.student == Attendance.student)
        & (Enrollment.school_class == SubjectGroup.school_class)
        & (Enrollment.starts <= Lesson.date)
        & (Enrollment.ends.is_null() | (Enrollment.ends >= Lesson.date))
    )
    query = (
        Attendance.select(SubjectGroup.school_class, Attendance.student, Attendance.code)
        .join(Lesson)
        .join(SubjectGroup)
        .where(
            Lesson.group.in_(group_ids)
            & Lesson.date.between(starts, ends)
            & (Lesson.state != "cancelled")
            & Attendance.code.in_(UNEXCUSED + EXCUSED)
            & fn.EXISTS(enrolled)
        )
        .tuples()
    )
    for class_id, student_id, code in query:
        found[class_id, student_id][code] += 1
    return found


def build(
    year: AcademicYear,
    period: ReportPeriod,
    *,
    class_id: int | None = None,
    today: dt.date | None = None,
) -> ProgressReport:
    """Every class the period covers (or one class): its students' results and absences."""
    today = today or dt.date.today()
    classes = _classes(year, period, class_id)
    report = ProgressReport(year, period, [])
    if not classes:
        return report
    on = min(max(today, period.starts), period.ends)
    students = _students(classes, on)
    groups = list(
        SubjectGroup.select(SubjectGroup.id, SubjectGroup.school_class).where(
            SubjectGroup.school_class.in_(classes) & ~SubjectGroup.is_draft
        )
    )
    group_ids = [g.id for g in groups]
    # keyed by (class, student): a transferred student's old class keeps its own marks
    marks: dict[tuple[int, int], dict[str, str]] = defaultdict(dict)
    for class_id, student_id, subject, value in (
        _period_marks(group_ids, period) if group_ids else []
    ):
        if value != EXEMPT:
            marks[class_id, student_id][subject] = value
    absences = _absences(group_ids, period.starts, min(period.ends, today)) if group_ids else {}
    for school_class in classes:
        results, points = [], []
        for person in students.get(school_class.id, []):
            got = marks.get((school_class.id, person.id), {})
            away = absences.get((school_class.id, person.id), Counter())
            excused = sum(away[c] for c in EXCUSED)
            unexcused = sum(away[c] for c in UNEXCUSED)
            results.append(
                StudentResult(
                    person,
                    categorize(list(got.values())),
                    got,
                    excused + unexcused,
                    excused,
                    unexcused,
                )
            )
            points += [int(v) for v in got.values() if v in FIVE_POINT]
        report.classes.append(ClassResult(school_class, results, mean(points)))
    return report


def document(report: ProgressReport) -> ReportDocument:
    classes = Table(
        "По классам",
        [
            "Класс",
            "Учащихся",
            "Отличников",
            "Хорошистов",
            "С одной «3»",
            "С «3»",
            "Только «зач»",
            "Неуспевающих",
            "Не аттестовано",
            "Без отметок",
            "Качество, %",
            "Успеваемость, %",
            "Средний балл",
            "Пропущено уроков",
            "из них по уважительной причине",
            "без уважительной причины",
        ],
        [
            [
                c.school_class.name,
                len(c.students),
                c.counts["excellent"],
                c.counts["good"],
                c.counts["one_three"],
                c.counts["threes"],
                c.counts["passed"],
                c.counts["failing"],
                c.counts["not_attested"],
                c.counts["unmarked"],
                c.quality,
                c.success,
                c.average,
                c.total("missed"),
                c.total("excused"),
                c.total("unexcused"),
            ]
            for c in report.classes
        ],
        note="Качество — отличники и хорошисты от всех учащихся; успеваемость — аттестованные "
        "без «2» от всех учащихся (в классе в последний день периода). «Зач» и «осв» — не "
        "отметки: только с «зач» — отдельная строка, не «с «3»».",
    )
    students = Table(
        "По учащимся",
        [
            "Класс",
            "ФИО обучающегося",
            "Результат",
            "Предметы с «2» / «н/а»",
            "Пропущено уроков",
            "по уважительной причине",
            "без уважительной причины",
        ],
        [
            [
                c.school_class.name,
                s.student.full_name,
                s.category_label,
                ", ".join(s.subjects_with("2", "незач", NOT_ASSESSED)),
                s.missed,
                s.excused,
                s.unexcused,
            ]
            for c in report.classes
            for s in c.students
        ],
        [7, 36, 16, 40, 10, 12, 12],
    )
    subtitle = f"{report.year.name} учебный год, период: {report.period.label}"
    return ReportDocument("Отчёт об успеваемости и посещаемости", subtitle, [classes, students])
