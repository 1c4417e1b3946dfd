"""The timetable pages: each role's own timetable, scope, the deputy's grid edits, print."""

from __future__ import annotations

import datetime as dt
import io

import pytest

from appliance.access import ActiveRole
from appliance.db import write
from appliance.models import (
    AcademicYear,
    AuditEntry,
    Enrollment,
    Guardian,
    Lesson,
    Room,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupTeacher,
    TimetableChange,
    TimetableEntry,
    User,
    UserNotice,
)
from appliance.timetable import changes, scope

from .factories import PASSWORD


@pytest.fixture
def planned(school):
    """The factory school with its plan and a 5Б Russian lesson by another teacher."""
    plan = school.add_planning()
    with write():
        other = school.person("Волкова", "Нина", "Петровна", staff=True)
        russian = Subject.create(name="Русский язык")
        group_b = SubjectGroup.create(
            year=school.year, school_class=school.classes["5Б"], subject=russian
        )
        SubjectGroupTeacher.create(group=group_b, teacher=other)
        entry_b = TimetableEntry.create(
            group=group_b, weekday=2, number=3, valid_from=school.year.starts
        )
    return {**plan, "group_b": group_b, "entry_b": entry_b, "other": other}


def on(school) -> str:
    return f"on={school.year.starts.isoformat()}"


# --- «my timetable» for each role --------------------------------------------------------


def test_student_sees_own_class_timetable(browser, school, planned):
    browser.login("ivanov.p", PASSWORD)
    page = browser.get(f"/timetable/?{on(school)}").get_data(as_text=True)
    assert "Класс 5А" in page and "Математика" in page
    assert "Русский язык" not in page  # 5Б's lesson
    assert "Накладки" not in page


def test_parent_switches_between_children_and_never_sees_anothers(browser, school, planned):
    mother = User.get(User.username == "ivanova.m").person
    with write():
        sister = school.person("Иванова", "Дарья")
        Enrollment.create(
            student=sister, school_class=school.classes["5Б"], starts=school.year.starts
        )
        Guardian.create(parent=mother, student=sister, relation="мать")
    browser.login("ivanova.m", PASSWORD)
    first = browser.get(f"/timetable/?{on(school)}").get_data(as_text=True)
    assert "Класс 5А" in first and f"child={sister.id}" in first
    second = browser.get(f"/timetable/?child={sister.id}&{on(school)}").get_data(as_text=True)
    assert "Класс 5Б" in second and "Русский язык" in second
    stranger = school.students["5Б"][1]
    assert browser.get(f"/timetable/?child={stranger.id}").status_code == 404
    assert browser.get(f"/timetable/class/{school.classes['5Б'].id}").status_code == 200


def test_another_childs_class_is_404_for_a_parent(browser, school, planned):
    browser.login("ivanova.m", PASSWORD)
    assert browser.get(f"/timetable/class/{school.classes['5А'].id}").status_code == 200
    assert browser.get(f"/timetable/class/{school.classes['5Б'].id}").status_code == 404
    assert browser.get(f"/timetable/class/{school.classes['5Б'].id}/print").status_code == 404


def test_teacher_sees_own_lessons_and_only_classes_taught(browser, school, planned):
    browser.login("smirnova.ev", PASSWORD)
    page = browser.get(f"/timetable/?{on(school)}").get_data(as_text=True)
    assert "Мои уроки" in page and "5А Математика" in page and "каб. 204" in page
    assert browser.get(f"/timetable/class/{school.classes['5А'].id}").status_code == 200
    assert browser.get(f"/timetable/class/{school.classes['5Б'].id}").status_code == 404
    teacher_page = f"/timetable/teacher/{planned['other'].id}"
    assert browser.get(teacher_page).status_code == 403  # planning


def test_class_teacher_sees_own_class_only(browser, school, planned):
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    page = browser.get(f"/timetable/?{on(school)}").get_data(as_text=True)
    assert "Класс 5А" in page
    assert browser.get(f"/timetable/class/{school.classes['5Б'].id}").status_code == 404


