"""Journal filling for a month (§8.2: «формируется ежемесячно»).

Per teacher and subject group, over the month's lessons up to today. A lesson is
credited to the teacher who gave it: `Lesson.teacher` when set (a substitute), else the
group's main teacher. So a group has its main teacher's row and, when someone stood in,
a row «(замена)» for each substitute with only the lessons they gave; the teacher filter
keeps exactly the rows of that teacher (their own groups and their substitutions).

- lessons: the group's lessons of the month that have come (not cancelled);
- conducted: held (the roll was called) or with a topic — `plan_progress`'s rule;
- topics / homework / attendance: lessons with a topic, with homework (text or a
  file), with the roll called («Все присутствуют» or any absence marked);
- marks per student per lesson: the month's marks ÷ (students × lessons conducted);
- КТП: hours the plan expects by the month's end (or today) against lessons conducted
  since the year began (`plan_progress.progress`, §4.6);
- overdue: lessons of past days still without a topic or without the roll call (the
  month's; the director's control counts them from the year's start, `overdue_since`);
- period marks missing: members of the group on the term's last day who have no mark
  for the last term whose deadline (the school order, §7.4) passed by the month's end
  (NOT EXISTS per student — a mark of a student who left does not hide a missing one).
  КТП and period marks belong to the group's main teacher's row.

A fixed handful of queries whatever the size of the school.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from peewee import Case, fn

from .. import plan_progress
from ..groups import on_day
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
    SubjectGroupTeacher,
    Term,
)
from ..terms import FINER_TERMS
from .table import ReportDocument, Table, percent, rounded

MONTHS = (
    "январь",
    "февраль",
    "март",
    "апрель",
    "май",
    "июнь",
    "июль",
    "август",
    "сентябрь",
    "октябрь",
    "ноябрь",
    "декабрь",
)


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of the month of ``month``."""
    last = calendar.monthrange(month.year, month.month)[1]
    return month.replace(day=1), month.replace(day=last)


def month_label(month: dt.date) -> str:
    return f"{MONTHS[month.month - 1]} {month.year}"


def year_months(year: AcademicYear) -> list[dt.date]:
    """The first days of the year's months, September to the year's end."""
    found, day = [], year.starts.replace(day=1)
    while day <= year.ends:
        found.append(day)
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return found


@dataclass
class GroupFilling:
    group: SubjectGroup
    teacher: Person | None
    students: int = 0
    lessons: int = 0
    conducted: int = 0
    topics: int = 0
    homework: int = 0
    attendance: int = 0
    marks: int = 0
    overdue: int = 0
    progress: plan_progress.Progress | None = None
    late_term: Term | None = None  # the last term whose mark deadline has passed
    marks_missing: int = 0  # its period marks not set
    substitute: bool = False  # only the lessons ``teacher`` gave in someone's group

    @property
    def marks_per_student_lesson(self) -> Decimal | None:
        if not self.students or not self.conducted:
            return None
        return rounded(Decimal(self.marks) / (self.students * self.conducted), 2)

    @property
    def group_name(self) -> str:
        """«Математика», «Английский язык, 1 подгр.», «Математика (замена)»."""
        name = self.group.subject.name
        if self.group.subgroup:
            name += f", {self.group.subgroup} подгр."
        return name + (" (замена)" if self.substitute else "")

    @property
    def ktp_behind(self) -> bool:
        return self.progress is not None and self.progress.status == "behind"

    @property
    def needs_attention(self) -> bool:
        return self.overdue > 0 or self.ktp_behind or self.marks_missing > 0


@dataclass
class TeacherFilling:
    """One teacher's groups added up (the control page lists teachers behind)."""

    teacher: Person | None
    groups: list[GroupFilling] = field(default_factory=list)

    def total(self, name: str) -> int:
        return sum(getattr(g, name) for g in self.groups)

    @property
    def overdue(self) -> int:
        return self.total("overdue")

    @property
    def ktp_behind(self) -> int:
        return sum(1 for g in self.groups if g.ktp_behind)

    @property
    def marks_missing(self) -> int:
        return self.total("marks_missing")

    @property
    def name(self) -> str:
        return self.teacher.full_name if self.teacher else "Учитель не назначен"


