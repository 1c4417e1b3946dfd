"""The class teacher excuses absences: «Н» → «УП»/«Б» for a date range (§7.3)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from appliance import attendance
from appliance.attendance import Excuse
from appliance.journal import JournalError
from appliance.models import (
    Attendance,
    AuditEntry,
    Lesson,
    OutboxEntry,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
)

from .factories import PASSWORD

DAY = dt.timedelta(days=1)
# A fixed Monday inside the factory's academic year, long past the 7-day edit window.
MONDAY = dt.date.today() - dt.timedelta(days=dt.date.today().weekday()) - 21 * DAY


def absent(group, day, student, code):
    number = Lesson.select().where((Lesson.group == group) & (Lesson.date == day)).count() + 1
    lesson = Lesson.create(group=group, date=day, number=number, state="held")
    return Attendance.create(lesson=lesson, student=student, code=code)


@pytest.fixture
def ex(school):
    """Иванов: «Н» every weekday of a week, a «Б», an «ОП», an «Н» before and after the week;
    Петрова: «Н» in the same week."""
    if MONDAY - 7 * DAY < school.year.starts:
        pytest.skip("the first weeks of the academic year")
    group = school.group
    ivanov, petrova, _ = school.students["5А"]
    rows = {
        "week": [absent(group, MONDAY + n * DAY, ivanov, "Н") for n in range(5)],
        "ill": absent(group, MONDAY + DAY, ivanov, "Б"),
        "late": absent(group, MONDAY + 2 * DAY, ivanov, "ОП"),
        "before": absent(group, MONDAY - 3 * DAY, ivanov, "Н"),
        "after": absent(group, MONDAY + 7 * DAY, ivanov, "Н"),
        "other": absent(group, MONDAY, petrova, "Н"),
    }
    return school, ivanov, rows


def week(student, **changes) -> Excuse:
    fields = {
        "student_id": student.id,
        "date_from": MONDAY,
        "date_to": MONDAY + 4 * DAY,
        "code": "Б",
        "reason": "Болел, справка из поликлиники",
        "document": "справка № 117",
    }
    fields.update(changes)
    return Excuse(**fields)


def code_of(row) -> str:
    return Attendance.get_by_id(row.id).code


def test_excusing_a_week_changes_only_that_students_n_in_range(ex):
    school, ivanov, rows = ex
    teacher = school.users["class_teacher"]
    changed = attendance.excuse_absences(
        school.classes["5А"], week(ivanov), user=teacher, ip="10.0.0.7"
    )
    assert changed == 5
    for row in rows["week"]:
        stored = Attendance.get_by_id(row.id)
        assert (stored.code, stored.reason, stored.document) == (
            "Б",
            "Болел, справка из поликлиники",
            "справка № 117",
        )
        assert stored.published_at is not None
        audit = AuditEntry.get(AuditEntry.entity_uuid == stored.uuid)
        assert audit.action == "attendance.excuse" and audit.username == "kuznetsov.ap"
        assert '"code":"Н"' in audit.before and '"code":"Б"' in audit.after
        assert OutboxEntry.get(OutboxEntry.entity_uuid == stored.uuid).op == "upsert"
    assert code_of(rows["ill"]) == "Б" and code_of(rows["late"]) == "ОП"
    assert code_of(rows["before"]) == "Н" and code_of(rows["after"]) == "Н"
    assert code_of(rows["other"]) == "Н"
    assert AuditEntry.select().where(AuditEntry.action == "attendance.excuse").count() == 5


def test_excuse_reaches_lessons_past_the_edit_window(ex):
    school, ivanov, rows = ex
    excuse = week(ivanov, date_from=MONDAY - 3 * DAY, date_to=MONDAY - 3 * DAY, code="УП")
    teacher = school.users["class_teacher"]
    assert attendance.excuse_absences(school.classes["5А"], excuse, user=teacher, ip="") == 1
    assert code_of(rows["before"]) == "УП"


def test_only_lessons_of_the_class_are_touched(ex):
    school, ivanov, _ = ex
    other_class = SubjectGroup.create(
        year=school.year, school_class=school.classes["5Б"], subject=Subject.create(name="Хор")
    )
    SubjectGroupStudent.create(group=other_class, student=ivanov, starts=school.year.starts)
    elsewhere = absent(other_class, MONDAY, ivanov, "Н")
    attendance.excuse_absences(
        school.classes["5А"], week(ivanov), user=school.users["class_teacher"], ip=""
    )
    assert code_of(elsewhere) == "Н"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"date_from": MONDAY + 5 * DAY}, "Дата начала позже даты окончания"),
        ({"date_to": MONDAY + 400 * DAY}, "длиннее года"),
        ({"reason": "   "}, "Укажите причину"),
        ({"code": "Н"}, "«УП» (уважительная причина) или «Б»"),
        ({"code": "ОП"}, "«УП» (уважительная причина) или «Б»"),
        ({"document": "№" * 101}, "Номер документа слишком длинный"),
    ],
)
def test_invalid_excuses_change_nothing(ex, changes, message):
    school, ivanov, _ = ex
    before = AuditEntry.select().count()
    with pytest.raises(JournalError, match=re.escape(message)):
        attendance.excuse_absences(
            school.classes["5А"], week(ivanov, **changes), user=school.users["class_teacher"], ip=""
        )
    assert Attendance.select().where(Attendance.code == "Н").count() == 8
    assert AuditEntry.select().count() == before


def test_a_range_outside_the_academic_year_is_refused(ex):
    school, ivanov, _ = ex
    excuse = week(ivanov, date_from=school.year.starts - DAY)
    with pytest.raises(JournalError, match="внутри учебного года"):
        attendance.excuse_absences(
            school.classes["5А"], excuse, user=school.users["class_teacher"], ip=""
        )


def test_a_student_of_another_class_is_refused(ex):
    school, _, _ = ex
    stranger = school.students["5Б"][0]
    with pytest.raises(JournalError, match="не учится в вашем классе"):
        attendance.excuse_absences(
            school.classes["5А"], week(stranger), user=school.users["class_teacher"], ip=""
        )


# --- the page -------------------------------------------------------------------------------


def form(student, **changes):
    data = {
        "student": student.id,
        "date_from": MONDAY.isoformat(),
        "date_to": (MONDAY + 4 * DAY).isoformat(),
        "code": "УП",
        "reason": "Семейные обстоятельства",
        "document": "заявление родителей",
    }
    data.update(changes)
    return data


def test_class_teacher_excuses_a_week_from_the_overview(ex, browser):
    school, ivanov, rows = ex
    cls = school.classes["5А"]
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    page = browser.get(f"/periods/class/{cls.id}").get_data(as_text=True)
    assert "Оправдать пропуски" in page
    response = browser.post(f"/periods/class/{cls.id}/excuse", form(ivanov))
    assert response.status_code == 302
    assert {code_of(r) for r in rows["week"]} == {"УП"}
    page = browser.get(f"/periods/class/{cls.id}").get_data(as_text=True)
    assert "изменено отметок «Н» — 5" in page


def test_bad_excuse_form_is_refused_in_russian(ex, browser):
    school, ivanov, rows = ex
    cls = school.classes["5А"]
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    response = browser.post(f"/periods/class/{cls.id}/excuse", form(ivanov, date_to="31.02"))
    assert response.status_code == 400
    assert "укажите даты" in response.get_data(as_text=True)
    response = browser.post(f"/periods/class/{cls.id}/excuse", form(ivanov, reason=""))
    assert response.status_code == 400 and "Укажите причину" in response.get_data(as_text=True)
    assert {code_of(r) for r in rows["week"]} == {"Н"}


def test_only_the_own_class_teacher_may_excuse(ex, browser):
    school, ivanov, rows = ex
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    other = school.classes["5Б"]
    response = browser.post(f"/periods/class/{other.id}/excuse", form(ivanov))
    assert response.status_code == 404
    browser.logout()
    browser.login("smirnova.ev", PASSWORD)  # a subject teacher of the class
    response = browser.post(f"/periods/class/{school.classes['5А'].id}/excuse", form(ivanov))
    assert response.status_code == 403
    assert {code_of(r) for r in rows["week"]} == {"Н"}
