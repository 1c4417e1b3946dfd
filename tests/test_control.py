"""The deputy's control (§7.5): work types and weights, lesson unlocks, substitutions."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance import journal, journal_control, work_types
from appliance.journal import JournalError
from appliance.models import Attendance, AuditEntry, Lesson, OutboxEntry, Unlock, WorkType

from .factories import PASSWORD

TODAY = dt.date.today()
DAY = dt.timedelta(days=1)


def wt_form(**changes):
    data = {"name": "Контрольная работа", "short_name": "КР", "weight": "3", "sort_order": "10"}
    data.update(changes)
    return data


# --- work types ---------------------------------------------------------------------------


def test_work_type_is_created_audited_and_queued(school):
    deputy = school.users["deputy"]
    row = work_types.save_work_type(wt_form(), user=deputy, ip="10.0.0.2")
    assert (row.name, row.short_name, row.weight, row.is_default) == (
        "Контрольная работа",
        "КР",
        3,
        False,
    )
    audit = AuditEntry.get(AuditEntry.entity_uuid == row.uuid)
    assert audit.action == "work_type.create" and audit.username == "belova.os"
    assert OutboxEntry.select().where(OutboxEntry.entity_uuid == row.uuid).exists()


@pytest.mark.parametrize("weight", ["0", "11", "", "2.5", "-1", "три"])
def test_work_type_weight_must_be_1_to_10(school, weight):
    with pytest.raises(JournalError, match="Вес — целое число от 1 до 10"):
        work_types.save_work_type(wt_form(weight=weight), user=school.users["deputy"], ip="")
    assert not WorkType.select().exists() and not AuditEntry.select().exists()


def test_work_type_names_are_required_and_unique(school):
    deputy = school.users["deputy"]
    with pytest.raises(JournalError, match="Укажите название"):
        work_types.save_work_type(wt_form(name="  "), user=deputy, ip="")
    work_types.save_work_type(wt_form(), user=deputy, ip="")
    with pytest.raises(JournalError, match="уже есть"):
        work_types.save_work_type(wt_form(name="контрольная  РАБОТА"), user=deputy, ip="")


def test_changing_a_weight_keeps_one_default(school):
    deputy = school.users["deputy"]
    answer = work_types.save_work_type(
        wt_form(name="Ответ на уроке", weight="1", is_default="1"), user=deputy, ip=""
    )
    test = work_types.save_work_type(wt_form(), user=deputy, ip="")
    test = work_types.save_work_type(
        wt_form(weight="4", is_default="1"), user=deputy, ip="", work_type=test
    )
    assert test.weight == 4
    assert [w.name for w in WorkType.select().where(WorkType.is_default)] == ["Контрольная работа"]
    history = [h.action for h in journal.history(answer.uuid)]
    assert history == ["work_type.update", "work_type.create"]


def test_deputy_edits_work_types_on_the_page(school, browser):
    browser.login("belova.os", PASSWORD)
    assert browser.get("/control/work-types").status_code == 200
    response = browser.post("/control/work-types", wt_form(), token_from="/control/work-types")
    assert response.status_code == 302
    row = WorkType.get()
    response = browser.post("/control/work-types", wt_form(id=row.id, weight="12"))
    assert response.status_code == 400
    assert "Вес — целое число от 1 до 10" in response.get_data(as_text=True)
    assert WorkType.get().weight == 3
    response = browser.post("/control/work-types", wt_form(id=row.id, weight="5"))
    assert response.status_code == 302 and WorkType.get().weight == 5


def test_director_reads_work_types_but_cannot_change_them(school, browser):
    WorkType.create(name="Тест", weight=2)
    browser.login("orlova.mi", PASSWORD)
    page = browser.get("/control/work-types").get_data(as_text=True)
    assert "Тест" in page and "Добавить" not in page
    assert browser.post("/control/work-types", wt_form()).status_code == 403
    assert WorkType.select().count() == 1


def test_teacher_has_no_control_pages(school, browser):
    browser.login("smirnova.ev", PASSWORD)
    assert browser.get("/control/").status_code == 403
    assert browser.get("/control/work-types").status_code == 403


# --- unlocking a lesson past the edit window ------------------------------------------------


@pytest.fixture
def old_lesson(school):
    return Lesson.create(group=school.group, date=TODAY - 20 * DAY, number=3)


def test_deputy_unlocks_an_old_lesson_for_its_teacher(school, old_lesson, browser):
    teacher, student = school.users["teacher"], school.students["5А"][0]
    with pytest.raises(JournalError, match="старше 7 дней"):
        journal.set_attendance(old_lesson, student.id, "н", user=teacher, ip="")
    browser.login("belova.os", PASSWORD)
    response = browser.post(
        "/control/unlock/lesson",
        {"group": school.group.id, "date": old_lesson.date.isoformat(),
         "reason": "Учитель болел, журнал заполняет после больничного"},
        token_from="/control/",
    )  # fmt: skip
    assert response.status_code == 302
    unlock = Unlock.get()
    assert (unlock.entity_type, unlock.entity_uuid) == ("Lesson", old_lesson.uuid)
    assert journal.set_attendance(old_lesson, student.id, "н", user=teacher, ip="").code == "Н"
    page = browser.get("/control/").get_data(as_text=True)
    assert "Учитель болел" in page and "Белова О.С." in page and "урок" in page


def test_a_recent_lesson_needs_no_unlock(school):
    lesson = Lesson.get((Lesson.date == TODAY) & (Lesson.number == 1))
    with pytest.raises(JournalError, match="ещё можно изменять без разрешения"):
        journal_control.unlock_lesson(
            lesson, "Причина разрешения", user=school.users["deputy"], ip=""
        )


def test_two_lessons_a_day_need_the_number(school):
    with pytest.raises(JournalError, match=r"несколько уроков \(1, 2\)"):
        journal_control.find_lesson(school.group.id, TODAY, None)
    assert journal_control.find_lesson(school.group.id, TODAY, 2).number == 2
    with pytest.raises(JournalError, match="нет урока"):
        journal_control.find_lesson(school.group.id, TODAY - 3 * DAY, None)


def test_unlock_without_reason_is_refused_on_the_page(school, old_lesson, browser):
    browser.login("belova.os", PASSWORD)
    response = browser.post(
        "/control/unlock/lesson",
        {"group": school.group.id, "date": old_lesson.date.isoformat(), "reason": ""},
    )
    assert response.status_code == 400
    assert "Укажите причину" in response.get_data(as_text=True)
    assert not Unlock.select().exists()


def test_deputy_gives_a_lesson_to_another_teacher(school, browser):
    substitute = school.users["class_teacher"].person
    browser.login("belova.os", PASSWORD)
    response = browser.post(
        "/control/substitute",
        {"group": school.group.id, "date": TODAY.isoformat(), "number": "2",
         "teacher": substitute.id, "reason": "Больничный"},
        token_from="/control/",
    )  # fmt: skip
    assert response.status_code == 302
    lesson = Lesson.get((Lesson.date == TODAY) & (Lesson.number == 2))
    assert lesson.teacher_id == substitute.id
    student = school.students["5А"][0]
    row = journal.set_attendance(
        lesson, student.id, "оп", user=school.users["class_teacher"], ip=""
    )
    assert Attendance.get_by_id(row.id).code == "ОП"