@dataclass
class FillingReport:
    year: AcademicYear
    month: dt.date
    starts: dt.date
    ends: dt.date  # the month's end, or today within the month
    rows: list[GroupFilling]

    @property
    def label(self) -> str:
        return month_label(self.month)

    def teachers(self) -> list[TeacherFilling]:
        found: dict[int | None, TeacherFilling] = {}
        for row in self.rows:
            key = row.teacher.id if row.teacher else None
            found.setdefault(key, TeacherFilling(row.teacher)).groups.append(row)
        return list(found.values())


def _groups(year: AcademicYear, class_id: int | None):
    query = (
        SubjectGroup.select(SubjectGroup, Subject, SchoolClass)
        .join(Subject)
        .switch(SubjectGroup)
        .join(SchoolClass)
        .where((SubjectGroup.year == year) & ~SubjectGroup.is_draft & ~SchoolClass.closed)
    )
    if class_id is not None:
        query = query.where(SubjectGroup.school_class == class_id)
    return list(
        query.order_by(
            SchoolClass.grade, SchoolClass.letter, Subject.sort_order, Subject.name
        ).order_by_extend(SubjectGroup.subgroup)
    )


def _main_teachers(group_ids: list[int]) -> dict[int, Person]:
    """Each group's main teacher (else any of its teachers)."""
    found: dict[int, Person] = {}
    links = (
        SubjectGroupTeacher.select(SubjectGroupTeacher, Person)
        .join(Person)
        .where(SubjectGroupTeacher.group.in_(group_ids))
        .order_by(SubjectGroupTeacher.is_main.desc(), SubjectGroupTeacher.id)
    )
    for link in links:
        found.setdefault(link.group_id, link.teacher)
    return found


def _count(condition) -> fn:
    return fn.SUM(Case(None, [(condition, 1)], 0))


Key = tuple[int, int | None]  # (group id, the id of the teacher who gave the lessons)


def _credit(rows, mains: dict[int, Person]) -> dict[Key, list[int]]:
    """Sum rows (group, Lesson.teacher, *counts) per (group, teacher who gave the lesson):
    a lesson without its own teacher is the main teacher's."""
    found: dict[Key, list[int]] = {}
    for group_id, teacher_id, *counts in rows:
        if teacher_id is None and group_id in mains:
            teacher_id = mains[group_id].id
        total = found.setdefault((group_id, teacher_id), [0] * len(counts))
        for i, value in enumerate(counts):
            total[i] += int(value or 0)
    return found


def _lesson_counts(group_ids: list[int], starts: dt.date, ends: dt.date):
    """Per group and lesson teacher: lessons, conducted, topics, homework, roll calls."""
    topic = Lesson.topic != ""
    held = Lesson.state == "held"
    homework = (Lesson.homework != "") | Lesson.homework_file.is_null(False)
    return (
        Lesson.select(
            Lesson.group,
            Lesson.teacher,
            fn.COUNT(Lesson.id),
            _count(held | topic),
            _count(topic),
            _count(homework),
            _count(held),
        )
        .where(
            Lesson.group.in_(group_ids)
            & Lesson.date.between(starts, ends)
            & (Lesson.state != "cancelled")
        )
        .group_by(Lesson.group, Lesson.teacher)
        .tuples()
    )


def _overdue_counts(group_ids: list[int], starts: dt.date, ends: dt.date, today: dt.date):
    """Per group and lesson teacher: lessons of past days without a topic or roll call."""
    return (
        Lesson.select(Lesson.group, Lesson.teacher, fn.COUNT(Lesson.id))
        .where(
            Lesson.group.in_(group_ids)
            & Lesson.date.between(starts, ends)
            & (Lesson.date < today)
            & (Lesson.state != "cancelled")
            & ((Lesson.topic == "") | (Lesson.state != "held"))
        )
        .group_by(Lesson.group, Lesson.teacher)
        .tuples()
    )


def _mark_counts(group_ids: list[int], starts: dt.date, ends: dt.date):
    """Per group and lesson teacher: marks given on the lessons."""
    return (
        Mark.select(Lesson.group, Lesson.teacher, fn.COUNT(Mark.id))
        .join(Assignment)
        .join(Lesson)
        .where(
            Lesson.group.in_(group_ids)
            & Lesson.date.between(starts, ends)
            & (Lesson.state != "cancelled")
        )
        .group_by(Lesson.group, Lesson.teacher)
        .tuples()
    )


