"""The journal grid: what it shows, who may see it, and every cell write's server rules."""

from __future__ import annotations

import datetime as dt
import re
from contextlib import contextmanager
from decimal import Decimal

import pytest

from appliance import grid, journal
from appliance.access import ActiveRole
from appliance.db import write
from appliance.grading import weighted_average
from appliance.models import (
    Assignment,
    Attendance,
    AuditEntry,
    Enrollment,
    Lesson,
    Mark,
    OutboxEntry,
    Person,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    Term,
    WorkType,
    database,
)

from .factories import PASSWORD, SchoolFactory

HTMX = {"HX-Request": "true"}


@pytest.fixture
def work_types(school):
    with write():
        answer = WorkType.create(
            name="Ответ на уроке", short_name="Отв", weight=1, is_default=True, sort_order=1
        )
        test = WorkType.create(name="Контрольная работа", short_name="КР", weight=3, sort_order=2)
    return answer, test


@pytest.fixture
def other_group(school):
    """Russian in 5Б, taught by another teacher."""
    with write():
        teacher = SchoolFactory.person("Волкова", "Ирина", "Петровна", staff=True)
        subject = Subject.create(name="Русский язык", short_name="Рус")
        group = SubjectGroup.create(
            year=school.year, school_class=school.classes["5Б"], subject=subject
        )
        SubjectGroupTeacher.create(group=group, teacher=teacher)
        for student in school.students["5Б"]:
            SubjectGroupStudent.create(group=group, student=student, starts=school.year.starts)
        Lesson.create(group=group, date=dt.date.today(), number=3, teacher=teacher)
    return group


def todays_lessons(school) -> list[Lesson]:
    return list(
        Lesson.select()
        .where((Lesson.group == school.group) & (Lesson.date == dt.date.today()))
        .order_by(Lesson.number)
    )


def add_assignment(lesson: Lesson, work_type: WorkType, weight: int | None = None) -> Assignment:
    with write():
        return Assignment.create(
            lesson=lesson, work_type=work_type, weight=weight or work_type.weight
        )


def give(school, assignment: Assignment, student: Person, value: str) -> None:
    journal.set_mark(assignment, student.id, value, user=school.users["teacher"], ip="")


def as_teacher(browser) -> None:
    assert browser.login("smirnova.ev", PASSWORD).status_code == 302


def cell_writes() -> tuple[int, int, int, int, int]:
    """Everything a refused cell write must leave untouched."""
    return (
        Mark.select().count(),
        Attendance.select().count(),
        Assignment.select().count(),
        AuditEntry.select().count(),
        OutboxEntry.select().count(),
    )


@contextmanager
def counted_queries():
    """Every SQL statement peewee sends while the block runs."""
    db = database.obj
    seen: list[str] = []
    original = db.execute_sql

    def execute_sql(sql, params=None, *args, **kwargs):
        if "user_session" not in sql:  # a session is touched once a minute, not per page
            seen.append(sql)
        return original(sql, params, *args, **kwargs)

    db.execute_sql = execute_sql
    try:
        yield seen
    finally:
        del db.execute_sql


# --- the list of groups -----------------------------------------------------------------


def test_teacher_journal_lists_own_groups_only(browser, school, other_group):
    as_teacher(browser)
    page = browser.get("/journal/").get_data(as_text=True)
    assert "Мои группы" in page
    assert f'href="/journal/{school.group.id}"' in page and "Математика" in page
    assert f'href="/journal/{other_group.id}"' not in page and "Русский язык" not in page


def test_deputy_sees_every_group_by_class(browser, school, other_group):
    browser.login("belova.os", PASSWORD)
    page = browser.get("/journal/").get_data(as_text=True)
    assert page.index("<h2>5А</h2>") < page.index("Математика") < page.index("<h2>5Б</h2>")
    assert page.index("<h2>5Б</h2>") < page.index("Русский язык")


def test_class_teacher_sees_own_class_groups(browser, school, other_group):
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    page = browser.get("/journal/").get_data(as_text=True)
    assert f'href="/journal/{school.group.id}"' in page
    assert f'href="/journal/{other_group.id}"' not in page


# --- the grid ---------------------------------------------------------------------------


