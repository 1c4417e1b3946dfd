"""The year's calendar as staff read it: days off by month, and the whole year on one page.

Read-only (the edits are in `appliance.calendar_edit`); two or three queries a page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from babel.dates import format_date

from .models import AcademicYear, NonSchoolDay
from .school_calendar import SchoolCalendar

DAY = dt.timedelta(days=1)
MONTHS = 12


def month_name(first_day: dt.date) -> str:
    """«сентябрь 2026»."""
    return format_date(first_day, "LLLL y", locale="ru")


@dataclass
class DayRun:
    """Consecutive days of one kind, note and grades within a month (one line of the list)."""

    kind: str
    note: str
    grade_from: int
    grade_to: int
    works_as_weekday: int | None
    first: dt.date
    last: dt.date
    ids: list[int] = field(default_factory=list)

    def continues(self, row: NonSchoolDay) -> bool:
        same = (self.kind, self.note, self.grade_from, self.grade_to, self.works_as_weekday) == (
            row.kind,
            row.note,
            row.grade_from,
            row.grade_to,
            row.works_as_weekday,
        )
        return same and row.date == self.last + DAY and row.date.month == self.first.month

    @property
    def key(self) -> str:
        """The checkbox value that deletes the whole run: «12,13,14»."""
        return ",".join(map(str, self.ids))


@dataclass
class Month:
    title: str
    runs: list[DayRun]


def days_by_month(year: AcademicYear) -> list[Month]:
    """The year's holidays, vacations and working days, grouped into runs, month by month."""
    rows = (
        NonSchoolDay.select()
        .where(NonSchoolDay.year == year)
        .order_by(NonSchoolDay.kind, NonSchoolDay.grade_from, NonSchoolDay.note, NonSchoolDay.date)
    )
    runs: list[DayRun] = []
    open_runs: dict[tuple, DayRun] = {}
    for row in rows:
        key = (row.kind, row.note, row.grade_from, row.grade_to, row.works_as_weekday)
        run = open_runs.get(key)
        if run is not None and run.continues(row):
            run.last = row.date
            run.ids.append(row.id)
            continue
        run = DayRun(*key, first=row.date, last=row.date, ids=[row.id])
        open_runs[key] = run
        runs.append(run)
    runs.sort(key=lambda r: (r.first, r.grade_from, r.kind))
    months: dict[tuple[int, int], Month] = {}
    for run in runs:
        month = (run.first.year, run.first.month)
        if month not in months:
            months[month] = Month(month_name(run.first.replace(day=1)), [])
        months[month].runs.append(run)
    return [months[m] for m in sorted(months)]


# --- the year on one page ---------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    day: dt.date | None  # None: the month has no such day (31 February)
    kind: str = ""  # school / weekend / holiday / vacation / workday / off
    title: str = ""


@dataclass
class MonthRow:
    title: str
    cells: list[Cell]
    school_days: int


@dataclass(frozen=True)
class TermDays:
    name: str
    starts: dt.date
    ends: dt.date
    school_days: int


def _cell(calendar: SchoolCalendar, day: dt.date, grade: int) -> Cell:
    rules = [r for r in calendar.non_school.get(day, ()) if r.applies_to(grade)]
    kinds = {r.kind for r in rules}
    if "holiday" in kinds:
        return Cell(day, "holiday", "праздник")
    if "vacation" in kinds:
        return Cell(day, "vacation", "каникулы")
    weekday = calendar.timetable_weekday(day, grade)
    if weekday is None:
        if not calendar.in_study_period(day, grade):
            return Cell(day, "off", "вне учебного периода")
        return Cell(day, "weekend", "выходной")
    if "workday" in kinds:
        names = ("пн", "вт", "ср", "чт", "пт", "сб")
        return Cell(day, "workday", f"рабочий день, расписание: {names[weekday - 1]}")
    return Cell(day, "school", "учебный день")


def year_grid(year: AcademicYear, grade: int) -> tuple[list[MonthRow], list[TermDays]]:
    """Months × days 1–31 of ``year`` for ``grade``, and the school days of each term."""
    calendar = SchoolCalendar.load(year)
    rows = []
    first = year.starts.replace(day=1)
    for _ in range(MONTHS):
        if first > year.ends:
            break
        cells = []
        for n in range(1, 32):
            try:
                day = first.replace(day=n)
            except ValueError:
                cells.append(Cell(None))
                continue
            cells.append(
                _cell(calendar, day, grade) if year.starts <= day <= year.ends else Cell(day, "off")
            )
        rows.append(
            MonthRow(
                month_name(first), cells, sum(1 for c in cells if c.kind in ("school", "workday"))
            )
        )
        first = (first + 31 * DAY).replace(day=1)
    terms = [
        TermDays(t.name, t.starts, t.ends, len(calendar.school_days(t.starts, t.ends, grade)))
        for t in sorted(calendar.terms, key=lambda t: (t.kind == "year", t.starts))
        if t.grade_from <= grade <= t.grade_to
    ]
    return rows, terms
