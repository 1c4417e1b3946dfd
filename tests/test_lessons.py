"""Lessons generated from the timetable over the school calendar."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.db import write
from appliance.lessons import generate_lessons
from appliance.models import (
    AcademicYear,
    Lesson,
    NonSchoolDay,
    Person,
    Room,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupTeacher,
    Term,
    TimetableEntry,
)

D = dt.date


@pytest.fixture
def school(db):
    """Class 5А with maths on Monday 1st and Wednesday 2nd–3rd, in a year with a holiday."""
    year = AcademicYear.create(
        name="2026/2027", starts=D(2026, 9, 1), ends=D(2027, 8, 31), is_current=True
    )
    Term.create(
        year=year, kind="quarter", number=2, name="2 четверть",
        starts=D(2026, 11, 2), ends=D(2026, 12, 28), grade_to=9,
    )  # fmt: skip
    NonSchoolDay.create(year=year, date=D(2026, 11, 4), kind="holiday")
    NonSchoolDay.create(year=year, date=D(2026, 11, 7), kind="workday", works_as_weekday=3)
    main = Person.create(last_name="Орлова", first_name="Анна", is_staff=True)
    helper = Person.create(last_name="Титов", first_name="Иван", is_staff=True)
    room = Room.create(name="204")
    cls = SchoolClass.create(year=year, grade=5, letter="А")
    maths = Subject.create(name="Математика")
    group = SubjectGroup.create(year=year, school_class=cls, subject=maths)
    SubjectGroupTeacher.create(group=group, teacher=helper, is_main=False)
    SubjectGroupTeacher.create(group=group, teacher=main, is_main=True)
    for weekday, number in ((1, 1), (3, 2), (3, 3)):
        TimetableEntry.create(
            group=group, weekday=weekday, number=number, room=room, valid_from=D(2026, 9, 1)
        )
    return {"year": year, "group": group, "main": main, "room": room, "class": cls}


def _generate(year, start, end):
    with write():
        return generate_lessons(year, start, end)


def test_lessons_follow_timetable_holidays_and_transfers(school):
    report = _generate(school["year"], D(2026, 11, 2), D(2026, 11, 8))
    got = [(x.date, x.number) for x in Lesson.select().order_by(Lesson.date, Lesson.number)]
    # Wednesday 4 November is a holiday; Saturday 7 November works as a Wednesday.
    assert got == [(D(2026, 11, 2), 1), (D(2026, 11, 7), 2), (D(2026, 11, 7), 3)]
    assert (report.created, report.kept) == (3, 0)


def test_lesson_takes_main_teacher_room_and_entry(school):
    _generate(school["year"], D(2026, 11, 2), D(2026, 11, 2))
    lesson = Lesson.get()
    assert lesson.teacher_id == school["main"].id
    assert lesson.room_id == school["room"].id
    assert lesson.timetable_entry.weekday == 1
    assert lesson.state == "planned" and lesson.topic == "" and lesson.published_at is None


def test_generation_is_idempotent(school):
    first = _generate(school["year"], D(2026, 11, 2), D(2026, 11, 30))
    Lesson.update(topic="Проценты").where(Lesson.date == D(2026, 11, 2)).execute()
    again = _generate(school["year"], D(2026, 11, 2), D(2026, 12, 31))
    assert again.kept == first.created
    assert again.total == Lesson.select().count()
    assert Lesson.get(Lesson.date == D(2026, 11, 2)).topic == "Проценты"
    assert Lesson.select().where(Lesson.date > D(2026, 12, 28)).count() == 0  # term is over


def test_no_lessons_outside_terms_or_the_year(school):
    report = _generate(school["year"], D(2026, 10, 1), D(2026, 10, 31))
    assert report.created == 0
    assert _generate(school["year"], D(2025, 1, 1), D(2025, 12, 31)).total == 0


def test_ended_entry_stops_giving_lessons(school):
    TimetableEntry.update(valid_to=D(2026, 11, 15)).where(TimetableEntry.weekday == 1).execute()
    _generate(school["year"], D(2026, 11, 9), D(2026, 11, 30))
    mondays = Lesson.select().where(Lesson.number == 1).order_by(Lesson.date)
    assert [x.date for x in mondays] == [D(2026, 11, 9)]


def test_newer_entry_wins_the_same_slot(school):
    other = Room.create(name="205")
    TimetableEntry.create(
        group=school["group"], weekday=1, number=1, room=other, valid_from=D(2026, 11, 10)
    )
    _generate(school["year"], D(2026, 11, 16), D(2026, 11, 16))
    assert [x.room_id for x in Lesson.select()] == [other.id]


def test_draft_groups_and_closed_classes_get_no_lessons(school):
    SubjectGroup.update(is_draft=True).execute()
    assert _generate(school["year"], D(2026, 11, 2), D(2026, 11, 30)).total == 0
    SubjectGroup.update(is_draft=False).execute()
    SchoolClass.update(closed=True).execute()
    assert _generate(school["year"], D(2026, 11, 2), D(2026, 11, 30)).total == 0
