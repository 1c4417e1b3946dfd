"""The КТП pages: list, plan, import with preview, copy, edit, export, submit, review, scope."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest

from appliance.db import write
from appliance.ktp.importer import read_plan_file
from appliance.models import (
    AcademicYear,
    CurriculumLine,
    Plan,
    PlanLesson,
    SubjectGroup,
    SubjectGroupTeacher,
    UserNotice,
)

from .factories import PASSWORD
from .test_access import ROLE_ACCOUNTS, app_routes, expected, sample_args

FIXTURES = Path(__file__).parent / "fixtures" / "ktp"


@pytest.fixture
def planned(school):
    school.add_planning()
    return school


def as_teacher(browser):
    assert browser.login("smirnova.ev", PASSWORD).status_code == 302


def as_deputy(browser):
    assert browser.login("belova.os", PASSWORD).status_code == 302


def upload(browser, group_id: int, name: str, data: bytes | None = None):
    data = (FIXTURES / name).read_bytes() if data is None else data
    token = browser.token(f"/ktp/{group_id}/import")
    return browser.client.post(
        f"/ktp/{group_id}/import",
        data={"file": (io.BytesIO(data), name), "csrf_token": token},
        content_type="multipart/form-data",
    )


def hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', page).group(1)


def full_plan_csv(hours: int = 170) -> bytes:
    lines = ["№;Раздел;Тема урока;Часы"]
    lines += [f"{n};Числа;Тема урока {n};1" for n in range(1, hours + 1)]
    return "\n".join(lines).encode("utf-8")


# --- every route, every role (the access walk, for this blueprint) -------------------------


@pytest.mark.parametrize("role", list(ROLE_ACCOUNTS))
def test_every_ktp_route_obeys_the_matrix(role, app, browser, school):
    assert browser.login(ROLE_ACCOUNTS[role], PASSWORD).status_code == 302
    if role == "class_teacher":
        browser.switch_role(school.role_key("class_teacher"))
    args = sample_args(school)
    plans_before = Plan.select().count()
    failures = []
    for (endpoint, method), (rule, rights) in app_routes(app).items():
        if not endpoint.startswith("ktp."):
            continue
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(args[m.group(1)]), rule)
        response = browser.get(url) if method == "GET" else browser.post(url, {})
        status = response.status_code
        ok = {"allowed": (200, 302, 400), "denied": (403,)}[expected(role, rights)]
        if status not in ok:
            failures.append(f"{method} {url} ({endpoint}): {status}")
    assert not failures, "\n".join(failures)
    assert Plan.select().count() == plans_before  # empty POSTs changed nothing


def test_another_teachers_group_is_not_found(planned, browser):
    browser.login("kuznetsov.ap", PASSWORD)  # a teacher, but not of the maths group
    group = planned.group.id
    for url in (f"/ktp/{group}", f"/ktp/{group}/edit", f"/ktp/{group}/import"):
        assert browser.get(url).status_code == 404, url
    plan = planned.planning["plan"].id
    assert browser.get(f"/ktp/versions/{plan}.xlsx").status_code == 404
    assert browser.get(f"/ktp/{group}/versions/{plan}").status_code == 404
    assert browser.post(f"/ktp/{group}/submit", {"plan": str(plan)}).status_code == 404
    assert "Математика" not in browser.get("/ktp/").get_data(as_text=True)


def test_a_version_of_another_group_is_not_found(planned, browser):
    as_deputy(browser)
    other = SubjectGroup.create(
        year=planned.year, school_class=planned.classes["5Б"], subject=planned.group.subject
    )
    plan = planned.planning["plan"].id
    assert browser.get(f"/ktp/{other.id}/versions/{plan}").status_code == 404


# --- pages -----------------------------------------------------------------------------------


def test_teacher_list_shows_own_groups_with_state_and_hours(planned, browser):
    as_teacher(browser)
    page = browser.get("/ktp/").get_data(as_text=True)
    assert "Математика" in page and "утверждено" in page
    assert "3 / 170" in page and "не сходится" in page


def test_import_preview_then_confirm_creates_a_new_version(planned, browser):
    as_teacher(browser)
    group = planned.group.id
    response = upload(browser, group, "sections_gaps.xlsx")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Сравнение натуральных чисел" in page and "Прочитан лист «КТП»" in page
    assert "Всего в КТП 10 ч, а по учебному плану" in page  # the checks, before importing
    assert Plan.select().count() == 1  # preview only
    token = hidden(page, "token")
    response = browser.post(
        f"/ktp/{group}/import/confirm", {"token": token, "filename": hidden(page, "filename")}
    )
    assert response.status_code == 302
    plan = Plan.get(Plan.version == 2)
    assert plan.source == "импорт: sections_gaps.xlsx" and plan.state == "draft"
    assert PlanLesson.select().where(PlanLesson.plan == plan).count() == 8
    page = browser.get(f"/ktp/{group}").get_data(as_text=True)
    assert "Версия 2 — черновик" in page and "импорт: sections_gaps.xlsx" in page
    # the stashed file is gone: confirming twice does not import twice
    again = browser.post(f"/ktp/{group}/import/confirm", {"token": token})
    assert again.status_code == 400 and Plan.select().count() == 2


def test_a_windows_1251_csv_from_excel_imports_through_the_page(planned, browser):
    as_teacher(browser)
    page = upload(browser, planned.group.id, "excel_cp1251.csv").get_data(as_text=True)
    assert "Правописание проверяемых безударных гласных" in page
    response = browser.post(
        f"/ktp/{planned.group.id}/import/confirm",
        {"token": hidden(page, "token"), "filename": hidden(page, "filename")},
    )
    assert response.status_code == 302
    plan = Plan.get(Plan.version == 2)
    assert plan.source == "импорт: excel_cp1251.csv"
    sections = {x.section for x in PlanLesson.select().where(PlanLesson.plan == plan)}
    assert sections == {"Язык и общение", "Вспоминаем, повторяем, изучаем"}


def test_a_broken_file_shows_row_errors_and_offers_no_confirm(planned, browser):
    as_teacher(browser)
    response = upload(browser, planned.group.id, "broken_rows.xlsx")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "ничего не загружено" in page
    assert "Строка 4: количество часов «два»" in page and "Строка 3: не указана тема урока" in page
    assert 'name="token"' not in page


def test_an_unreadable_upload_is_a_russian_400(planned, browser):
    as_teacher(browser)
    response = upload(browser, planned.group.id, "ktp.xlsx", b"not a workbook")
    assert response.status_code == 400
    assert "Не удалось открыть файл Excel" in response.get_data(as_text=True)


def test_a_tampered_token_is_refused(planned, browser):
    as_teacher(browser)
    url = f"/ktp/{planned.group.id}/import/confirm"
    assert browser.post(url, {"token": "../../etc"}).status_code == 400
    assert browser.post(url, {"token": "abc123"}).status_code == 400


def test_teacher_submits_deputy_returns_then_approves_in_the_browser(planned, browser, client):
    as_teacher(browser)
    group = planned.group.id
    page = upload(browser, group, "full.csv", full_plan_csv()).get_data(as_text=True)
    browser.post(f"/ktp/{group}/import/confirm", {"token": hidden(page, "token")})
    plan = Plan.get(Plan.version == 2)
    page = browser.get(f"/ktp/{group}").get_data(as_text=True)
    assert "Проверки пройдены" in page and "Отправить на проверку" in page
    response = browser.post(f"/ktp/{group}/submit", {"plan": str(plan.id)})
    assert response.status_code == 302
    browser.logout()

    as_deputy(browser)
    queue = browser.get("/ktp/review").get_data(as_text=True)
    assert "Математика — 5А" in queue and "версия 2" in queue
    assert UserNotice.select().where(UserNotice.user == planned.users["deputy"]).count() == 1
    refused = browser.post(f"/ktp/review/{plan.id}", {"decision": "return", "comment": ""})
    assert refused.status_code == 400 and "без комментария" in refused.get_data(as_text=True)
    browser.post(f"/ktp/review/{plan.id}", {"decision": "return", "comment": "Уточните темы."})
    assert Plan.get_by_id(plan.id).state == "returned"
    browser.logout()

    as_teacher(browser)
    page = browser.get(f"/ktp/{group}").get_data(as_text=True)
    assert "возвращена" in page and "Уточните темы." in page
    lesson = PlanLesson.get((PlanLesson.plan == plan) & (PlanLesson.position == 1))
    response = browser.post(
        f"/ktp/{group}/rows",
        {
            "action": "save",
            "lesson": str(lesson.id),
            "topic": "Числа и цифры",
            "hours": "1",
            "section": "Числа",
        },
    )
    assert response.status_code == 302
    draft = Plan.get(Plan.version == 3)
    assert draft.source == "изменение версии 2"
    browser.post(f"/ktp/{group}/submit", {"plan": str(draft.id)})
    browser.logout()

    as_deputy(browser)
    response = browser.post(
        f"/ktp/review/{draft.id}", {"decision": "approve", "back": "plan", "comment": ""}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/ktp/{group}")
    page = browser.get(f"/ktp/{group}").get_data(as_text=True)
    assert "Действует версия 3" in page and "Белова О.С." in page
    assert "Уточните темы." in page  # version 2's return stays in the history


def test_submit_with_failing_checks_is_refused_with_the_reason(planned, browser):
    as_teacher(browser)
    group = planned.group.id
    page = upload(browser, group, "clean.xlsx").get_data(as_text=True)
    browser.post(f"/ktp/{group}/import/confirm", {"token": hidden(page, "token")})
    plan = Plan.get(Plan.version == 2)
    response = browser.post(f"/ktp/{group}/submit", {"plan": str(plan.id)})
    assert response.status_code == 400
    assert "КТП не отправлена" in response.get_data(as_text=True)
    assert Plan.get_by_id(plan.id).state == "draft"


def test_editing_an_approved_plan_in_the_browser_makes_a_draft_version(planned, browser):
    as_teacher(browser)
    group = planned.group.id
    page = browser.get(f"/ktp/{group}/edit").get_data(as_text=True)
    assert "первое изменение создаст новую версию" in page
    first = PlanLesson.get(PlanLesson.position == 1)
    response = browser.post(
        f"/ktp/{group}/rows",
        {
            "action": "add",
            "lesson": str(first.id),
            "topic": "Нуль",
            "hours": "2",
            "planned_date": "2026-09-03",
        },
    )
    assert response.status_code == 302
    draft = Plan.get(Plan.version == 2)
    topics = [
        x.topic
        for x in PlanLesson.select().where(PlanLesson.plan == draft).order_by(PlanLesson.position)
    ]
    assert topics[:2] == ["Натуральные числа", "Нуль"]
    page = browser.get(f"/ktp/{group}/edit").get_data(as_text=True)
    assert "Создана версия 2" in page
    row = PlanLesson.get((PlanLesson.plan == draft) & (PlanLesson.position == 1))
    bad = browser.post(
        f"/ktp/{group}/rows",
        {"action": "save", "lesson": str(row.id), "topic": "Числа до миллиона", "hours": "x"},
    )
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "Числа до миллиона</textarea>" in page  # kept as typed
    bad = browser.post(f"/ktp/{group}/rows", {"action": "add", "topic": "", "hours": "1"})
    assert bad.status_code == 400 and "Укажите тему урока" in bad.get_data(as_text=True)
    bad = browser.post(f"/ktp/{group}/rows", {"action": "add", "topic": "X", "hours": "ноль"})
    assert bad.status_code == 400 and "целое число" in bad.get_data(as_text=True)


def test_export_downloads_an_xlsx_the_importer_reads(planned, browser):
    as_deputy(browser)
    plan = planned.planning["plan"]
    response = browser.get(f"/ktp/versions/{plan.id}.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "filename*=UTF-8" in response.headers["Content-Disposition"]
    preview = read_plan_file("x.xlsx", response.data, planned.year.starts)
    assert [r.topic for r in preview.rows] == [
        "Натуральные числа",
        "Сложение и вычитание",
        "Умножение",
    ]


def test_copy_page_lists_parallel_classes_and_copies(planned, browser):
    with write():
        b = planned.classes["5Б"]
        other = SubjectGroup.create(
            year=planned.year, school_class=b, subject=planned.group.subject
        )
        SubjectGroupTeacher.create(group=other, teacher=planned.users["class_teacher"].person)
        source = Plan.create(group=other, version=1, state="approved")
        PlanLesson.create(plan=source, position=1, topic="Тема 5Б")
    as_teacher(browser)
    page = browser.get(f"/ktp/{planned.group.id}/copy").get_data(as_text=True)
    assert "Математика — 5Б (Кузнецов А.П.)" in page
    response = browser.post(f"/ktp/{planned.group.id}/copy", {"source": str(source.id)})
    assert response.status_code == 302
    copy = Plan.get((Plan.group == planned.group) & (Plan.version == 2))
    assert copy.source.startswith("копия: Математика — 5Б")
    foreign = browser.post(f"/ktp/{planned.group.id}/copy", {"source": "999999"})
    assert foreign.status_code == 400


def test_deputy_and_inspector_read_every_plan_but_do_not_edit(planned, browser):
    browser.login("titov.pa", PASSWORD)
    assert browser.get(f"/ktp/{planned.group.id}").status_code == 200
    assert browser.get("/ktp/review").status_code == 200
    assert browser.get(f"/ktp/{planned.group.id}/edit").status_code == 403
    assert browser.post(f"/ktp/review/{planned.planning['plan'].id}", {}).status_code == 403


def test_review_queue_shows_check_results(planned, browser):
    with write():
        plan = Plan.create(group=planned.group, version=2, state="submitted")
        PlanLesson.create(plan=plan, position=1, topic="Present Simple", hours=170)
    as_deputy(browser)
    page = browser.get(f"/ktp/review?year={planned.year.id}").get_data(as_text=True)
    assert "написана не по-русски" in page and "Проверки пройдены" not in page
    CurriculumLine.update(hours_year=100).execute()
    page = browser.get("/ktp/review").get_data(as_text=True)
    assert "лишних 70 ч" in page
    assert browser.get("/ktp/review?year=999999").status_code == 404


def test_closed_year_plan_is_read_only(planned, browser):
    planned.year.read_only = True
    planned.year.save()
    as_teacher(browser)
    page = browser.get(f"/ktp/{planned.group.id}").get_data(as_text=True)
    assert "только просмотр" in page and "Редактировать" not in page
    response = upload(browser, planned.group.id, "clean.xlsx")
    assert response.status_code == 200  # the preview reads; the confirm refuses
    token = hidden(response.get_data(as_text=True), "token")
    refused = browser.post(f"/ktp/{planned.group.id}/import/confirm", {"token": token})
    assert refused.status_code == 400 and "закрыт" in refused.get_data(as_text=True)


def test_no_year_yet_page(app, browser, school):
    with write():  # the only year lies in the past and is not marked current
        AcademicYear.update(
            is_current=False, starts=dt.date(2000, 9, 1), ends=dt.date(2001, 8, 31)
        ).execute()
    as_teacher(browser)
    response = browser.get("/ktp/")
    assert response.status_code == 200
    assert "Учебный год ещё не создан" in response.get_data(as_text=True)
