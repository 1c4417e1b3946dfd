"""Report pages, roles and the XLSX/PDF export through the background job."""

from __future__ import annotations

import io
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
        assert response.status_code == 200, path


@pytest.mark.parametrize("role", list(ROLE_ACCOUNTS))
def test_access_walk_of_report_routes(school, browser, role):
    """What the access test does for every route: GET and an empty POST per role."""
    browser.login(ROLE_ACCOUNTS[role], PASSWORD, role=school.role_key(role))
    office = role in ("director", "deputy", "inspector")
    for path in PAGES:
        assert browser.get(path).status_code == (200 if office else 403), path
    response = browser.post("/reports/export", {}, token_from="/")
    assert response.status_code == (302 if role in ("director", "deputy") else 403)
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
    assert cells[:11] == ["5", "1", "1", "1", "0", "1", "1", "0", "50,0", "60,0", "3,86"]


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
    assert response.status_code == 302 and response.location.endswith("/reports/")
    assert not Job.select().exists()
    response = browser.post(
        "/reports/export", {"report": "progress", "format": "doc"}, token_from="/reports/"
    )
    assert response.status_code == 302 and not Job.select().exists()


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
    assert data[:9] == ("5А", 5, 1, 1, 1, 0, 1, 1, 0)
    assert [float(v) for v in data[9:12]] == [50.0, 60.0, 3.86]
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
