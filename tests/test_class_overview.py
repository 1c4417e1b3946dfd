"""The class teacher's overview (§7.3) and КТП progress per subject group (§4.6)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from appliance import class_overview, plan_progress
from appliance.access import ActiveRole
from appliance.models import (
    Assignment,
    Attendance,
    Lesson,
    Mark,
    PeriodMark,
    Plan,
    PlanLesson,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    Term,
    WorkType,
)

from .factories import PASSWORD

TODAY = dt.date.today()
DAY = dt.timedelta(days=1)


def lesson(group, day, topic="", state="held"):
    number = Lesson.select().where((Lesson.group == group) & (Lesson.date == day)).count() + 1
    return Lesson.create(group=group, date=day, number=number, topic=topic, state=state)


def mark(group, day, student, value, weight):
    work = WorkType.get_or_create(name="Работа", defaults={"weight": 1})[0]
    assignment = Assignment.create(lesson=lesson(group, day), work_type=work, weight=weight)
    Mark.create(assignment=assignment, student=student, value=value)


@pytest.fixture
def ov(school):
    """5А in its current quarter: maths (Смирнова) and history (Кузнецов, the class teacher)."""
    term = Term.create(
        year=school.year, kind="quarter", number=2, name="2 четверть",
        starts=TODAY - 30 * DAY, ends=TODAY + 30 * DAY, grade_from=2, grade_to=9,
    )  # fmt: skip
    cls = school.classes["5А"]
    ivanov, petrova, _ = school.students["5А"]
    history = SubjectGroup.create(
        year=school.year, school_class=cls, subject=Subject.create(name="История", short_name="Ист")
    )
    SubjectGroupTeacher.create(group=history, teacher=school.users["class_teacher"].person)
    for student in school.students["5А"]:
        SubjectGroupStudent.create(group=history, student=student, starts=school.year.starts)
    maths = school.group
    mark(maths, TODAY - 3 * DAY, ivanov, "5", 1)
    mark(maths, TODAY - 2 * DAY, ivanov, "4", 3)
    mark(maths, TODAY - 40 * DAY, ivanov, "2", 1)  # the previous quarter
    mark(history, TODAY - 2 * DAY, petrova, "3", 1)
    for day, student, code, group in [
        (TODAY - 5 * DAY, ivanov, "Н", maths),
        (TODAY - 4 * DAY, ivanov, "Н", history),
        (TODAY - 3 * DAY, ivanov, "Б", maths),
        (TODAY - 1 * DAY, ivanov, "ОП", maths),
        (TODAY - 1 * DAY, petrova, "УП", history),
        (TODAY - 45 * DAY, ivanov, "Н", maths),  # the previous quarter
    ]:
        Attendance.create(lesson=lesson(group, day), student=student, code=code)
    PeriodMark.create(group=maths, student=ivanov, kind="term", term=term, value="4")
    return school, cls, maths, history, term


def test_class_teacher_sees_every_subject_average_absence_and_term_mark(ov):
    school, cls, maths, history, term = ov
    ivanov, petrova, sidorov = school.students["5А"]
    active = ActiveRole("class_teacher", cls.id)
    groups = class_overview.class_groups(ivanov, active, cls)
    assert [g.subject.name for g in groups] == ["История", "Математика"]
    view = class_overview.class_overview(cls, groups, TODAY)
    assert view.term.id == term.id
    assert [s.last_name for s in view.students] == ["Иванов", "Петрова", "Сидоров"]
    cell = view.cell(ivanov, maths)
    assert (cell.average, cell.count, cell.period_mark) == (Decimal("4.25"), 2, "4")
    assert view.cell(petrova, history).average == Decimal("3.00")
    assert view.cell(sidorov, maths) is None
    assert [view.absent(ivanov, c) for c in ("Н", "Б", "УП", "ОП")] == [2, 1, 0, 1]
    assert view.absent(petrova, "УП") == 1


def test_a_subject_teacher_sees_only_their_own_subjects(ov):
    school, cls, maths, _, _ = ov
    smirnova = school.users["teacher"].person
    active = ActiveRole("teacher")
    assert class_overview.may_view(smirnova, active, cls)
    assert not class_overview.may_view(smirnova, active, school.classes["5Б"])
    groups = class_overview.class_groups(smirnova, active, cls)
    assert [g.id for g in groups] == [maths.id]
    view = class_overview.class_overview(cls, groups, TODAY)
    ivanov = school.students["5А"][0]
    assert view.absent(ivanov, "Н") == 1  # the history absence is not theirs to see


def test_overview_page_scopes(ov, browser):
    school, cls, _, _, _ = ov
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    page = browser.get(f"/periods/class/{cls.id}").get_data(as_text=True)
    assert "Иванов Пётр" in page and "4.25" in page and "Ист" in page
    assert browser.get(f"/periods/class/{school.classes['5Б'].id}").status_code == 404
    browser.logout()
    browser.login("orlova.mi", PASSWORD)
    page = browser.get(f"/periods/class/{cls.id}").get_data(as_text=True)
    assert "4.25" in page and "Оправдать пропуски" not in page
    browser.logout()
    browser.login("ivanov.p", PASSWORD)
    assert browser.get(f"/periods/class/{cls.id}").status_code == 403


# --- КТП progress ----------------------------------------------------------------------------


def plan(group, state="approved", version=1, rows=()):
    p = Plan.create(group=group, state=state, version=version)
    for position, (hours, day) in enumerate(rows, start=1):
        PlanLesson.create(
            plan=p, position=position, topic=f"Тема {position}", hours=hours, planned_date=day
        )
    return p


def test_progress_counts_dated_plan_hours_against_conducted_lessons(school):
    group = school.group
    plan(group, rows=[(2, TODAY - 10 * DAY), (1, TODAY - 5 * DAY), (1, TODAY + 5 * DAY)])
    plan(group, state="draft", version=2, rows=[(9, TODAY - 30 * DAY)])  # not approved
    lesson(group, TODAY - 10 * DAY, topic="Дроби")
    lesson(group, TODAY - 9 * DAY, state="planned", topic="")  # not conducted
    lesson(group, TODAY - 8 * DAY, state="cancelled", topic="Отменён")
    (row,) = plan_progress.progress([group], TODAY)
    assert (row.plan.version, row.plan_hours, row.planned, row.conducted) == (1, 4, 3, 1)
    assert (row.delta, row.status) == (-2, "behind")
    # Today's first lesson gets its topic, another one its attendance.
    Lesson.update(topic="Проценты").where((Lesson.date == TODAY) & (Lesson.number == 1)).execute()
    lesson(group, TODAY - 2 * DAY)
    assert plan_progress.progress([group], TODAY)[0].status == "on_track"
    lesson(group, TODAY - 3 * DAY)
    (row,) = plan_progress.progress([group], TODAY)
    assert (row.delta, row.status) == (1, "ahead")
    tomorrow = TODAY + DAY
    Lesson.update(topic="Завтрашняя тема").where(Lesson.date == tomorrow).execute()
    assert plan_progress.progress([group], TODAY)[0].conducted == 4  # the future never counts


def test_a_many_hour_plan_row_counts_the_meetings_since_it_began(school):
    group = school.group
    plan(group, rows=[(2, TODAY - 20 * DAY), (4, TODAY - 3 * DAY), (1, TODAY + 4 * DAY)])
    for days_ago in (20, 17, 3, 1):
        lesson(group, TODAY - days_ago * DAY)
    # The 4-hour row began 3 days ago; the group met then, yesterday and today (twice).
    (row,) = plan_progress.progress([group], TODAY)
    assert (row.plan_hours, row.planned, row.conducted) == (7, 2 + 4, 4)
    (row,) = plan_progress.progress([group], TODAY - DAY)
    assert row.planned == 2 + 2
    hours = plan_progress.PlanHours(total=7, dated=True, begun=6, last_hours=4, last_date=TODAY)
    assert plan_progress.planned_by_dates(hours, 0) == 2 + 1  # a row begun counts one hour
    assert plan_progress.planned_by_dates(plan_progress.PlanHours(total=7, dated=True), 0) == 0


def test_undated_plan_is_spread_over_school_days(school):
    group = school.group
    plan(group, rows=[(1, None)] * 170)
    year = school.year
    weekdays = [
        year.starts + n * DAY
        for n in range((year.ends - year.starts).days + 1)
        if (year.starts + n * DAY).weekday() < 5
    ]
    elapsed = sum(1 for d in weekdays if d <= TODAY)
    (row,) = plan_progress.progress([group], TODAY)
    assert row.planned == round(170 * elapsed / len(weekdays))
    assert plan_progress.share_to_date(34, 0, 170) == 0
    assert plan_progress.share_to_date(34, 85, 170) == 17
    assert plan_progress.share_to_date(34, 400, 170) == 34


def test_a_group_without_a_plan_shows_no_plan(school):
    (row,) = plan_progress.progress([school.group], TODAY)
    assert (row.plan, row.planned, row.status) == (None, None, "no_plan")


def test_progress_page_for_teacher_and_deputy(school, browser):
    plan(school.group, rows=[(3, TODAY - DAY)])
    browser.login("smirnova.ev", PASSWORD)
    page = browser.get("/periods/progress").get_data(as_text=True)
    assert "Математика — 5А" in page and "отставание 2 ч" in page
    browser.logout()
    browser.login("belova.os", PASSWORD)
    page = browser.get(f"/periods/progress?class_id={school.classes['5Б'].id}").get_data(
        as_text=True
    )
    assert "Математика — 5А" not in page and "Групп нет" in page
