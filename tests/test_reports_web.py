"""Report pages, roles and the XLSX/PDF export through the background job."""

from __future__ import annotations

import io
import json
import re

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from appliance import jobs
from appliance.models import AuditEntry, Job
from appliance.reports import catalog, export, summary

from .factories import PASSWORD, ROLE_ACCOUNTS
from .test_reports import filling_month, progress_class

PAGES = [
    "/reports/",
    "/reports/control",
    "/reports/filling",
    "/reports/progress",
    "/reports/summary",
    "/reports/activity",
]


@pytest.mark.parametrize("username", ["belova.os", "orlova.mi", "titov.pa"])
def test_every_report_page_opens_for_the_office(school, browser, username):
    progress_class(school)
    browser.login(username, PASSWORD)
    class_id = school.classes["5А"].id
    for path in [*PAGES, f"/reports/summary?class_id={class_id}"]:
        response = browser.get(path)
        expected = 403 if username == "titov.pa" and path == "/reports/activity" else 200
        assert response.status_code == expected, path


@pytest.mark.parametrize("role", list(ROLE_ACCOUNTS))
def test_access_walk_of_report_routes(school, browser, role):
    """What the access test does for every route: GET and an empty POST per role."""
    browser.login(ROLE_ACCOUNTS[role], PASSWORD, role=school.role_key(role))
    office = role in ("director", "deputy", "inspector")
    administration = role in ("director", "deputy")
    for path in PAGES:
        # the activity report is personal data: user_activity, not the inspector
        allowed = administration if path == "/reports/activity" else office
        assert browser.get(path).status_code == (200 if allowed else 403), path
    response = browser.post("/reports/export", {}, token_from="/")
    assert response.status_code == (400 if administration else 403)
    assert not Job.select().exists()


@pytest.mark.parametrize("username", ["smirnova.ev", "zaytsev.io", "ivanov.p", "ivanova.m"])
def test_others_cannot_open_reports(school, browser, username):
    browser.login(username, PASSWORD)
    for path in PAGES:
        assert browser.get(path).status_code == 403, path
    response = browser.post("/reports/export", {"report": "progress", "format": "xlsx"})
    assert response.status_code == 403


def test_class_teacher_cannot_open_reports(school, browser):
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    assert browser.get("/reports/progress").status_code == 403


def test_inspector_reads_but_cannot_generate_files(school, browser):
    progress_class(school)
    browser.login("titov.pa", PASSWORD)
    page = browser.get("/reports/progress").get_data(as_text=True)
    assert "Отличников" in page and "Скачать XLSX" not in page
    response = browser.post(
        "/reports/export", {"report": "progress", "format": "xlsx"}, token_from="/reports/"
    )
    assert response.status_code == 403
    assert not Job.select().exists()


def test_progress_page_shows_the_hand_made_figures(school, browser):
    term, _students = progress_class(school)
    browser.login("belova.os", PASSWORD)
    page = browser.get(f"/reports/progress?period=term:{term.id}").get_data(as_text=True)
    assert "Успеваемость, %" in page and "Скачать PDF" in page
    row = re.search(r"<tr><td[^>]*>5А</td>(.*?)</tr>", page, re.S).group(1)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    assert cells[:12] == ["5", "1", "1", "1", "0", "0", "1", "1", "0", "40,0", "60,0", "3,86"]


def test_summary_page_asks_for_a_class_then_shows_marks(school, browser):
    term, _students = progress_class(school)
    browser.login("belova.os", PASSWORD)
    page = browser.get("/reports/summary").get_data(as_text=True)
    assert "Выберите класс" in page and "Скачать XLSX" not in page
    page = browser.get(f"/reports/summary?class_id={school.classes['5А'].id}").get_data(
        as_text=True
    )
    assert "Сводная ведомость учёта успеваемости" in page and "Иванов Пётр" in page
    assert "Кузнецов Андрей Павлович" in page


def test_wrong_filters_answer_400_with_a_message(school, browser):
    browser.login("belova.os", PASSWORD)
    response = browser.get("/reports/filling?month=1999-01")
    assert response.status_code == 400
    assert "не входит в" in response.get_data(as_text=True)
    assert browser.get("/reports/progress?period=term:999").status_code == 400
    assert browser.get("/reports/progress?class_id=abc").status_code == 400
    assert browser.get("/reports/activity?from=2026-10-01").status_code == 400