@pytest.mark.parametrize("username", ["orlova.mi", "titov.pa", "zaytsev.io", "belova.os"])
def test_office_gets_an_index_of_every_class(browser, school, planned, username):
    browser.login(username, PASSWORD)
    page = browser.get("/timetable/").get_data(as_text=True)
    assert f"/timetable/class/{school.classes['5Б'].id}" in page
    planning_reader = username != "zaytsev.io"
    assert (f"/timetable/room/{planned['room'].id}" in page) is planning_reader
    assert browser.get(f"/timetable/class/{school.classes['5Б'].id}").status_code == 200


def test_scope_rules_per_role(school, planned):
    year, a, b = school.year, school.classes["5А"], school.classes["5Б"]
    people = {role: user.person for role, user in school.users.items()}
    cases = [
        ("student", ActiveRole("student"), {a.id}),
        ("parent", ActiveRole("parent"), {a.id}),
        ("teacher", ActiveRole("teacher"), {a.id}),
        ("class_teacher", ActiveRole("class_teacher", a.id), {a.id}),
        ("director", ActiveRole("director"), None),
        ("admin", ActiveRole("admin"), None),
    ]
    for key, active, expected in cases:
        assert scope.visible_class_ids(people[key], active, year) == expected, key
    assert not scope.may_view_class(people["student"], ActiveRole("student"), b)
    assert scope.may_view_class(people["inspector"], ActiveRole("inspector"), b)
    # a teacher role of a class teacher: the classes taught (none here)
    assert scope.visible_class_ids(people["class_teacher"], ActiveRole("teacher"), year) == set()


# --- the deputy's grid ---------------------------------------------------------------------


def test_deputy_adds_an_entry_from_a_grid_cell_and_sees_the_conflict(browser, school, planned):
    browser.login("belova.os", PASSWORD)
    a = school.classes["5А"]
    grid = browser.get(f"/timetable/class/{a.id}?{on(school)}").get_data(as_text=True)
    assert f"/timetable/class/{a.id}/entries?weekday=1&amp;number=1" in grid
    form = browser.get(f"/timetable/class/{a.id}/entries?weekday=2&number=3")
    assert form.status_code == 200 and "Математика" in form.get_data(as_text=True)
    response = browser.post(
        f"/timetable/class/{a.id}/entries",
        {
            "group": str(school.group.id),
            "weekday": "2",
            "number": "3",
            "room": str(planned["room"].id),
            "valid_from": school.year.starts.isoformat(),
        },
    )
    assert response.status_code == 302
    assert TimetableEntry.select().where(TimetableEntry.group == school.group).count() == 2
    # 5Б has no room there: no conflict; now put 5Б's lesson in 204 as well
    with write():
        planned["entry_b"].room = planned["room"]
        planned["entry_b"].save()
    page = browser.get(f"/timetable/class/{a.id}?{on(school)}").get_data(as_text=True)
    assert "Накладки (1)" in page and "кабинет 204 занят дважды" in page
    assert 'class="tt-item conflict"' in page
    summary = browser.get("/timetable/conflicts").get_data(as_text=True)
    assert "кабинет 204 занят дважды" in summary


def test_adding_with_nothing_chosen_is_400_and_stores_nothing(browser, school, planned):
    browser.login("belova.os", PASSWORD)
    before = TimetableEntry.select().count()
    response = browser.post(f"/timetable/class/{school.classes['5А'].id}/entries", {})
    assert response.status_code == 400
    assert "Выберите предмет" in response.get_data(as_text=True)
    assert TimetableEntry.select().count() == before


def test_delete_needs_the_confirm_field(browser, school, planned):
    browser.login("belova.os", PASSWORD)
    entry = planned["entry_b"]
    url = f"/timetable/entry/{entry.id}/delete"
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    if not school.year.starts < tomorrow <= school.year.ends:
        pytest.skip("the year is not under way today")
    assert browser.post(url, {"from": tomorrow.isoformat()}).status_code == 400
    assert TimetableEntry.get_by_id(entry.id).valid_to is None
    response = browser.post(url, {"from": tomorrow.isoformat(), "confirm": "1"})
    assert response.status_code == 302
    assert TimetableEntry.get_by_id(entry.id).valid_to == dt.date.today()


