"""The calendar and years pages, as the deputy, the office and the teachers use them."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from appliance import calendar_edit
from appliance.models import (
    AcademicYear,
    Bell,
    BellSchedule,
    Lesson,
    NonSchoolDay,
    SchoolClass,
    SubjectGroup,
    Term,
)

from .factories import PASSWORD

DAY = dt.timedelta(days=1)


@pytest.fixture
def deputy(browser, school):
    school.add_planning()
    assert browser.login("belova.os", PASSWORD).status_code == 302
    return browser


def text(response) -> str:
    return response.get_data(as_text=True)


def sample_url(rule: str, school) -> str:
    plan = school.add_planning()
    args = {
        "term_id": plan["terms"][0].id,
        "schedule_id": BellSchedule.get().id,
    }
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(args[m.group(1)]), rule)


def my_routes(app) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(("calendar.", "years.")):
            found += [(rule.rule, m) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return found


@pytest.mark.parametrize(
    ("login", "reads", "writes"),
    [
        ("belova.os", True, True),
        ("orlova.mi", True, False),
        ("titov.pa", True, False),
        ("smirnova.ev", False, False),
        ("ivanova.m", False, False),
    ],
)
def test_every_calendar_route_obeys_the_roles_and_an_empty_post_changes_nothing(
    app, browser, school, login, reads, writes
):
    school.add_planning()
    browser.login(login, PASSWORD)
    rows = (Term.select().count(), NonSchoolDay.select().count(), AcademicYear.select().count())
    for rule, method in my_routes(app):
        url = sample_url(rule, school)
        response = browser.get(url) if method == "GET" else browser.post(url, {})
        allowed = reads if method == "GET" else writes
        expected = {200, 302, 400} if allowed else {403}
        assert response.status_code in expected, (method, url, response.status_code)
    assert (
        Term.select().count(),
        NonSchoolDay.select().count(),
        AcademicYear.select().count(),
    ) == rows
    assert Bell.select().count() == 7


# --- terms ------------------------------------------------------------------------------


def test_terms_page_lists_the_years_terms(deputy, school):
    page = text(deputy.get("/planning/calendar/"))
    assert "1 четверть" in page and "2–9" in page and "2 полугодие" in page
    assert "Добавить период" in page and "Заполнить по образцу" not in page
    assert deputy.get("/planning/calendar/?year=999999").status_code == 404


def test_template_button_fills_a_new_year(deputy, school):
    year = calendar_edit.create_year("2030/2031")
    page = text(deputy.get(f"/planning/calendar/?year={year.id}"))
    assert "Заполнить по образцу" in page
    response = deputy.post(f"/planning/calendar/terms/template?year={year.id}", {"confirm": "1"})
    assert response.status_code == 302
    assert Term.select().where(Term.year == year).count() == 7
    page = text(deputy.get(response.headers["Location"]))
    assert "Добавлено периодов: 7" in page and "4 четверть" in page


def test_a_bad_term_is_refused_with_the_typed_values_kept(deputy, school):
    form = {
        "kind": "quarter",
        "number": "1",
        "name": "Первая",
        "grade_from": "1",
        "grade_to": "1",
        "starts": "2010-09-01",
        "ends": "01.10.2010",
        "mark_deadline": "завтра",
    }
    response = deputy.post("/planning/calendar/terms", form)
    page = text(response)
    assert response.status_code == 400 and "Срок: дата в виде ДД.ММ.ГГГГ" in page
    form["mark_deadline"] = ""
    response = deputy.post("/planning/calendar/terms", form)
    page = text(response)
    assert response.status_code == 400 and "внутри учебного года" in page
    assert 'value="Первая"' in page and 'value="2010-09-01"' in page
    assert Term.select().where(Term.name == "Первая").count() == 0


def test_a_term_is_added_edited_and_deleted(deputy, school):
    year = school.year
    form = {
        "kind": "quarter",
        "number": "1",
        "name": "",
        "grade_from": "1",
        "grade_to": "1",
        "starts": year.starts.isoformat(),
        "ends": (year.starts + 40 * DAY).strftime("%d.%m.%Y"),
        "mark_deadline": "",
    }
    assert deputy.post("/planning/calendar/terms", form).status_code == 302
    term = Term.get((Term.grade_to == 1) & (Term.kind == "quarter"))
    assert term.name == "1 четверть" and term.ends == year.starts + 40 * DAY
    assert "Изменить" in text(deputy.get("/planning/calendar/"))
    form.update(name="Первая четверть", mark_deadline=(year.starts + 42 * DAY).isoformat())
    assert deputy.post(f"/planning/calendar/terms/{term.id}", form).status_code == 302
    assert Term.get_by_id(term.id).name == "Первая четверть"
    refused = deputy.post(f"/planning/calendar/terms/{term.id}/delete", {})
    assert refused.status_code == 400 and Term.get_or_none(Term.id == term.id)
    done = deputy.post(f"/planning/calendar/terms/{term.id}/delete", {"confirm": "1"})
    assert done.status_code == 302 and Term.get_or_none(Term.id == term.id) is None


def test_a_closed_year_shows_no_forms_and_refuses_changes(deputy, school):
    AcademicYear.update(read_only=True).where(AcademicYear.id == school.year.id).execute()
    term = Term.select().first()
    page = text(deputy.get("/planning/calendar/"))
    assert "закрыт" in page and "Добавить период" not in page
    assert "Сохранить" not in text(deputy.get(f"/planning/calendar/terms/{term.id}"))
    form = {"kind": "holiday", "first": school.year.starts.isoformat()}
    form.update(grade_from="1", grade_to="11")
    response = deputy.post("/planning/calendar/days", form)
    assert response.status_code == 400 and "закрыт" in text(response)


# --- days -------------------------------------------------------------------------------


def test_vacation_is_added_listed_by_month_and_deleted_as_one_line(deputy, school):
    first = dt.date(school.year.starts.year + 1, 2, 15)
    form = {
        "kind": "vacation",
        "first": first.isoformat(),
        "last": (first + 6 * DAY).isoformat(),
        "grade_from": "1",
        "grade_to": "1",
        "note": "Дополнительные каникулы",
    }
    response = deputy.post("/planning/calendar/days", form)
    assert response.status_code == 302
    assert NonSchoolDay.select().where(NonSchoolDay.kind == "vacation").count() == 7
    page = text(deputy.get("/planning/calendar/days"))
    assert "Февраль" in page and "Дополнительные каникулы" in page
    assert f"{first:%d.%m.%Y} – {first + 6 * DAY:%d.%m.%Y}" in page
    run = re.search(
        r'name="runs" value="([\d,]+)"[^>]*>\s*</td>\s*<td>' + f"{first:%d.%m.%Y}", page
    )
    assert run, page
    assert deputy.post("/planning/calendar/days/delete", {"runs": "1,x"}).status_code == 400
    assert deputy.post("/planning/calendar/days/delete", {"runs": run.group(1)}).status_code == 302
    assert NonSchoolDay.select().where(NonSchoolDay.kind == "vacation").count() == 0


def test_a_transferred_working_day_needs_its_weekday(deputy, school):
    saturday = school.year.starts + (6 - school.year.starts.isoweekday()) % 7 * DAY
    form = {"kind": "workday", "first": saturday.isoformat(), "grade_from": "1", "grade_to": "11"}
    response = deputy.post("/planning/calendar/days", form)
    assert response.status_code == 400 and "какого дня недели" in text(response)
    form["works_as_weekday"] = "1"
    assert deputy.post("/planning/calendar/days", form).status_code == 302
    row = NonSchoolDay.get(NonSchoolDay.kind == "workday")
    assert row.works_as_weekday == 1 and row.date == saturday
    assert "по расписанию — понедельник" in text(deputy.get("/planning/calendar/days"))


def test_public_holidays_button(deputy, school):
    response = deputy.post("/planning/calendar/days/holidays", {"confirm": "1"})
    assert response.status_code == 302
    holidays = NonSchoolDay.select().where(NonSchoolDay.kind == "holiday").count()
    assert holidays == 15  # 4 November was there already, the rest of the year's 15 added
    assert "Добавлено праздничных дней: 14" in text(deputy.get("/planning/calendar/days"))


def test_a_holiday_over_a_lesson_with_data_shows_the_kept_lesson(browser, school):
    """Without terms the whole year is a study period; tomorrow's lesson has a topic."""
    tomorrow = dt.date.today() + DAY
    if not school.year.starts <= tomorrow <= school.year.ends:
        pytest.skip("tomorrow is outside the test year")
    lesson = Lesson.get((Lesson.date == tomorrow) & (Lesson.number == 1))
    Lesson.update(topic="Дроби").where(Lesson.id == lesson.id).execute()
    browser.login("belova.os", PASSWORD)
    form = {"kind": "holiday", "first": tomorrow.isoformat(), "grade_from": "5", "grade_to": "5"}
    response = browser.post("/planning/calendar/days", form)
    page = text(response)
    assert response.status_code == 200 and "Уроки, которых по новому календарю нет" in page
    assert "Математика — 5А" in page and "тема" in page
    assert Lesson.get_or_none(Lesson.id == lesson.id) is not None


