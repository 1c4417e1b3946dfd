"""The lesson page: one screen to fill a lesson, per field through HTMX or as one plain form."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest

from appliance import lesson_form, lesson_page
from appliance.models import (
    Assignment,
    Attachment,
    Attendance,
    AuditEntry,
    Lesson,
    LessonTeacherChange,
    Mark,
    OutboxEntry,
    Plan,
    PlanLesson,
    School,
    Subject,
    SubjectGroup,
    WorkType,
)

from .factories import PASSWORD

HTMX = {"HX-Request": "true"}
TODAY = dt.date.today()


@pytest.fixture
def lp(school):
    """The factory school with work types, a КТП for the maths group and one lesson taught."""
    WorkType.create(name="Ответ на уроке", short_name="Отв", weight=1, is_default=True)
    WorkType.create(name="Контрольная работа", short_name="К/р", weight=3, sort_order=200)
    plan = Plan.create(group=school.group, state="approved")
    items = [
        PlanLesson.create(plan=plan, position=n, topic=topic, hours=hours, homework_hint=hint)
        for n, (topic, hours, hint) in enumerate(
            [
                ("Натуральные числа", 1, "№ 1–5"),
                ("Сложение и вычитание", 2, "№ 10–14"),
                ("Умножение", 1, "№ 20"),
            ],
            start=1,
        )
    ]
    Lesson.create(
        group=school.group,
        date=TODAY - dt.timedelta(days=3),
        number=1,
        teacher=school.users["teacher"].person,
        topic=items[0].topic,
        plan_lesson=items[0],
        state="held",
    )
    lessons = Lesson.select().where(Lesson.date >= TODAY).order_by(Lesson.date, Lesson.number)
    today, _, tomorrow = list(lessons)
    return school, today, tomorrow, items


def teacher(browser):
    assert browser.login("smirnova.ev", PASSWORD).status_code == 302
    return browser


def text(response) -> str:
    return response.get_data(as_text=True)


# --- who may open it -----------------------------------------------------------------


def test_teacher_opens_own_lesson_with_class_list_and_fields(lp, browser):
    school, lesson, _, _ = lp
    page = text(teacher(browser).get(f"/lessons/{lesson.id}"))
    for student in school.students["5А"]:
        assert student.full_name in page
    assert 'name="topic"' in page and 'name="homework"' in page
    ivanov = school.students["5А"][0]
    assert f'name="att-{ivanov.id}"' in page and f'name="mark-0-{ivanov.id}"' in page
    assert "Фёдоров" not in page  # 5Б is not in the group
    assert "Все присутствуют" in page


@pytest.mark.parametrize(
    ("username", "role", "status"),
    [
        ("orlova.mi", None, 200),
        ("belova.os", None, 200),
        ("titov.pa", None, 200),
        ("kuznetsov.ap", "class_teacher", 200),  # class teacher of 5А
        ("kuznetsov.ap", None, 404),  # as a teacher: not his group
        ("zaytsev.io", None, 403),
        ("ivanov.p", None, 403),
        ("ivanova.m", None, 403),
    ],
)
def test_lesson_page_scope(lp, browser, username, role, status):
    school, lesson, _, _ = lp
    browser.login(username, PASSWORD, role=school.role_key(role) if role else None)
    assert browser.get(f"/lessons/{lesson.id}").status_code == status


def test_readers_without_write_rights_get_the_page_read_only(lp, browser):
    school, lesson, _, _ = lp
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    page = text(browser.get(f"/lessons/{lesson.id}"))
    assert "Только просмотр" in page
    assert "hx-post" not in page and "Все присутствуют" not in page
    ivanov = school.students["5А"][0]
    response = browser.post(f"/lessons/{lesson.id}", {f"att-{ivanov.id}": "н"})
    assert response.status_code == 403
    assert Attendance.select().count() == 0


def test_a_lesson_past_the_edit_window_is_read_only_with_the_reason(lp, browser):
    school, _, _, _ = lp
    old = Lesson.get(Lesson.date == TODAY - dt.timedelta(days=3))
    School.update(past_edit_days=1).execute()
    page = text(teacher(browser).get(f"/lessons/{old.id}"))
    assert "разрешения заместителя директора" in page
    assert "hx-post" not in page


def test_teacher_day_links_each_lesson_to_its_page_and_keeps_missing_badges(lp, browser):
    _, lesson, _, _ = lp
    page = text(teacher(browser).get("/"))
    assert f'href="/lessons/{lesson.id}"' in page
    assert "нет: тема" in page


# --- saving one field (HTMX) --------------------------------------------------------------


def test_a_mark_typed_in_a_field_is_stored_with_audit_and_outbox(lp, browser):
    school, lesson, _, _ = lp
    ivanov = school.students["5А"][0]
    response = teacher(browser).post(
        f"/lessons/{lesson.id}", {f"mark-0-{ivanov.id}": "5"}, headers=HTMX
    )
    assert response.status_code == 200
    fragment = text(response)
    assignment = Assignment.get(Assignment.lesson == lesson)  # made by the first mark
    assert fragment.lstrip().startswith('<span class="field saved"')
    assert f'name="mark-{assignment.id}-{ivanov.id}"' in fragment and 'value="5"' in fragment
    assert f'id="m0-{ivanov.id}"' in fragment  # the same input id: focus stays put
    mark = Mark.get(Mark.student == ivanov)
    assert mark.value == "5" and mark.assignment.work_type.name == "Ответ на уроке"
    assert AuditEntry.get(AuditEntry.entity_uuid == mark.uuid).username == "smirnova.ev"
    assert OutboxEntry.get(OutboxEntry.entity_uuid == mark.uuid).op == "upsert"


def test_an_attendance_code_is_stored_in_capitals(lp, browser):
    school, lesson, _, _ = lp
    petrova = school.students["5А"][1]
    response = teacher(browser).post(
        f"/lessons/{lesson.id}", {f"att-{petrova.id}": "н"}, headers=HTMX
    )
    assert response.status_code == 200 and 'value="Н"' in text(response)
    row = Attendance.get(Attendance.student == petrova)
    assert row.code == "Н" and Lesson.get_by_id(lesson.id).state == "held"
    assert OutboxEntry.select().where(OutboxEntry.entity_uuid == row.uuid).exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mark-0-{student}", "7", "допустимы 2, 3, 4, 5"),
        ("att-{student}", "ж", "нет такой отметки посещаемости"),
        ("mark-0-{stranger}", "5", "Этого ученика нет в группе"),
        ("mark-99999-{student}", "5", "Этой работы нет на этом уроке"),
    ],
)
def test_bad_input_gets_a_russian_message_next_to_the_field_and_changes_nothing(
    lp, browser, field, value, message
):
    school, lesson, _, _ = lp
    name = field.format(student=school.students["5А"][0].id, stranger=school.students["5Б"][0].id)
    audit_before = AuditEntry.select().count()
    response = teacher(browser).post(f"/lessons/{lesson.id}", {name: value}, headers=HTMX)
    assert response.status_code == 400
    assert message in text(response)
    assert Mark.select().count() == Attendance.select().count() == 0
    assert Assignment.select().count() == 0  # the first assignment was rolled back too
    assert AuditEntry.select().count() == audit_before


def test_a_refused_field_keeps_what_was_typed(lp, browser):
    school, lesson, _, _ = lp
    ivanov = school.students["5А"][0]
    response = teacher(browser).post(
        f"/lessons/{lesson.id}", {f"mark-0-{ivanov.id}": "7"}, headers=HTMX
    )
    assert 'value="7"' in text(response)


def test_a_future_lesson_takes_a_topic_but_no_marks_or_attendance(lp, browser):
    school, _, tomorrow, _ = lp
    ivanov = school.students["5А"][0]
    teacher(browser)
    response = browser.post(f"/lessons/{tomorrow.id}", {"topic": "Дроби"}, headers=HTMX)
    assert response.status_code == 200
    refused = browser.post(f"/lessons/{tomorrow.id}", {f"att-{ivanov.id}": "н"}, headers=HTMX)
    assert refused.status_code == 400 and "ещё не прошёл" in text(refused)
    page = text(browser.get(f"/lessons/{tomorrow.id}"))
    assert "Урок ещё не прошёл" in page and f'name="att-{ivanov.id}"' not in page
    assert Lesson.get_by_id(tomorrow.id).topic == "Дроби"


def test_another_teachers_lesson_is_not_found(lp, browser):
    school, lesson, _, _ = lp
    browser.login("kuznetsov.ap", PASSWORD)  # a teacher, not of this group
    ivanov = school.students["5А"][0]
    response = browser.post(f"/lessons/{lesson.id}", {f"mark-0-{ivanov.id}": "5"}, headers=HTMX)
    assert response.status_code == 404
    assert Mark.select().count() == 0


# --- the plain form ------------------------------------------------------------------------


def test_the_plain_form_saves_every_field_and_comes_back_with_a_message(lp, browser):
    school, lesson, _, _ = lp
    ivanov, petrova, sidorov = school.students["5А"]
    teacher(browser)
    form = {
        "topic": "Сложение и вычитание",
        "homework": "№ 10–14",
        f"att-{ivanov.id}": "",
        f"att-{petrova.id}": "н",
        f"att-{sidorov.id}": "оп",
        f"mark-0-{ivanov.id}": "5",
        f"mark-0-{petrova.id}": "",
        f"mark-0-{sidorov.id}": "4",
    }
    response = browser.post(f"/lessons/{lesson.id}", form)
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/lessons/{lesson.id}"
    )
    assert "Урок сохранён" in text(browser.get(f"/lessons/{lesson.id}"))
    stored = Lesson.get_by_id(lesson.id)
    assert (stored.topic, stored.homework) == ("Сложение и вычитание", "№ 10–14")
    assert stored.plan_lesson.position == 2  # the typed topic is the КТП's: linked
    codes = {a.student_id: a.code for a in Attendance.select()}
    assert codes == {petrova.id: "Н", sidorov.id: "ОП"}
    assert {m.student_id: m.value for m in Mark.select()} == {ivanov.id: "5", sidorov.id: "4"}
    assert Assignment.select().count() == 1


def test_saving_the_form_again_unchanged_writes_nothing(lp, browser):
    school, lesson, _, _ = lp
    ivanov = school.students["5А"][0]
    form = {"topic": "Тема", "homework": "", f"mark-0-{ivanov.id}": "4"}
    teacher(browser).post(f"/lessons/{lesson.id}", form)
    before = AuditEntry.select().count()
    browser.post(f"/lessons/{lesson.id}", form)
    assert AuditEntry.select().count() == before


def test_a_correction_of_letter_case_only_is_saved(lp, browser):
    _, lesson, _, _ = lp
    teacher(browser).post(f"/lessons/{lesson.id}", {"homework": "параграф 5"}, headers=HTMX)
    browser.post(f"/lessons/{lesson.id}", {"homework": "Параграф 5"}, headers=HTMX)
    assert Lesson.get_by_id(lesson.id).homework == "Параграф 5"


def test_a_form_with_one_bad_field_stores_nothing_and_shows_everything_typed(lp, browser):
    school, lesson, _, _ = lp
    ivanov, petrova, _ = school.students["5А"]
    form = {
        "topic": "Проценты",
        f"att-{petrova.id}": "н",
        f"mark-0-{ivanov.id}": "7",
    }
    response = teacher(browser).post(f"/lessons/{lesson.id}", form)
    assert response.status_code == 400
    page = text(response)
    assert "Ничего не сохранено" in page and "допустимы 2, 3, 4, 5" in page
    assert 'value="Проценты"' in page and 'value="7"' in page
    assert re.search(r'class="field field-wide unsaved" id="field-topic"', page)
    assert Lesson.get_by_id(lesson.id).topic == ""
    assert Attendance.select().count() == Mark.select().count() == 0


def test_all_present_marks_the_roll_called(lp, browser):
    _, lesson, _, _ = lp
    response = teacher(browser).post(f"/lessons/{lesson.id}/present")
    assert response.status_code == 302
    assert Lesson.get_by_id(lesson.id).state == "held"
    assert "посещаемость отмечена" in text(browser.get(f"/lessons/{lesson.id}"))
    day = text(browser.get("/"))
    item = re.search(rf'data-lesson="{lesson.id}">(.*?)</li>', day, re.S).group(1)
    assert "нет: тема" in item and "нет: посещаемость" not in item


# --- the КТП ------------------------------------------------------------------------------


def test_the_next_unstudied_plan_topic_is_suggested(lp, browser):
    _, lesson, tomorrow, items = lp
    page = text(teacher(browser).get(f"/lessons/{lesson.id}"))
    assert "Взять из КТП: № 2 «Сложение и вычитание»" in page
    assert 'placeholder="По КТП: № 10–14"' in page  # the suggested topic's homework
    assert page.count("<option value=") >= len(items)
    # a two-hour topic stays next until two lessons took it
    lesson.plan_lesson, lesson.topic = items[1], items[1].topic
    lesson.save()
    assert lesson_page.next_plan_lesson(tomorrow) == items[1]
    Lesson.update(plan_lesson=items[1]).where(Lesson.id == tomorrow.id).execute()
    later = Lesson.create(group=lesson.group, date=tomorrow.date, number=5, teacher=lesson.teacher)
    assert lesson_page.next_plan_lesson(later) == items[2]


def test_taking_the_topic_from_the_plan_links_the_plan_lesson(lp, browser):
    _, lesson, _, items = lp
    response = teacher(browser).post(
        f"/lessons/{lesson.id}", {"plan_lesson": str(items[1].id)}, headers=HTMX
    )
    assert response.status_code == 200 and "Сложение и вычитание" in text(response)
    stored = Lesson.get_by_id(lesson.id)
    assert stored.topic == "Сложение и вычитание" and stored.plan_lesson_id == items[1].id


def test_a_free_topic_is_allowed_and_unlinks_the_plan(lp, browser):
    _, lesson, _, items = lp
    teacher(browser).post(f"/lessons/{lesson.id}", {"plan_lesson": str(items[1].id)}, headers=HTMX)
    browser.post(f"/lessons/{lesson.id}", {"topic": "Экскурсия в музей"}, headers=HTMX)
    stored = Lesson.get_by_id(lesson.id)
    assert stored.topic == "Экскурсия в музей" and stored.plan_lesson_id is None


def test_a_plan_lesson_of_another_group_is_refused(lp, browser):
    school, lesson, _, _ = lp
    other = SubjectGroup.create(
        year=school.year,
        school_class=school.classes["5Б"],
        subject=Subject.create(name="История"),
    )
    foreign = PlanLesson.create(plan=Plan.create(group=other), position=1, topic="Египет")
    response = teacher(browser).post(
        f"/lessons/{lesson.id}", {"plan_lesson": str(foreign.id)}, headers=HTMX
    )
    assert response.status_code == 400 and "не из КТП этой группы" in text(response)
    assert Lesson.get_by_id(lesson.id).topic == ""


# --- extra assignments --------------------------------------------------------------------


def test_an_extra_assignment_is_one_more_mark_column(lp, browser):
    school, lesson, _, _ = lp
    ivanov = school.students["5А"][0]
    test = WorkType.get(WorkType.name == "Контрольная работа")
    teacher(browser).post(f"/lessons/{lesson.id}", {f"mark-0-{ivanov.id}": "4"})
    response = browser.post(
        f"/lessons/{lesson.id}/assignments", {"work_type": str(test.id), "weight": "5"}
    )
    assert response.status_code == 302
    extra = Assignment.get(Assignment.work_type == test)
    assert extra.weight == 5
    page = text(browser.get(f"/lessons/{lesson.id}"))
    assert "Контрольная работа" in page and f'name="mark-{extra.id}-{ivanov.id}"' in page
    browser.post(f"/lessons/{lesson.id}", {f"mark-{extra.id}-{ivanov.id}": "3"}, headers=HTMX)
    marks = {(m.assignment.work_type.name, m.value) for m in Mark.select()}
    assert marks == {("Ответ на уроке", "4"), ("Контрольная работа", "3")}


# --- the homework file ---------------------------------------------------------------------


def test_a_homework_file_is_stored_by_uuid_and_downloaded_by_its_clean_name(lp, browser, settings):
    school, lesson, _, _ = lp
    teacher(browser)
    upload = {"file": (io.BytesIO(b"%PDF-1.4 task"), "../../etc/Задание <1>.pdf")}
    response = browser.post(
        f"/lessons/{lesson.id}/homework-file", upload, content_type="multipart/form-data"
    )
    assert response.status_code == 302
    attachment = Attachment.get()
    assert attachment.filename == "Задание _1_.pdf" and attachment.size == 13
    stored = settings.data_dir / attachment.path
    assert stored.parent == settings.files_dir / "homework"
    assert re.fullmatch(r"[0-9a-f]{32}", stored.name) and stored.read_bytes() == b"%PDF-1.4 task"
    assert Lesson.get_by_id(lesson.id).homework_file_id == attachment.id
    download = browser.get(f"/lessons/{lesson.id}/homework-file")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 task"
    assert download.headers["Content-Disposition"].startswith("attachment")
    download.close()
    assert AuditEntry.select().where(AuditEntry.action == "lesson.homework_file").exists()

    browser.logout()
    browser.login("ivanov.p", PASSWORD)  # a student never reaches the journal's routes
    assert browser.get(f"/lessons/{lesson.id}/homework-file").status_code == 403


def test_a_homework_file_over_the_schools_limit_is_refused_and_leaves_nothing(
    lp, browser, settings
):
    _, lesson, _, _ = lp
    School.update(homework_file_limit_kb=1).execute()
    teacher(browser)
    upload = {"file": (io.BytesIO(b"x" * 2048), "big.txt")}
    response = browser.post(
        f"/lessons/{lesson.id}/homework-file", upload, content_type="multipart/form-data"
    )
    assert response.status_code == 302
    assert "не больше 1 КБ" in text(browser.get(f"/lessons/{lesson.id}"))
    assert Attachment.select().count() == 0
    assert list((settings.files_dir / "homework").iterdir()) == []


def test_a_lesson_without_a_file_sends_the_reader_back(lp, browser):
    _, lesson, _, _ = lp
    response = teacher(browser).get(f"/lessons/{lesson.id}/homework-file")
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("C:\\Users\\Учитель\\Задание.docx", "Задание.docx"),
        ("../../../etc/passwd", "passwd"),
        ("..", "файл"),
        (".bashrc", "bashrc"),
        ("a\x00b\x1f.txt", "ab.txt"),
        ("   ", "файл"),
        ("x" * 300 + ".pdf", "x" * 100 + ".pdf"),
    ],
)
def test_uploaded_file_names_are_made_safe(sent, kept):
    assert lesson_form.safe_filename(sent) == kept


# --- substitution --------------------------------------------------------------------------


def test_a_substituted_lesson_moves_to_the_other_teachers_day_who_can_fill_it(lp, browser):
    school, lesson, _, _ = lp
    kuznetsov = school.users["class_teacher"].person
    browser.login("belova.os", PASSWORD)
    form = text(browser.get(f"/lessons/{lesson.id}/substitute"))
    assert kuznetsov.full_name in form
    response = browser.post(
        f"/lessons/{lesson.id}/substitute", {"teacher": str(kuznetsov.id), "reason": "Болезнь"}
    )
    assert response.status_code == 302
    assert Lesson.get_by_id(lesson.id).teacher_id == kuznetsov.id
    change = LessonTeacherChange.get()
    assert change.reason == "Болезнь" and change.new_teacher_id == kuznetsov.id
    audit = AuditEntry.get(AuditEntry.action == "lesson.substitute")
    assert audit.username == "belova.os"

    browser.logout()
    browser.login("kuznetsov.ap", PASSWORD)  # as a teacher
    assert f'href="/lessons/{lesson.id}"' in text(browser.get("/"))
    ivanov = school.students["5А"][0]
    saved = browser.post(f"/lessons/{lesson.id}", {f"mark-0-{ivanov.id}": "5"}, headers=HTMX)
    assert saved.status_code == 200 and Mark.get().created_by.username == "kuznetsov.ap"


def test_a_substitution_needs_a_teacher_and_a_reason(lp, browser):
    school, lesson, _, _ = lp
    kuznetsov = school.users["class_teacher"].person
    browser.login("belova.os", PASSWORD)
    no_reason = browser.post(f"/lessons/{lesson.id}/substitute", {"teacher": str(kuznetsov.id)})
    assert no_reason.status_code == 400 and "Укажите причину замены" in text(no_reason)
    nobody = browser.post(f"/lessons/{lesson.id}/substitute", {"teacher": "999", "reason": "x"})
    assert nobody.status_code == 400 and "Выберите учителя" in text(nobody)
    student = school.students["5А"][0]
    pupil = browser.post(
        f"/lessons/{lesson.id}/substitute", {"teacher": str(student.id), "reason": "x"}
    )
    assert pupil.status_code == 400
    assert LessonTeacherChange.select().count() == 0


def test_only_the_deputy_gives_lessons_to_other_teachers(lp, browser):
    _, lesson, _, _ = lp
    teacher(browser)
    assert browser.get(f"/lessons/{lesson.id}/substitute").status_code == 403
    assert browser.post(f"/lessons/{lesson.id}/substitute", {}).status_code == 403