def test_an_entry_in_force_is_not_deleted_from_its_first_day(browser, school, planned):
    """Deleting from the year's start would take September's lessons off the timetable."""
    entry = planned["entry_b"]
    if dt.date.today() <= school.year.starts:
        pytest.skip("the year has not begun: nothing was held by the entry yet")
    browser.login("belova.os", PASSWORD)
    response = browser.post(
        f"/timetable/entry/{entry.id}/delete",
        {"from": school.year.starts.isoformat(), "confirm": "1"},
    )
    assert response.status_code == 400
    assert "по ней уже шли уроки" in response.get_data(as_text=True)
    assert TimetableEntry.get_by_id(entry.id).valid_to is None


def test_director_reads_the_grid_but_cannot_edit(browser, school, planned):
    browser.login("orlova.mi", PASSWORD)
    page = browser.get(f"/timetable/class/{school.classes['5А'].id}").get_data(as_text=True)
    assert "+ урок" not in page
    assert browser.get(f"/timetable/entry/{planned['entry'].id}").status_code == 403
    assert browser.get(f"/timetable/room/{planned['room'].id}").status_code == 200


def test_checked_mark_needs_no_conflicts_and_lapses_on_edit(browser, school, planned):
    browser.login("belova.os", PASSWORD)
    assert browser.post("/timetable/conflicts", {}).status_code == 400
    assert browser.post("/timetable/conflicts", {"check": "1"}).status_code == 302
    assert "badge ok" in browser.get("/timetable/conflicts").get_data(as_text=True)
    assert AuditEntry.select().where(AuditEntry.action == "timetable.checked").count() == 1
    with write():
        planned["entry_b"].number = 4
        planned["entry_b"].save()
    page = browser.get("/timetable/conflicts").get_data(as_text=True)
    assert "изменено после проверки" in page


def test_print_view_has_school_year_bells_and_validity(browser, school, planned):
    browser.login("belova.os", PASSWORD)
    a = school.classes["5А"]
    page = browser.get(f"/timetable/class/{a.id}/print?{on(school)}").get_data(as_text=True)
    assert "Тестовая школа № 1" in page and school.year.name in page
    assert "08:30–09:10" in page
    assert f"действует с {school.year.starts:%d.%m.%Y}" in page
    assert "timetable.css" in page
    room_print = browser.get(f"/timetable/room/{planned['room'].id}/print?{on(school)}")
    assert room_print.status_code == 200 and "Кабинет 204" in room_print.get_data(as_text=True)
    teacher = school.users["teacher"].person
    teacher_print = browser.get(f"/timetable/teacher/{teacher.id}/print?{on(school)}")
    assert "5А Математика" in teacher_print.get_data(as_text=True)


def test_rooms_are_listed_added_and_renamed(browser, school, planned):
    browser.login("belova.os", PASSWORD)
    assert browser.post("/timetable/rooms", {"name": "305", "capacity": "28"}).status_code == 302
    assert browser.post("/timetable/rooms", {"name": "305"}).status_code == 400  # twice
    assert browser.post("/timetable/rooms", {}).status_code == 400
    room = Room.get(Room.name == "305")
    assert room.capacity == 28
    response = browser.post(f"/timetable/rooms/{room.id}", {"name": "305а", "note": "химия"})
    assert response.status_code == 302
    assert Room.get_by_id(room.id).name == "305а"
    assert "305а" in browser.get("/timetable/rooms").get_data(as_text=True)
    assert AuditEntry.select().where(AuditEntry.action.startswith("room.")).count() == 2


def test_bad_year_is_404_and_no_year_is_explained(browser, school, planned):
    browser.login("belova.os", PASSWORD)
    assert browser.get("/timetable/?year=999999").status_code == 404
    with write():
        AcademicYear.delete().execute()
    page = browser.get("/timetable/").get_data(as_text=True)
    assert "Учебный год ещё не создан" in page