# --- the year view and bells ------------------------------------------------------------


def test_year_view_colours_days_for_a_grade(deputy, school):
    page = text(deputy.get(f"/planning/calendar/year?year={school.year.id}&grade=5"))
    assert "Календарь" in page and "для 5 класса" in page
    assert 'class="holiday"' in page and 'class="school"' in page
    assert "calendar.css" in page and "1 четверть" in page
    assert "для 5 класса" in text(deputy.get("/planning/calendar/year?grade=99"))


def test_bells_are_edited_and_a_bad_row_is_refused(deputy, school):
    schedule = BellSchedule.get(BellSchedule.is_default)
    page = text(deputy.get("/planning/calendar/bells"))
    assert "только из <strong>основного</strong>" in page and "08:30" in page
    bad = deputy.post(
        f"/planning/calendar/bells/{schedule.id}",
        {"name": "Основное", "number": ["1", "2"], "starts": ["08:30", "09:00"],
         "ends": ["09:10", "09:40"]},
    )  # fmt: skip
    assert bad.status_code == 400 and "Урок 2 начинается" in text(bad)
    assert Bell.select().count() == 7
    good = deputy.post(
        f"/planning/calendar/bells/{schedule.id}",
        {"name": "Основное", "number": ["1", "2", ""], "starts": ["08:00", "08:50", ""],
         "ends": ["08:40", "09:30", ""]},
    )  # fmt: skip
    assert good.status_code == 302
    assert [b.starts for b in Bell.select().order_by(Bell.number)] == [
        dt.time(8, 0),
        dt.time(8, 50),
    ]


