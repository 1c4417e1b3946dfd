"""School settings: names, letterhead, the admin's contacts, thresholds — validated, audited."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from appliance import school_settings
from appliance.models import AuditEntry, School, User
from appliance.school_settings import SettingsError

from .factories import PASSWORD, ROLE_ACCOUNTS


def valid_form(**changes: str) -> dict[str, str]:
    form = school_settings.form_values(School.get())
    form.update(changes)
    return form


def save(**changes: str) -> list[str]:
    admin = User.get(User.username == "zaytsev.io")
    return school_settings.save(valid_form(**changes), admin, "10.0.0.7")


def test_settings_are_saved_with_one_audit_entry(school):
    changed = save(
        admin_contact="Зайцев И. О., каб. 105\n+7 846 000-00-00",
        rounding_threshold="0,5",
        failing_average_threshold="3.00",
        past_edit_days="10",
        absence_threshold="8",
    )
    stored = School.get()
    assert stored.admin_contact == "Зайцев И. О., каб. 105\n+7 846 000-00-00"
    assert stored.rounding_threshold == Decimal("0.50")
    assert stored.failing_average_threshold == Decimal("3.00")
    assert (stored.past_edit_days, stored.absence_threshold) == (10, 8)
    assert "Порог округления" in changed and "Контакты администратора" in changed
    entries = list(AuditEntry.select().where(AuditEntry.action == "school.update"))
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.username, entry.ip) == ("zaytsev.io", "10.0.0.7")
    before, after = json.loads(entry.before), json.loads(entry.after)
    assert before["rounding_threshold"] == "0.60" and after["rounding_threshold"] == "0.50"
    assert before["past_edit_days"] == 7 and after["past_edit_days"] == 10
    assert "name" not in after  # only what changed


def test_nothing_changed_writes_nothing(school):
    assert save() == []
    assert not AuditEntry.select().where(AuditEntry.action == "school.update").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "   ", "Полное название школы"),
        ("short_name", "", "Краткое название"),
        ("short_name", "я" * 61, "не больше 60"),
        ("letterhead", "я" * 2001, "не больше 2000"),
        ("rounding_threshold", "0,49", "от 0,50 до 0,99"),
        ("rounding_threshold", "1", "от 0,50 до 0,99"),
        ("rounding_threshold", "0,605", "двух знаков"),
        ("rounding_threshold", "половина", "от 0,50 до 0,99"),
        ("rounding_threshold", "NaN", "от 0,50 до 0,99"),
        ("rounding_threshold", "1e999", "от 0,50 до 0,99"),
        ("failing_average_threshold", "1.99", "от 2,00 до 3,50"),
        ("failing_average_threshold", "3,51", "от 2,00 до 3,50"),
        ("past_edit_days", "91", "от 0 до 90"),
        ("past_edit_days", "-1", "от 0 до 90"),
        ("min_marks_for_period", "0", "от 1 до 20"),
        ("absence_threshold", "2.5", "от 1 до 200"),
        ("homework_file_limit_kb", "5", "от 10 до"),
        ("homework_file_limit_kb", "", "от 10 до"),
    ],
)
def test_bad_value_is_refused_in_russian_and_nothing_changes(school, field, value, message):
    before = school_settings.form_values(School.get())
    with pytest.raises(SettingsError, match=message):
        save(**{field: value, "admin_contact": "новый контакт"})
    assert school_settings.form_values(School.get()) == before
    assert not AuditEntry.select().where(AuditEntry.action == "school.update").exists()


def test_homework_limit_cannot_pass_the_upload_limit(school):
    admin = User.get(User.username == "zaytsev.io")
    form = valid_form(homework_file_limit_kb="20480")
    with pytest.raises(SettingsError, match="от 10 до 10240"):
        school_settings.save(form, admin, "", upload_limit_kb=10240)
    assert school_settings.save(form, admin, "") == ["Предельный размер файла к заданию"]


def test_single_line_fields_are_tidied(school):
    save(name="  Школа   № 7 ", short_name="Школа\n№ 7")
    stored = School.get()
    assert (stored.name, stored.short_name) == ("Школа № 7", "Школа № 7")


# --- the page -------------------------------------------------------------------------


def login(browser, role: str):
    assert browser.login(ROLE_ACCOUNTS[role], PASSWORD).status_code == 302


@pytest.mark.parametrize("role", ["director", "deputy", "admin"])
def test_office_opens_and_saves_the_settings(browser, school, role):
    login(browser, role)
    page = browser.get("/admin/school").get_data(as_text=True)
    assert "Настройки школы" in page and 'value="0,60"' in page
    response = browser.post("/admin/school", valid_form(admin_contact=f"контакт от {role}"))
    assert response.status_code == 302
    assert School.get().admin_contact == f"контакт от {role}"
    footer = browser.get("/").get_data(as_text=True)
    assert f"Помощь: контакт от {role}" in footer


@pytest.mark.parametrize("role", ["teacher", "class_teacher", "student", "parent", "inspector"])
def test_others_may_not_open_the_settings(browser, school, role):
    browser.login(ROLE_ACCOUNTS[role], PASSWORD, role=school.role_key(role))
    assert browser.get("/admin/school").status_code == 403
    response = browser.post("/admin/school", valid_form(name="Чужая школа"))
    assert response.status_code == 403
    assert School.get().name == "Тестовая школа № 1"


def test_bad_form_is_shown_again_with_the_message_and_values(browser, school):
    login(browser, "admin")
    response = browser.post(
        "/admin/school", valid_form(rounding_threshold="0,3", admin_contact="каб. 105")
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "«Порог округления»: число от 0,50 до 0,99" in page
    assert 'value="0,3"' in page and "каб. 105" in page
    assert School.get().rounding_threshold == Decimal("0.60")


def test_empty_post_changes_nothing(browser, school):
    login(browser, "deputy")
    assert browser.post("/admin/school", {}).status_code == 400
    assert School.get().name == "Тестовая школа № 1"


def test_settings_are_linked_from_the_office_first_pages(browser, school):
    for role in ("director", "deputy", "admin"):
        login(browser, role)
        assert 'href="/admin/school"' in browser.get("/").get_data(as_text=True), role
        browser.logout()
    login(browser, "inspector")
    assert 'href="/admin/school"' not in browser.get("/").get_data(as_text=True)