def _student_counts(group_ids: list[int], on: dt.date) -> dict[int, int]:
    query = (
        SubjectGroupStudent.select(SubjectGroupStudent.group, fn.COUNT(SubjectGroupStudent.id))
        .where(SubjectGroupStudent.group.in_(group_ids) & on_day(on))
        .group_by(SubjectGroupStudent.group)
        .tuples()
    )
    return dict(query)


def _late_terms(year: AcademicYear, on: dt.date) -> list[Term]:
    """Per grade range, the last term whose period-mark deadline passed before ``on``."""
    found: dict[tuple[int, int], Term] = {}
    terms = Term.select().where(
        (Term.year == year) & Term.kind.in_(FINER_TERMS) & (Term.mark_deadline < on)
    )
    for term in terms.order_by(Term.mark_deadline):
        found[term.grade_from, term.grade_to] = term
    return list(found.values())


def _missing_period_marks(
    year: AcademicYear, groups: list[SubjectGroup], on: dt.date
) -> dict[int, tuple[Term, int]]:
    """Per group: the late term and how many of its students still lack a mark for it.

    Counted: the group's members on the term's last day with NO mark of theirs for the
    term in the group (NOT EXISTS per student) — not members minus marks, where a mark
    of a student who has left would hide one still missing. A query per late term (one
    or two: quarters and half-years), whatever the number of groups.
    """
    found: dict[int, tuple[Term, int]] = {}
    for term in _late_terms(year, on):
        ids = [
            g.id
            for g in groups
            if g.school_class.graded and term.grade_from <= g.school_class.grade <= term.grade_to
        ]
        if not ids:
            continue
        marked = PeriodMark.select(PeriodMark.id).where(
            (PeriodMark.group == SubjectGroupStudent.group)
            & (PeriodMark.student == SubjectGroupStudent.student)
            & (PeriodMark.term == term)
        )
        lacking = dict(
            SubjectGroupStudent.select(
                SubjectGroupStudent.group, fn.COUNT(fn.DISTINCT(SubjectGroupStudent.student))
            )
            .where(SubjectGroupStudent.group.in_(ids) & on_day(term.ends) & ~fn.EXISTS(marked))
            .group_by(SubjectGroupStudent.group)
            .tuples()
        )
        for group_id in ids:
            found[group_id] = (term, lacking.get(group_id, 0))
    return found


def _people(ids: set[int]) -> dict[int, Person]:
    if not ids:
        return {}
    return {p.id: p for p in Person.select().where(Person.id.in_(list(ids)))}


def build(
    year: AcademicYear,
    month: dt.date,
    *,
    class_id: int | None = None,
    teacher_id: int | None = None,
    today: dt.date | None = None,
    overdue_since: dt.date | None = None,
) -> FillingReport:
    """The month's filling of every group (or one class's, or one teacher's rows).

    ``overdue_since``: count overdue lessons from that day instead of the month's first
    (the director's control: every lesson of the year still unfilled).
    """
    today = today or dt.date.today()
    first, last = month_bounds(month)
    starts, ends = max(first, year.starts), min(last, year.ends, today)
    groups = _groups(year, class_id)
    report = FillingReport(year, first, starts, max(ends, starts), [])
    if not groups:
        return report
    ids = [g.id for g in groups]
    mains = _main_teachers(ids)
    in_month = starts <= ends
    lessons = _credit(_lesson_counts(ids, starts, ends), mains) if in_month else {}
    marks = _credit(_mark_counts(ids, starts, ends), mains) if in_month else {}
    since = min(overdue_since, starts) if overdue_since else starts
    overdue = _credit(_overdue_counts(ids, since, ends, today), mains) if since <= ends else {}
    students = _student_counts(ids, report.ends)
    others = {t for _g, t in (*lessons, *marks, *overdue) if t is not None}
    people = _people(others - {p.id for p in mains.values()})
    people.update({p.id: p for p in mains.values()})
    for group in groups:
        main = mains.get(group.id)
        keys = [main.id if main else None]
        keys += sorted(
            {t for g, t in (*lessons, *marks, *overdue) if g == group.id and t not in keys},
            key=lambda t: (people[t].last_name, people[t].first_name, t),
        )
        for key in keys:
            if teacher_id is not None and key != teacher_id:
                continue
            total, conducted, topics, homework, roll = lessons.get((group.id, key), [0] * 5)
            report.rows.append(
                GroupFilling(
                    group,
                    people.get(key) if key is not None else None,
                    students=students.get(group.id, 0),
                    lessons=total,
                    conducted=conducted,
                    topics=topics,
                    homework=homework,
                    attendance=roll,
                    marks=marks.get((group.id, key), [0])[0],
                    overdue=overdue.get((group.id, key), [0])[0],
                    substitute=key != keys[0],
                )
            )
    _group_duties(year, report, min(last, today), min(report.ends, today))
    report.rows.sort(
        key=lambda r: (
            r.teacher is None,
            (r.teacher.last_name, r.teacher.first_name, r.teacher.id) if r.teacher else (),
        )
    )
    return report


