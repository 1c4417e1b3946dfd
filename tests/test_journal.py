"""Journal writes: checked, audited, queued for АСУ РСО, and nothing half-written."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance import journal
from appliance.dashboard import teacher_day
from appliance.db import write
from appliance.grading import GradingError
from appliance.models import (
    AcademicYear,
    AuditEntry,
    Lesson,
    Mark,
    OutboxEntry,
    School,
    WorkType,
)


@pytest.fixture
def j(school):
    """The factory school with work types, the teacher and today's first lesson."""
    WorkType.create(name="Ответ на уроке", short_name="Отв", weight=1, is_default=True)
    WorkType.create(name="Контрольная работа", short_name="К/р", weight=3)
    teacher = school.users["teacher"]
    lesson = Lesson.select().where(Lesson.date == dt.date.today()).order_by(Lesson.number).first()
    return school, teacher, lesson


def test_a_mark_is_stored_with_its_audit_and_outbox_entry(j):
    school, teacher, lesson = j
    student = school.students["5А"][0]
    assignment = journal.default_assignment(lesson, user=teacher, ip="10.1.1.1")
    mark = journal.set_mark(assignment, student.id, "5", user=teacher, ip="10.1.1.1")
    assert mark.value == "5" and mark.published_at is not None  # no upstream: at once
    audit = AuditEntry.get(AuditEntry.entity_uuid == mark.uuid)
    assert audit.action == "mark.set" and audit.username == "smirnova.ev"
    assert OutboxEntry.get(OutboxEntry.entity_uuid == mark.uuid).op == "upsert"


def test_a_cleared_and_retyped_mark_keeps_one_cell_and_one_history(j):
    school, teacher, lesson = j
    student = school.students["5А"][0]
    assignment = journal.default_assignment(lesson, user=teacher, ip="")
    first = journal.set_mark(assignment, student.id, "4", user=teacher, ip="")
    assert journal.set_mark(assignment, student.id, "", user=teacher, ip="") is None
    again = journal.set_mark(assignment, student.id, "5", user=teacher, ip="")
    assert first.uuid == again.uuid == journal.cell_uuid(assignment.uuid, student)
    actions = [h.action for h in journal.history(again.uuid)]
    assert actions == ["mark.set", "mark.delete", "mark.set"]
    ops = [o.op for o in OutboxEntry.select().where(OutboxEntry.entity_uuid == again.uuid)]
    assert ops == ["upsert", "delete", "upsert"]


@pytest.mark.parametrize(
    ("value", "message"), [("7", "допустимы 2, 3, 4, 5"), ("ж", "допустимы 2, 3, 4, 5")]
)
def test_bad_marks_change_nothing(j, value, message):
    school, teacher, lesson = j
    assignment = journal.default_assignment(lesson, user=teacher, ip="")
    before = AuditEntry.select().count()
    with pytest.raises(GradingError, match=message):
        journal.set_mark(assignment, school.students["5А"][0].id, value, user=teacher, ip="")
    assert Mark.select().count() == 0 and AuditEntry.select().count() == before


def test_a_student_outside_the_group_is_refused(j):
    school, teacher, lesson = j
    assignment = journal.default_assignment(lesson, user=teacher, ip="")
    stranger = school.students["5Б"][0]
    with pytest.raises(journal.JournalError, match="нет в группе"):
        journal.set_mark(assignment, stranger.id, "5", user=teacher, ip="")


def test_another_teachers_lesson_is_refused(j):
    school, _, lesson = j
    other = school.users["class_teacher"]
    with pytest.raises(journal.NotYourLesson):
        journal.set_topic(lesson, "Дроби", user=other, ip="")
    assert Lesson.get_by_id(lesson.id).topic == ""


def test_marks_wait_until_the_lesson_took_place(j):
    school, teacher, _ = j
    tomorrow = Lesson.get(Lesson.date == dt.date.today() + dt.timedelta(days=1))
    # homework for a coming lesson is fine …
    journal.set_homework(tomorrow, "№ 12, 14", user=teacher, ip="")
    # … attendance is not
    with pytest.raises(journal.JournalError, match="ещё не прошёл"):
        journal.set_attendance(tomorrow, school.students["5А"][0].id, "н", user=teacher, ip="")