def test_empty_export_post_changes_nothing(school, browser):
    browser.login("belova.os", PASSWORD)
    response = browser.post("/reports/export", {}, token_from="/reports/")
    assert response.status_code == 400 and "Такого отчёта нет." in response.get_data(as_text=True)
    assert not Job.select().exists()
    response = browser.post(
        "/reports/export", {"report": "progress", "format": "doc"}, token_from="/reports/"
    )
    assert response.status_code == 400 and not Job.select().exists()


def _export(browser, settings, data: dict) -> Job:
    response = browser.post("/reports/export", data, token_from="/reports/")
    assert response.status_code == 302
    job_id = int(response.location.rstrip("/").rsplit("/", 1)[1])
    assert browser.get(f"/jobs/{job_id}").status_code == 200
    jobs.run_pending(settings)
    job = Job.get_by_id(job_id)
    assert job.state == "done", job.message
    return job


def _download(browser, job: Job) -> bytes:
    response = browser.get(f"/jobs/{job.id}/file")
    assert response.status_code == 200
    content = response.get_data()
    response.close()  # send_file keeps the file open until the response is closed
    return content


def test_deputy_downloads_progress_as_xlsx_with_the_same_numbers(school, browser, settings):
    term, _students = progress_class(school)
    browser.login("belova.os", PASSWORD)
    job = _export(
        browser,
        settings,
        {"report": "progress", "format": "xlsx", "period": f"term:{term.id}"},
    )
    assert job.progress == job.total == 3  # the data, then each of the two sheets
    audit = AuditEntry.get(AuditEntry.action == "report.export")
    assert audit.username == "belova.os" and '"progress"' in audit.after
    content = _download(browser, job)
    book = load_workbook(io.BytesIO(content), read_only=True)
    assert book.sheetnames == ["По классам", "По учащимся"]
    rows = list(book["По классам"].iter_rows(values_only=True))
    assert rows[0][0] == "Отчёт об успеваемости и посещаемости"
    header = next(i for i, r in enumerate(rows) if r and r[0] == "Класс")
    assert rows[header][:3] == ("Класс", "Учащихся", "Отличников")
    data = rows[header + 1]
    assert data[:10] == ("5А", 5, 1, 1, 1, 0, 0, 1, 1, 0)
    assert [float(v) for v in data[10:13]] == [40.0, 60.0, 3.86]
    book.close()
    book = load_workbook(io.BytesIO(content))  # not read-only: the panes are there
    assert book["По классам"].freeze_panes == f"A{header + 2}"
    assert book["По классам"].column_dimensions["A"].width > 5


def test_director_downloads_the_summary_as_pdf(school, browser, settings):
    progress_class(school)
    browser.login("orlova.mi", PASSWORD)
    job = _export(
        browser,
        settings,
        {"report": "summary", "format": "pdf", "class_id": str(school.classes["5А"].id)},
    )
    content = _download(browser, job)
    assert content.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(content))
    page = reader.pages[0]
    assert page.mediabox.width > page.mediabox.height  # landscape
    words = "".join(p.extract_text() for p in reader.pages)
    assert "Сводная ведомость учёта успеваемости" in words
    assert "Иванов Пётр" in words and "Математика" in words


def test_every_report_exports_to_both_formats(school, settings, tmp_path):
    """The documents themselves, straight through export (no web), for each report."""
    october, _today = filling_month(school)
    progress_class(school)
    args = {"month": f"{october:%Y-%m}", "class_id": str(school.classes["5А"].id)}
    for name in catalog.REPORTS:
        doc = catalog.document(name, args)
        path = export.to_xlsx(doc, tmp_path / f"{name}.xlsx")
        book = load_workbook(path, read_only=True)
        assert len(book.sheetnames) == len(doc.tables)
        book.close()
        pdf = export.to_pdf(doc)
        assert pdf.startswith(b"%PDF")
        text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
        assert doc.title in text


