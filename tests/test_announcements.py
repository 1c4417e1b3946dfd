"""The announcements board (§7.5): targeting, scheduling, rights, pages."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from appliance import access, announcements
from appliance.announcements import AnnouncementError
from appliance.db import write
from appliance.models import (
    Announcement,
    AuditEntry,
    Enrollment,
    Guardian,
    Person,
    SchoolClass,
    User,
)

from .factories import PASSWORD, ROLE_ACCOUNTS, ROLES, SchoolFactory

TODAY = dt.date.today()
DAY = dt.timedelta(days=1)


def sample_announcement() -> int:
    """An announcement for everyone, shown today, by the deputy (belova.os): for the access walk."""
    deputy = User.get(User.username == "belova.os")
    form = {"title": "Субботник", "body": "В субботу в 10:00.", "audience": "all"}
    return announcements.post(form, user=deputy, ip="test").id


def post(username: str = "belova.os", **fields) -> Announcement:
    form = {"title": "Объявление", "body": "Текст.", "audience": "all", **fields}
    return announcements.post(form, user=User.get(User.username == username), ip="test")


def viewer(username: str, role: str, class_id: int | None = None):
    return User.get(User.username == username), access.ActiveRole(role, class_id)


def titles(username: str, role: str, class_id: int | None = None, today=TODAY) -> set[str]:
    user, active = viewer(username, role, class_id)
    return {a.title for a in announcements.for_viewer(user, active, today)}


def login(browser, school, role: str) -> None:
    response = browser.login(ROLE_ACCOUNTS[role], PASSWORD, role=school.role_key(role))
    assert response.status_code == 302


# --- targeting ------------------------------------------------------------------------


@pytest.fixture
def audiences(school):
    """Announcements for every kind of audience, and a 6В with a student and a parent
    whose other child is in 5Б (a parent of two classes of two grades)."""
    a, b = school.classes["5А"], school.classes["5Б"]
    with write():
        c = SchoolClass.create(year=school.year, grade=6, letter="В")
        pupil = SchoolFactory.person("Громов", "Лев")
        Enrollment.create(student=pupil, school_class=c, starts=school.year.starts)
        school.account(pupil, "gromov.l", ("student", None))
        mother = school.parents["Фёдоров"]  # fedorova.o, mother of Фёдоров (5Б)
        Guardian.create(parent=mother, student=pupil, relation="мать")
    for title, fields in {
        "всем": {"audience": "all"},
        "сотрудникам": {"audience": "staff"},
        "родителям": {"audience": "parents"},
        "ученикам": {"audience": "students"},
        "5А": {"audience": "class", "school_class": str(a.id)},
        "5А родителям": {"audience": "class", "school_class": str(a.id), "members": "parents"},
        "5А ученикам": {"audience": "class", "school_class": str(a.id), "members": "students"},
        "5Б": {"audience": "class", "school_class": str(b.id)},
        "5-е": {"audience": "grade", "grade": "5"},
        "6-е": {"audience": "grade", "grade": "6"},
    }.items():
        post(title=title, **fields)
    return c


STAFF_SEES = {"всем", "сотрудникам"}
SEEN_BY = {
    ("ivanova.m", "parent"): {"всем", "родителям", "5А", "5А родителям", "5-е"},
    ("fedorova.o", "parent"): {"всем", "родителям", "5Б", "5-е", "6-е"},
    ("ivanov.p", "student"): {"всем", "ученикам", "5А", "5А ученикам", "5-е"},
    ("fedorov.g", "student"): {"всем", "ученикам", "5Б", "5-е"},
    ("gromov.l", "student"): {"всем", "ученикам", "6-е"},
    ("smirnova.ev", "teacher"): STAFF_SEES,
    ("kuznetsov.ap", "teacher"): STAFF_SEES,
    ("orlova.mi", "director"): STAFF_SEES,
    ("belova.os", "deputy"): STAFF_SEES,
    ("zaytsev.io", "admin"): STAFF_SEES,
    ("titov.pa", "inspector"): {"всем"},
}


@pytest.mark.parametrize(("username", "role"), list(SEEN_BY))
def test_each_viewer_sees_exactly_their_audiences(audiences, username, role):
    assert titles(username, role) == SEEN_BY[(username, role)]


def test_class_teacher_sees_what_their_class_families_see(audiences, school):
    seen = titles("kuznetsov.ap", "class_teacher", school.classes["5А"].id)
    assert seen == STAFF_SEES | {"5А", "5А родителям", "5А ученикам", "5-е"}


def test_parent_of_5b_does_not_see_a_5a_class_announcement(audiences):
    seen = titles("fedorova.o", "parent")
    assert not seen & {"5А", "5А родителям", "5А ученикам"}


def test_a_student_who_left_the_class_no_longer_sees_its_announcements(audiences, school):
    ivanov = school.students["5А"][0]
    with write():
        Enrollment.update(ends=TODAY - DAY).where(Enrollment.student == ivanov).execute()
    assert titles("ivanov.p", "student") == {"всем", "ученикам"}
    assert titles("ivanova.m", "parent") == {"всем", "родителям"}


def test_newest_first(school):
    post(title="старое", publish_on=(TODAY - 3 * DAY).isoformat())
    post(title="новое")
    post(title="вчерашнее", publish_on=(TODAY - DAY).isoformat())
    user, active = viewer("ivanova.m", "parent")
    shown = [a.title for a in announcements.for_viewer(user, active)]
    assert shown == ["новое", "вчерашнее", "старое"]


# --- scheduling and expiry ------------------------------------------------------------


def test_scheduled_announcement_appears_on_its_publish_day(school):
    post(title="завтра", publish_on=(TODAY + DAY).isoformat())
    assert "завтра" not in titles("ivanova.m", "parent")
    assert "завтра" in titles("ivanova.m", "parent", today=TODAY + DAY)


def test_expired_announcement_leaves_first_pages_but_stays_in_archive(school):
    kept = post(title="до сегодня", expires_on=TODAY.isoformat())
    gone = post(title="до вчера", publish_on=(TODAY - 5 * DAY).isoformat())
    with write():
        Announcement.update(expires_on=TODAY - DAY).where(Announcement.id == gone.id).execute()
    assert titles("ivanova.m", "parent") == {"до сегодня"}
    assert titles("ivanova.m", "parent", today=TODAY + DAY) == set()
    board = announcements.board()
    assert [a.id for a in board.current] == [kept.id]
    assert [a.id for a in board.expired] == [gone.id]
    assert announcements.state(Announcement.get_by_id(gone.id)) == "expired"


def test_board_lists_scheduled_separately(school):
    later = post(title="позже", publish_on=(TODAY + 7 * DAY).isoformat())
    board = announcements.board()
    assert [a.id for a in board.scheduled] == [later.id]
    assert board.current == [] and board.expired == []
    assert announcements.state(later) == "scheduled"


# --- validation and audit -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": "  "}, "заголовок"),
        ({"body": ""}, "текст"),
        ({"title": "я" * 201}, "не больше 200"),
        ({"audience": "everyone"}, "кому"),
        ({"audience": "class"}, "Выберите класс"),
        ({"audience": "class", "school_class": "999999"}, "Выберите класс"),
        ({"audience": "grade", "grade": "12"}, "от 1 до 11"),
        ({"audience": "grade", "grade": ""}, "от 1 до 11"),
        ({"publish_on": "31.02.2026"}, "дат"),
        (
            {"publish_on": TODAY.isoformat(), "expires_on": (TODAY - DAY).isoformat()},
            "раньше даты публикации",
        ),
        (
            {
                "publish_on": (TODAY - 9 * DAY).isoformat(),
                "expires_on": (TODAY - DAY).isoformat(),
            },
            "Срок показа уже прошёл",
        ),
    ],
)
def test_bad_announcement_is_refused_and_nothing_written(school, fields, message):
    audit_before = AuditEntry.select().count()
    with pytest.raises(AnnouncementError, match=message):
        post(**fields)
    assert Announcement.select().count() == 0
    assert AuditEntry.select().count() == audit_before


def test_class_members_choice_must_be_known(school):
    with pytest.raises(AnnouncementError, match="кому в классе"):
        post(audience="class", school_class=str(school.classes["5А"].id), members="teachers")


def test_create_update_delete_are_audited(school):
    item = post(title="Собрание", body="Строка 1\r\nСтрока 2")
    assert item.body == "Строка 1\nСтрока 2"
    director = User.get(User.username == "orlova.mi")
    form = announcements.form_values(item) | {"title": "Собрание перенесено"}
    announcements.update(item, form, user=director, ip="10.0.0.5")
    assert Announcement.get_by_id(item.id).author.username == "belova.os"  # the author stays
    announcements.delete(item, confirmed=True, user=director, ip="10.0.0.5")
    assert Announcement.get_or_none(Announcement.id == item.id) is None
    entries = list(
        AuditEntry.select().where(AuditEntry.entity_uuid == item.uuid).order_by(AuditEntry.seq)
    )
    assert [e.action for e in entries] == [
        "announcement.create",
        "announcement.update",
        "announcement.delete",
    ]
    assert json.loads(entries[1].before)["title"] == "Собрание"
    assert json.loads(entries[1].after)["title"] == "Собрание перенесено"
    assert entries[2].username == "orlova.mi" and entries[2].ip == "10.0.0.5"
    assert json.loads(entries[2].before)["title"] == "Собрание перенесено"


def test_delete_needs_confirmation(school):
    item = post()
    with pytest.raises(AnnouncementError, match="Да, удалить"):
        announcements.delete(item, confirmed=False, user=item.author, ip="")
    assert Announcement.get_or_none(Announcement.id == item.id) is not None


def test_form_values_round_trip_a_class_audience(school):
    a = school.classes["5А"]
    item = post(audience="class", school_class=str(a.id), members="parents")
    assert (item.audience, item.school_class_id) == ("parents", a.id)
    values = announcements.form_values(item)
    assert (values["audience"], values["members"]) == ("class", "parents")
    assert announcements.audience_label(item) == "5А: только родителям"
    grade = post(audience="grade", grade="5")
    assert announcements.audience_label(grade) == "5-е классы: родителям и обучающимся"


# --- pages ----------------------------------------------------------------------------


def test_deputy_posts_for_a_class_and_only_its_parents_see_it(browser, school):
    login(browser, school, "deputy")
    a = school.classes["5А"]
    form = {
        "title": "Собрание 5А",
        "body": "Четверг, 18:00, каб. 204",
        "audience": "class",
        "school_class": str(a.id),
        "members": "parents",
        "publish_on": TODAY.isoformat(),
        "expires_on": "",
    }
    response = browser.post("/announcements/new", form)
    assert response.status_code == 302
    item = Announcement.get(Announcement.title == "Собрание 5А")
    assert item.author.username == "belova.os"
    browser.logout()

    browser.login("ivanova.m", PASSWORD)
    assert "Собрание 5А" in browser.get("/").get_data(as_text=True)
    assert "Собрание 5А" in browser.get("/announcements/").get_data(as_text=True)
    assert browser.get(f"/announcements/{item.id}").status_code == 200
    browser.logout()

    for username in ("fedorova.o", "ivanov.p", "smirnova.ev"):
        browser.login(username, PASSWORD)
        assert "Собрание 5А" not in browser.get("/").get_data(as_text=True), username
        assert "Собрание 5А" not in browser.get("/announcements/").get_data(as_text=True)
        assert browser.get(f"/announcements/{item.id}").status_code == 404, username
        browser.logout()


def test_bad_form_is_shown_again_with_the_entered_text(browser, school):
    login(browser, school, "director")
    form = {"title": "Экскурсия", "body": "Сбор у школы", "audience": "grade", "grade": "0"}
    response = browser.post("/announcements/new", form)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Параллель — номер класса от 1 до 11." in page
    assert 'value="Экскурсия"' in page and "Сбор у школы" in page
    assert Announcement.select().count() == 0


def test_only_writers_post(browser, school):
    for role in ("teacher", "class_teacher", "parent", "student", "inspector"):
        login(browser, school, role)
        assert browser.get("/announcements/new").status_code == 403, role
        response = browser.post("/announcements/new", {"title": "x", "body": "y"})
        assert response.status_code == 403, role
        browser.logout()
    assert Announcement.select().count() == 0


def test_any_writer_edits_anothers_announcement(browser, school):
    item = post(title="Старый заголовок")
    login(browser, school, "admin")
    page = browser.get(f"/announcements/{item.id}").get_data(as_text=True)
    assert 'value="Старый заголовок"' in page  # the edit form
    form = announcements.form_values(item) | {"title": "Новый заголовок"}
    assert browser.post(f"/announcements/{item.id}", form).status_code == 302
    assert Announcement.get_by_id(item.id).title == "Новый заголовок"
    browser.logout()
    login(browser, school, "teacher")
    assert browser.post(f"/announcements/{item.id}", form | {"title": "x"}).status_code == 403
    assert browser.post(f"/announcements/{item.id}/delete", {"confirm": "1"}).status_code == 403
    assert Announcement.get_by_id(item.id).title == "Новый заголовок"


def test_delete_page_needs_the_confirm_box(browser, school):
    item = post()
    login(browser, school, "deputy")
    response = browser.post(f"/announcements/{item.id}/delete", {})
    assert response.status_code == 400
    assert "Да, удалить" in response.get_data(as_text=True)
    assert Announcement.get_or_none(Announcement.id == item.id) is not None
    assert browser.post(f"/announcements/{item.id}/delete", {"confirm": "1"}).status_code == 302
    assert Announcement.get_or_none(Announcement.id == item.id) is None
    assert browser.get(f"/announcements/{item.id}").status_code == 404


def test_empty_save_changes_nothing(browser, school):
    item = post(title="Как было")
    login(browser, school, "deputy")
    assert browser.post(f"/announcements/{item.id}", {}).status_code == 400
    assert Announcement.get_by_id(item.id).title == "Как было"


def test_writers_see_scheduled_and_archived_readers_do_not(browser, school):
    post(title="Будущее", publish_on=(TODAY + 3 * DAY).isoformat())
    old = post(title="Прошлое", publish_on=(TODAY - 9 * DAY).isoformat())
    with write():
        Announcement.update(expires_on=TODAY - 2 * DAY).where(Announcement.id == old.id).execute()
    login(browser, school, "deputy")
    page = browser.get("/announcements/").get_data(as_text=True)
    assert "Будущее" in page and "Прошлое" in page and "Запланированы" in page
    assert "Прошлое" not in browser.get("/").get_data(as_text=True)
    browser.logout()
    login(browser, school, "parent")
    page = browser.get("/announcements/").get_data(as_text=True)
    assert "Будущее" not in page and "Прошлое" not in page
    assert "Прошлое" not in browser.get("/").get_data(as_text=True)
    assert browser.get(f"/announcements/{old.id}").status_code == 404


def test_text_is_escaped_and_keeps_its_lines(browser, school):
    post(title="<b>Важно</b>", body="Первая строка\n<script>alert(1)</script>")
    login(browser, school, "parent")
    page = browser.get("/").get_data(as_text=True)
    assert "&lt;b&gt;Важно&lt;/b&gt;" in page
    assert "Первая строка<br>&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page


def test_first_page_shows_five_newest_and_links_the_board(browser, school):
    for n in range(7):
        post(title=f"Объявление № {n}", publish_on=(TODAY - n * DAY).isoformat())
    login(browser, school, "student")
    page = browser.get("/").get_data(as_text=True)
    shown = [n for n in range(7) if f"Объявление № {n}<" in page]
    assert shown == [0, 1, 2, 3, 4]
    assert page.index("Объявление № 0<") < page.index("Объявление № 4<")
    assert 'href="/announcements/">Все объявления' in page
    board = browser.get("/announcements/").get_data(as_text=True)
    assert all(f"Объявление № {n}<" in board for n in range(7))


@pytest.mark.parametrize("role", ROLES)
def test_announcement_for_everyone_is_on_every_first_page(browser, school, role):
    sample_announcement()
    login(browser, school, role)
    response = browser.get("/")
    assert response.status_code == 200
    assert "Субботник" in response.get_data(as_text=True)
    assert browser.get("/announcements/").status_code == 200


def test_first_page_without_announcements_has_no_empty_block_for_readers(browser, school):
    login(browser, school, "parent")
    assert "Объявления</h2>" not in browser.get("/").get_data(as_text=True)
    browser.logout()
    login(browser, school, "deputy")
    assert 'href="/announcements/new"' in browser.get("/").get_data(as_text=True)


def test_board_names_the_author(browser, school):
    post(username="orlova.mi")
    login(browser, school, "teacher")
    author = Person.get_by_id(User.get(User.username == "orlova.mi").person_id)
    assert author.short_name in browser.get("/announcements/").get_data(as_text=True)
