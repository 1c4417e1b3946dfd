"""Staff, students, parents and their credentials; personal-data changes; activity."""

from __future__ import annotations

import datetime as dt
import re

from appliance.models import (
    AuditEntry,
    Enrollment,
    Guardian,
    OutboxEntry,
    Person,
    PersonalDataChange,
    PersonalDataView,
    RoleGrant,
    User,
)
from appliance.people import make_username, transliterate

from .factories import PASSWORD

SLIP = re.compile(r"Логин: (\S+)<br>Пароль: (\S+)</p>")


def test_transliteration_makes_readable_logins(app):
    assert transliterate("Щукина") == "shchukina"
    assert transliterate("Подъячев") == "podyachev"
    assert (
        make_username(Person(last_name="Ёлкина", first_name="Анна", middle_name="Юрьевна"), set())
        == "elkina.ay"
    )


def test_admin_creates_staff_and_issues_credentials(browser, school):
    browser.login("zaytsev.io", PASSWORD)
    response = browser.post(
        "/admin/staff/new",
        {
            "last_name": "Лебедева",
            "first_name": "Анна",
            "middle_name": "Игоревна",
            "position": "учитель географии",
            "roles": "teacher",
            "class_teacher_of": str(school.classes["5Б"].id),
        },
    )
    assert response.status_code == 302
    person = Person.get(Person.last_name == "Лебедева")
    account = User.get(User.person == person)
    assert account.password_hash is None  # no password until issued
    grants = {(g.role, g.school_class_id) for g in account.grants}
    assert grants == {("teacher", None), ("class_teacher", school.classes["5Б"].id)}
    assert AuditEntry.select().where(AuditEntry.action == "user.roles").exists()

    slips = browser.post("/admin/credentials", {"person": str(person.id)}).get_data(as_text=True)
    username, password = SLIP.search(slips).groups()
    assert username == "lebedeva.ai"
    assert "<svg" in slips  # QR code with the box's address, inline
    browser.logout()
    assert browser.login(username, password).headers["Location"].endswith("/password")


def test_staff_form_errors_are_russian_and_write_nothing(browser, school):
    browser.login("zaytsev.io", PASSWORD)
    before = Person.select().count()
    response = browser.post("/admin/staff/new", {"last_name": "Без Имени", "roles": "teacher"})
    assert response.status_code == 400
    assert "«Имя» обязательно" in response.get_data(as_text=True)
    response = browser.post("/admin/staff/new", {"last_name": "Без", "first_name": "Роли"})
    assert "хотя бы одну роль" in response.get_data(as_text=True)
    assert Person.select().count() == before


def test_class_teacher_enrolls_student_adds_parent_and_issues_credentials(browser, school):
    cls = school.classes["5А"]
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    response = browser.post(
        f"/classes/{cls.id}/students/new",
        {"last_name": "Новикова", "first_name": "Дарья", "birth_date": "2014-03-05", "gender": "ж"},
    )
    assert response.status_code == 302
    student = Person.get(Person.last_name == "Новикова")
    assert Enrollment.get(Enrollment.student == student).school_class_id == cls.id
    assert OutboxEntry.select().where(OutboxEntry.entity_uuid == student.uuid).exists()
    response = browser.post(
        f"/classes/{cls.id}/students/{student.id}/parents",
        {
            "last_name": "Новикова",
            "first_name": "Ирина",
            "phone": "+79270000000",
            "relation": "мать",
        },
    )
    assert response.status_code == 302
    parent = Guardian.get(Guardian.student == student).parent
    slips = browser.post(
        f"/classes/{cls.id}/credentials", {"person": [str(student.id), str(parent.id)]}
    ).get_data(as_text=True)
    issued = dict(SLIP.findall(slips))
    assert set(issued) == {"novikova.d", "novikova.i"}
    roles = {g.user.username: g.role for g in RoleGrant.select().join(User)}
    assert roles["novikova.d"] == "student" and roles["novikova.i"] == "parent"
    browser.logout()
    assert browser.login("novikova.i", issued["novikova.i"]).status_code == 302


