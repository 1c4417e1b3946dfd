"""Regenerating future lessons after a timetable or calendar change: nothing with data is lost."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.db import write
from appliance.lessons import generate_lessons, regenerate_lessons
from appliance.models import (
    AcademicYear,
    Assignment,
    Attendance,
    AuditEntry,
    Lesson,
    LessonTeacherChange,
    Mark,
    NonSchoolDay,
    Person,
    Room,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    TimetableEntry,
    WorkType,
)

from .factories import PASSWORD

D = dt.date
TODAY = D(2026, 11, 2)  # a Monday; «future» starts on Tuesday 3 November


@pytest.fixture
def school(db):
    """5А with maths on Monday 1st and Wednesday 2nd, lessons generated for November."""
    year = AcademicYear.create(
        name="2026/2027", starts=D(2026, 9, 1), ends=D(2027, 8, 31), is_current=True
    )
    teacher = Person.create(last_name="Орлова", first_name="Анна", is_staff=True)
    room = Room.create(name="204")
    cls = SchoolClass.create(year=year, grade=5, letter="А")
    group = SubjectGroup.create(year=year, school_class=cls, subject=Subject.create(name="Мат"))
    SubjectGroupTeacher.create(group=group, teacher=teacher, is_main=True)
    pupil = Person.create(last_name="Иванов", first_name="Пётр")
    SubjectGroupStudent.create(group=group, student=pupil, starts=year.starts)
    monday = TimetableEntry.create(
        group=group, weekday=1, number=1, room=room, valid_from=year.starts
    )
    wednesday = TimetableEntry.create(
        group=group, weekday=3, number=2, room=room, valid_from=year.starts
    )
    with write():
        generate_lessons(year, D(2026, 11, 1), D(2026, 11, 30))
    return {
        "year": year,
        "group": group,
        "teacher": teacher,
        "pupil": pupil,
        "room": room,
        "monday": monday,
        "wednesday": wednesday,
    }


def regenerate(school, **kwargs):
    return regenerate_lessons(
        school["year"], D(2026, 11, 1), D(2026, 11, 30), today=TODAY, **kwargs
    )


def lesson_on(day: dt.date) -> Lesson | None:
    return Lesson.get_or_none(Lesson.date == day)


def test_an_unchanged_timetable_changes_nothing(school):
    before = [(x.id, x.date, x.number) for x in Lesson.select().order_by(Lesson.id)]
    report = regenerate(school)
    assert (report.created, report.deleted, report.updated, report.with_data) == (0, 0, 0, [])
    assert report.kept == 8  # from 3 November: 4 Wednesdays and 4 Mondays
    assert [(x.id, x.date, x.number) for x in Lesson.select().order_by(Lesson.id)] == before


def test_a_new_holiday_removes_empty_lessons_and_reports_those_with_data(school):
    holiday_1, holiday_2 = D(2026, 11, 4), D(2026, 11, 11)  # two Wednesdays
    for day in (holiday_1, holiday_2):
        NonSchoolDay.create(year=school["year"], date=day, kind="holiday")
    filled = lesson_on(holiday_2)
    filled.topic = "Дроби"
    filled.save()
    work = WorkType.create(name="Ответ", weight=1)
    assignment = Assignment.create(lesson=filled, work_type=work, weight=1)
    Mark.create(assignment=assignment, student=school["pupil"], value="5")

    report = regenerate(school, user=None, ip="10.0.0.5")

    assert lesson_on(holiday_1) is None
    assert report.deleted == 1
    assert [k.lesson.id for k in report.with_data] == [filled.id]
    assert report.with_data[0].holds == ["тема", "оценки"]
    assert Lesson.get_by_id(filled.id).topic == "Дроби"  # kept, with its mark
    assert Mark.select().count() == 1
    deletion = AuditEntry.get(AuditEntry.action == "lesson.delete")
    assert deletion.ip == "10.0.0.5" and '"date":"2026-11-04"' in deletion.before
    summary = AuditEntry.get(AuditEntry.action == "lessons.regenerate")
    assert filled.uuid in summary.after


@pytest.mark.parametrize(
    ("make_data", "label"),
    [
        (lambda lesson, s: setattr(lesson, "homework", "№ 5") or lesson.save(), "домашнее задание"),
        (
            lambda lesson, s: Attendance.create(lesson=lesson, student=s["pupil"], code="Н"),
            "посещаемость",
        ),
        (
            lambda lesson, s: LessonTeacherChange.create(
                lesson=lesson, new_teacher=s["teacher"], changed_at=dt.datetime(2026, 11, 1)
            ),
            "замена учителя",
        ),
    ],
)
def test_every_kind_of_data_keeps_a_lesson(school, make_data, label):
    NonSchoolDay.create(year=school["year"], date=D(2026, 11, 4), kind="holiday")
    lesson = lesson_on(D(2026, 11, 4))
    make_data(lesson, school)
    report = regenerate(school)
    assert report.deleted == 0 and report.with_data[0].holds == [label]
    assert Lesson.get_or_none(Lesson.id == lesson.id) is not None


def test_a_moved_timetable_entry_creates_the_new_lessons(school):
    # From 16 November Wednesday's 2nd lesson moves to Thursday 3rd, room 301.
    wednesday = school["wednesday"]
    wednesday.valid_to = D(2026, 11, 15)
    wednesday.save()
    room = Room.create(name="301")
    TimetableEntry.create(
        group=school["group"], weekday=4, number=3, room=room, valid_from=D(2026, 11, 16)
    )
    report = regenerate(school)
    days = {(x.date, x.number) for x in Lesson.select().where(Lesson.date >= D(2026, 11, 16))}
    assert (D(2026, 11, 18), 2) not in days and (D(2026, 11, 25), 2) not in days
    assert {(D(2026, 11, 19), 3), (D(2026, 11, 26), 3)} <= days
    assert (report.created, report.deleted) == (2, 2)
    assert lesson_on(D(2026, 11, 19)).room_id == room.id
    assert lesson_on(D(2026, 11, 19)).teacher_id == school["teacher"].id


def test_past_and_todays_lessons_are_never_touched(school):
    NonSchoolDay.create(year=school["year"], date=TODAY, kind="holiday")
    regenerate(school)
    assert lesson_on(TODAY) is not None  # today is not the future


def test_a_new_main_teacher_takes_future_lessons_but_not_substituted_ones(school):
    newcomer = Person.create(last_name="Титов", first_name="Иван", is_staff=True)
    SubjectGroupTeacher.update(is_main=False).execute()
    SubjectGroupTeacher.create(group=school["group"], teacher=newcomer, is_main=True)
    substituted = lesson_on(D(2026, 11, 9))
    LessonTeacherChange.create(
        lesson=substituted, new_teacher=school["teacher"], changed_at=dt.datetime(2026, 11, 1)
    )
    report = regenerate(school)
    assert report.updated == 7 and report.with_data == []
    assert lesson_on(D(2026, 11, 16)).teacher_id == newcomer.id
    assert Lesson.get_by_id(substituted.id).teacher_id == school["teacher"].id


def test_a_dry_run_reports_and_changes_nothing(school):
    NonSchoolDay.create(year=school["year"], date=D(2026, 11, 4), kind="holiday")
    count, audit = Lesson.select().count(), AuditEntry.select().count()
    report = regenerate(school, dry_run=True)
    assert report.deleted == 1
    assert Lesson.select().count() == count and AuditEntry.select().count() == audit


def test_regeneration_twice_is_idempotent(school):
    NonSchoolDay.create(year=school["year"], date=D(2026, 11, 4), kind="holiday")
    regenerate(school)
    again = regenerate(school)
    assert (again.created, again.deleted, again.updated) == (0, 0, 0)


# --- the deputy's page -------------------------------------------------------------------


def test_deputy_previews_then_applies_and_sees_lessons_kept_with_data(browser, app):
    from .factories import SchoolFactory

    factory = SchoolFactory.build()  # lessons today and tomorrow, no timetable at all
    tomorrow = Lesson.get(Lesson.date == D.today() + dt.timedelta(days=1))
    browser.login("belova.os", PASSWORD)
    assert browser.get("/lessons/regenerate").status_code == 200
    preview = browser.post("/lessons/regenerate", {"action": "preview"})
    assert preview.status_code == 200 and "ещё не применено" in preview.get_data(as_text=True)
    assert Lesson.get_or_none(Lesson.id == tomorrow.id) is not None

    tomorrow.topic = "Повторение"
    tomorrow.save()
    applied = browser.post("/lessons/regenerate", {"action": "apply"})
    page = applied.get_data(as_text=True)
    assert applied.status_code == 200 and "Сделано" in page
    assert "Повторение" not in page and factory.group.name in page and "тема" in page
    assert Lesson.get_or_none(Lesson.id == tomorrow.id) is not None  # it holds a topic
    assert browser.post("/lessons/regenerate", {}).status_code == 400

    browser.logout()
    browser.login("smirnova.ev", PASSWORD)
    assert browser.post("/lessons/regenerate", {"action": "apply"}).status_code == 403
