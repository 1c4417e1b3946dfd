"""The director's monthly control of the journal (§7.1: «не реже 1 раза в месяц»).

One page for a month that gathers the other reports and says what needs attention:

- teachers behind on filling: lessons of past days without a topic or the roll call,
  groups behind their КТП, period marks missing after the deadline (`filling`);
- classes with failing or not attested students at the last period's end (`progress`);
- students failing now or with more unexcused absences in the current term than the
  school allows — the same rule as the notices to parents (`parent_notices.risk`);
- staff who did not log in during the month (`activity`);
- changes not yet sent to АСУ РСО, rejected ones and open conflicts (`sync.status`).

Every part links to its detailed report. Each part runs its own bounded queries.
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
    progress: progress.ProgressReport
    risks: list[ClassRisks]
    activity: activity.ActivityReport
    sync: sync_status.Overview
    absence_threshold: int

    @property
    def label(self) -> str:
        return filling.month_label(self.month)

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
                "уроков не заполнено в срок",
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
                f"классов с неуспевающими или не аттестованными ({self.progress.period.label})",
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
    fill = filling.build(year, month, today=today)
    on = min(fill.ends, today)
    period = progress.default_period(year, on)
    results = progress.build(year, period, today=on)
    active = activity.build(fill.starts, fill.ends, filling.month_label(fill.month))
    return ControlReport(
        year,
        fill.month,
        fill,
        results,
        _risks(year, on),
        active,
        sync_status.overview(),
        School.get().absence_threshold,
    )


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
            "Уроков",
            "Не заполнено в срок",
            "Групп с отставанием по КТП",
            "Нет отметок за период",
        ],
        [
            [t.name, t.total("lessons"), t.overdue, t.ktp_behind, t.marks_missing]
            for t in report.teachers_behind
        ],
    )
    classes = Table(
        "Классы",
        [
            "Класс",
            "Учащихся",
            "Неуспевающих",
            "Не аттестовано",
            "Качество, %",
            "Успеваемость, %",
            "Пропусков без уважительной причины",
        ],
        [
            [
                c.school_class.name,
                len(c.students),
                c.counts["failing"],
                c.counts["not_attested"],
                c.quality,
                c.success,
                c.total("unexcused"),
            ]
            for c in report.classes_failing
        ],
        note=f"По итогам периода: {report.progress.period.label}",
    )
    risks = Table(
        "Угроза неуспеваемости",
        [
            "Класс",
            "Учащихся с угрозой «2»",
            f"Пропусков без уважительной причины > {report.absence_threshold}",
        ],
        [[r.school_class.name, r.failing, r.truant] for r in report.risks],
        note="Текущая четверть (полугодие): прогноз отметки и пропуски «Н».",
    )
    silent = Table(
        "Не входили в систему",
        ["ФИО", "Логин", "Роли"],
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
