"""In-app help (§6.1.2): the active role's page, links only where the role may go."""

from __future__ import annotations

import re

import pytest

from appliance.db import write
from appliance.models import School

from .factories import PASSWORD, ROLE_ACCOUNTS, ROLES

HREF = re.compile(r'href="(/[^"#]*)"')

# A phrase only the role's own help page has.
MARKERS = {
    "director": "Контроль журнала (не реже раза в месяц)",
    "deputy": "План учебного года",
    "admin": "Резервные копии и здоровье коробки",
    "teacher": "Оценки с клавиатуры в журнале",
    "class_teacher": "Пропуски по уважительной причине",
    "student": "Другим ученикам через журнал писать нельзя",
    "parent": "Дневник ребёнка",
    "inspector": "Только просмотр: изменить что-либо вы не можете",
}


def open_help(browser, school, role: str) -> str:
    browser.login(ROLE_ACCOUNTS[role], PASSWORD, role=school.role_key(role))
    response = browser.get("/help/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.mark.parametrize("role", ROLES)
def test_help_shows_the_active_roles_text(browser, school, role):
    page = open_help(browser, school, role)
    assert MARKERS[role] in page
    others = [marker for other, marker in MARKERS.items() if other != role]
    assert not [marker for marker in others if marker in page]


@pytest.mark.parametrize("role", ROLES)
def test_help_links_only_pages_the_role_may_open(browser, school, role):
    school.add_planning()
    page = open_help(browser, school, role)
    links = sorted(set(HREF.findall(page)) - {"/"})
    links = [link for link in links if not link.startswith(("/static/", "/logout"))]
    assert links, "the help links no real page"
    failures = []
    for link in links:
        status = browser.get(link.replace("&amp;", "&")).status_code
        if status in (403, 404, 500):
            failures.append(f"{link}: {status}")
    assert not failures


def test_teacher_help_links_the_journal_and_ktp_but_not_the_deputys_pages(browser, school):
    page = open_help(browser, school, "teacher")
    assert 'href="/journal/"' in page and 'href="/ktp/"' in page
    assert 'href="/ktp/review"' not in page and 'href="/control/"' not in page


def test_student_help_never_links_the_journal(browser, school):
    page = open_help(browser, school, "student")
    assert 'href="/journal/' not in page and 'href="/lessons/' not in page
    assert f'href="/diary/{school.users["student"].person_id}"' in page


def test_class_teacher_help_links_their_own_class(browser, school):
    page = open_help(browser, school, "class_teacher")
    class_id = school.classes["5А"].id
    assert f'href="/classes/{class_id}/import"' in page
    assert f'href="/periods/class/{class_id}"' in page


def test_same_person_gets_the_help_of_the_role_switched_to(browser, school):
    browser.login("kuznetsov.ap", PASSWORD)  # teacher and class teacher of 5А
    assert MARKERS["teacher"] in browser.get("/help/").get_data(as_text=True)
    browser.switch_role(school.role_key("class_teacher"))
    page = browser.get("/help/").get_data(as_text=True)
    assert MARKERS["class_teacher"] in page and MARKERS["teacher"] not in page


def test_help_shows_the_admins_contacts_from_the_settings(browser, school):
    with write():
        School.update(admin_contact="Зайцев Игорь Олегович\nкаб. 105, +7 846 000-00-00").execute()
    page = open_help(browser, school, "parent")
    assert "Куда обращаться" in page
    assert "Зайцев Игорь Олегович<br>каб. 105, +7 846 000-00-00" in page


def test_help_without_contacts_says_where_to_ask(browser, school):
    page = open_help(browser, school, "student")
    assert "Контакты администратора ещё не указаны" in page


def test_help_tells_the_address_of_the_box(browser, school):
    page = open_help(browser, school, "teacher")
    assert "http://localhost/" in page  # the address the reader came by
    assert "http://ezh.local/" in page


def test_help_needs_login(browser, school):
    response = browser.get("/help/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