def test_a_shortened_schedule_is_made_default(deputy, school):
    response = deputy.post("/planning/calendar/bells", {"name": "Сокращённое"})
    assert response.status_code == 302
    short = BellSchedule.get(BellSchedule.name == "Сокращённое")
    page = text(deputy.get(f"/planning/calendar/bells/{short.id}"))
    assert "уроки по нему не идут" in page
    url = f"/planning/calendar/bells/{short.id}/default"
    assert deputy.post(url, {"confirm": "1"}).status_code == 302
    assert BellSchedule.get(BellSchedule.is_default).id == short.id


# --- years and the rollover -------------------------------------------------------------


def test_years_page_creates_a_year(deputy, school):
    page = text(deputy.get("/planning/years/"))
    assert school.year.name in page and "текущий" in page and "Шаг 1" in page
    bad = deputy.post("/planning/years/", {"name": "следующий"})
    assert bad.status_code == 400 and "в виде 2027/2028" in text(bad)
    response = deputy.post("/planning/years/", {"name": "2035/2036"})
    year = AcademicYear.get(AcademicYear.name == "2035/2036")
    assert response.status_code == 302 and f"year={year.id}" in response.headers["Location"]


def test_rollover_through_the_browser(deputy, school):
    old = school.year
    refused = deputy.post("/planning/years/prepare", {"graduating": school.classes["5Б"].id})
    assert refused.status_code == 400 and "Подтвердите" in text(refused)
    response = deputy.post(
        "/planning/years/prepare", {"graduating": school.classes["5Б"].id, "confirm": "1"}
    )
    page = text(response)
    assert response.status_code == 200 and "5А → 6А" in page and "Выпускные классы" in page
    new = AcademicYear.get(AcademicYear.name != old.name)
    assert SubjectGroup.get(SubjectGroup.year == new).is_draft
    assert "Шаг 2" in page and "Шаг 1" not in page
    early = deputy.post("/planning/years/switch", {"target": new.id, "confirm": "1"})
    assert early.status_code == 400 and "ещё идёт" in early.get_data(as_text=True)
    response = deputy.post(
        "/planning/years/switch", {"target": new.id, "confirm": "1", "early": "1"}
    )
    page = text(response)
    assert response.status_code == 200 and "Кузнецов А.П.: 5А → 6А" in page
    assert AcademicYear.get_by_id(new.id).is_current
    assert SchoolClass.get_by_id(school.classes["5Б"].id).closed
    assert (
        deputy.post("/planning/years/switch", {"target": 999999, "confirm": "1"}).status_code == 404
    )