def test_wide_summary_is_split_for_print(school):
    """Many subjects: the printed sheet is cut between subjects, names on every piece."""
    from appliance.reports.table import Table

    headers = ["№", "ФИО"] + ["1 ч.", "2 ч.", "год"] * 15
    table = Table(
        "Ведомость",
        headers,
        [[1, "Иванов", *(["5"] * 45)]],
        groups=[("", 2)] + [(f"Предмет {n}", 3) for n in range(15)],
        fixed=2,
    )
    pieces = export.print_pieces(table, limit=20)
    assert len(pieces) == 3
    assert all(p.headers[:2] == ["№", "ФИО"] and p.rows[0][1] == "Иванов" for p in pieces)
    assert sum(len(p.headers) - 2 for p in pieces) == 45
    assert pieces[1].groups[1] == ("Предмет 6", 3)


def test_job_fails_plainly_on_a_filter_gone_wrong(school, settings):
    from appliance.db import write

    with write():
        job = jobs.enqueue(
            "reports.export",
            {"report": "summary", "format": "pdf", "filters": {}},
            user=school.users["deputy"],
        )
    jobs.run_pending(settings)
    job = Job.get_by_id(job.id)
    assert job.state == "failed" and job.message == "Выберите класс."


def test_summary_document_rows_match_the_sheet(school):
    progress_class(school)
    sheet = summary.build(school.classes["5А"])
    table = summary.document(sheet).tables[0]
    assert len(table.rows) == len(sheet.students) == 5


def test_pages_run_the_same_queries_for_a_bigger_school(school, browser):
    from .test_reports import _grow_school, _queries

    school.add_planning()
    browser.login("belova.os", PASSWORD)
    paths = PAGES[1:]
    for path in paths:
        browser.get(path)  # warm up
    small = {path: _queries(lambda p=path: browser.get(p)) for path in paths}
    _grow_school(school, 6)
    grown = {path: _queries(lambda p=path: browser.get(p)) for path in paths}
    assert grown == small and min(small.values()) > 5


# --- review findings (issue 7, H4b) --------------------------------------------------------


def test_xlsx_writes_formula_like_names_as_text(school, tmp_path):
    """A last name «=HYPERLINK(…)» typed into the box stays text in the director's Excel."""
    from appliance.db import write
    from appliance.models import Enrollment, Person

    evil = '=HYPERLINK("http://evil.example/","Открыть")'
    with write():
        pupil = Person.create(last_name=evil, first_name="Тест")
        Enrollment.create(
            student=pupil, school_class=school.classes["5А"], starts=school.year.starts
        )
        for n, name in enumerate(("+7 999", "-1", "@SUM(A1)", "\tтаб")):
            other = Person.create(last_name=name, first_name=f"Тест{n}")
            Enrollment.create(
                student=other, school_class=school.classes["5А"], starts=school.year.starts
            )
    doc = catalog.document("summary", {"class_id": str(school.classes["5А"].id)})
    path = export.to_xlsx(doc, tmp_path / "summary.xlsx")
    book = load_workbook(path)
    cells = [c for row in book.worksheets[0].iter_rows() for c in row if c.value]
    names = {c.value: c for c in cells if isinstance(c.value, str) and "Тест" in c.value}
    hyperlink = names[f"{evil} Тест"]
    assert hyperlink.data_type == "s" and hyperlink.quotePrefix
    assert all(c.data_type == "s" for c in names.values())
    assert not [c for c in cells if c.data_type == "f"]
    book.close()


