"""The publishing rule (DESIGN.md §3): the diary shows a change once it is published.

With no upstream a change is published at once; with АСУ РСО configured it waits until
the sync worker stamps `published_at` on acceptance (simulated here by stamping it).
"""

from __future__ import annotations

import datetime as dt

import pytest

from appliance import diary, journal, period_marks, publishing, terms
from appliance.db import write
from appliance.models import Attendance, Lesson, Mark, PeriodMark, now

from .test_diary import as_parent, lesson, make_work_types, mark, study_week


@pytest.fixture
def upstream(school):
    """АСУ РСО configured (after the app's own `configure` at start-up); restored after."""
    publishing.configure(upstream_configured=True)
    yield
    publishing.configure(upstream_configured=False)


def todays_lesson(school) -> Lesson:
    return Lesson.get(
        (Lesson.group == school.group) & (Lesson.date == dt.date.today()) & (Lesson.number == 1)
    )


def teach(school, lesson: Lesson) -> Mark:
    """The teacher's day on one lesson through the journal: topic, homework, mark, absence."""
    teacher = school.users["teacher"]
    answer, _test = make_work_types()
    ivanov, petrova = school.students["5А"][:2]
    journal.set_topic(lesson, "Дроби", user=teacher, ip="")
    journal.set_homework(Lesson.get_by_id(lesson.id), "№ 101", user=teacher, ip="")
    assignment = journal.add_assignment(Lesson.get_by_id(lesson.id), answer.id, user=teacher, ip="")
    given = journal.set_mark(assignment, ivanov.id, "5", user=teacher, ip="")
    journal.set_attendance(Lesson.get_by_id(lesson.id), petrova.id, "н", user=teacher, ip="")
    return given


def seen_by_parent(browser, school) -> str:
    ivanov = school.students["5А"][0]
    return browser.get(f"/diary/{ivanov.id}?week={dt.date.today()}").get_data(as_text=True)


def test_visible_means_stamped_and_not_in_the_future(school):
    work_type = make_work_types()[0]
    ivanov = school.students["5А"][0]
    monday = study_week(school)
    hour = dt.timedelta(hours=1)
    stamps = {"none": None, "past": now() - hour, "future": now() + hour}
    ids = {}
    for number, (name, stamp) in enumerate(stamps.items(), 3):
        given = mark(lesson(school, monday, number), ivanov, "4", work_type)
        with write():
            Mark.update(published_at=stamp).where(Mark.id == given.id).execute()
        ids[given.id] = name
    shown = Mark.select().where(publishing.visible(Mark))
    assert [ids[m.id] for m in shown] == ["past"]
    later = Mark.select().where(publishing.visible(Mark, at=now() + 2 * hour))
    assert sorted(ids[m.id] for m in later) == ["future", "past"]


def test_without_upstream_a_change_is_in_the_diary_at_once(browser, school):
    assert publishing.published_at_for_new_change() is not None
    today = todays_lesson(school)
    teach(school, today)
    week = diary.week(school.students["5А"][0], dt.date.today())
    (row,) = [r for r in week.lessons if r.lesson.id == today.id]
    assert (row.topic, row.homework) == ("Дроби", "№ 101")
    assert [m.value for m in row.marks] == ["5"]
    petrova_week = diary.week(school.students["5А"][1], dt.date.today())
    assert [r.attendance for r in petrova_week.lessons if r.lesson.id == today.id] == ["Н"]
    as_parent(browser)
    page = seen_by_parent(browser, school)
    assert "Дроби" in page and 'data-mark="5"' in page and "Данные на " in page
    assert "приёма в АСУ РСО" not in page


def test_with_upstream_a_fresh_change_waits_until_it_is_accepted(browser, school, upstream):
    assert publishing.published_at_for_new_change() is None
    today = todays_lesson(school)
    given = teach(school, today)
    assert Mark.get_by_id(given.id).published_at is None  # the journal wrote it unpublished
    ivanov, petrova = school.students["5А"][:2]
    (row,) = [r for r in diary.week(ivanov, dt.date.today()).lessons if r.lesson.id == today.id]
    assert (row.topic, row.homework, row.marks) == ("", "", [])
    (absent,) = [r for r in diary.week(petrova, dt.date.today()).lessons if r.lesson.id == today.id]
    assert absent.attendance == ""
    assert diary.data_as_of(ivanov) is None
    as_parent(browser)
    page = seen_by_parent(browser, school)
    assert "Дроби" not in page and 'data-mark="5"' not in page
    assert "Опубликованных данных пока нет" in page and "после приёма в АСУ РСО" in page

    accepted = now()  # what the sync worker does when АСУ РСО accepts the changes
    with write():
        for model in (Lesson, Mark, Attendance):
            model.update(published_at=accepted).where(model.published_at.is_null()).execute()
    page = seen_by_parent(browser, school)
    assert "Дроби" in page and "№ 101" in page and 'data-mark="5"' in page
    assert f"Данные на {accepted:%d.%m.%Y %H:%M}" in page
    assert diary.data_as_of(ivanov) == accepted


def test_a_changed_mark_leaves_the_diary_until_accepted_again(school, upstream):
    work_type = make_work_types()[0]
    ivanov = school.students["5А"][0]
    today = todays_lesson(school)
    given = mark(today, ivanov, "3", work_type)  # published earlier
    journal.set_mark(given.assignment, ivanov.id, "4", user=school.users["teacher"], ip="")
    marks = [m.value for r in diary.week(ivanov, dt.date.today()).lessons for m in r.marks]
    assert marks == []  # never the old «3» as if it were current, never an unaccepted «4»


def test_period_mark_waits_for_acceptance_too(school, upstream):
    q1 = school.add_planning()["terms"][0]
    ivanov = school.students["5А"][0]
    period = terms.period_of(school.group, "term", q1.id)
    period_marks.save_period_marks(
        school.group, period, {ivanov.id: "4"}, user=school.users["teacher"], ip="", today=q1.ends
    )
    (row,) = diary.term_marks(ivanov, school.classes["5А"], q1.id).subjects
    assert row.period_mark == ""
    with write():
        PeriodMark.update(published_at=now()).execute()
    (row,) = diary.term_marks(ivanov, school.classes["5А"], q1.id).subjects
    assert row.period_mark == "4"


def test_data_as_of_is_the_newest_published_change_of_that_student(school):
    work_type = make_work_types()[0]
    ivanov, petrova = school.students["5А"][:2]
    monday = study_week(school)
    day = dt.timedelta(days=1)
    stamps = [now() - 3 * day, now() - 2 * day, now() - day, now() + day, None]
    owners = [ivanov, ivanov, petrova, ivanov, ivanov]
    for number, (owner, stamp) in enumerate(zip(owners, stamps, strict=True), 3):
        given = mark(lesson(school, monday, number, published_at=stamps[0]), owner, "4", work_type)
        with write():
            Mark.update(published_at=stamp).where(Mark.id == given.id).execute()
    # petrova's newer mark, the future stamp and the unpublished mark do not count
    assert diary.data_as_of(ivanov) == stamps[1]
