"""The usual calendar of a Russian school year: the deputy starts from it, then edits.

Quarters for grades 1–9 and half-years for 10–11 follow the ministry's unified pattern
that the demo school is built on (`appliance.demo.dates`): autumn, winter and spring
breaks for everyone, an extra February week for first-graders, the year's end on the
last weekday up to 26 May. Public holidays are those of the Labour Code (ст. 112 ТК РФ)
plus 31 December; the weekend transfers of a given year come from the government's
decree and are the deputy's to enter. Pure functions: nothing here touches the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from .demo.dates import demo_calendar

DAY = dt.timedelta(days=1)
QUARTER_GRADES = range(1, 10)
HALF_GRADES = range(10, 12)
MARK_DAYS = 3  # the period-mark deadline: within three days after the period ends

PUBLIC_HOLIDAYS = (
    ((11, 4), "День народного единства"),
    ((12, 31), "Новогодние каникулы"),
    *(((1, n), "Новогодние каникулы") for n in (1, 2, 3, 4, 5, 6, 8)),
    ((1, 7), "Рождество Христово"),
    ((2, 23), "День защитника Отечества"),
    ((3, 8), "Международный женский день"),
    ((5, 1), "Праздник Весны и Труда"),
    ((5, 9), "День Победы"),
    ((6, 12), "День России"),
)


@dataclass(frozen=True)
class TermDraft:
    """A term as it will be stored (the `Term` fields but the year)."""

    kind: str
    number: int
    name: str
    starts: dt.date
    ends: dt.date
    grade_from: int
    grade_to: int
    mark_deadline: dt.date | None


@dataclass(frozen=True)
class DayDraft:
    """A `NonSchoolDay` as it will be stored (the fields but the year)."""

    date: dt.date
    kind: str
    note: str
    grade_from: int = 1
    grade_to: int = 11
    works_as_weekday: int | None = None


def weekday_on_or_after(day: dt.date) -> dt.date:
    """``day`` itself on Monday–Friday, else the Monday after."""
    while day.isoweekday() > 5:
        day += DAY
    return day


def mark_deadline(
    ends: dt.date, days: int = MARK_DAYS, days_off: frozenset = frozenset()
) -> dt.date:
    """The usual deadline of a school order: the last working day within ``days`` after the end.

    Never a weekend or a public holiday (``days_off``); the end itself if no day fits.
    """
    candidates = [ends + n * DAY for n in range(1, days + 1)]
    working = [d for d in candidates if d.isoweekday() <= 5 and d not in days_off]
    return working[-1] if working else ends


def _bands(grades: Iterable[int]) -> tuple[bool, bool]:
    """Which bands the school teaches: (grades 1–9, grades 10–11); both when unknown."""
    grades = set(grades)
    quarters = bool(grades & set(QUARTER_GRADES)) or not grades
    halves = bool(grades & set(HALF_GRADES)) or not grades
    return quarters, halves


def template_terms(first_year: int, grades: Iterable[int] = ()) -> list[TermDraft]:
    """Quarters (1–9), half-years (10–11) and the year term of ``first_year``/``+1``.

    ``grades`` are the grades the school has (its classes or curriculum): a basic
    school (1–9) gets no half-years, a senior-only school no quarters.
    """
    quarters_wanted, halves_wanted = _bands(grades)
    quarters = [t for t in demo_calendar(first_year).terms if t.kind == "quarter"]
    spans = [(weekday_on_or_after(t.starts), t.ends) for t in quarters]
    bounds = (dt.date(first_year, 9, 1), dt.date(first_year + 1, 8, 31))
    holidays = frozenset(d.date for d in public_holidays(*bounds))

    def deadline(ends: dt.date, days: int = MARK_DAYS) -> dt.date:
        return mark_deadline(ends, days, holidays)

    drafts: list[TermDraft] = []
    if quarters_wanted:
        for n, (starts, ends) in enumerate(spans, 1):
            drafts.append(
                TermDraft("quarter", n, f"{n} четверть", starts, ends, 1, 9, deadline(ends))
            )
    if halves_wanted:
        for n, (starts, ends) in enumerate(
            ((spans[0][0], spans[1][1]), (spans[2][0], spans[3][1])), 1
        ):
            drafts.append(
                TermDraft("half", n, f"{n} полугодие", starts, ends, 10, 11, deadline(ends))
            )
    first, last = spans[0][0], spans[-1][1]
    grade_from, grade_to = (1 if quarters_wanted else 10), (11 if halves_wanted else 9)
    drafts.append(TermDraft("year", 1, "Год", first, last, grade_from, grade_to, deadline(last, 4)))
    return drafts


def template_vacations(first_year: int, grades: Iterable[int] = ()) -> list[DayDraft]:
    """The breaks of the year, one row per day: everyone's, and first-graders' February week.

    Between quarters the breaks only say out loud what the terms already mean; for
    half-years (10–11) the autumn and spring breaks fall inside a term and are needed.
    """
    quarters_wanted, halves_wanted = _bands(grades)
    grade_from, grade_to = (1 if quarters_wanted else 10), (11 if halves_wanted else 9)
    drafts = []
    for day in demo_calendar(first_year).days:
        if day.kind != "vacation":
            continue
        if day.grade_to == 1:  # the extra February week of grade 1
            if quarters_wanted:
                drafts.append(DayDraft(day.date, "vacation", day.note, 1, 1))
            continue
        drafts.append(DayDraft(day.date, "vacation", day.note, grade_from, grade_to))
    return drafts


def public_holidays(starts: dt.date, ends: dt.date) -> list[DayDraft]:
    """The public holidays between ``starts`` and ``ends`` (a year's bounds), in date order."""
    found = []
    for calendar_year in range(starts.year, ends.year + 1):
        for (month, day), note in PUBLIC_HOLIDAYS:
            date = dt.date(calendar_year, month, day)
            if starts <= date <= ends:
                found.append(DayDraft(date, "holiday", note))
    return sorted(found, key=lambda d: d.date)
