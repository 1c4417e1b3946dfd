"""What a КТП must satisfy before the deputy sees it (§7.4), and what only deserves a look.

Errors block submitting: the hours differ from the curriculum's hours a year for the
group's grade and subject, a row has no topic or no hours, the plan is empty. Warnings
do not: a topic in Latin letters only (records are kept in Russian, foreign languages
aside), a planned date outside the academic year or on a day without lessons, dates
running backwards. The same checks run on an import preview and on a stored version.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..models import AcademicYear, CurriculumLine, SubjectGroup
from ..school_calendar import SchoolCalendar
from .rows import PlanRow, total_hours

ERROR, WARNING = "error", "warning"
_LATIN = re.compile(r"[A-Za-z]")
_CYRILLIC = re.compile(r"[А-Яа-яЁё]")


@dataclass(frozen=True)
class Finding:
    level: str  # error / warning
    text: str
    ref: str = ""  # «Строка 12» of a file, «№ 12» of a plan, "" for the whole plan

    def __str__(self) -> str:
        return f"{self.ref}: {self.text}" if self.ref else self.text

    @property
    def is_error(self) -> bool:
        return self.level == ERROR


@dataclass
class CheckContext:
    """What the checks compare a plan with: the curriculum, the calendar, the subject."""

    subject: str
    grade: int
    foreign_language: bool
    annual_hours: int | None  # the curriculum's hours a year; None without a line
    year: AcademicYear
    calendar: SchoolCalendar


def context_for(group: SubjectGroup) -> CheckContext:
    """The checks' view of a group (three queries: curriculum line, terms, days off)."""
    grade = group.school_class.grade
    line = CurriculumLine.get_or_none(
        (CurriculumLine.year == group.year_id)
        & (CurriculumLine.grade == grade)
        & (CurriculumLine.subject == group.subject_id)
    )
    return CheckContext(
        subject=group.subject.name,
        grade=grade,
        foreign_language=group.subject.is_foreign_language,
        annual_hours=line.hours_year if line else None,
        year=group.year,
        calendar=SchoolCalendar.load(group.year),
    )


def check_rows(rows: Sequence[PlanRow], ctx: CheckContext) -> list[Finding]:
    """Every finding about a plan's rows, the whole-plan ones first."""
    if not rows:
        return [Finding(ERROR, "В КТП нет ни одного урока.")]
    found = [*_hours_against_curriculum(rows, ctx)]
    previous: dt.date | None = None
    for row in rows:
        found += _row_findings(row, ctx)
        if row.planned_date is not None:
            if previous is not None and row.planned_date < previous:
                found.append(
                    Finding(
                        WARNING,
                        f"дата {row.planned_date:%d.%m.%Y} раньше даты предыдущего урока "
                        f"({previous:%d.%m.%Y})",
                        row.ref,
                    )
                )
            previous = row.planned_date
    return found


def _hours_against_curriculum(rows: Sequence[PlanRow], ctx: CheckContext) -> list[Finding]:
    hours = total_hours(rows)
    what = f"«{ctx.subject}», {ctx.grade} класс"
    if ctx.annual_hours is None:
        return [
            Finding(
                WARNING,
                f"В учебном плане {ctx.year.name} нет часов для {what}: "
                f"сверить {hours} ч КТП не с чем. Сообщите заместителю директора.",
            )
        ]
    if hours == ctx.annual_hours:
        return []
    gap = ctx.annual_hours - hours
    how = f"не хватает {gap} ч" if gap > 0 else f"лишних {-gap} ч"
    return [
        Finding(
            ERROR,
            f"Всего в КТП {hours} ч, а по учебному плану на {what} — {ctx.annual_hours} ч ({how}).",
        )
    ]


def _row_findings(row: PlanRow, ctx: CheckContext) -> list[Finding]:
    found = []
    topic = row.topic.strip()
    if not topic:
        found.append(Finding(ERROR, "не указана тема урока", row.ref))
    elif not ctx.foreign_language and _LATIN.search(topic) and not _CYRILLIC.search(topic):
        found.append(
            Finding(
                WARNING,
                f"тема «{topic}» написана не по-русски: записи в журнале ведутся "
                "на русском языке (§7.4)",
                row.ref,
            )
        )
    if row.hours < 1:
        found.append(Finding(ERROR, "количество часов должно быть не меньше 1", row.ref))
    day = row.planned_date
    if day is not None:
        if not ctx.year.starts <= day <= ctx.year.ends:
            found.append(
                Finding(WARNING, f"дата {day:%d.%m.%Y} вне {ctx.year.name} учебного года", row.ref)
            )
        elif not ctx.calendar.is_school_day(day, ctx.grade):
            found.append(
                Finding(
                    WARNING,
                    f"{day:%d.%m.%Y} у {ctx.grade} класса уроков нет "
                    "(выходной, праздник или каникулы)",
                    row.ref,
                )
            )
    return found


def errors(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.is_error]


def warnings(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if not f.is_error]
