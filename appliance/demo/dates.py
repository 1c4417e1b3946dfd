"""The demo school's calendar for any academic year: quarters, каникулы, holidays.

It follows the pattern of the ministry's unified calendar: autumn break from the
Saturday of 24–30 October for nine days, winter break 29 December – 11 January,
spring break from the Saturday of 21–27 March, an extra February week for
first-graders, the year's end on 26 May. Public holidays that fall on a weekend
move to the Monday after; a holiday on a Tuesday or Thursday takes the bridging
Monday or Friday off and a Saturday is worked in its place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

DAY = dt.timedelta(days=1)
MAX_GRADE = 9


@dataclass(frozen=True)
class TermPlan:
    kind: str
    number: int
    name: str
    starts: dt.date
    ends: dt.date
    mark_deadline: dt.date


@dataclass(frozen=True)
class DayOff:
    date: dt.date
    kind: str  # holiday / vacation / workday
    note: str
    grade_from: int = 1
    grade_to: int = MAX_GRADE
    works_as_weekday: int | None = None


def _weekday_on_or_after(day: dt.date, weekday: int) -> dt.date:
    """The first date on or after ``day`` falling on ``weekday`` (1 = Monday)."""
    return day + (weekday - day.isoweekday()) % 7 * DAY


def _weekday_on_or_before(day: dt.date) -> dt.date:
    """``day`` or the last Monday–Friday before it."""
    while day.isoweekday() > 5:
        day -= DAY
    return day


def _span(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + i * DAY for i in range((last - first).days + 1)]


@dataclass(frozen=True)
class DemoCalendar:
    terms: list[TermPlan]
    days: list[DayOff]


def demo_calendar(first_year: int) -> DemoCalendar:
    """Quarters, the year term and the non-school days of ``first_year``/``first_year+1``."""
    y, y1 = first_year, first_year + 1
    autumn = _weekday_on_or_after(dt.date(y, 10, 24), 6)  # the Saturday of 24–30 October
    winter = (dt.date(y, 12, 29), dt.date(y1, 1, 11))
    february = _weekday_on_or_after(dt.date(y1, 2, 15), 1)
    spring = _weekday_on_or_after(dt.date(y1, 3, 21), 6)
    vacations = [
        (autumn, autumn + 8 * DAY, "Осенние каникулы", MAX_GRADE),
        (*winter, "Зимние каникулы", MAX_GRADE),
        (february, february + 6 * DAY, "Дополнительные каникулы для 1 класса", 1),
        (spring, spring + 8 * DAY, "Весенние каникулы", MAX_GRADE),
    ]
    quarter_bounds = [
        (dt.date(y, 9, 1), autumn - DAY),
        (autumn + 9 * DAY, winter[0] - DAY),
        (winter[1] + DAY, spring - DAY),
        (spring + 9 * DAY, dt.date(y1, 5, 26)),
    ]
    terms = []
    for number, (starts, ends) in enumerate(quarter_bounds, start=1):
        ends = _weekday_on_or_before(ends)
        terms.append(
            TermPlan("quarter", number, f"{number} четверть", starts, ends, ends + 3 * DAY)
        )
    terms.append(
        TermPlan("year", 1, "Год", terms[0].starts, terms[-1].ends, terms[-1].ends + 4 * DAY)
    )

    days: list[DayOff] = []
    for first, last, note, grade_to in vacations:
        days += [DayOff(d, "vacation", note, 1, grade_to) for d in _span(first, last)]
    vacation_days = {d.date for d in days if d.grade_to == MAX_GRADE}

    holidays = [
        (dt.date(y, 11, 4), "День народного единства"),
        (dt.date(y1, 2, 23), "День защитника Отечества"),
        (dt.date(y1, 3, 8), "Международный женский день"),
        (dt.date(y1, 5, 1), "Праздник Весны и Труда"),
        (dt.date(y1, 5, 9), "День Победы"),
    ]
    for day, note in holidays:
        days.append(DayOff(day, "holiday", note))
        if day in vacation_days:
            continue
        weekday = day.isoweekday()
        if weekday >= 6:  # a weekend holiday moves to the Monday after
            monday = day + (8 - weekday) * DAY
            days.append(DayOff(monday, "holiday", f"Перенос выходного дня ({note})"))
        elif weekday in (2, 4):  # a bridge day off, worked on a Saturday
            bridge = day - DAY if weekday == 2 else day + DAY
            saturday = bridge - 2 * DAY if weekday == 2 else bridge + DAY
            days.append(DayOff(bridge, "holiday", f"Перенос выходного дня ({note})"))
            if saturday in vacation_days:
                continue
            days.append(
                DayOff(
                    saturday,
                    "workday",
                    f"Рабочий день вместо {bridge:%d.%m}",
                    works_as_weekday=bridge.isoweekday(),
                )
            )
    days.sort(key=lambda d: (d.date, d.grade_from, d.kind))
    return DemoCalendar(terms, days)