def _group_duties(year: AcademicYear, report: FillingReport, due: dt.date, on: dt.date) -> None:
    """КТП and period marks, on the main teacher's rows: they are the group's, not a
    substitute's. ``on``: the plan as of the report's last day (today for a month to come)."""
    mains = [row for row in report.rows if not row.substitute]
    if not mains:
        return
    groups = [row.group for row in mains]
    progress = {p.group.id: p for p in plan_progress.progress(groups, on)}
    missing = _missing_period_marks(year, groups, due)
    for row in mains:
        row.progress = progress.get(row.group.id)
        row.late_term, row.marks_missing = missing.get(row.group.id, (None, 0))


def _ktp(row: GroupFilling) -> list:
    if row.substitute:  # the plan is the group's main teacher's
        return ["", "", ""]
    p = row.progress
    if p is None or p.planned is None:
        return ["нет КТП", row.progress.conducted if p else "", ""]
    return [p.planned, p.conducted, p.delta]


def document(report: FillingReport) -> ReportDocument:
    rows = [
        [
            row.teacher.full_name if row.teacher else "",
            row.group.school_class.name,
            row.group_name,
            row.lessons,
            row.conducted,
            row.topics,
            row.homework,
            row.attendance,
            row.marks,
            row.marks_per_student_lesson,
            *_ktp(row),
            row.overdue,
            row.marks_missing if row.late_term else "",
        ]
        for row in report.rows
    ]
    groups = Table(
        "По группам",
        [
            "Учитель",
            "Класс",
            "Предмет",
            "Уроков",
            "Проведено",
            "Тема записана",
            "Д/з задано",
            "Посещаемость отмечена",
            "Отметок",
            "Отметок на ученика за урок",
            "КТП: по плану к дате, ч",
            "КТП: проведено, ч",
            "КТП: отставание (−) / опережение (+)",
            "Не заполнено в срок",
            "Нет отметок за период (срок истёк)",
        ],
        rows,
        [30, 7, 26, 8, 10, 10, 10, 12, 9, 12, 12, 12, 14, 12, 14],
        note="Уроки месяца по сегодняшний день, без отменённых; урок засчитан учителю, "
        "который его провёл (замена — отдельной строкой). КТП — с начала года. Отметки за "
        "период — за последнюю четверть (полугодие), срок выставления которой истёк: "
        "учащиеся группы без отметки.",
    )
    teachers = Table(
        "По учителям",
        [
            "Учитель",
            "Групп",
            "Уроков",
            "Темы, %",
            "Д/з, %",
            "Посещаемость, %",
            "Не заполнено в срок",
            "Групп с отставанием по КТП",
            "Нет отметок за период",
        ],
        [
            [
                t.name,
                len({g.group.id for g in t.groups}),
                t.total("lessons"),
                percent(t.total("topics"), t.total("lessons")),
                percent(t.total("homework"), t.total("lessons")),
                percent(t.total("attendance"), t.total("lessons")),
                t.overdue,
                t.ktp_behind,
                t.marks_missing,
            ]
            for t in report.teachers()
        ],
    )
    subtitle = f"Месяц: {report.label} ({report.starts:%d.%m.%Y} — {report.ends:%d.%m.%Y})"
    return ReportDocument("Отчёт о заполнении электронного журнала", subtitle, [teachers, groups])
