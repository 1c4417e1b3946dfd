"""The diary's week: what a student and a parent see, and that no id leads to another child."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest

from appliance import diary, journal, lesson_form
from appliance.db import write
from appliance.diary.dates import monday_of
from appliance.models import (
    Assignment,
    Attendance,
    Enrollment,
    Guardian,
    Lesson,
    Mark,
    NonSchoolDay,
    Person,
    Room,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    WorkType,
    now,
)

from .factories import PASSWORD, SchoolFactory
from .test_grid import counted_queries

# --- data helpers (the other diary test modules import these) -------------------------


def make_work_types() -> tuple[WorkType, WorkType]:
    with write():
        answer = WorkType.create(
            name="Ответ на уроке", short_name="Отв", weight=1, is_default=True, sort_order=1
        )
        test = WorkType.create(name="Контрольная работа", short_name="КР", weight=3, sort_order=2)
    return answer, test


@pytest.fixture
def work_types(school):
    return make_work_types()


def study_week(school) -> dt.date:
    """A Monday in the first quarter, away from the factory's lessons of today and tomorrow."""
    monday = monday_of(school.year.starts + dt.timedelta(days=14))
    if abs((monday - monday_of(dt.date.today())).days) <= 7:
        monday += dt.timedelta(days=21)
    return monday


def lesson(school, day: dt.date, number: int, group=None, **fields) -> Lesson:
    """A lesson as the journal leaves it once published (rows written directly)."""
    fields.setdefault("published_at", now())
    fields.setdefault("state", "held" if day <= dt.date.today() else "planned")
    with write():
        return Lesson.create(
            group=group or school.group,
            date=day,
            number=number,
            teacher=school.users["teacher"].person,
            **fields,
        )


def mark(
    lesson: Lesson, student: Person, value: str, work_type: WorkType, weight=None, published=True
) -> Mark:
    with write():
        assignment = Assignment.create(
            lesson=lesson,
            work_type=work_type,
            weight=weight or work_type.weight,
            published_at=now(),
        )
        return Mark.create(
            assignment=assignment,
            student=student,
            value=value,
            published_at=now() if published else None,
        )


def other_class_group(school) -> SubjectGroup:
    """Russian in 5Б with its own teacher and a lesson today."""
    with write():
        teacher = SchoolFactory.person("Волкова", "Ирина", "Петровна", staff=True)
        subject = Subject.create(name="Русский язык", short_name="Рус", sort_order=2)
        group = SubjectGroup.create(
            year=school.year, school_class=school.classes["5Б"], subject=subject
        )
        SubjectGroupTeacher.create(group=group, teacher=teacher)
        for student in school.students["5Б"]:
            SubjectGroupStudent.create(group=group, student=student, starts=school.year.starts)
    return group


def sibling(school) -> Person:
    """A second child of ivanova.m, in 5Б."""
    with write():
        child = SchoolFactory.person("Иванова", "Дарья")
        Enrollment.create(
            student=child, school_class=school.classes["5Б"], starts=school.year.starts
        )
        Guardian.create(parent=school.parents["Иванов"], student=child, relation="мать")
    return child


def row_of(page: str, lesson: Lesson) -> str:
    found = re.search(rf'<tr data-lesson="{lesson.id}".*?</tr>', page, re.S)
    assert found, f"lesson {lesson.id} is not on the page"
    return found.group(0)


def as_student(browser):
    assert browser.login("ivanov.p", PASSWORD).status_code == 302


def as_parent(browser):
    assert browser.login("ivanova.m", PASSWORD).status_code == 302


# --- the week -----------------------------------------------------------------------