def test_regenerate_page_takes_the_year(browser, school, planned):
    with write():
        nxt = AcademicYear.create(
            name="2099/2100", starts=dt.date(2099, 9, 1), ends=dt.date(2100, 8, 31)
        )
        SchoolClass.create(year=nxt, grade=6, letter="А")
    browser.login("belova.os", PASSWORD)
    page = browser.get(f"/lessons/regenerate?year={nxt.id}").get_data(as_text=True)
    assert "2099/2100" in page and f"/lessons/regenerate?year={nxt.id}" in page
    assert browser.get("/lessons/regenerate?year=999999").status_code == 404


# --- one-off changes and XLSX through the pages -------------------------------------------


def next_meeting(school, entry, skip: set[dt.date]) -> dt.date:
    """The next day after today the entry meets (the calendar's terms and holidays applied)."""
    from appliance.timetable.occupancy import meetings_on

    day = dt.date.today() + dt.timedelta(days=1)
    while day <= school.year.ends:
        if day not in skip and any(
            m.id == entry.id for m in meetings_on(entry.group.school_class, day)
        ):
            return day
        day += dt.timedelta(days=1)
    pytest.skip("no school day left this year for the entry")


def test_deputy_cancels_a_lesson_on_the_page_and_undoes_it(browser, school, planned):
    entry = planned["entry"]
    day = next_meeting(school, entry, {planned["change"].date})
    browser.login("belova.os", PASSWORD)
    a = school.classes["5А"]
    form = browser.get(f"/timetable/changes/new?date={day.isoformat()}&class={a.id}")
    assert "1-й урок: Математика" in form.get_data(as_text=True)
    assert browser.post("/timetable/changes/new", {}).status_code == 400
    response = browser.post(
        "/timetable/changes/new",
        {"date": day.isoformat(), "class": str(a.id), "entry": str(entry.id),
         "kind": "cancelled", "reason": "экскурсия"},
    )  # fmt: skip
    assert response.status_code == 302
    cancelled = TimetableChange.get(
        (TimetableChange.date == day) & (TimetableChange.kind == "cancelled")
    )
    parent = User.get(User.username == "ivanova.m")
    assert UserNotice.select().where(UserNotice.user == parent).count() == 1
    listing = browser.get(f"/timetable/changes?from={day.isoformat()}").get_data(as_text=True)
    assert "урок отменён. Причина: экскурсия." in listing
    grid = browser.get(f"/timetable/class/{a.id}?on={day.isoformat()}").get_data(as_text=True)
    assert f"{day:%d.%m}: отменён" in grid
    undo = f"/timetable/changes/{cancelled.id}/undo"
    assert browser.post(undo, {}).status_code == 302  # no confirm: nothing undone
    assert TimetableChange.get_or_none(TimetableChange.id == cancelled.id) is not None
    response = browser.post(undo, {"confirm": "1"})
    assert response.status_code == 302
    assert TimetableChange.get_or_none(TimetableChange.id == cancelled.id) is None
    said = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Изменение отменено: 5А" in said and "Урок снова в расписании." in said


def test_undo_says_so_when_it_left_the_lesson_as_it_was(browser, school, planned):
    """An undone room change whose lesson was re-roomed since must not claim «урок возвращён»."""
    entry = planned["entry"]
    day = next_meeting(school, entry, {planned["change"].date})
    with write():
        other_room = Room.create(name="305")
    made = changes.make_change(
        entry, day, changes.ChangeRequest("room", room=other_room), user=None
    )
    Lesson.update(room=planned["room"]).where(Lesson.date == day).execute()
    browser.login("belova.os", PASSWORD)
    response = browser.post(f"/timetable/changes/{made.id}/undo", {"confirm": "1"})
    said = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "Кабинет урока с тех пор меняли — его не трогали." in said
    assert "урок возвращён" not in said


