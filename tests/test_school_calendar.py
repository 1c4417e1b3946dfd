"""The school calendar: academic years, school days, transfers, holidays and terms."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.demo.dates import demo_calendar
from appliance.models import AcademicYear, NonSchoolDay, Term, database
from appliance.school_calendar import (
    DayRule,
    SchoolCalendar,
    academic_year_bounds,
    academic_year_name,
    current_year,
    effective_weekday,
)

D = dt.date


@pytest.mark.parametrize(
    ("today", "bounds"),
    [
        (D(2026, 11, 28), (D(2026, 9, 1), D(2027, 8, 31))),
        (D(2027, 6, 15), (D(2026, 9, 1), D(2027, 8, 31))),
        (D(2027, 8, 31), (D(2026, 9, 1), D(2027, 8, 31))),
        (D(2027, 9, 1), (D(2027, 9, 1), D(2028, 8, 31))),
        (D(2027, 1, 1), (D(2026, 9, 1), D(2027, 8, 31))),
    ],
)
def test_academic_year_bounds_start_on_first_september(today, bounds):
    assert academic_year_bounds(today) == bounds


def test_academic_year_name_spans_two_years():
    assert academic_year_name(D(2027, 3, 1)) == "2026/2027"


def test_weekdays_are_school_days_and_weekends_are_not():
    assert effective_weekday(D(2026, 11, 30), {}, 5) == 1  # Monday
    assert effective_weekday(D(2026, 12, 4), {}, 5) == 5  # Friday
    assert effective_weekday(D(2026, 12, 5), {}, 5) is None  # Saturday
    assert effective_weekday(D(2026, 12, 6), {}, 5) is None  # Sunday


def test_six_day_week_keeps_saturday():
    assert effective_weekday(D(2026, 12, 5), {}, 5, days_per_week=6) == 6


def test_holiday_is_not_a_school_day():
    rules = {D(2026, 11, 4): (DayRule("holiday"),)}
    assert effective_weekday(D(2026, 11, 4), rules, 3) is None


def test_transferred_saturday_follows_the_named_weekday():
    rules = {D(2027, 2, 20): (DayRule("workday", works_as_weekday=1),)}
    assert effective_weekday(D(2027, 2, 20), rules, 7) == 1


def test_grade_range_limits_a_vacation():
    rules = {D(2027, 2, 16): (DayRule("vacation", grade_from=1, grade_to=1),)}
    assert effective_weekday(D(2027, 2, 16), rules, 1) is None
    assert effective_weekday(D(2027, 2, 16), rules, 2) == 2


def test_vacation_wins_over_a_transferred_working_day():
    rules = {
        D(2027, 2, 20): (
            DayRule("workday", works_as_weekday=1),
            DayRule("vacation", grade_from=1, grade_to=1),
        )
    }
    assert effective_weekday(D(2027, 2, 20), rules, 1) is None
    assert effective_weekday(D(2027, 2, 20), rules, 2) == 1


def _year(name="2026/2027", current=False) -> AcademicYear:
    starts = D(int(name[:4]), 9, 1)
    return AcademicYear.create(
        name=name, starts=starts, ends=D(starts.year + 1, 8, 31), is_current=current
    )


def test_current_year_prefers_the_marked_year(db):
    _year("2025/2026", current=True)
    _year("2026/2027")
    assert current_year(D(2026, 11, 28)).name == "2025/2026"


def test_current_year_falls_back_to_dates(db):
    _year("2025/2026")
    _year("2026/2027")
    assert current_year(D(2026, 11, 28)).name == "2026/2027"
    assert current_year(D(2030, 1, 1)) is None


@pytest.fixture
def year(db):
    year = _year(current=True)
    Term.create(
        year=year, kind="quarter", number=1, name="1 четверть",
        starts=D(2026, 9, 1), ends=D(2026, 10, 23), grade_to=9,
    )  # fmt: skip
    Term.create(
        year=year, kind="quarter", number=2, name="2 четверть",
        starts=D(2026, 11, 2), ends=D(2026, 12, 28), grade_to=9,
    )  # fmt: skip
    Term.create(
        year=year, kind="year", number=1, name="Год",
        starts=D(2026, 9, 1), ends=D(2027, 5, 26), grade_to=9,
    )  # fmt: skip
    NonSchoolDay.create(year=year, date=D(2026, 11, 4), kind="holiday", grade_to=9)
    NonSchoolDay.create(
        year=year, date=D(2026, 11, 7), kind="workday", works_as_weekday=3, grade_to=9
    )
    NonSchoolDay.create(year=year, date=D(2026, 11, 9), kind="vacation", grade_from=1, grade_to=1)
    return year


def test_calendar_answers_a_whole_year_without_queries(year, monkeypatch):
    calendar = SchoolCalendar.load(year)

    def no_queries(*args, **kwargs):
        raise AssertionError("the calendar queried the database")

    monkeypatch.setattr(database.obj, "execute_sql", no_queries)
    days = calendar.school_days(D(2026, 9, 1), D(2027, 8, 31), 5)
    assert days[0] == D(2026, 9, 1) and days[-1] == D(2026, 12, 28)


def test_school_days_skip_holidays_and_include_transfers(year):
    calendar = SchoolCalendar.load(year)
    week = calendar.school_days(D(2026, 11, 2), D(2026, 11, 8), 5)
    assert week == [D(2026, 11, 2), D(2026, 11, 3), D(2026, 11, 5), D(2026, 11, 6), D(2026, 11, 7)]
    assert calendar.timetable_weekday(D(2026, 11, 7), 5) == 3


def test_days_between_terms_and_in_summer_are_not_school_days(year):
    calendar = SchoolCalendar.load(year)
    assert not calendar.is_school_day(D(2026, 10, 27), 5)  # autumn break: no term
    assert not calendar.is_school_day(D(2027, 6, 1), 5)  # summer
    assert calendar.is_school_day(D(2026, 10, 23), 5)


def test_grade_limited_day_off_applies_to_that_grade_only(year):
    calendar = SchoolCalendar.load(year)
    assert not calendar.is_school_day(D(2026, 11, 9), 1)
    assert calendar.is_school_day(D(2026, 11, 9), 2)


def test_next_school_day_is_today_on_a_school_day(year):
    calendar = SchoolCalendar.load(year)
    assert calendar.next_school_day(D(2026, 11, 3), 5) == D(2026, 11, 3)
    assert calendar.next_school_day(D(2026, 11, 4), 5) == D(2026, 11, 5)
    assert calendar.next_school_day(D(2026, 11, 7), 5) == D(2026, 11, 7)  # worked Saturday
    assert calendar.next_school_day(D(2026, 11, 8), 1) == D(2026, 11, 10)  # grade 1 off on 9th
    assert calendar.next_school_day(D(2026, 10, 24), 5) == D(2026, 11, 2)


def test_term_for_prefers_the_quarter_over_the_year(year):
    calendar = SchoolCalendar.load(year)
    assert calendar.term_for(D(2026, 9, 15), 5).name == "1 четверть"
    assert calendar.term_for(D(2026, 11, 15), 5).term.number == 2
    assert calendar.term_for(D(2027, 2, 1), 5).name == "Год"
    assert calendar.term_for(D(2026, 9, 15), 10) is None


@pytest.mark.parametrize("first_year", [2024, 2025, 2026, 2027, 2028, 2030])
def test_demo_calendar_quarters_and_breaks_are_sane(first_year):
    cal = demo_calendar(first_year)
    quarters = [t for t in cal.terms if t.kind == "quarter"]
    assert [q.number for q in quarters] == [1, 2, 3, 4]
    assert quarters[0].starts == D(first_year, 9, 1)
    for before, after in zip(quarters, quarters[1:], strict=False):
        assert before.ends < after.starts
        assert before.ends.isoweekday() <= 5
    assert all(q.mark_deadline > q.ends for q in quarters)
    holidays = {d.date for d in cal.days if d.kind == "holiday"}
    assert {D(first_year, 11, 4), D(first_year + 1, 2, 23), D(first_year + 1, 5, 9)} <= holidays
    first_graders = [d for d in cal.days if d.grade_to == 1]
    assert len(first_graders) == 7 and all(d.date.month == 2 for d in first_graders)
    for d in cal.days:
        if d.kind == "workday":
            assert d.date.isoweekday() == 6 and 1 <= d.works_as_weekday <= 5
