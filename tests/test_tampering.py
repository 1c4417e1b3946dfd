"""Tampered ids and odd digits get a 400/404 with nothing written — never a 500."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.models import Attendance, AuditEntry, Lesson, Mark, WorkType

from .factories import PASSWORD

HUGE = "9" * 30
SUPERSCRIPT = "²"


@pytest.fixture
def teacher(browser, school):
    WorkType.create(name="Ответ на уроке", short_name="Отв", weight=1, is_default=True)
    browser.login("smirnova.ev", PASSWORD)
    lesson = Lesson.get((Lesson.date == dt.date.today()) & (Lesson.number == 1))
    return browser, school, lesson


def posts(school, lesson):
    student = school.students["5А"][0].id
    group = school.group.id
    return [
        ("/journal/marks", {"lesson": lesson.id, "student": SUPERSCRIPT, "value": "5"}),
        ("/journal/marks", {"assignment": HUGE, "student": student, "value": "5"}),
        ("/journal/attendance", {"lesson": SUPERSCRIPT, "student": student, "value": "н"}),
        ("/journal/attendance", {"lesson": lesson.id, "student": HUGE, "value": "н"}),
        (f"/journal/{group}/assignments", {"lesson": lesson.id, "work_type": SUPERSCRIPT}),
        (f"/lessons/{lesson.id}", {"plan_lesson": SUPERSCRIPT}),
        (f"/lessons/{lesson.id}", {f"att-{HUGE}": "н"}),
        (f"/lessons/{lesson.id}/assignments", {"work_type": HUGE, "weight": "1"}),
        (f"/periods/{group}", {"kind": "term", "term": SUPERSCRIPT, f"mark_{student}": "5"}),
        (f"/periods/{group}", {"kind": "year", f"mark_{HUGE}": "5"}),
    ]


def test_tampered_ids_in_forms_never_crash_or_write(teacher):
    browser, school, lesson = teacher
    before = AuditEntry.select().count()
    for url, data in posts(school, lesson):
        status = browser.post(url, data).status_code
        assert status in (302, 400, 403, 404), (url, data, status)
    assert Mark.select().count() == 0 and Attendance.select().count() == 0
    assert AuditEntry.select().count() == before


@pytest.mark.parametrize(
    "url",
    [
        f"/lessons/{HUGE}",
        f"/journal/{HUGE}",
        f"/journal/history?row={HUGE}&student=1&kind=mark",
        f"/periods/?class_id={HUGE}",
        f"/periods/1?term={SUPERSCRIPT}",
    ],
)
def test_tampered_ids_in_urls_never_crash(teacher, url):
    browser, _, _ = teacher
    assert browser.get(url).status_code in (200, 302, 400, 404)


def test_a_final_mark_only_in_graduating_grades(teacher):
    browser, school, _ = teacher
    student = school.students["5А"][0].id
    response = browser.post(
        f"/periods/{school.group.id}", {"kind": "final", f"mark_{student}": "5"}
    )
    assert response.status_code == 400
    assert "9 и 11 классах" in response.get_data(as_text=True)


def test_an_open_page_keeps_working_after_logging_in_again(teacher, client):
    """The grid's unsaved cells are retried with the page's old token after re-login."""
    browser, school, lesson = teacher
    token = browser.token("/")
    browser.logout()  # the session ends (as after idle expiry)
    browser.login("smirnova.ev", PASSWORD)  # logged in again, in another tab
    response = client.post(
        "/journal/attendance",
        data={"lesson": lesson.id, "student": school.students["5А"][0].id, "value": "н"},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert response.status_code == 200
    assert Attendance.select().count() == 1


def test_taking_the_roll_is_recorded_for_the_lesson(teacher):
    browser, school, lesson = teacher
    student = school.students["5А"][0].id
    browser.post("/journal/attendance", {"lesson": lesson.id, "student": student, "value": "н"})
    assert Lesson.get_by_id(lesson.id).state == "held"
    held = AuditEntry.select().where(
        (AuditEntry.action == "lesson.held") & (AuditEntry.entity_uuid == lesson.uuid)
    )
    assert held.count() == 1
