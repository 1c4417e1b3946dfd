"""The deputy's checklist of the year: each step reports what exists and what is missing."""

from __future__ import annotations

from appliance import planning_status
from appliance.db import write
from appliance.models import SubjectGroup

from .factories import PASSWORD


def _steps(year):
    return {s.key: s for s in planning_status.year_status(year)}


def test_an_empty_year_is_all_to_do_then_fills_in(school):
    steps = _steps(school.year)
    assert steps["calendar"].state == "todo"
    assert steps["curriculum"].state == "todo"
    assert steps["timetable"].state == "todo"
    assert steps["groups"].state == "warn"  # the math group exists; 5Б has no groups
    assert any("без групп: 1" in p for p in steps["groups"].problems)

    school.add_planning()
    steps = _steps(school.year)
    assert steps["curriculum"].state == "ok"
    assert steps["timetable"].facts == ["Уроков в неделю по расписанию: 1"]
    assert steps["ktp"].facts == ["КТП утверждено: 1 из 1"]
    # only grade 5 has classes, and quarters cover it; the half-years have no deadline
    assert steps["calendar"].problems == ["Не задан срок выставления отметок у периодов: 2."]


def test_draft_groups_are_counted_and_have_no_plan_duty(school):
    school.add_planning()
    with write():
        SubjectGroup.update(is_draft=True).execute()
    steps = _steps(school.year)
    assert any("Черновиков групп" in p for p in steps["groups"].problems)
    assert steps["ktp"].facts == ["КТП утверждено: 0 из 0"]


def test_deputy_sees_the_checklist_and_a_teacher_does_not(browser, school):
    school.add_planning()
    browser.login("belova.os", PASSWORD)
    page = browser.get("/planning/").get_data(as_text=True)
    assert "План учебного года" in page and "Учебный план" in page
    assert "План года" in page  # in the menu
    browser.logout()
    browser.login("smirnova.ev", PASSWORD)
    assert browser.get("/planning/").status_code == 403
    assert browser.get(f"/planning/?year={school.year.id + 99}").status_code == 403