def test_parent_sees_the_weeks_change_on_the_childs_timetable(browser, school, planned):
    change = planned["change"]  # the factory's cancelled lesson next week
    browser.login("ivanova.m", PASSWORD)
    page = browser.get(f"/timetable/?on={change.date.isoformat()}").get_data(as_text=True)
    assert f"{change.date:%d.%m}: отменён" in page


def test_export_then_import_the_same_file_through_the_pages(browser, school, planned):
    browser.login("belova.os", PASSWORD)
    effective = dt.date.today() + dt.timedelta(days=1)
    if not school.year.starts < effective <= school.year.ends:
        pytest.skip("the year is not under way today")
    exported = browser.get(f"/timetable/export.xlsx?{on(school)}")
    token = browser.token("/timetable/import")
    too_early = browser.client.post(
        "/timetable/import",
        data={
            "file": (io.BytesIO(exported.data), "raspisanie.xlsx"),
            "effective": school.year.starts.isoformat(),
            "csrf_token": token,
        },
        content_type="multipart/form-data",
    )
    assert too_early.status_code == 400
    assert f"не раньше {effective:%d.%m.%Y}" in too_early.get_data(as_text=True)
    assert exported.status_code == 200 and exported.mimetype.endswith("spreadsheetml.sheet")
    assert browser.post("/timetable/import", {}).status_code == 400
    token = browser.token("/timetable/import")
    preview = browser.client.post(
        "/timetable/import",
        data={
            "file": (io.BytesIO(exported.data), "raspisanie.xlsx"),
            "effective": effective.isoformat(),
            "csrf_token": token,
        },
        content_type="multipart/form-data",
    )
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200, page
    assert "Строк расписания: 2, классов: 2" in page
    payload = page.split('name="payload" value="')[1].split('"')[0]
    assert browser.post("/timetable/import/confirm", {}).status_code == 400
    response = browser.post(
        "/timetable/import/confirm",
        {"payload": payload, "filename": "raspisanie.xlsx",
         "effective": effective.isoformat()},
    )  # fmt: skip
    assert response.status_code == 302
    assert TimetableEntry.select().where(TimetableEntry.valid_from == effective).count() == 2
    closed = TimetableEntry.select().where(TimetableEntry.valid_from < effective)
    assert {e.valid_to for e in closed} == {effective - dt.timedelta(days=1)}  # history kept
    assert AuditEntry.select().where(AuditEntry.action == "timetable.import").count() == 1


def test_timetable_pages_read_changes_in_a_fixed_number_of_queries(browser, school, planned):
    """A student's «my timetable» and the deputy's list: more changes, not more queries."""
    from .test_grid import counted_queries

    change, entry, entry_b = planned["change"], planned["entry"], planned["entry_b"]
    monday = change.date - dt.timedelta(days=change.date.weekday())
    tuesday = monday + dt.timedelta(days=1)
    listing = f"/timetable/changes?from={monday.isoformat()}"

    def count() -> tuple[int, int]:
        browser.login("ivanov.p", PASSWORD)
        with counted_queries() as mine:
            assert browser.get(f"/timetable/?on={change.date.isoformat()}").status_code == 200
        browser.logout()
        browser.login("belova.os", PASSWORD)
        with counted_queries() as listed:
            assert browser.get(listing).status_code == 200
        browser.logout()
        return len(mine), len(listed)

    few = count()
    with write():
        r305 = Room.create(name="305")
        for kind, fields in (
            ("substitution", {"teacher": planned["other"]}),
            ("room", {"room": r305}),
        ):
            TimetableChange.create(date=change.date, entry=entry, kind=kind, **fields)
        for kind, fields in (
            ("cancelled", {}),
            ("substitution", {"teacher": planned["other"]}),
            ("room", {"room": planned["room"]}),
        ):
            TimetableChange.create(date=tuesday, entry=entry_b, kind=kind, **fields)
    assert count() == few
    browser.login("belova.os", PASSWORD)
    assert browser.get(listing).get_data(as_text=True).count("Отменить изменение") == 6
