"""The school calendar: which days are school days, and whose timetable they follow.

A school works a five-day week (Monday–Friday) inside its marking periods. A
`NonSchoolDay` row for a range of grades takes a day off (holiday, каникулы) or
makes a weekend day a working day that follows another weekday's timetable
(«перенос рабочего дня»). `SchoolCalendar.load(year)` reads a year's rows once,
so asking about every day of the year runs no further queries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .models import AcademicYear, NonSchoolDay, Term

FIVE_DAY_WEEK = 5


def academic_year_bounds(today: dt.date) -> tuple[dt.date, dt.date]:
    """1 September and 31 August of the academic year containing ``today``."""
    first = today.year if today.month >= 9 else today.year - 1
    return dt.date(first, 9, 1), dt.date(first + 1, 8, 31)


def academic_year_name(today: dt.date) -> str:
    """ "2026/2027" for any day of that academic year."""
    starts, ends = academic_year_bounds(today)
    return f"{starts.year}/{ends.year}"


def current_year(today: dt.date | None = None) -> AcademicYear | None:
    """The year marked current, else the one whose dates contain ``today``."""
    marked = AcademicYear.select().where(AcademicYear.is_current).first()
    if marked is not None:
        return marked
    today = today or dt.date.today()
    return (
        AcademicYear.select()
        .where((AcademicYear.starts <= today) & (AcademicYear.ends >= today))
        .first()
    )


@dataclass(frozen=True)
class DayRule:
    """What one `NonSchoolDay` row says about its date."""

    kind: str  # holiday / vacation / workday
    grade_from: int = 1
    grade_to: int = 11
    works_as_weekday: int | None = None

    def applies_to(self, grade: int) -> bool:
        return self.grade_from <= grade <= self.grade_to


DayRules = Mapping[dt.date, Iterable[DayRule]]


def rules_by_date(rows: Iterable[NonSchoolDay]) -> dict[dt.date, tuple[DayRule, ...]]:
    """Group `NonSchoolDay` rows by date for `effective_weekday`."""
    found: dict[dt.date, list[DayRule]] = {}
    for row in rows:
        rule = DayRule(row.kind, row.grade_from, row.grade_to, row.works_as_weekday)
        found.setdefault(row.date, []).append(rule)
    return {day: tuple(rules) for day, rules in found.items()}


def effective_weekday(
    day: dt.date, non_school: DayRules, grade: int, days_per_week: int = FIVE_DAY_WEEK
) -> int | None:
    """The weekday (1–6) whose timetable runs on ``day`` for ``grade``, or None if no school.

    A holiday or vacation wins over everything for the grades it covers; a
    transferred working day runs the weekday it stands for (its own weekday when
    the row names none).
    """
    rules = [r for r in non_school.get(day, ()) if r.applies_to(grade)]
    if any(r.kind in ("holiday", "vacation") for r in rules):
        return None
    for rule in rules:
        if rule.kind == "workday":
            weekday = rule.works_as_weekday or day.isoweekday()
            return weekday if weekday <= 6 else None
    weekday = day.isoweekday()
    return weekday if weekday <= days_per_week else None


@dataclass(frozen=True)
class TermSpan:
    """A marking period as plain data (the `Term` row stays reachable as ``term``)."""

    kind: str
    number: int
    name: str
    starts: dt.date
    ends: dt.date
    grade_from: int
    grade_to: int
    term: Term | None = None

    def covers(self, day: dt.date, grade: int) -> bool:
        return self.starts <= day <= self.ends and self.grade_from <= grade <= self.grade_to


@dataclass
class SchoolCalendar:
    """A year's calendar in memory: its bounds, marking periods and non-school days."""

    starts: dt.date
    ends: dt.date
    non_school: dict[dt.date, tuple[DayRule, ...]] = field(default_factory=dict)
    terms: list[TermSpan] = field(default_factory=list)
    days_per_week: int = FIVE_DAY_WEEK

    @classmethod
    def load(cls, year: AcademicYear) -> SchoolCalendar:
        """Read the year's terms and non-school days (two queries)."""
        rows = NonSchoolDay.select().where(NonSchoolDay.year == year)
        terms = [
            TermSpan(t.kind, t.number, t.name, t.starts, t.ends, t.grade_from, t.grade_to, t)
            for t in Term.select().where(Term.year == year).order_by(Term.starts, Term.id)
        ]
        return cls(year.starts, year.ends, rules_by_date(rows), terms)

    def in_study_period(self, day: dt.date, grade: int) -> bool:
        """Inside the year and inside a marking period of the grade (summer is not).

        Quarters or half-years decide when the grade has them; the whole-year term
        only when it has nothing finer; no terms at all means the whole year.
        """
        if not self.starts <= day <= self.ends:
            return False
        spans = [t for t in self.terms if t.grade_from <= grade <= t.grade_to]
        finer = [t for t in spans if t.kind != "year"]
        return not spans or any(t.starts <= day <= t.ends for t in (finer or spans))

    def timetable_weekday(self, day: dt.date, grade: int) -> int | None:
        """The weekday whose timetable ``grade`` follows on ``day``; None if no school."""
        if not self.in_study_period(day, grade):
            return None
        return effective_weekday(day, self.non_school, grade, self.days_per_week)

    def is_school_day(self, day: dt.date, grade: int) -> bool:
        return self.timetable_weekday(day, grade) is not None

    def school_days(self, start: dt.date, end: dt.date, grade: int) -> list[dt.date]:
        """School days of ``grade`` from ``start`` to ``end`` inclusive."""
        days = []
        day = start
        while day <= end:
            if self.is_school_day(day, grade):
                days.append(day)
            day += dt.timedelta(days=1)
        return days

    def next_school_day(self, from_day: dt.date, grade: int) -> dt.date | None:
        """``from_day`` itself if it is a school day, else the next one this year."""
        day = max(from_day, self.starts)
        while day <= self.ends:
            if self.is_school_day(day, grade):
                return day
            day += dt.timedelta(days=1)
        return None

    def term_for(
        self, day: dt.date, grade: int, kinds: tuple[str, ...] = ("quarter", "half")
    ) -> TermSpan | None:
        """The marking period (a `TermSpan`) of ``grade`` containing ``day``, or None.

        Quarters and half-years come before the whole-year term.
        """
        for kind in (*kinds, "year"):
            for span in self.terms:
                if span.kind == kind and span.covers(day, grade):
                    return span
        return None
