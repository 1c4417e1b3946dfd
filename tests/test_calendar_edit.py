"""The deputy's calendar edits: years, terms, days off, bells, and the lessons that follow them."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance import bells, calendar_edit
from appliance.calendar_edit import DaysData, TermData
from appliance.calendar_template import mark_deadline, public_holidays, template_terms
from appliance.calendar_view import days_by_month, year_grid
from appliance.db import write
from appliance.lessons import regenerate_lessons
from appliance.models import (
    AcademicYear,
    AuditEntry,
    Bell,
    BellSchedule,
    CurriculumLine,
    Lesson,
    NonSchoolDay,
    PeriodMark,
    Term,
)
from appliance.years import PlanningError

D = dt.date
DAY = dt.timedelta(days=1)


def new_year(name: str = "2027/2028") -> AcademicYear:
    return calendar_edit.create_year(name)


def nth_weekday(start: dt.date, weekday: int, n: int) -> dt.date:
    """The n-th date (1-based) falling on ``weekday`` from ``start`` on."""
    day = start + (weekday - start.isoweekday()) % 7 * DAY
    return day + 7 * (n - 1) * DAY


@pytest.fixture
def planned(school):
    """The test school with its plan and every lesson of the year generated (all «future»)."""
    plan = school.add_planning()
    year = school.year
    regenerate_lessons(year, year.starts, year.ends, today=year.starts - DAY)
    weekday = plan["entry"].weekday
    plan["day"] = nth_weekday(year.starts, weekday, 3)  # mid-September: inside the 1st quarter
    return plan


def lessons_on(school, day: dt.date) -> list[Lesson]:
    return list(Lesson.select().where((Lesson.group == school.group) & (Lesson.date == day)))


# --- years ------------------------------------------------------------------------------


def test_new_year_runs_from_first_september_to_august(school):
    year = new_year()
    assert (year.starts, year.ends) == (D(2027, 9, 1), D(2028, 8, 31))
    assert not year.is_current and not year.read_only
    assert AuditEntry.select().where(AuditEntry.action == "year.create").count() == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [("2027-2028", "в виде 2027/2028"), ("2027/2029", "соседних"), ("", "в виде")],
)
def test_bad_year_names_are_refused(school, name, message):
    with pytest.raises(PlanningError, match=message):
        new_year(name)


def test_a_year_cannot_be_created_twice(school):
    new_year()
    with pytest.raises(PlanningError, match="уже есть"):
        new_year(" 2027 / 2028 ")
    assert AcademicYear.select().where(AcademicYear.name == "2027/2028").count() == 1


# --- the template -----------------------------------------------------------------------


def test_template_gives_quarters_half_years_and_the_year_on_weekdays(school):
    year = new_year()
    change = calendar_edit.fill_template(year)
    terms = list(Term.select().where(Term.year == year).order_by(Term.kind, Term.number))
    by_kind = {k: [t for t in terms if t.kind == k] for k in ("quarter", "half", "year")}
    assert [t.name for t in by_kind["quarter"]] == [f"{n} четверть" for n in range(1, 5)]
    assert all((t.grade_from, t.grade_to) == (1, 9) for t in by_kind["quarter"])
    assert [(t.grade_from, t.grade_to) for t in by_kind["half"]] == [(10, 11), (10, 11)]
    assert by_kind["half"][0].ends == by_kind["quarter"][1].ends
    assert by_kind["year"][0].name == "Год"
    for term in terms:
        assert term.starts.isoweekday() <= 5 and term.ends.isoweekday() <= 5, term.name
        assert term.ends < term.mark_deadline <= term.ends + 4 * DAY
        assert term.mark_deadline.isoweekday() <= 5
        assert term.mark_deadline not in {d.date for d in public_holidays(year.starts, year.ends)}
    assert change.lessons is None  # the year has no lessons yet
    assert change.warnings == []


def test_template_breaks_cover_senior_grades_and_first_graders_february(school):
    year = new_year()
    calendar_edit.fill_template(year)
    days = list(NonSchoolDay.select().where(NonSchoolDay.year == year))
    assert {d.kind for d in days} == {"vacation"}
    first_grade = [d for d in days if d.grade_to == 1]
    assert len(first_grade) == 7 and {d.date.month for d in first_grade} == {2}
    autumn = [d for d in days if d.note == "Осенние каникулы"]
    assert len(autumn) == 9 and all((d.grade_from, d.grade_to) == (1, 11) for d in autumn)
    half = Term.get((Term.year == year) & (Term.kind == "half") & (Term.number == 1))
    assert half.starts < autumn[0].date < half.ends  # the break is inside the half-year


def test_template_refuses_a_year_with_terms(school):
    year = new_year()
    calendar_edit.fill_template(year)
    with pytest.raises(PlanningError, match="уже заданы"):
        calendar_edit.fill_template(year)
    assert Term.select().where(Term.year == year).count() == 7


def test_a_basic_school_gets_no_half_years(school):
    year = new_year()
    with write():
        for grade in (1, 5, 9):
            CurriculumLine.create(
                year=year, grade=grade, subject=school.group.subject, hours_week=1, hours_year=34
            )
    calendar_edit.fill_template(year)
    kinds = [t.kind for t in Term.select().where(Term.year == year)]
    assert "half" not in kinds and kinds.count("quarter") == 4
    assert Term.get((Term.year == year) & (Term.kind == "year")).grade_to == 9


def test_mark_deadline_skips_weekends_and_holidays():
    assert mark_deadline(D(2027, 10, 29)) == D(2027, 11, 1)  # Friday → Monday
    assert mark_deadline(D(2027, 12, 28), days_off=frozenset({D(2027, 12, 31)})) == D(2027, 12, 30)
    assert len(template_terms(2027, {10, 11})) == 3  # two half-years and the year


# --- terms ------------------------------------------------------------------------------


def quarter(year, **changes) -> TermData:
    data = {
        "kind": "quarter",
        "number": 1,
        "name": "",
        "starts": year.starts,
        "ends": D(year.starts.year, 10, 25),
        "grade_from": 1,
        "grade_to": 4,
        "mark_deadline": D(year.starts.year, 10, 27),
    }
    data.update(changes)
    return TermData(**data)


def test_a_term_gets_a_default_name_and_is_audited(school):
    year = new_year()
    change = calendar_edit.save_term(year, quarter(year))
    term = Term.get(Term.year == year)
    assert term.name == "1 четверть" and change.message == "Период «1 четверть» добавлен."
    assert AuditEntry.select().where(AuditEntry.action == "term.create").count() == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"starts": D(2027, 8, 20)}, "внутри учебного года"),
        ({"ends": D(2027, 8, 31), "mark_deadline": None}, "начинается позже"),
        ({"mark_deadline": D(2027, 10, 20)}, "не раньше окончания"),
        ({"grade_from": 5, "grade_to": 3}, "Классы"),
        ({"kind": "semester"}, "вид периода"),
        ({"number": 7}, "Номер"),
        ({"starts": None}, "даты"),
    ],
)
def test_bad_terms_are_refused_with_a_reason(school, changes, message):
    year = new_year()
    with pytest.raises(PlanningError, match=message):
        calendar_edit.save_term(year, quarter(year, **changes))
    assert Term.select().where(Term.year == year).count() == 0


def test_terms_of_one_kind_may_not_overlap_for_the_same_grades(school):
    year = new_year()
    calendar_edit.save_term(year, quarter(year))
    with pytest.raises(PlanningError, match="Пересекается с периодом «1 четверть»"):
        calendar_edit.save_term(year, quarter(year, number=2, grade_from=4, grade_to=9))
    with pytest.raises(PlanningError, match="Номер 1 уже"):
        calendar_edit.save_term(
            year, quarter(year, starts=D(2027, 11, 8), ends=D(2027, 12, 28), mark_deadline=None)
        )
    # other grades, or another kind, may share the dates
    calendar_edit.save_term(year, quarter(year, grade_from=5, grade_to=9))
    calendar_edit.save_term(year, quarter(year, kind="half", grade_from=1, grade_to=11))
    assert Term.select().where(Term.year == year).count() == 3


def test_grades_without_terms_are_a_warning_not_an_error(school):
    year = new_year()
    change = calendar_edit.save_term(year, quarter(year))
    assert change.warnings and "5, 6, 7, 8, 9, 10, 11" in change.warnings[0]


def test_a_term_with_period_marks_cannot_be_deleted_or_regraded(school):
    plan = school.add_planning()
    term = plan["terms"][0]
    with write():
        PeriodMark.create(
            group=school.group, student=school.students["5А"][0], term=term, value="5"
        )
    with pytest.raises(PlanningError, match="нельзя удалить"):
        calendar_edit.delete_term(term)
    data = TermData(
        term.kind, term.number, term.name, term.starts, term.ends, 5, 9, term.mark_deadline
    )
    with pytest.raises(PlanningError, match="изменить нельзя"):
        calendar_edit.save_term(school.year, data, term)
    assert Term.get_by_id(term.id).grade_from == 2


def test_a_closed_year_refuses_every_calendar_edit(school):
    plan = school.add_planning()
    year = school.year
    AcademicYear.update(read_only=True).where(AcademicYear.id == year.id).execute()
    year = AcademicYear.get_by_id(year.id)
    edits = [
        lambda: calendar_edit.save_term(year, quarter(year)),
        lambda: calendar_edit.delete_term(Term.get_by_id(plan["terms"][0].id)),
        lambda: calendar_edit.add_days(year, DaysData("holiday", year.starts, None, 1, 11)),
        lambda: calendar_edit.delete_days(year, [plan["holiday"].id]),
        lambda: calendar_edit.fill_public_holidays(year),
    ]
    for edit in edits:
        with pytest.raises(PlanningError, match="закрыт"):
            edit()
    assert Term.select().where(Term.year == year).count() == 6


# --- days off and the lessons that follow -----------------------------------------------


def test_a_holiday_removes_the_empty_future_lesson_and_deleting_it_brings_it_back(school, planned):
    year, day = school.year, planned["day"]
    assert len(lessons_on(school, day)) == 1
    change = calendar_edit.add_days(
        year, DaysData("holiday", day, None, 1, 11, note="Выборы"), today=year.starts
    )
    assert lessons_on(school, day) == []
    assert change.lessons is not None and change.lessons.deleted == 1
    row = NonSchoolDay.get((NonSchoolDay.year == year) & (NonSchoolDay.date == day))
    assert row.note == "Выборы"
    change = calendar_edit.delete_days(year, [row.id], today=year.starts)
    assert change.lessons.created == 1 and len(lessons_on(school, day)) == 1


def test_a_lesson_with_a_topic_is_kept_and_reported(school, planned):
    year, day = school.year, planned["day"]
    lesson = lessons_on(school, day)[0]
    Lesson.update(topic="Дроби").where(Lesson.id == lesson.id).execute()
    change = calendar_edit.add_days(year, DaysData("holiday", day, None, 1, 11), today=year.starts)
    assert [k.lesson.id for k in change.lessons.with_data] == [lesson.id]
    assert change.lessons.with_data[0].holds == ["тема"]
    assert lessons_on(school, day)[0].topic == "Дроби"


def test_past_lessons_are_never_touched(school, planned):
    year, day = school.year, planned["day"]
    change = calendar_edit.add_days(year, DaysData("holiday", day, None, 1, 11), today=day)
    assert len(lessons_on(school, day)) == 1
    assert change.lessons.deleted == 0


def test_a_vacation_for_first_graders_leaves_fifth_grade_lessons(school, planned):
    year, day = school.year, planned["day"]
    change = calendar_edit.add_days(
        year, DaysData("vacation", day - 2 * DAY, day + 2 * DAY, 1, 1), today=year.starts
    )
    assert change.message == "Записано дней: 5 (каникулы)."
    assert len(lessons_on(school, day)) == 1
    assert NonSchoolDay.select().where(NonSchoolDay.grade_to == 1).count() == 5


def test_a_saturday_worked_as_the_timetable_day_gets_its_lessons(school, planned):
    year, weekday = school.year, planned["entry"].weekday
    saturday = nth_weekday(year.starts, 6, 2)
    assert lessons_on(school, saturday) == []
    change = calendar_edit.add_days(
        year, DaysData("workday", saturday, None, 1, 11, works_as_weekday=weekday),
        today=year.starts,
    )  # fmt: skip
    assert change.lessons.created == 1 and len(lessons_on(school, saturday)) == 1


def october(year: AcademicYear, weekday: int) -> dt.date:
    return nth_weekday(D(year.starts.year, 10, 1), weekday, 1)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda y: DaysData("workday", october(y, 6), october(y, 7), 1, 11, 1), "по одному дню"),
        (lambda y: DaysData("workday", october(y, 6), None, 1, 11, None), "какого дня недели"),
        (lambda y: DaysData("workday", october(y, 1), None, 1, 11, 1), "и так понедельник"),
        (lambda y: DaysData("holiday", october(y, 3), october(y, 1), 1, 11), "раньше первого"),
        (lambda y: DaysData("vacation", y.starts, y.ends, 1, 11), "Не больше 100"),
        (lambda y: DaysData("holiday", y.starts - DAY, None, 1, 11), "внутри учебного года"),
        (lambda y: DaysData("holiday", y.starts, None, 0, 11), "Классы"),
        (lambda y: DaysData("party", y.starts, None, 1, 11), "что это за день"),
        (lambda y: DaysData("holiday", None, None, 1, 11), "Укажите дату"),
    ],
)
def test_bad_days_are_refused(school, make, message):
    before = NonSchoolDay.select().count()
    with pytest.raises(PlanningError, match=message):
        calendar_edit.add_days(school.year, make(school.year))
    assert NonSchoolDay.select().count() == before


def test_a_working_day_on_a_holiday_is_a_contradiction(school):
    plan = school.add_planning()
    holiday = plan["holiday"].date  # 4 November, for all grades
    with pytest.raises(PlanningError, match="уже записано: праздник"):
        calendar_edit.add_days(school.year, DaysData("workday", holiday, None, 5, 5, 1))


def test_the_same_days_twice_change_nothing(school):
    plan = school.add_planning()
    holiday = plan["holiday"].date
    change = calendar_edit.add_days(school.year, DaysData("holiday", holiday, None, 1, 11))
    assert change.message.startswith("Такие дни уже записаны")


def test_deleting_days_of_another_year_is_refused(school):
    plan = school.add_planning()
    other = new_year()
    with pytest.raises(PlanningError, match="Отметьте дни"):
        calendar_edit.delete_days(other, [plan["holiday"].id])
    with pytest.raises(PlanningError, match="Отметьте дни"):
        calendar_edit.delete_days(other, [])
    assert NonSchoolDay.get_by_id(plan["holiday"].id)


def test_public_holidays_fill_the_years_dates_once(school):
    year = new_year()
    change = calendar_edit.fill_public_holidays(year)
    dates = {d.date for d in NonSchoolDay.select().where(NonSchoolDay.year == year)}
    assert {D(2027, 11, 4), D(2027, 12, 31), D(2028, 1, 8), D(2028, 2, 23), D(2028, 6, 12)} <= dates
    assert D(2027, 6, 12) not in dates  # before the year
    assert change.message.startswith("Добавлено праздничных дней: 15")
    again = calendar_edit.fill_public_holidays(year)
    assert again.message.startswith("Праздничные дни уже внесены")


def test_days_are_listed_by_month_as_runs(school):
    year = new_year()
    calendar_edit.fill_public_holidays(year)
    months = days_by_month(year)
    assert months[0].title == "ноябрь 2027"
    january = next(m for m in months if m.title == "январь 2028")
    assert [(r.first, r.last) for r in january.runs][:2] == [
        (D(2028, 1, 1), D(2028, 1, 6)),
        (D(2028, 1, 7), D(2028, 1, 7)),
    ]
    assert len(january.runs[0].key.split(",")) == 6


def test_year_grid_colours_the_days_and_counts_school_days(school):
    year = new_year()
    calendar_edit.fill_template(year)
    calendar_edit.fill_public_holidays(year)
    months, terms = year_grid(year, 5)
    assert len(months) == 12 and months[0].title == "сентябрь 2027"
    september = months[0].cells
    assert september[0].kind == "school"  # Wednesday 1 September 2027
    assert september[3].kind == "weekend" and september[30].day is None
    november = months[2].cells
    assert november[3].kind == "holiday"
    assert months[11].school_days == 0  # August
    assert [t.name for t in terms] == [
        "1 четверть",
        "2 четверть",
        "3 четверть",
        "4 четверть",
        "Год",
    ]
    assert terms[0].school_days == sum(1 for c in september if c.kind == "school") + 21


# --- bells ------------------------------------------------------------------------------


def test_bells_are_checked_row_by_row():
    with pytest.raises(PlanningError, match="Строка 1: время"):
        bells.parse_bells(["1"], ["8:3"], ["09:10"])
    with pytest.raises(PlanningError, match="начало должно быть раньше"):
        bells.parse_bells(["1"], ["09:10"], ["08:30"])
    with pytest.raises(PlanningError, match="Урок 2 начинается"):
        bells.parse_bells(["1", "2"], ["08:30", "09:00"], ["09:10", "09:40"])
    with pytest.raises(PlanningError, match="дважды"):
        bells.parse_bells(["1", "1"], ["08:30", "09:20"], ["09:10", "10:00"])
    with pytest.raises(PlanningError, match="хотя бы один"):
        bells.parse_bells(["", ""], ["", ""], ["", ""])
    rows = bells.parse_bells(["2", "1", ""], ["09:20", "8:30", ""], ["10:00", "09:10", ""])
    assert [(r.number, r.starts) for r in rows] == [(1, dt.time(8, 30)), (2, dt.time(9, 20))]


def test_bells_are_replaced_and_audited(school):
    schedule = BellSchedule.get(BellSchedule.is_default)
    rows = bells.parse_bells(["1", "2"], ["08:00", "08:50"], ["08:40", "09:30"])
    bells.save_bells(schedule, rows, "Основное")
    assert [(b.number, b.starts) for b in bells.bells_of(schedule)] == [
        (1, dt.time(8, 0)),
        (2, dt.time(8, 50)),
    ]
    entry = AuditEntry.select().where(AuditEntry.action == "bells.update").get()
    assert '"08:30:00"' in entry.before and '"08:00:00"' in entry.after


def test_a_second_schedule_copies_the_default_and_may_become_it(school):
    short = bells.create_schedule("Сокращённое")
    assert not short.is_default and len(bells.bells_of(short)) == 7
    with pytest.raises(PlanningError, match="уже есть"):
        bells.create_schedule("Сокращённое")
    with pytest.raises(PlanningError, match="сначала назначьте другое"):
        bells.delete_schedule(BellSchedule.get(BellSchedule.is_default))
    bells.make_default(short)
    assert BellSchedule.get(BellSchedule.is_default).id == short.id
    old = BellSchedule.get(BellSchedule.name == "Основное")
    bells.delete_schedule(old)
    assert Bell.select().count() == 7 and BellSchedule.select().count() == 1


def test_a_failing_regeneration_rolls_the_calendar_change_back(school, planned, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(calendar_edit, "regenerate_lessons", broken)
    year, day = school.year, planned["day"]
    before = NonSchoolDay.select().count()
    with pytest.raises(RuntimeError):
        calendar_edit.add_days(year, DaysData("holiday", day, None, 1, 11), today=year.starts)
    assert NonSchoolDay.select().count() == before
    assert AuditEntry.select().where(AuditEntry.action == "calendar_day.create").count() == 0