def test_past_edit_window_needs_the_deputys_unlock(j):
    school, teacher, lesson = j
    lesson.date = dt.date.today() - dt.timedelta(days=10)
    lesson.save()
    assert School.get().past_edit_days == 7
    with pytest.raises(journal.JournalError, match="старше 7 дней"):
        journal.set_topic(lesson, "Дроби", user=teacher, ip="")
    deputy = school.users["deputy"]
    with pytest.raises(journal.JournalError, match="причину"):
        journal.grant_unlock("Lesson", lesson.uuid, "", user=deputy, ip="")
    journal.grant_unlock(
        "Lesson", lesson.uuid, "Учитель болел, журнал не заполнен", user=deputy, ip=""
    )
    journal.set_topic(lesson, "Дроби", user=teacher, ip="")
    assert Lesson.get_by_id(lesson.id).topic == "Дроби"
    assert AuditEntry.select().where(AuditEntry.action == "unlock.grant").exists()


def test_attendance_codes_and_clearing(j):
    school, teacher, lesson = j
    student = school.students["5А"][1]
    row = journal.set_attendance(lesson, student.id, "уп", user=teacher, ip="")
    assert row.code == "УП" and Lesson.get_by_id(lesson.id).state == "held"
    with pytest.raises(GradingError, match="нет такой отметки"):
        journal.set_attendance(lesson, student.id, "ж", user=teacher, ip="")
    assert journal.set_attendance(lesson, student.id, "", user=teacher, ip="") is None


def test_a_substitute_sees_the_lesson_and_may_fill_it(j):
    school, teacher, lesson = j
    substitute = school.users["class_teacher"]
    deputy = school.users["deputy"]
    journal.substitute(lesson, substitute.person, "Больничный", user=deputy, ip="")
    day, rows = teacher_day(substitute.person)
    assert lesson.id in [r.lesson.id for r in rows]
    journal.set_topic(Lesson.get_by_id(lesson.id), "Проценты", user=substitute, ip="")
    assert AuditEntry.select().where(AuditEntry.action == "lesson.substitute").exists()


def test_no_substitution_in_a_closed_year(j):
    school, teacher, lesson = j
    with write():
        AcademicYear.update(read_only=True).where(AcademicYear.id == school.year.id).execute()
    with pytest.raises(journal.JournalError, match="Учебный год закрыт"):
        journal.substitute(
            Lesson.get_by_id(lesson.id),
            school.users["class_teacher"].person,
            "Больничный",
            user=school.users["deputy"],
            ip="",
        )
    assert Lesson.get_by_id(lesson.id).teacher_id == teacher.person_id


def test_grade_one_gets_no_assignments(j):
    school, teacher, lesson = j
    cls = lesson.group.school_class
    cls.grade = 1
    cls.save()
    with pytest.raises(journal.JournalError, match="безотметочное"):
        journal.default_assignment(Lesson.get_by_id(lesson.id), user=teacher, ip="")


def test_topic_from_the_plan_of_another_group_is_refused(j):
    from appliance.models import Plan, PlanLesson, SubjectGroup

    school, teacher, lesson = j
    other = SubjectGroup.create(
        year=school.year, school_class=school.classes["5Б"], subject=lesson.group.subject
    )
    plan = Plan.create(group=other)
    foreign = PlanLesson.create(plan=plan, position=1, topic="Чужая тема")
    with pytest.raises(journal.JournalError, match="не из КТП"):
        journal.set_topic(lesson, "", plan_lesson_id=foreign.id, user=teacher, ip="")


def test_simultaneous_saves_of_one_empty_cell_make_one_mark(j):
    """A retry or a double key press: both saves succeed, one row, a consistent history."""
    import threading

    school, teacher, lesson = j
    student = school.students["5А"][0]
    assignment = journal.default_assignment(lesson, user=teacher, ip="")
    errors, start = [], threading.Barrier(20)

    def save(value):
        start.wait()
        try:
            journal.set_mark(assignment, student.id, value, user=teacher, ip="")
        except Exception as exc:  # noqa: BLE001 - any failure is the bug
            errors.append(exc)

    threads = [threading.Thread(target=save, args=("45"[n % 2],)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    [mark] = Mark.select().where(Mark.assignment == assignment)
    history = journal.history(mark.uuid)
    assert history[0].after["value"] == mark.value  # the newest entry is what is stored
    for newer, older in zip(history, history[1:], strict=False):
        assert newer.before["value"] == older.after["value"]  # no lost "before"
