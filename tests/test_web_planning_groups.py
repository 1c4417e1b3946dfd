"""The deputy's pages for subjects, classes, the curriculum and subject groups."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest

from appliance import groups
from appliance.models import (
    AcademicYear,
    CurriculumLine,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
)

from .factories import PASSWORD
from .test_access import ROLE_ACCOUNTS, expected, sample_args

DEPUTY = "belova.os"


def upload(browser, url, filename, data: bytes):
    token = browser.token(url)
    return browser.client.post(
        url,
        data={"file": (io.BytesIO(data), filename), "csrf_token": token},
        content_type="multipart/form-data",
    )


@pytest.fixture
def next_year(school):
    """An empty next year, as the deputy finds it in August."""
    s = school.year.starts
    return AcademicYear.create(
        name=f"{s.year + 1}/{s.year + 2}",
        starts=dt.date(s.year + 1, 9, 1),
        ends=dt.date(s.year + 2, 8, 31),
    )


def test_deputy_goes_from_an_empty_year_to_groups_with_teachers(browser, school, next_year):
    browser.login(DEPUTY, PASSWORD)
    y = next_year.id
    page = browser.get(f"/planning/curriculum/classes?year={y}").get_data(as_text=True)
    assert "классов ещё нет" in page
    for letter in ("А", "Б"):
        response = browser.post(
            f"/planning/curriculum/classes?year={y}", {"grade": "6", "letter": letter}
        )
        assert response.status_code == 302
    assert SchoolClass.select().where(SchoolClass.year == next_year).count() == 2
    assert (
        browser.post(
            "/planning/curriculum/subjects",
            {"name": "Английский язык", "scale": "five", "is_foreign_language": "1"},
        ).status_code
        == 302
    )
    english = Subject.get(Subject.name == "Английский язык")
    math = Subject.get(Subject.name == "Математика")
    page = browser.get(f"/planning/curriculum/?year={y}").get_data(as_text=True)
    assert f'name="w-{english.id}-6"' in page
    response = browser.post(
        f"/planning/curriculum/?year={y}",
        {"grade": "6", f"w-{english.id}-6": "3", f"w-{math.id}-6": "5", f"y-{math.id}-6": ""},
    )
    assert response.status_code == 302
    assert CurriculumLine.select().where(CurriculumLine.year == next_year).count() == 2
    response = browser.post(f"/planning/groups/from-curriculum?year={y}", {"all": "1"})
    assert response.status_code == 302
    made = SubjectGroup.select().where(SubjectGroup.year == next_year)
    assert made.count() == 6  # per class: math + two English subgroups
    page = browser.get(f"/planning/groups/?year={y}").get_data(as_text=True)
    assert "6А" in page and "2 подгр." in page and "нет учителя" in page
    group = made.where(SubjectGroup.subject == math).first()
    teacher = school.users["teacher"].person
    response = browser.post(f"/planning/groups/{group.id}/teachers", {"main": str(teacher.id)})
    assert response.status_code == 302
    assert SubjectGroupTeacher.get(SubjectGroupTeacher.group == group).teacher_id == teacher.id
    page = browser.get(f"/planning/groups/{group.id}").get_data(as_text=True)
    assert teacher.full_name in page and "(основной)" in page


def test_grid_errors_come_back_per_cell_with_the_typed_values(browser, school):
    school.add_planning()
    browser.login(DEPUTY, PASSWORD)
    math = school.group.subject
    response = browser.post("/planning/curriculum/", {"grade": "5", f"w-{math.id}-5": "4,3"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Математика, 5 класс" in page and "с половиной" in page
    assert 'value="4,3"' in page
    assert CurriculumLine.get(CurriculumLine.subject == math).hours_week == 5


def test_import_previews_then_applies_and_refuses_bad_rows(browser, school):
    browser.login(DEPUTY, PASSWORD)
    good = "Учебные предметы;5 кл.;6 кл.\nМатематика;5;5\nОбязательная часть;;\nМузыка;1;0,5\n"
    response = upload(browser, "/planning/curriculum/import", "plan.csv", good.encode("cp1251"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Новые предметы" in page and "Музыка" in page
    assert not Subject.select().where(Subject.name == "Музыка").exists()  # preview only
    payload = re.search(r'name="payload" value="([^"]+)"', page).group(1)
    payload = payload.replace("&#34;", '"').replace("&quot;", '"')
    response = browser.post("/planning/curriculum/import/apply", {"payload": payload})
    assert response.status_code == 302
    music = Subject.get(Subject.name == "Музыка")
    assert (
        CurriculumLine.get(CurriculumLine.subject == music, CurriculumLine.grade == 6).hours_year
        == 17
    )
    bad = "Предмет;5\nМатематика;много\n"
    response = upload(browser, "/planning/curriculum/import", "bad.csv", bad.encode("cp1251"))
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Строка 2" in page and "ничего не загружено" in page and 'name="payload"' not in page
    response = upload(browser, "/planning/curriculum/import", "plan.xls", b"junk")
    assert response.status_code == 400 and ".xls" in response.get_data(as_text=True)


def test_export_is_an_xlsx_file(browser, school):
    school.add_planning()
    browser.login(DEPUTY, PASSWORD)
    response = browser.get("/planning/curriculum/export.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert response.data[:2] == b"PK"


def test_director_reads_without_forms_and_cannot_write(browser, school):
    school.add_planning()
    browser.login("orlova.mi", PASSWORD)
    page = browser.get("/planning/curriculum/").get_data(as_text=True)
    assert "Математика" in page and 'name="w-' not in page
    page = browser.get(f"/planning/groups/{school.group.id}").get_data(as_text=True)
    assert "Смирнова" in page and "Сохранить учителей" not in page
    response = browser.post(f"/planning/groups/{school.group.id}/teachers", {"main": ""})
    assert response.status_code == 403
    assert SubjectGroupTeacher.select().where(SubjectGroupTeacher.group == school.group).exists()


def test_teacher_and_class_teacher_cannot_open_planning(browser, school):
    browser.login("smirnova.ev", PASSWORD)
    assert browser.get("/planning/curriculum/").status_code == 403
    assert browser.get(f"/planning/groups/{school.group.id}").status_code == 403


def test_closed_year_pages_are_read_only(browser, school):
    school.add_planning()
    school.year.read_only = True
    school.year.save()
    browser.login(DEPUTY, PASSWORD)
    page = browser.get("/planning/curriculum/").get_data(as_text=True)
    assert "только просмотр" in page and 'name="w-' not in page
    math = school.group.subject
    response = browser.post("/planning/curriculum/", {"grade": "5", f"w-{math.id}-5": "6"})
    assert response.status_code == 400 and "закрыт" in response.get_data(as_text=True)


def test_unknown_year_is_404_and_no_year_is_explained(browser, school):
    browser.login(DEPUTY, PASSWORD)
    assert browser.get("/planning/curriculum/?year=999999").status_code == 404
    assert browser.get("/planning/groups/?year=abc").status_code == 404
    AcademicYear.delete().execute()
    page = browser.get("/planning/groups/").get_data(as_text=True)
    assert "ещё не создан" in page


def test_group_page_moves_a_student_between_subgroups(browser, school):
    planning = school.add_planning()
    browser.login(DEPUTY, PASSWORD)
    math = school.group
    day = planning["terms"][1].starts
    response = browser.post(
        f"/planning/groups/{math.id}/split", {"parts": "2", "date": day.isoformat()}
    )
    assert response.status_code == 302
    second = SubjectGroup.get((SubjectGroup.subject == math.subject) & (SubjectGroup.subgroup == 2))
    student = groups.members_on(math, day)[0]
    response = browser.post(
        f"/planning/groups/{math.id}/move",
        {"student": str(student.id), "target": str(second.id), "date": day.isoformat()},
    )
    assert response.status_code == 302
    assert student.id in {p.id for p in groups.members_on(second, day)}
    page = browser.get(f"/planning/groups/{math.id}").get_data(as_text=True)
    assert "Кто и когда был в группе" in page
    # a wrong date comes back with the reason
    response = browser.post(
        f"/planning/groups/{second.id}/move",
        {"student": str(student.id), "target": str(math.id), "date": "2001-01-01"},
    )
    assert response.status_code == 400 and "вне" in response.get_data(as_text=True)


def test_subjects_and_classes_are_edited_in_place(browser, school):
    browser.login(DEPUTY, PASSWORD)
    math = school.group.subject
    response = browser.post(
        f"/planning/curriculum/subjects/{math.id}",
        {"name": "Математика", "short_name": "Матем.", "scale": "five", "sort_order": "3"},
    )
    assert response.status_code == 302
    assert Subject.get_by_id(math.id).short_name == "Матем."
    response = browser.post(f"/planning/curriculum/subjects/{math.id}/delete", {"confirm": "1"})
    assert response.status_code == 400 and "есть группы" in response.get_data(as_text=True)
    five_b = school.classes["5Б"]
    response = browser.post(f"/planning/curriculum/classes/{five_b.id}/close", {"closed": "1"})
    assert response.status_code == 302 and SchoolClass.get_by_id(five_b.id).closed
    response = browser.post(
        f"/planning/curriculum/classes/{five_b.id}", {"grade": "5", "letter": "А"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "уже есть" in page
    page = browser.get("/planning/curriculum/classes").get_data(as_text=True)
    assert "Кузнецов Андрей Павлович" in page and "/admin/staff/" in page  # link to the card


def test_deleting_needs_an_explicit_confirmation(browser, school):
    browser.login(DEPUTY, PASSWORD)
    cls = school.classes["5Б"]
    response = browser.post(f"/planning/curriculum/classes/{cls.id}/delete", {})
    assert response.status_code == 400
    assert SchoolClass.get_or_none(SchoolClass.id == cls.id) is not None
    response = browser.post(f"/planning/groups/{school.group.id}/delete", {})
    assert response.status_code == 400
    assert SubjectGroup.get_or_none(SubjectGroup.id == school.group.id) is not None


def _state() -> tuple:
    return tuple(
        model.select().count()
        for model in (
            Subject,
            SchoolClass,
            CurriculumLine,
            SubjectGroup,
            SubjectGroupTeacher,
            SubjectGroupStudent,
        )
    ) + (SchoolClass.select().where(SchoolClass.closed).count(),)


@pytest.mark.parametrize("role", list(ROLE_ACCOUNTS))
def test_every_planning_route_obeys_the_matrix_and_an_empty_post_changes_nothing(
    role, app, browser, school
):
    assert browser.login(ROLE_ACCOUNTS[role], PASSWORD).status_code == 302
    if role == "class_teacher":
        browser.switch_role(school.role_key("class_teacher"))
    args = sample_args(school)
    before = _state()
    failures = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(("curriculum.", "groups.")):
            continue
        obj, mode = app.view_functions[rule.endpoint].access
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(args[m.group(1)]), rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = browser.get(url) if method == "GET" else browser.post(url, {})
            ok = {"allowed": (200, 302, 400), "denied": (403,)}[expected(role, f"{obj}.{mode}")]
            if response.status_code not in ok:
                failures.append(f"{method} {url}: {response.status_code}")
    assert not failures, "\n".join(failures)
    assert _state() == before
