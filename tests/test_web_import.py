"""The class teacher's import page: upload, preview, confirm — or a clear refusal."""

from __future__ import annotations

import io

from appliance.models import Guardian, Person

from .factories import PASSWORD

GOOD = (
    "Фамилия;Имя;Отчество;Дата рождения;Пол;Родитель 1 ФИО;Родитель 1 кем приходится;"
    "Родитель 1 телефон\n"
    "Морозова;Алиса;Игоревна;12.04.2014;ж;Морозова Ксения Львовна;мать;89271234567\n"
    "Морозов;Артём;Игоревич;02.09.2015;м;Морозова Ксения Львовна;мать;89271234567\n"
)
BAD = GOOD + "Волков;;Петрович;31.02.2014;м;;;\n"


def upload(browser, class_id, text, encoding="cp1251"):
    data = {"file": (io.BytesIO(text.encode(encoding)), "spisok.csv")}
    token = browser.token(f"/classes/{class_id}/import")
    return browser.client.post(
        f"/classes/{class_id}/import",
        data={**data, "csrf_token": token},
        content_type="multipart/form-data",
    )


def test_windows_1251_list_previews_then_imports_students_and_parents(browser, school):
    cls = school.classes["5А"]
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    preview = upload(browser, cls.id, GOOD)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "Морозова Алиса Игоревна" in page and "учеников — 2" in page
    assert not Person.select().where(Person.last_name == "Морозова").exists()  # preview only
    token = page.split('name="token" value="')[1].split('"')[0]
    response = browser.post(f"/classes/{cls.id}/import/confirm", {"token": token})
    assert response.status_code == 302
    mother = Person.get(Person.first_name == "Ксения")
    assert Guardian.select().where(Guardian.parent == mother).count() == 2  # siblings
    assert "Морозов Артём" in browser.get(f"/classes/{cls.id}").get_data(as_text=True)


def test_a_bad_row_imports_nothing_and_says_why_in_russian(browser, school):
    cls = school.classes["5А"]
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    people_before = Person.select().count()
    response = upload(browser, cls.id, BAD)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Строка 4" in page and "ничего не загружено" in page
    assert 'name="token"' not in page
    assert Person.select().count() == people_before


def test_another_class_teacher_cannot_import_into_this_class(browser, school):
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    assert browser.get(f"/classes/{school.classes['5Б'].id}/import").status_code == 404


def test_template_downloads_as_xlsx(browser, school):
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    response = browser.get(f"/classes/{school.classes['5А'].id}/import/template.xlsx")
    assert response.status_code == 200 and response.data[:2] == b"PK"
    response.close()