def test_week_shows_lessons_with_times_rooms_topic_homework_marks_and_attendance(
    browser, school, work_types
):
    answer, test = work_types
    ivanov, petrova = school.students["5А"][:2]
    monday = study_week(school)
    with write():
        room = Room.create(name="204")
    first = lesson(
        school, monday, 2, room=room, topic="Натуральные числа", homework="№ 12, 14 на с. 7"
    )
    mark(first, ivanov, "5", test)
    mark(first, ivanov, "4", answer)
    mark(first, petrova, "2", test)  # a classmate's mark never shows
    with write():
        Attendance.create(lesson=first, student=ivanov, code="ОП", published_at=now())
    as_student(browser)
    page = browser.get(f"/diary/{ivanov.id}?week={monday + dt.timedelta(days=2)}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "<h1>Дневник</h1>" in text and "Иванов Пётр" in text and "5А класс" in text
    row = row_of(text, first)
    assert "09:20–10:00" in row  # the second bell
    assert "Математика" in row and "каб. 204" in row
    assert "Натуральные числа" in row and "№ 12, 14 на с. 7" in row
    assert re.search(r'data-mark="5"[^>]*>5</span> <span class="muted">КР, вес 3', row)
    assert re.search(r'data-mark="4"[^>]*>4</span> <span class="muted">Отв, вес 1', row)
    assert 'data-mark="2"' not in row
    assert 'title="опоздание">ОП</abbr>' in row
    assert f"{monday:%d.%m.%Y} — {monday + dt.timedelta(days=6):%d.%m.%Y}" in text
    assert "Данные на " in text


def test_week_lists_monday_to_friday_and_a_holiday(browser, school):
    monday = study_week(school)
    with write():
        NonSchoolDay.create(
            year=school.year, date=monday + dt.timedelta(days=2), kind="holiday", note="Праздник"
        )
    week = diary.week(school.students["5А"][0], monday, grade=5)
    assert [d.date.weekday() for d in week.days] == [0, 1, 2, 3, 4]
    assert week.days[2].note == "Праздник: Праздник"
    lesson(school, monday + dt.timedelta(days=5), 1)  # a Saturday lesson adds the day
    assert len(diary.week(school.students["5А"][0], monday).days) == 6


def test_homework_of_the_previous_lesson_is_due_on_the_next(browser, school):
    ivanov = school.students["5А"][0]
    monday = study_week(school)
    before = lesson(school, monday - dt.timedelta(days=3), 1, homework="Выучить таблицу")
    monday_lesson = lesson(school, monday, 1, homework="Упр. 5")
    tuesday_lesson = lesson(school, monday + dt.timedelta(days=1), 3)
    lesson(school, monday + dt.timedelta(days=1), 1, state="cancelled", homework="не то")
    week = diary.week(ivanov, monday)
    rows = {row.lesson.id: row for row in week.lessons}
    assert rows[monday_lesson.id].due.id == before.id  # from the week before
    assert rows[tuesday_lesson.id].due.id == monday_lesson.id  # cancelled lessons skipped
    as_student(browser)
    text = browser.get(f"/diary/{ivanov.id}?week={monday}").get_data(as_text=True)
    assert "Задано на этот урок:</span> Выучить таблицу" in row_of(text, monday_lesson)
    assert "Задано на этот урок:</span> Упр. 5" in row_of(text, tuesday_lesson)


def test_unpublished_homework_is_not_due_either(school):
    monday = study_week(school)
    lesson(school, monday - dt.timedelta(days=1), 1, homework="черновик", published_at=None)
    today = lesson(school, monday, 1)
    (row,) = [r for r in diary.week(school.students["5А"][0], monday).lessons]
    assert row.lesson.id == today.id and row.due is None and row.due_homework == ""


def test_a_student_moved_between_subgroups_sees_each_on_its_own_days(school):
    ivanov = school.students["5А"][0]
    monday = study_week(school)
    with write():
        english = Subject.create(name="Английский язык", is_foreign_language=True)
        groups = [
            SubjectGroup.create(
                year=school.year, school_class=school.classes["5А"], subject=english, subgroup=n
            )
            for n in (1, 2)
        ]
        wednesday = monday + dt.timedelta(days=2)
        SubjectGroupStudent.create(
            group=groups[0], student=ivanov, starts=school.year.starts, ends=wednesday
        )
        SubjectGroupStudent.create(
            group=groups[1], student=ivanov, starts=wednesday + dt.timedelta(days=1)
        )
    days = [monday + dt.timedelta(days=n) for n in range(5)]
    for day in days:
        for number, group in enumerate(groups, 5):
            lesson(school, day, number, group=group)
    seen = [(r.lesson.date, r.lesson.group_id) for r in diary.week(ivanov, monday).lessons]
    assert seen == [(d, groups[0].id) for d in days[:3]] + [(d, groups[1].id) for d in days[3:]]


def test_week_links_to_the_weeks_around_and_reads_any_day_of_it(browser, school):
    ivanov = school.students["5А"][0]
    monday = study_week(school)
    as_student(browser)
    text = browser.get(f"/diary/{ivanov.id}?week={monday + dt.timedelta(days=4)}").get_data(
        as_text=True
    )
    assert f'href="/diary/{ivanov.id}?week={monday - dt.timedelta(days=7)}" rel="prev"' in text
    assert f'href="/diary/{ivanov.id}?week={monday + dt.timedelta(days=7)}" rel="next"' in text
    assert f'href="/diary/{ivanov.id}">Эта неделя' in text


def test_a_week_that_is_not_a_date_is_refused_in_russian(browser, school):
    as_student(browser)
    response = browser.get(f"/diary/{school.students['5А'][0].id}?week=вчера")
    assert response.status_code == 400
    assert "не дата" in response.get_data(as_text=True)
    response = browser.get(f"/diary/{school.students['5А'][0].id}?week=9999-12-31")
    assert response.status_code == 400  # not a 500 on the week after it
    assert "слишком далёкая дата" in response.get_data(as_text=True)


def test_diary_pages_offer_nothing_to_change(browser, school):
    ivanov = school.students["5А"][0]
    as_parent(browser)
    for url in ("", "/marks", "/year", "/dynamics"):
        text = browser.get(f"/diary/{ivanov.id}{url}").get_data(as_text=True)
        main = text.split("<main>", 1)[1]
        assert "<form" not in main or 'method="post"' not in main, url
        assert 'style="' not in text, url  # CSP: no inline styles


def test_the_week_does_not_link_to_the_journal(browser, school):
    ivanov = school.students["5А"][0]
    as_student(browser)
    main = browser.get(f"/diary/{ivanov.id}").get_data(as_text=True).split("<main>", 1)[1]
    assert "/journal" not in main and 'href="/lessons/' not in main


# --- the homework file ----------------------------------------------------------------


def test_homework_file_downloads_from_the_week(browser, school, settings):
    ivanov = school.students["5А"][0]
    today = Lesson.get((Lesson.group == school.group) & (Lesson.date == dt.date.today()))
    journal.set_homework(today, "Решить задачи", user=school.users["teacher"], ip="")
    lesson_form.attach_homework_file(
        Lesson.get_by_id(today.id),
        io.BytesIO(b"%PDF-1.4 tasks"),
        "Задачи.pdf",
        settings.files_dir,
        user=school.users["teacher"],
        ip="",
    )
    as_parent(browser)
    text = browser.get(f"/diary/{ivanov.id}?week={dt.date.today()}").get_data(as_text=True)
    url = f"/diary/{ivanov.id}/lessons/{today.id}/file"
    assert f'href="{url}" download>Задачи.pdf</a>' in row_of(text, today)
    response = browser.get(url)
    body = response.get_data()
    response.close()  # files are streamed
    assert response.status_code == 200 and body == b"%PDF-1.4 tasks"
    assert "attachment" in response.headers["Content-Disposition"]


def test_lesson_without_a_file_goes_back_to_its_week(browser, school):
    ivanov = school.students["5А"][0]
    today = Lesson.get((Lesson.group == school.group) & (Lesson.date == dt.date.today()))
    as_student(browser)
    response = browser.get(f"/diary/{ivanov.id}/lessons/{today.id}/file")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/diary/{ivanov.id}?week={dt.date.today()}")
    assert "файл не прикреплён" in browser.get(response.headers["Location"]).get_data(as_text=True)


# --- who sees whose diary ---------------------------------------------------------------

DIARY_PAGES = ("", "/marks", "/year", "/dynamics")


def diary_urls(student_id: int, lesson_id: int) -> list[str]:
    return [f"/diary/{student_id}{page}" for page in DIARY_PAGES] + [
        f"/diary/{student_id}/lessons/{lesson_id}/file"
    ]


def test_student_index_opens_own_diary(browser, school):
    as_student(browser)
    response = browser.get("/diary/")
    assert response.headers["Location"].endswith(f"/diary/{school.students['5А'][0].id}")


def test_parent_with_one_child_goes_straight_to_the_diary(browser, school):
    as_parent(browser)
    response = browser.get("/diary/")
    assert response.headers["Location"].endswith(f"/diary/{school.students['5А'][0].id}")


def test_parent_with_two_children_chooses_and_switches(browser, school):
    ivanov, daria = school.students["5А"][0], sibling(school)
    as_parent(browser)
    chooser = browser.get("/diary/").get_data(as_text=True)
    assert f'href="/diary/{ivanov.id}"' in chooser and f'href="/diary/{daria.id}"' in chooser
    week = browser.get(f"/diary/{daria.id}?week=2026-11-25").get_data(as_text=True)
    assert "Иванова Дарья, 5Б класс" in week
    assert f'href="/diary/{ivanov.id}?week=2026-11-23"' in week  # that Monday, other child
    marks = browser.get(f"/diary/{ivanov.id}/marks").get_data(as_text=True)
    assert f'href="/diary/{daria.id}/marks"' in marks


def test_parent_without_children_is_told_so(browser, school):
    with write():
        Guardian.delete().where(Guardian.parent == school.parents["Иванов"]).execute()
    as_parent(browser)
    response = browser.get("/diary/")
    assert response.status_code == 200
    assert "не привязан ни один ученик" in response.get_data(as_text=True)


def test_student_cannot_open_a_classmates_diary_by_changing_the_id(browser, school):
    petrova = school.students["5А"][1]
    today = Lesson.get((Lesson.group == school.group) & (Lesson.date == dt.date.today()))
    as_student(browser)
    for url in diary_urls(petrova.id, today.id):
        assert browser.get(url).status_code == 404, url


def test_student_cannot_open_a_brothers_or_sisters_diary(browser, school):
    daria = sibling(school)
    group = other_class_group(school)
    russian = lesson(school, dt.date.today(), 3, group=group)
    as_student(browser)
    for url in diary_urls(daria.id, russian.id):
        assert browser.get(url).status_code == 404, url


def test_parent_cannot_open_another_familys_child(browser, school):
    fedorov = school.students["5Б"][0]
    group = other_class_group(school)
    russian = lesson(school, dt.date.today(), 3, group=group)
    as_parent(browser)
    for url in [*diary_urls(fedorov.id, russian.id), *diary_urls(999999, russian.id)]:
        assert browser.get(url).status_code == 404, url
    browser.logout()
    assert browser.login("fedorova.o", PASSWORD).status_code == 302
    ivanov = school.students["5А"][0]
    today = Lesson.get((Lesson.group == school.group) & (Lesson.date == dt.date.today()))
    for url in diary_urls(ivanov.id, today.id):
        assert browser.get(url).status_code == 404, url


def test_file_route_refuses_lessons_outside_the_childs_groups(browser, school, settings):
    """A lesson of another class, even one the parent's other child attends, is a 404."""
    ivanov, daria = school.students["5А"][0], sibling(school)
    group = other_class_group(school)
    with write():
        SubjectGroupStudent.create(group=group, student=daria, starts=school.year.starts)
    russian = lesson(school, dt.date.today(), 3, group=group)
    teacher = SubjectGroupTeacher.get(SubjectGroupTeacher.group == group).teacher
    with write():
        user = school.account(teacher, "volkova.ip", ("teacher", None))
    lesson_form.attach_homework_file(
        russian, io.BytesIO(b"secret"), "5b.txt", settings.files_dir, user=user, ip=""
    )
    as_parent(browser)
    assert browser.get(f"/diary/{ivanov.id}/lessons/{russian.id}/file").status_code == 404
    response = browser.get(f"/diary/{daria.id}/lessons/{russian.id}/file")
    body = response.get_data()
    response.close()
    assert body == b"secret"
    assert browser.get(f"/diary/{ivanov.id}/lessons/999999/file").status_code == 404


def test_staff_have_no_diary(browser, school):
    ivanov = school.students["5А"][0]
    for username in ("smirnova.ev", "orlova.mi", "titov.pa"):
        browser.login(username, PASSWORD)
        assert browser.get(f"/diary/{ivanov.id}").status_code == 403
        assert browser.get("/diary/").status_code == 403
        browser.logout()


# --- bounded queries ----------------------------------------------------------------------


def test_week_query_count_does_not_grow_with_lessons_or_marks(browser, school, work_types):
    ivanov = school.students["5А"][0]
    monday = study_week(school)
    url = f"/diary/{ivanov.id}?week={monday}"
    lesson(school, monday, 1, topic="Один урок", homework="Одно задание")
    as_parent(browser)
    browser.get(url)  # templates compiled, session settled
    with counted_queries() as small:
        assert browser.get(url).status_code == 200
    group = other_class_group(school)
    with write():
        SubjectGroupStudent.create(group=group, student=ivanov, starts=school.year.starts)
    lesson(school, monday - dt.timedelta(days=2), 1, group=group, homework="Прочитать")
    for day in range(5):
        date = monday + dt.timedelta(days=day)
        for number in range(2, 8):
            for group_ in (school.group, group):
                given = lesson(school, date, number, group=group_, topic="Тема", homework="Д/з")
                for work_type in work_types:
                    for student in school.students["5А"]:
                        mark(given, student, "4", work_type)
                with write():
                    Attendance.create(lesson=given, student=ivanov, code="Н", published_at=now())
    with counted_queries() as large:
        page = browser.get(url).get_data(as_text=True)
    assert page.count('class="mark"') >= 120
    assert len(large) == len(small) < 30, "\n".join(large)