def test_editing_personal_data_records_each_field_and_lateness(browser, school):
    cls = school.classes["5А"]
    student = school.students["5А"][0]
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    notified = (dt.date.today() - dt.timedelta(days=6)).isoformat()
    response = browser.post(
        f"/classes/{cls.id}/students/{student.id}",
        {
            "last_name": "Иванов",
            "first_name": "Пётр",
            "phone": "+79271112233",
            "notified_on": notified,
        },
    )
    assert response.status_code == 302
    change = PersonalDataChange.get(PersonalDataChange.person == student)
    assert (change.field, change.new_value) == ("phone", "+79271112233")
    browser.logout()
    browser.login("zaytsev.io", PASSWORD)
    page = browser.get("/admin/personal-data").get_data(as_text=True)
    assert "просрочено" in page and "+79271112233" in page


def test_viewing_a_student_card_is_logged(browser, school):
    cls = school.classes["5А"]
    student = school.students["5А"][0]
    browser.login("orlova.mi", PASSWORD)
    assert browser.get(f"/classes/{cls.id}/students/{student.id}").status_code == 200
    view = PersonalDataView.get(PersonalDataView.person == student)
    assert view.user_id == school.users["director"].id


def test_future_notice_date_is_refused(browser, school):
    browser.login("zaytsev.io", PASSWORD)
    teacher = school.users["teacher"].person
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    response = browser.post(
        "/admin/personal-data",
        {"person_id": str(teacher.id), "field": "phone", "new_value": "1", "notified_on": tomorrow},
    )
    assert response.status_code == 400
    assert "не может быть в будущем" in response.get_data(as_text=True)
    assert PersonalDataChange.select().count() == 0


def test_admin_locks_and_unlocks_an_account(browser, client, app, school):
    target = school.users["teacher"]
    browser.login("zaytsev.io", PASSWORD)
    browser.post(f"/admin/accounts/{target.id}/lock")
    assert User.get_by_id(target.id).admin_locked
    other = app.test_client()
    from .conftest import Browser

    teacher = Browser(other)
    assert "заблокирована" in teacher.login("smirnova.ev", PASSWORD).get_data(as_text=True)
    browser.post(f"/admin/accounts/{target.id}/unlock")
    assert teacher.login("smirnova.ev", PASSWORD).status_code == 302


def test_admin_cannot_lock_themself(browser, school):
    admin = school.users["admin"]
    browser.login("zaytsev.io", PASSWORD)
    browser.post(f"/admin/accounts/{admin.id}/lock")
    assert not User.get_by_id(admin.id).admin_locked


def test_activity_shows_logins_and_failures_per_user(browser, app, school):
    from .conftest import Browser

    other = Browser(app.test_client())
    other.login("smirnova.ev", "wrong-one")
    other.login("smirnova.ev", PASSWORD)
    browser.login("zaytsev.io", PASSWORD)
    page = browser.get("/admin/activity").get_data(as_text=True)
    row = re.search(r"smirnova\.ev</a></td>\s*<td>(\d+)</td><td>(\d+)</td>", page)
    assert row and row.groups() == ("1", "1")
    detail = browser.get(f"/admin/activity/{school.users['teacher'].id}").get_data(as_text=True)
    assert "неверный пароль" in detail


def test_audit_page_reports_an_intact_chain(browser, school):
    browser.login("orlova.mi", PASSWORD)
    assert "Цепочка записей цела" in browser.get("/admin/audit").get_data(as_text=True)


def test_forms_validate_and_normalise_like_the_import(browser, school):
    cls = school.classes["5А"]
    student = school.students["5А"][0]
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    url = f"/classes/{cls.id}/students/{student.id}"
    response = browser.post(url, {"phone": "8 (927) 123-45-67"})
    assert response.status_code == 302
    assert Person.get_by_id(student.id).phone == "+79271234567"
    response = browser.post(url, {"phone": "позвонить маме"})
    assert response.status_code == 400
    assert "Телефон «позвонить маме»: не похоже на номер телефона." in response.get_data(
        as_text=True
    )
    response = browser.post(url, {"birth_date": "31.02.2014"})
    assert "такой даты нет" in response.get_data(as_text=True)
    assert Person.get_by_id(student.id).phone == "+79271234567"  # unchanged by the bad posts


