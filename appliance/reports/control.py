"""The director's monthly control of the journal (§7.1: «не реже 1 раза в месяц»).

One page for a month that gathers the other reports and says what needs attention:

- teachers behind on filling: lessons of the year's past days (up to the month's end)
  still without a topic or the roll call — not only the month's: a lesson left empty in
  September is still a debt in November —, groups behind their КТП, period marks
  missing after the deadline (`filling`);
- classes with failing or not attested students at the last ended period of EACH
  grade range (the quarter for 2–9, the half-year for 10–11, merged: no grade drops
  out) (`progress.latest_periods`);
- students failing now or with more unexcused absences in the current term than the
  school allows — the same rule as the notices to parents (`parent_notices.risk`);
- staff who did not log in during the month (`activity`);
- changes not yet sent to АСУ РСО, rejected ones and open conflicts (`sync.status`).

Every part links to its detailed report. Each part runs its own bounded queries. The
page prints the same tables (`document`) as the XLSX and PDF, so their columns agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .. import access
from ..models import AcademicYear, School, SchoolClass, Subject, SubjectGroup
from ..parent_notices import risk
from ..sync import status as sync_status
from . import activity, filling, progress
from .table import ReportDocument, Table


@dataclass
class ClassRisks:
    school_class: SchoolClass
    failing: int  # students failing at least one subject now
    truant: int  # students over the school's unexcused-absence threshold


@dataclass
class ControlReport:
    year: AcademicYear
    month: dt.date
    filling: filling.FillingReport
    progress: progress.ProgressReport  # the classes of all grade ranges, merged
    periods: list[progress.ReportPeriod]  # per grade range, its last ended term
    risks: list[ClassRisks]
    activity: activity.ActivityReport
    sync: sync_status.Overview
    absence_threshold: int

    @property
    def label(self) -> str:
        return filling.month_label(self.month)

    @property
    def periods_label(self) -> str:
        """«2 четверть (2–9 кл.), 1 полугодие (10–11 кл.)» — what the class table covers."""
        return ", ".join(p.label for p in self.periods)

    @property
    def teachers_behind(self) -> list[filling.TeacherFilling]:
        return [t for t in self.filling.teachers() if t.overdue or t.ktp_behind or t.marks_missing]

    @property
    def classes_failing(self) -> list[progress.ClassResult]:
        return [c for c in self.progress.classes if c.counts["failing"] or c.counts["not_attested"]]

    @property
    def ktp_behind(self) -> list[filling.GroupFilling]:
        return [row for row in self.filling.rows if row.ktp_behind]

    def attention(self) -> list[tuple[str, str, int]]:
        """(area, what, how many) — the summary at the top of the page."""
        risks = [r for r in self.risks if r.failing or r.truant]
        items = [
            (
                "Заполнение журнала",
                "учителей с незаполненными уроками, отставанием по КТП или без отметок за период",
                len(self.teachers_behind),
            ),
            (
                "Заполнение журнала",
                "уроков с начала года не заполнено в срок",
                sum(r.overdue for r in self.filling.rows),
            ),
            (
                "Заполнение журнала",
                "отметок за период не выставлено, хотя срок по приказу истёк",
                sum(r.marks_missing for r in self.filling.rows),
            ),
            ("Выполнение программ", "групп отстают от КТП", len(self.ktp_behind)),
            (
                "Успеваемость",
                f"классов с неуспевающими или не аттестованными ({self.periods_label})",
                len(self.classes_failing),
            ),
            (
                "Успеваемость",
                "учащихся с угрозой неуспеваемости сейчас",
                sum(r.failing for r in risks),
            ),
            (
                "Посещаемость",
                f"учащихся с пропусками без уважительной причины больше {self.absence_threshold}",
                sum(r.truant for r in risks),
            ),
            ("Активность", "сотрудников не входили в систему за месяц", len(self.activity.silent)),
            ("АСУ РСО", "изменений ждут отправки", self.sync.pending),
            ("АСУ РСО", "изменений отклонено, ждут исправления", self.sync.parked),
            ("АСУ РСО", "расхождений не разобрано", self.sync.open_conflicts),
        ]
        return items


def _risks(year: AcademicYear, on: dt.date) -> list[ClassRisks]:
    """Per class: students failing now and students over the absence threshold."""
    groups = list(  # with class and subject: the risk list sorts by them
        SubjectGroup.select(SubjectGroup, SchoolClass, Subject)
        .join(SchoolClass)
        .switch(SubjectGroup)
        .join(Subject)
        .where((SubjectGroup.year == year) & ~SubjectGroup.is_draft & ~SchoolClass.closed)
    )
    rows = risk.risks_in(groups, per_subject=False, today=on)
    failing: dict[int, set[int]] = {}
    truant: dict[int, set[int]] = {}
    classes: dict[int, SchoolClass] = {}
    for row in rows:
        classes[row.school_class.id] = row.school_class
        target = failing if row.kind == risk.FAILING else truant
        target.setdefault(row.school_class.id, set()).add(row.student.id)
    found = [
        ClassRisks(c, len(failing.get(c.id, ())), len(truant.get(c.id, ())))
        for c in classes.values()
    ]
    return sorted(found, key=lambda r: (r.school_class.grade, r.school_class.letter))


def build(year: AcademicYear, month: dt.date, *, today: dt.date | None = None) -> ControlReport:
    """Everything the director checks for the month, with what needs attention."""
    today = today or dt.date.today()
    fill = filling.build(year, month, today=today, overdue_since=year.starts)
    on = min(fill.ends, today)
    periods = progress.latest_periods(year, on) or [progress.default_period(year, on)]
    results = progress.build(year, periods[0], today=on)
    for period in periods[1:]:
        results = results.merged(progress.build(year, period, today=on))
    active = activity.build(fill.starts, fill.ends, filling.month_label(fill.month))
    return ControlReport(
        year,
        fill.month,
        fill,
        results,
        periods,
        _risks(year, on),
        active,
        sync_status.overview(),
        School.get().absence_threshold,
    )


def _period_of(report: ControlReport, school_class: SchoolClass) -> progress.ReportPeriod:
    """The period whose marks the class's row shows (its grade range's)."""
    return next((p for p in report.periods if p.covers(school_class.grade)), report.periods[0])


def period_key(report: ControlReport, school_class: SchoolClass) -> str:
    """For the page's link to the class's detailed progress report."""
    return _period_of(report, school_class).key


def document(report: ControlReport) -> ReportDocument:
    summary = Table(
        "Требует внимания",
        ["Раздел", "Что", "Сколько"],
        [list(item) for item in report.attention()],
        [24, 70, 10],
    )
    teachers = Table(
        "Учителя",
        [
            "Учитель",
            "Уроков за месяц",
            "Не заполнено в срок с начала года",
            "Групп с отставанием по КТП",
            "Нет отметок за период (срок истёк)",
        ],
        [
            [t.name, t.total("lessons"), t.overdue, t.ktp_behind, t.marks_missing]
            for t in report.teachers_behind
        ],
        note="Уроки прошедших дней без темы или без отметки посещаемости — с начала учебного "
        "года по конец месяца; группы, отстающие от КТП; учащиеся без отметки за период, "
        "срок выставления которой истёк.",
    )
    classes = Table(
        "Классы",
        [
            "Класс",
            "Период",
            "Учащихся",
            "Неуспевающих",
            "Не аттестовано",
            "Качество, %",
            "Успеваемость, %",
            "Пропущено уроков без уважительной причины",
        ],
        [
            [
                c.school_class.name,
                _period_of(report, c.school_class).label,
                len(c.students),
                c.counts["failing"],
                c.counts["not_attested"],
                c.quality,
                c.success,
                c.total("unexcused"),
            ]
            for c in report.classes_failing
        ],
        note=f"Классы с неуспевающими или не аттестованными по итогам периода: "
        f"{report.periods_label}.",
    )
    risks = Table(
        "Угроза неуспеваемости",
        [
            "Класс",
            "Учащихся с угрозой «2»",
            f"Учащихся с пропусками без уважительной причины больше {report.absence_threshold}",
        ],
        [[r.school_class.name, r.failing, r.truant] for r in report.risks],
        note="Текущая четверть (полугодие): ожидаемая отметка «2» и пропуски «Н» — как в "
        "уведомлениях родителям.",
    )
    silent = Table(
        "Не входили в систему",
        ["Сотрудник", "Логин", "Роли"],
        [
            [
                u.account.person.full_name,
                u.account.username,
                ", ".join(access.ROLES[r] for r in u.roles),
            ]
            for u in report.activity.silent
        ],
    )
    subtitle = f"Месяц: {report.label}, {report.year.name} учебный год"
    return ReportDocument(
        "Ежемесячный контроль ведения журнала",
        subtitle,
        [summary, teachers, classes, risks, silent],
    )
