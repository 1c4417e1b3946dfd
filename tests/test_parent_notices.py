"""Students at risk (§4.3, §7.4): failing and truant students, with the facts, in a fixed
number of queries, each reader seeing only whom they answer for."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from decimal import Decimal

import pytest

from appliance.access import ActiveRole
from appliance.db import write
from appliance.models import (
    Assignment,
    Attendance,
    Enrollment,
    Guardian,
    Lesson,
    Mark,
    Notification,
    Person,
    School,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    User,
    WorkType,
    now,
)
from appliance.parent_notices import risk
from appliance.parent_notices.parents import parent_contacts

from .factories import PASSWORD, SchoolFactory
from .test_access import ROLE_ACCOUNTS, ROLES, app_routes, expected, sample_args
from .test_grid import counted_queries

NUMBERS = itertools.count(10)  # lesson numbers not used by the factory's lessons


def lesson(group: SubjectGroup, day: dt.date | None = None, **fields) -> Lesson:
    teacher = SubjectGroupTeacher.get(SubjectGroupTeacher.group == group).teacher
    return Lesson.create(
        group=group, date=day or dt.date.today(), number=next(NUMBERS), teacher=teacher, **fields
    )


def give_marks(
    group: SubjectGroup,
    student: Person,
    values: list[str],
    *,
    day: dt.date | None = None,
    weight: int = 1,
    published: bool = True,
) -> None:
    """One lesson per mark, so each mark carries its own weight."""
    with write():
        work_type, _ = WorkType.get_or_create(name="Ответ на уроке", defaults={"weight": 1})
        for value in values:
            assignment = Assignment.create(
                lesson=lesson(group, day), work_type=work_type, weight=weight
            )
            Mark.create(
                assignment=assignment,
                student=student,
                value=value,
                published_at=now() - dt.timedelta(minutes=1) if published else None,
            )


def give_absences(
    group: SubjectGroup, student: Person, n: int, code: str = "Н", **lesson_fields
) -> None:
    with write():
        for _ in range(n):
            Attendance.create(
                lesson=lesson(group, **lesson_fields),
                student=student,
                code=code,
                published_at=now() - dt.timedelta(minutes=1),
            )


def second_subject(school, teacher_key: str = "class_teacher") -> SubjectGroup:
    """Russian in 5А, taught by someone other than smirnova.ev."""
    with write():
        subject = Subject.create(name="Русский язык", short_name="Рус", sort_order=1)
        group = SubjectGroup.create(
            year=school.year, school_class=school.classes["5А"], subject=subject
        )
        SubjectGroupTeacher.create(group=group, teacher=school.users[teacher_key].person)
        for student in school.students["5А"]:
            SubjectGroupStudent.create(group=group, student=student, starts=school.year.starts)
    return group


def as_role(school, key: str) -> tuple[Person, ActiveRole]:
    role = {
        "class_teacher": ActiveRole("class_teacher", school.classes["5А"].id),
    }.get(key, ActiveRole(key))
    return school.users[key].person, role


def risks_of(school, key: str = "teacher", **kwargs) -> list[risk.Risk]:
    person, role = as_role(school, key)
    return risk.at_risk(person, role, **kwargs)


def reasons(rows: list[risk.Risk]) -> set[tuple[str, str, str]]:
    return {(r.student.last_name, r.kind, r.subject_name) for r in rows}


# --- failing --------------------------------------------------------------------------------


def test_average_at_the_threshold_is_not_failing_and_below_it_is(school):
    ivanov, petrova, _ = school.students["5А"]
    give_marks(school.group, ivanov, ["2", "2", "3", "3", "3"])  # 13/5 = 2.60
    give_marks(school.group, petrova, ["2", "2", "2", "3", "3"])  # 12/5 = 2.40
    rows = risks_of(school)
    assert reasons(rows) == {("Петрова", "failing", "Математика")}
    (row,) = rows
    assert (row.average, row.predicted, row.marks) == (Decimal("2.40"), "2", 5)
    assert row.group == school.group and row.notified is None


def test_weights_count_in_the_average(school):
    ivanov = school.students["5А"][0]
    give_marks(school.group, ivanov, ["3"], weight=3)
    give_marks(school.group, ivanov, ["2"], weight=2)  # 13/5 = 2.60: not failing
    assert risks_of(school) == []
    give_marks(school.group, ivanov, ["2"], weight=1)  # 15/6 = 2.50: failing
    (row,) = risks_of(school)
    assert (row.average, row.predicted) == (Decimal("2.50"), "2")


def test_predicted_two_is_failing_even_when_the_average_clears_the_threshold(school):
    ivanov = school.students["5А"][0]
    with write():
        School.update(failing_average_threshold=Decimal("2.00")).execute()
    give_marks(school.group, ivanov, ["2", "2", "3"])  # 2.33: over 2.00, but predicted «2»
    (row,) = risks_of(school)
    assert row.predicted == "2" and row.average == Decimal("2.33")


def test_too_few_marks_for_a_prediction_still_fail_by_the_average(school):
    ivanov = school.students["5А"][0]
    give_marks(school.group, ivanov, ["2"])  # one mark: «н/а», average 2.00 < 2.60
    (row,) = risks_of(school)
    assert (row.predicted, row.average, row.marks) == ("н/а", Decimal("2.00"), 1)


def test_good_students_and_students_without_marks_are_not_at_risk(school):
    ivanov, petrova, _ = school.students["5А"]
    give_marks(school.group, ivanov, ["4", "5", "3"])
    assert risks_of(school) == []


def test_marks_outside_the_current_term_do_not_count(school):
    terms = school.add_planning()["terms"]
    ivanov = school.students["5А"][0]
    today = dt.date.today()
    current = next((t for t in terms if t.starts <= today <= t.ends), None)
    if current is None:
        pytest.skip("today is in the holidays: no term contains it")
    give_marks(school.group, ivanov, ["2", "2", "2"], day=current.starts - dt.timedelta(days=3))
    assert risks_of(school) == []
    give_marks(school.group, ivanov, ["2"], day=current.starts)
    (row,) = risks_of(school)
    assert row.marks == 1 and row.period.term == current


def test_grade_one_learns_without_marks_so_nobody_fails_there(school):
    with write():
        school.classes["5А"].grade = 1
        school.classes["5А"].save()
    give_marks(school.group, school.students["5А"][0], ["2", "2", "2"])
    assert risks_of(school) == []


# --- absences -------------------------------------------------------------------------------


def test_absences_at_the_threshold_are_allowed_and_one_more_is_not(school):
    ivanov, petrova, _ = school.students["5А"]
    give_absences(school.group, ivanov, 5)  # the school allows 5
    give_absences(school.group, petrova, 6)
    rows = risks_of(school)
    assert reasons(rows) == {("Петрова", "absences", "Математика")}
    assert rows[0].absences == 6


def test_excused_absences_and_cancelled_lessons_do_not_count(school):
    ivanov = school.students["5А"][0]
    give_absences(school.group, ivanov, 5)
    give_absences(school.group, ivanov, 3, code="УП")
    give_absences(school.group, ivanov, 2, code="Б")
    give_absences(school.group, ivanov, 2, state="cancelled")
    assert risks_of(school) == []


def test_a_teacher_counts_own_lessons_and_the_class_teacher_every_subject(school):
    russian = second_subject(school)
    ivanov = school.students["5А"][0]
    give_absences(school.group, ivanov, 3)
    give_absences(russian, ivanov, 3)
    assert risks_of(school, "teacher") == []  # 3 in mathematics
    (row,) = risks_of(school, "class_teacher")  # 6 in all
    assert (row.kind, row.group, row.absences) == ("absences", None, 6)
    assert row.subject_name == ""


def test_class_teacher_sees_every_subject_of_the_class_and_a_teacher_only_own(school):
    russian = second_subject(school)
    ivanov, petrova, _ = school.students["5А"]
    give_marks(school.group, ivanov, ["2", "2", "2"])
    give_marks(russian, petrova, ["2", "2", "2"])
    assert reasons(risks_of(school, "teacher")) == {("Иванов", "failing", "Математика")}
    assert reasons(risks_of(school, "class_teacher")) == {
        ("Иванов", "failing", "Математика"),
        ("Петрова", "failing", "Русский язык"),
    }


def test_the_office_sees_the_school_and_can_narrow_it_to_a_class(school):
    with write():
        group_b = SubjectGroup.create(
            year=school.year, school_class=school.classes["5Б"], subject=school.group.subject
        )
        SubjectGroupTeacher.create(group=group_b, teacher=school.users["teacher"].person)
        fedorov = school.students["5Б"][0]
        SubjectGroupStudent.create(group=group_b, student=fedorov, starts=school.year.starts)
    give_marks(school.group, school.students["5А"][0], ["2", "2"])
    give_absences(group_b, fedorov, 7)
    for key in ("deputy", "director", "inspector"):
        assert reasons(risks_of(school, key)) == {
            ("Иванов", "failing", "Математика"),
            ("Фёдоров", "absences", ""),
        }
    only_b = risks_of(school, "deputy", class_id=school.classes["5Б"].id)
    assert reasons(only_b) == {("Фёдоров", "absences", "")}
    assert risks_of(school, "admin") == [] and risks_of(school, "parent") == []


def test_a_student_moved_to_another_subgroup_is_listed_once(school):
    ivanov = school.students["5А"][0]
    today = dt.date.today()
    with write():
        school.group.subgroup = 1
        school.group.save()
        second = SubjectGroup.create(
            year=school.year,
            school_class=school.classes["5А"],
            subject=school.group.subject,
            subgroup=2,
        )
        SubjectGroupTeacher.create(group=second, teacher=school.users["teacher"].person)
        SubjectGroupStudent.update(ends=today - dt.timedelta(days=1)).where(
            SubjectGroupStudent.student == ivanov
        ).execute()
        SubjectGroupStudent.create(group=second, student=ivanov, starts=today)
    give_marks(school.group, ivanov, ["2", "2"], day=today - dt.timedelta(days=2))
    give_marks(second, ivanov, ["2"])
    (row,) = risks_of(school)
    assert row.group == second and row.marks == 3  # the marks of both subgroups count


@pytest.mark.parametrize("key", ["teacher", "class_teacher"])
def test_the_list_costs_the_same_queries_for_three_students_or_thirty(school, key):
    ivanov, petrova, _ = school.students["5А"]
    give_marks(school.group, ivanov, ["2", "2"])
    give_absences(school.group, petrova, 6)
    with counted_queries() as small:
        assert len(risks_of(school, key)) == 2
    with write():
        newcomers = [SchoolFactory.person(f"Новиков{i}", "Ян") for i in range(27)]
        for person in newcomers:
            SubjectGroupStudent.create(
                group=school.group, student=person, starts=school.year.starts
            )
            Enrollment.create(
                student=person, school_class=school.classes["5А"], starts=school.year.starts
            )
    for person in newcomers:
        give_marks(school.group, person, ["2", "3", "2"])
        give_absences(school.group, person, 6)
    with counted_queries() as large:
        rows = risks_of(school, key)
    assert len(rows) == 2 + 2 * 27
    assert len(large) == len(small), large


def test_parents_with_an_issued_password_are_reached_in_the_app(school):
    ivanov = school.students["5А"][0]
    with write():
        father = SchoolFactory.person("Иванов", "Сергей", "Петрович")
        Guardian.create(parent=father, student=ivanov, relation="отец")
        school.account(father, "ivanov.sp", ("parent", None))
        User.update(password_hash=None).where(User.username == "ivanov.sp").execute()
    contacts = parent_contacts([ivanov.id])[ivanov.id]
    channels = {c.parent.first_name: c.channel for c in contacts}
    assert channels == {"Ольга": "app", "Сергей": "letter"}  # no password issued yet


# --- the page -------------------------------------------------------------------------------


def test_the_page_shows_why_and_who_the_parents_are(browser, school):
    give_marks(school.group, school.students["5А"][1], ["2", "2", "3"])
    give_absences(school.group, school.students["5А"][0], 6)
    browser.login("smirnova.ev", PASSWORD)
    page = browser.get("/at-risk/").get_data(as_text=True)
    assert "Петрова Анна" in page and "ср. балл 2,33 (3 отм.), ожидается «2»" in page
    assert "Иванов Пётр" in page and "«Н»: 6 (допустимо 5)" in page
    assert "в приложении" in page and "письмо" in page  # Ivanova has an account, Petrova not
    assert page.count('action="/at-risk/students/') == 2
    assert "Сидоров" not in page


def test_the_office_reads_the_list_without_buttons_and_filters_by_class(browser, school):
    give_marks(school.group, school.students["5А"][1], ["2", "2", "3"])
    browser.login("belova.os", PASSWORD)
    page = browser.get("/at-risk/").get_data(as_text=True)
    assert "Петрова Анна" in page and "/notify" not in page
    other = browser.get(f"/at-risk/?class={school.classes['5Б'].id}").get_data(as_text=True)
    assert "Петрова Анна" not in other and "Учеников в зоне риска нет" in other
    assert browser.get("/at-risk/?class=abc").status_code == 400


@pytest.mark.parametrize("username", ["ivanov.p", "ivanova.m", "zaytsev.io"])
def test_students_parents_and_the_admin_cannot_open_the_list(browser, school, username):
    browser.login(username, PASSWORD)
    assert browser.get("/at-risk/").status_code == 403
    assert browser.get("/at-risk/log").status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_the_at_risk_routes_obey_the_matrix_in_the_access_walk(role, app, browser, school):
    """What tests/test_access.py checks for every route, for these routes (kept local so a
    break here names this area)."""
    give_marks(school.group, school.students["5А"][0], ["2", "2"])
    assert browser.login(ROLE_ACCOUNTS[role], PASSWORD, role=school.role_key(role)).status_code
    args = sample_args(school)
    failures = []
    for (endpoint, method), (rule, rights) in app_routes(app).items():
        if not endpoint.startswith("atrisk."):
            continue
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(args[m.group(1)]), rule)
        status = (browser.get(url) if method == "GET" else browser.post(url, {})).status_code
        allowed = expected(role, rights) == "allowed"
        if (allowed and status not in (200, 302, 400)) or (not allowed and status != 403):
            failures.append(f"{method} {url}: {status}")
    assert not failures
    assert Notification.select().count() == 0  # an empty POST sends nothing