def test_staff_card_is_saved_wholly_or_not_at_all(browser, school):
    teacher = school.users["teacher"].person
    browser.login("zaytsev.io", PASSWORD)
    base = {"last_name": "Смирнова", "first_name": "Елена", "phone": "+79270001122"}
    response = browser.post(f"/admin/staff/{teacher.id}", base)  # no role ticked
    assert response.status_code == 400 and "хотя бы одну роль" in response.get_data(as_text=True)
    response = browser.post(
        f"/admin/staff/{teacher.id}", {**base, "roles": "teacher", "class_teacher_of": "99999"}
    )
    assert response.status_code == 400 and "Такого класса нет" in response.get_data(as_text=True)
    assert Person.get_by_id(teacher.id).phone == ""  # nothing half-written
    assert PersonalDataChange.select().count() == 0


def test_admin_cannot_change_own_roles(browser, school):
    admin = school.users["admin"]
    browser.login("zaytsev.io", PASSWORD)
    response = browser.post(
        f"/admin/staff/{admin.person_id}",
        {"last_name": "Зайцев", "first_name": "Игорь", "roles": ["admin", "director"]},
    )
    assert response.status_code == 400
    assert {g.role for g in admin.grants} == {"admin"}


def test_a_class_has_one_class_teacher(browser, school):
    cls = school.classes["5А"]
    teacher = school.users["teacher"]
    browser.login("zaytsev.io", PASSWORD)
    response = browser.post(
        f"/admin/staff/{teacher.person_id}",
        {
            "last_name": "Смирнова",
            "first_name": "Елена",
            "roles": "teacher",
            "class_teacher_of": str(cls.id),
        },
    )
    assert response.status_code == 302
    holders = RoleGrant.select().where(
        (RoleGrant.role == "class_teacher") & (RoleGrant.school_class == cls.id)
    )
    assert [g.user_id for g in holders] == [teacher.id]
    assert SchoolClass_of(cls).class_teacher_id == teacher.person_id


def SchoolClass_of(cls):  # noqa: N802 - reads like the model it reloads
    from appliance.models import SchoolClass

    return SchoolClass.get_by_id(cls.id)


def test_entering_a_change_closes_its_registered_notice(browser, school):
    student = school.students["5А"][0]
    cls = school.classes["5А"]
    browser.login("zaytsev.io", PASSWORD)
    notified = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    browser.post(
        "/admin/personal-data",
        {
            "person_id": student.id,
            "field": "phone",
            "new_value": "+79275556677",
            "notified_on": notified,
        },
    )
    browser.post(f"/classes/{cls.id}/students/{student.id}", {"phone": "+79275556677"})
    [change] = PersonalDataChange.select().where(PersonalDataChange.person == student)
    assert change.entered_at is not None and change.notified_on.isoformat() == notified
    assert "просрочено" not in browser.get("/admin/personal-data").get_data(as_text=True)


def test_class_page_cannot_reset_a_staff_account(browser, school):
    """A teacher who is also a parent in the class: only the admin resets their password."""
    cls = school.classes["5А"]
    teacher = school.users["teacher"]
    Guardian.create(parent=teacher.person, student=school.students["5А"][1], relation="мать")
    old_hash = teacher.password_hash
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    response = browser.post(
        f"/classes/{cls.id}/credentials", {"person": str(teacher.person_id)}, follow_redirects=True
    )
    assert "её пароль сбрасывает администратор" in response.get_data(as_text=True)
    assert User.get_by_id(teacher.id).password_hash == old_hash


def test_no_enrolment_into_a_closed_class(browser, school):
    cls = school.classes["5А"]
    cls.closed = True
    cls.save()
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    response = browser.post(
        f"/classes/{cls.id}/students/new", {"last_name": "Новый", "first_name": "Ученик"}
    )
    assert response.status_code == 400 and "закрыт" in response.get_data(as_text=True)


def test_account_search_ignores_case_in_russian(browser, school):
    browser.login("zaytsev.io", PASSWORD)
    page = browser.get("/admin/accounts", query_string={"q": "смирнова"}).get_data(as_text=True)
    assert "smirnova.ev" in page


def test_parent_card_shows_only_children_of_this_class(browser, school):
    cls = school.classes["5А"]
    mother = school.parents["Иванов"]
    Guardian.create(parent=mother, student=school.students["5Б"][0], relation="мать")
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    page = browser.get(f"/classes/{cls.id}/parents/{mother.id}").get_data(as_text=True)
    assert "Иванов Пётр" in page and "Фёдоров" not in page