def _next_month():
    import datetime as dt

    today = dt.date.today()
    return (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


@pytest.mark.parametrize("path", ["/reports/control", "/reports/filling"])
def test_a_month_still_to_come_is_400(school, browser, path):
    month = _next_month()
    if month not in catalog.filling.year_months(school.year):
        pytest.skip("the factory's year ends this month")
    browser.login("belova.os", PASSWORD)
    response = browser.get(f"{path}?month={month:%Y-%m}")
    assert response.status_code == 400
    assert "ещё не наступил" in response.get_data(as_text=True)
    assert browser.get(path).status_code == 200  # the default: this month


def test_filters_are_checked_before_a_job_is_queued(school, browser):
    browser.login("belova.os", PASSWORD)
    huge = str(2**70)
    bad = [
        ({"report": "summary", "format": "xlsx"}, "Выберите класс."),
        ({"report": "summary", "format": "pdf", "class_id": huge}, "Неверно указан класс."),
        ({"report": "filling", "format": "xlsx", "staff_id": huge}, "Неверно указан учитель."),
        ({"report": "progress", "format": "xlsx", "year_id": "0"}, "Нет такого учебного года."),
        (
            {"report": "activity", "format": "xlsx", "from": "2026-10-05", "to": "2026-10-01"},
            "Начало периода позже его конца.",
        ),
        (
            {"report": "activity", "format": "pdf", "from": "1026-10-05", "to": "2026-10-01"},
            "проверьте год",
        ),
        (
            {"report": "activity", "format": "pdf", "from": "2026-10-05", "to": "9999-12-31"},
            "проверьте год",
        ),
    ]
    for data, message in bad:
        response = browser.post("/reports/export", data, token_from="/reports/")
        assert response.status_code == 400, data
        assert message in response.get_data(as_text=True), data
    assert not Job.select().exists()
    for args in ({"class_id": huge}, {"year_id": huge}, {"staff_id": "-1"}):
        with pytest.raises(catalog.ReportError):
            catalog.read_filters("filling", args)


def test_year_id_zero_is_not_the_current_year(school, browser):
    with pytest.raises(catalog.ReportError, match="Нет такого учебного года"):
        catalog.read_filters("progress", {"year_id": "0"})
    browser.login("belova.os", PASSWORD)
    response = browser.get("/reports/progress?year_id=0")
    assert response.status_code == 400
    assert "Нет такого учебного года" in response.get_data(as_text=True)


def test_the_export_error_is_shown_once(school, browser):
    browser.login("belova.os", PASSWORD)
    response = browser.post(
        "/reports/export",
        {"report": "filling", "format": "xlsx", "month": "1999-01"},
        token_from="/reports/",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert page.count("не входит в") == 1
    assert "Заполнение журнала" in page  # the report's page, with its filters
    assert not Job.select().exists()


def _headers_on_page(page: str) -> list[list[str]]:
    tables = re.findall(r"<table[^>]*>(.*?)</table>", page, re.S)
    return [re.findall(r"<th[^>]*>([^<]*)</th>", t) for t in tables]


def test_control_page_shows_the_export_columns(school, browser):
    """Every table of the control page has the columns and rows of the XLSX/PDF."""
    from appliance.reports import control

    progress_class(school)
    filling_month(school)
    browser.login("belova.os", PASSWORD)
    page = browser.get("/reports/control").get_data(as_text=True)
    doc = control.document(control.build(school.year, catalog.default_month(school.year)))
    shown = _headers_on_page(page)
    expected = [t.headers for t in doc.tables if t.rows]
    assert shown == expected
    teachers = doc.tables[1]
    assert teachers.headers[1:3] == ["Уроков за месяц", "Не заполнено в срок с начала года"]
    risks = doc.tables[3]
    assert risks.headers[2].startswith("Учащихся с пропусками")
    for table in doc.tables:
        for row in table.rows:
            assert str(row[0]) in page


def test_activity_report_is_for_the_administration_only(school, browser, settings):
    browser.login("titov.pa", PASSWORD)
    assert browser.get("/reports/activity").status_code == 403
    index = browser.get("/reports/").get_data(as_text=True)
    assert "/reports/activity" not in index and "/reports/progress" in index
    control_page = browser.get("/reports/control").get_data(as_text=True)
    assert "/reports/activity" not in control_page
    browser.logout()
    browser.login("belova.os", PASSWORD)
    assert "/reports/activity" in browser.get("/reports/").get_data(as_text=True)
    assert "/reports/activity" in browser.get("/reports/control").get_data(as_text=True)
    job = _export(browser, settings, {"report": "activity", "format": "xlsx"})
    assert job.state == "done"


def test_activity_export_needs_user_activity(school, browser, monkeypatch):
    """A role that may make files (reports.write) but not read user_activity gets 403."""
    from appliance import access

    matrix = {**access.MATRIX, "user_activity": {access.READ: frozenset({"director"})}}
    monkeypatch.setattr(access, "MATRIX", matrix)
    browser.login("belova.os", PASSWORD)
    data = {"report": "activity", "format": "xlsx"}
    assert browser.post("/reports/export", data, token_from="/reports/").status_code == 403
    response = browser.post("/reports/export", {**data, "report": "progress"}, token_from="/")
    assert response.status_code == 302
    assert [json.loads(j.params)["report"] for j in Job.select()] == ["progress"]