def test_grid_shows_students_lessons_and_weighted_averages(browser, school, work_types):
    answer, test = work_types
    first, second = todays_lessons(school)
    oral = add_assignment(first, answer)
    control = add_assignment(second, test)
    ivanov, petrova, _ = school.students["5А"]
    give(school, oral, ivanov, "5")
    give(school, control, ivanov, "3")
    give(school, oral, petrova, "4")
    journal.set_attendance(second, petrova.id, "н", user=school.users["teacher"], ip="")

    as_teacher(browser)
    response = browser.get(f"/journal/{school.group.id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.index("Иванов Пётр") < page.index("Петрова Анна") < page.index("Сидоров Илья")
    # (5·1 + 3·3) / (1 + 3) = 3.50; Petrova 4 alone; Sidorov has no marks
    assert re.search(rf'id="avg-{ivanov.id}"[^>]*>3,50<', page)
    assert re.search(rf'id="cnt-{ivanov.id}"[^>]*>2<', page)
    assert re.search(rf'id="avg-{petrova.id}"[^>]*>4,00<', page)
    assert re.search(rf'id="avg-{school.students["5А"][2].id}"[^>]*>—<', page)
    assert f'data-assignment="{control.id}"' in page and "КР<small>×3</small>" in page
    assert 'scope="row"' in page and 'scope="colgroup"' in page
    assert 'aria-label="' + first.date.strftime("%d.%m") + ', посещаемость"' in page
    row = re.search(rf'<tr data-student="{petrova.id}">(.*?)</tr>', page, re.S).group(1)
    assert re.findall(r"<td>([^<]*)</td>", row)[:4] == ["4", "", "", "Н"]


def test_grid_averages_equal_the_grading_rule(school, work_types):
    answer, test = work_types
    first, second = todays_lessons(school)
    marks = [("5", add_assignment(first, answer, 2)), ("2", add_assignment(second, test, 5))]
    ivanov = school.students["5А"][0]
    for value, assignment in marks:
        give(school, assignment, ivanov, value)
    data = grid.load_grid(school.group, writer=school.users["teacher"].person)
    row = next(r for r in data.rows if r.student.id == ivanov.id)
    assert row.average == Decimal("2.85") == weighted_average([("5", 2), ("2", 5)])
    assert row.marks_count == 2


def test_future_lessons_are_locked_for_writing(browser, school, work_types):
    as_teacher(browser)
    page = browser.get(f"/journal/{school.group.id}").get_data(as_text=True)
    tomorrow = Lesson.get((Lesson.group == school.group) & (Lesson.date > dt.date.today()))
    assert re.search(
        rf'data-kind="attendance" data-lesson="{tomorrow.id}" data-locked="Урок ещё не прошёл', page
    )
    today = todays_lessons(school)[0]
    assert not re.search(rf'data-lesson="{today.id}" data-locked', page)
    # A test can still be planned on it.
    assert f'<option value="{tomorrow.id}">' in page and 'data-writable="1"' in page


def test_readers_get_a_read_only_grid(browser, school, work_types):
    browser.login("belova.os", PASSWORD)
    page = browser.get(f"/journal/{school.group.id}").get_data(as_text=True)
    assert 'data-writable="0"' in page
    assert 'id="add-assignment"' not in page and "data-add-lesson" not in page
    assert 'class="new"' not in page  # no empty columns waiting for a first mark
    assert 'id="history-button"' in page


def test_student_who_left_the_group_gets_disabled_cells(browser, school, work_types):
    sidorov = school.students["5А"][2]
    with write():
        SubjectGroupStudent.update(ends=dt.date.today() - dt.timedelta(days=1)).where(
            SubjectGroupStudent.student == sidorov
        ).execute()
    as_teacher(browser)
    page = browser.get(f"/journal/{school.group.id}").get_data(as_text=True)
    row = re.search(rf'<tr data-student="{sidorov.id}">(.*?)</tr>', page, re.S).group(1)
    assert row.count('<td class="x" aria-disabled="true"></td>') == 6  # 3 lessons × 2 columns


def test_grade_one_grid_has_attendance_only(browser, school, work_types):
    teacher = school.users["teacher"].person
    with write():
        first_grade = SchoolClass.create(year=school.year, grade=1, letter="А")
        group = SubjectGroup.create(
            year=school.year, school_class=first_grade, subject=Subject.get(name="Математика")
        )
        SubjectGroupTeacher.create(group=group, teacher=teacher)
        pupil = SchoolFactory.person("Алексеев", "Миша")
        Enrollment.create(student=pupil, school_class=first_grade, starts=school.year.starts)
        SubjectGroupStudent.create(group=group, student=pupil, starts=school.year.starts)
        lesson = Lesson.create(group=group, date=dt.date.today(), number=4, teacher=teacher)
    as_teacher(browser)
    page = browser.get(f"/journal/{group.id}").get_data(as_text=True)
    assert "Безотметочное обучение" in page and "Алексеев Миша" in page
    assert 'data-kind="attendance"' in page
    assert 'data-kind="mark"' not in page and "Ср. балл" not in page
    response = browser.post(
        f"/journal/{group.id}/assignments",
        {"lesson": lesson.id, "work_type": work_types[0].id},
        follow_redirects=True,
    )
    assert "оценки не ставятся" in response.get_data(as_text=True)
    assert Assignment.select().count() == 0


def test_pass_fail_marks_count_but_make_no_average(browser, school, work_types):
    teacher = school.users["teacher"].person
    ivanov = school.students["5А"][0]
    with write():
        subject = Subject.create(name="Физкультура", short_name="Физ", scale="pass_fail")
        group = SubjectGroup.create(
            year=school.year, school_class=school.classes["5А"], subject=subject
        )
        SubjectGroupTeacher.create(group=group, teacher=teacher)
        SubjectGroupStudent.create(group=group, student=ivanov, starts=school.year.starts)
        lesson = Lesson.create(group=group, date=dt.date.today(), number=5, teacher=teacher)
    as_teacher(browser)
    response = browser.post(
        "/journal/marks", {"lesson": lesson.id, "student": ivanov.id, "value": "з", "term": "0"}
    )
    assert 'data-value="зач"' in response.get_data(as_text=True)
    page = browser.get(f"/journal/{group.id}").get_data(as_text=True)
    assert 'data-scale="pass_fail"' in page and "<td>зач</td>" in page
    assert re.search(rf'id="avg-{ivanov.id}"[^>]*>—<', page)
    assert re.search(rf'id="cnt-{ivanov.id}"[^>]*>1<', page)


@pytest.mark.parametrize(
    ("username", "status"),
    [
        ("smirnova.ev", 200),
        ("belova.os", 200),
        ("orlova.mi", 200),
        ("titov.pa", 200),
        ("ivanov.p", 403),
        ("zaytsev.io", 403),
    ],
)
def test_grid_access_by_role(browser, school, username, status):
    browser.login(username, PASSWORD)
    assert browser.get(f"/journal/{school.group.id}").status_code == status


def test_grid_out_of_scope_is_not_found(browser, school, other_group):
    as_teacher(browser)
    assert browser.get(f"/journal/{other_group.id}").status_code == 404
    assert browser.get("/journal/999999").status_code == 404
    browser.logout()
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    assert browser.get(f"/journal/{school.group.id}").status_code == 200
    assert browser.get(f"/journal/{other_group.id}").status_code == 404


def make_terms(school) -> tuple[Term, Term, Term]:
    starts = school.year.starts
    with write():
        q1 = Term.create(
            year=school.year,
            kind="quarter",
            number=1,
            name="1 четверть",
            starts=starts,
            ends=starts + dt.timedelta(days=60),
        )
        q2 = Term.create(
            year=school.year,
            kind="quarter",
            number=2,
            name="2 четверть",
            starts=starts + dt.timedelta(days=70),
            ends=starts + dt.timedelta(days=120),
        )
        whole = Term.create(
            year=school.year,
            kind="year",
            number=1,
            name="Год",
            starts=starts,
            ends=school.year.ends,
        )
    return q1, q2, whole


def test_default_term_contains_today_else_the_last_begun(school):
    q1, q2, whole = make_terms(school)
    group = grid.readable_group(school.group.id, Person(), ActiveRole("deputy"))
    periods = grid.periods_of(group)
    assert [p.name for p in periods] == ["1 четверть", "2 четверть", "Год"]
    starts = school.year.starts

    def default_on(day):
        return grid.default_period(group, periods, day).id

    assert default_on(starts + dt.timedelta(days=10)) == q1.id
    assert default_on(starts + dt.timedelta(days=80)) == q2.id
    assert default_on(starts + dt.timedelta(days=65)) == whole.id  # the break: only the year
    assert default_on(school.year.ends + dt.timedelta(days=5)) == q2.id  # after the year
    assert default_on(starts - dt.timedelta(days=5)) == q1.id  # before it


def test_term_selector_shows_that_terms_lessons(browser, school):
    q1, q2, _ = make_terms(school)
    teacher = school.users["teacher"].person
    with write():
        in_q1 = Lesson.create(
            group=school.group, date=q1.starts + dt.timedelta(days=2), number=6, teacher=teacher
        )
        in_q2 = Lesson.create(
            group=school.group, date=q2.starts + dt.timedelta(days=2), number=6, teacher=teacher
        )
    as_teacher(browser)
    page = browser.get(f"/journal/{school.group.id}?term={q1.id}").get_data(as_text=True)
    assert f'id="lesson-{in_q1.id}"' in page and f'id="lesson-{in_q2.id}"' not in page
    assert f'href="/journal/{school.group.id}?term={q2.id}"' in page
    assert browser.get(f"/journal/{school.group.id}?term=999999").status_code == 404


def test_grid_query_count_does_not_grow_with_lessons_or_students(browser, school, work_types):
    as_teacher(browser)
    url = f"/journal/{school.group.id}"
    browser.get(url)
    with counted_queries() as small:
        assert browser.get(url).status_code == 200
    teacher = school.users["teacher"].person
    with write():
        newcomers = [SchoolFactory.person(f"Новиков{i}", "Ян") for i in range(10)]
        for person in newcomers:
            SubjectGroupStudent.create(group=school.group, student=person, starts=dt.date.today())
        for k in range(40):
            lesson = Lesson.create(
                group=school.group,
                date=school.year.starts + dt.timedelta(days=k),
                number=7,
                teacher=teacher,
            )
            for work_type in work_types:
                assignment = Assignment.create(
                    lesson=lesson, work_type=work_type, weight=work_type.weight
                )
                for student in [*school.students["5А"], *newcomers]:
                    Mark.create(assignment=assignment, student=student, value="4")
            Attendance.create(lesson=lesson, student=newcomers[0], code="Н")
    with counted_queries() as large:
        page = browser.get(url).get_data(as_text=True)
    assert page.count('data-kind="mark"') > 80
    assert len(large) == len(small) < 30, "\n".join(large)


# --- cell writes: the server's rules ------------------------------------------------------


def test_mark_of_seven_is_refused_in_russian_and_nothing_is_written(browser, school, work_types):
    assignment = add_assignment(todays_lessons(school)[0], work_types[0])
    before = cell_writes()
    as_teacher(browser)
    ivanov = school.students["5А"][0]
    response = browser.post(
        "/journal/marks", {"assignment": assignment.id, "student": ivanov.id, "value": "7"}
    )
    assert response.status_code == 400
    assert "допустимы 2, 3, 4, 5" in response.get_data(as_text=True)
    assert cell_writes() == before


def test_attendance_code_zh_is_refused(browser, school):
    lesson = todays_lessons(school)[0]
    before = cell_writes()
    as_teacher(browser)
    response = browser.post(
        "/journal/attendance",
        {"lesson": lesson.id, "student": school.students["5А"][0].id, "value": "ж"},
    )
    assert response.status_code == 400
    assert "нет такой отметки посещаемости" in response.get_data(as_text=True)
    assert cell_writes() == before


def test_mark_on_another_teachers_lesson_is_forbidden(browser, school, other_group, work_types):
    lesson = Lesson.get(Lesson.group == other_group)
    assignment = add_assignment(lesson, work_types[0])
    before = cell_writes()
    as_teacher(browser)
    student = school.students["5Б"][0]
    response = browser.post(
        "/journal/marks", {"assignment": assignment.id, "student": student.id, "value": "5"}
    )
    assert response.status_code == 403
    assert "урок другого учителя" in response.get_data(as_text=True)
    response = browser.post(
        "/journal/marks", {"lesson": lesson.id, "student": student.id, "value": "5"}
    )
    assert response.status_code == 403
    assert cell_writes() == before


def test_tampered_student_id_is_refused(browser, school, work_types):
    assignment = add_assignment(todays_lessons(school)[0], work_types[0])
    before = cell_writes()
    as_teacher(browser)
    stranger = school.students["5Б"][0]  # exists, but not in this group
    for form in (
        {"assignment": assignment.id, "student": stranger.id, "value": "5"},
        {"lesson": todays_lessons(school)[1].id, "student": stranger.id, "value": "5"},
    ):
        response = browser.post("/journal/marks", form)
        assert response.status_code == 400
        assert "нет в группе" in response.get_data(as_text=True)
    response = browser.post(
        "/journal/attendance",
        {"lesson": assignment.lesson_id, "student": stranger.id, "value": "н"},
    )
    assert response.status_code == 400
    assert (
        browser.post("/journal/marks", {"assignment": assignment.id, "student": "x"}).status_code
        == 400
    )
    assert cell_writes() == before


def test_clearing_a_mark_deletes_it_with_audit_and_outbox(browser, school, work_types):
    assignment = add_assignment(todays_lessons(school)[0], work_types[0])
    ivanov = school.students["5А"][0]
    give(school, assignment, ivanov, "4")
    as_teacher(browser)
    response = browser.post(
        "/journal/marks", {"assignment": assignment.id, "student": ivanov.id, "value": ""}
    )
    assert response.status_code == 200
    assert 'data-value=""' in response.get_data(as_text=True)
    assert Mark.select().count() == 0
    assert AuditEntry.select().where(AuditEntry.action == "mark.delete").count() == 1
    assert OutboxEntry.select().where(OutboxEntry.op == "delete").count() == 1


def test_attendance_typed_lowercase_is_stored_as_its_code(browser, school):
    lesson = todays_lessons(school)[0]
    petrova = school.students["5А"][1]
    as_teacher(browser)
    response = browser.post(
        "/journal/attendance", {"lesson": lesson.id, "student": petrova.id, "value": "уп"}
    )
    assert response.status_code == 200
    assert 'data-value="УП"' in response.get_data(as_text=True)
    assert Attendance.get(Attendance.student == petrova).code == "УП"


def test_first_mark_in_an_empty_lesson_column_makes_the_default_assignment(
    browser, school, work_types
):
    lesson = todays_lessons(school)[0]
    ivanov = school.students["5А"][0]
    as_teacher(browser)
    response = browser.post(
        "/journal/marks", {"lesson": lesson.id, "student": ivanov.id, "value": "5", "term": "0"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assignment = Assignment.get(Assignment.lesson == lesson)
    assert assignment.work_type.name == "Ответ на уроке" and assignment.weight == 1
    assert f'data-assignment="{assignment.id}"' in page and 'data-value="5"' in page
    # The row's new totals come back for an out-of-band swap.
    assert re.search(rf'<span id="avg-{ivanov.id}"[^>]*hx-swap-oob="true">5,00<', page)
    assert re.search(rf'<span id="cnt-{ivanov.id}" hx-swap-oob="true">1<', page)
    # The next mark in that column goes to the same assignment.
    browser.post("/journal/marks", {"lesson": lesson.id, "student": ivanov.id, "value": "4"})
    assert Assignment.select().count() == 1
    assert Mark.get(Mark.student == ivanov).value == "4"


def test_refused_first_mark_leaves_no_empty_column(browser, school, work_types):
    lessons = todays_lessons(school)
    ivanov = school.students["5А"][0]
    before = cell_writes()
    as_teacher(browser)
    for value in ("7", ""):
        response = browser.post(
            "/journal/marks", {"lesson": lessons[0].id, "student": ivanov.id, "value": value}
        )
        assert response.status_code == (400 if value else 200)
    tomorrow = Lesson.get((Lesson.group == school.group) & (Lesson.date > dt.date.today()))
    response = browser.post(
        "/journal/marks", {"lesson": tomorrow.id, "student": ivanov.id, "value": "5"}
    )
    assert response.status_code == 400 and "ещё не прошёл" in response.get_data(as_text=True)
    assert cell_writes() == before


def test_readers_cannot_write_cells(browser, school, work_types):
    assignment = add_assignment(todays_lessons(school)[0], work_types[0])
    browser.login("belova.os", PASSWORD)
    response = browser.post(
        "/journal/marks",
        {"assignment": assignment.id, "student": school.students["5А"][0].id, "value": "5"},
    )
    assert response.status_code == 403
    assert Mark.select().count() == 0


# --- adding an assignment column ----------------------------------------------------------


def test_teacher_adds_an_assignment_column(browser, school, work_types):
    lesson = todays_lessons(school)[1]
    as_teacher(browser)
    response = browser.post(
        f"/journal/{school.group.id}/assignments",
        {"lesson": lesson.id, "work_type": work_types[1].id, "weight": "4", "term": "0"},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/journal/{school.group.id}?term=0")
    assignment = Assignment.get(Assignment.lesson == lesson)
    assert (assignment.work_type_id, assignment.weight) == (work_types[1].id, 4)
    page = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Добавлена работа «Контрольная работа» (вес 4)" in page
    assert f'data-assignment="{assignment.id}"' in page and "КР<small>×4</small>" in page
    assert AuditEntry.select().where(AuditEntry.action == "assignment.create").count() == 1


def test_assignment_with_bad_weight_is_refused(browser, school, work_types):
    lesson = todays_lessons(school)[1]
    as_teacher(browser)
    for weight, message in (("11", "Вес работы — от 1 до 10."), ("два", "целое число")):
        response = browser.post(
            f"/journal/{school.group.id}/assignments",
            {"lesson": lesson.id, "work_type": work_types[1].id, "weight": weight},
            follow_redirects=True,
        )
        assert message in response.get_data(as_text=True)
    assert Assignment.select().count() == 0


def test_assignment_outside_scope_is_refused(browser, school, other_group, work_types):
    foreign = Lesson.get(Lesson.group == other_group)
    as_teacher(browser)
    form = {"lesson": foreign.id, "work_type": work_types[0].id}
    assert browser.post(f"/journal/{school.group.id}/assignments", form).status_code == 404
    assert browser.post(f"/journal/{other_group.id}/assignments", form).status_code == 404
    browser.logout()
    browser.login("belova.os", PASSWORD)
    own = {"lesson": todays_lessons(school)[0].id, "work_type": work_types[0].id}
    assert browser.post(f"/journal/{school.group.id}/assignments", own).status_code == 403
    assert Assignment.select().count() == 0


# --- history -----------------------------------------------------------------------------


def test_history_shows_who_when_before_and_after(browser, school, work_types):
    assignment = add_assignment(todays_lessons(school)[0], work_types[0])
    ivanov = school.students["5А"][0]
    as_teacher(browser)
    for value in ("4", "5", ""):
        form = {"assignment": assignment.id, "student": ivanov.id, "value": value}
        assert browser.post("/journal/marks", form).status_code == 200
    url = f"/journal/history?kind=mark&row={assignment.id}&student={ivanov.id}"
    fragment = browser.get(url, headers=HTMX).get_data(as_text=True)
    assert "<html" not in fragment and "Иванов Пётр" in fragment
    assert "Ответ на уроке (вес 1)" in fragment
    changes = re.findall(r"<td>([^<]*?) → ([^<]*?)</td>", fragment)
    assert changes == [("5", "—"), ("4", "5"), ("—", "4")]  # newest first
    assert fragment.count("smirnova.ev") == 3
    page = browser.get(url).get_data(as_text=True)
    assert "<html" in page and "История ячейки" in page and "4 → 5" in page


def test_attendance_history(browser, school):
    lesson = todays_lessons(school)[0]
    petrova = school.students["5А"][1]
    as_teacher(browser)
    browser.post("/journal/attendance", {"lesson": lesson.id, "student": petrova.id, "value": "н"})
    url = f"/journal/history?kind=attendance&row={lesson.id}&student={petrova.id}"
    fragment = browser.get(url, headers=HTMX).get_data(as_text=True)
    assert "посещаемость" in fragment and "— → Н" in fragment and "smirnova.ev" in fragment


@pytest.mark.parametrize(
    ("username", "role", "status"),
    [
        ("belova.os", None, 200),
        ("orlova.mi", None, 200),
        ("titov.pa", None, 200),
        ("kuznetsov.ap", "class_teacher", 200),
        ("kuznetsov.ap", "teacher", 404),  # a teacher without this group
        ("ivanov.p", None, 403),
        ("ivanova.m", None, 403),
        ("zaytsev.io", None, 403),
    ],
)
def test_history_readers_by_role_and_scope(browser, school, work_types, username, role, status):
    assignment = add_assignment(todays_lessons(school)[0], work_types[0])
    ivanov = school.students["5А"][0]
    give(school, assignment, ivanov, "5")
    browser.login(username, PASSWORD, role=school.role_key(role) if role else None)
    url = f"/journal/history?kind=mark&row={assignment.id}&student={ivanov.id}"
    response = browser.get(url, headers=HTMX)
    assert response.status_code == status
    if status == 200:
        assert "— → 5" in response.get_data(as_text=True)


def test_history_needs_a_real_cell(browser, school, work_types):
    assignment = add_assignment(todays_lessons(school)[0], work_types[0])
    as_teacher(browser)
    stranger = school.students["5Б"][0]
    assert browser.get("/journal/history").status_code == 400
    assert browser.get("/journal/history?kind=grade&row=1&student=1").status_code == 400
    base = "/journal/history?kind=mark"
    assert browser.get(f"{base}&row={assignment.id}&student={stranger.id}").status_code == 404
    assert browser.get(f"{base}&row=999999&student={stranger.id}").status_code == 404
