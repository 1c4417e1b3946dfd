"""The archive page: the admin writes and checks the medium through background jobs, the
register shows the units, the director confirms destruction; everyone else gets 403."""

from __future__ import annotations

import datetime as dt

import pytest

import appliance.backup.tasks  # noqa: F401  (registers the archive jobs)
from appliance import jobs
from appliance.backup import archive
from appliance.models import ArchiveRecord, Job

from .archive_support import make_keys, stub_printer
from .factories import PASSWORD


@pytest.fixture
def stick(tmp_path):
    path = tmp_path / "usb"
    path.mkdir()
    return path


def _job_id(response) -> int:
    assert response.status_code == 302 and "/jobs/" in response.location
    return int(response.location.rstrip("/").split("/")[-1])


def test_admin_writes_the_year_through_a_job_and_sees_the_register(
    browser, school, settings, stick, tmp_path
):
    school.add_planning()
    browser.login("zaytsev.io", PASSWORD)
    page = browser.get("/archive/").get_data(as_text=True)
    assert "ключей нет" in page and "ezh keys init" in page
    make_keys(settings, tmp_path)
    page = browser.get("/archive/").get_data(as_text=True)
    assert "ключи созданы" in page and "Записать архив" in page
    response = browser.post(
        "/archive/build", {"year": str(school.year.id), "media": str(stick)}, token_from="/archive/"
    )
    job_id = _job_id(response)
    (job,) = jobs.run_pending(settings)  # the real printer: PDF/A journals and sheets
    assert job.id == job_id and job.state == "done", job.message
    assert "Записано единиц: 4" in job.message
    assert ArchiveRecord.select().count() == 4
    page = browser.get("/archive/").get_data(as_text=True)
    assert "5А, журнал" in page and "5Б, сводная ведомость" in page and "записано" in page
    # the medium is checked without the key, through the second job
    job_id = _job_id(browser.post("/archive/verify", {"media": str(stick)}, token_from="/archive/"))
    (job,) = jobs.run_pending(settings)
    assert job.state == "done" and "с ошибками: 0" in job.message
    page = browser.get("/archive/").get_data(as_text=True)
    assert f"{dt.date.today():%d.%m.%Y}" in page  # verified today


def test_a_damaged_medium_fails_the_verify_job_naming_the_unit(
    browser, school, settings, stick, tmp_path
):
    make_keys(settings, tmp_path)
    records = archive.build(settings, school.year, stick, printer=stub_printer)
    (stick / records[1].file_name).unlink()
    browser.login("zaytsev.io", PASSWORD)
    _job_id(browser.post("/archive/verify", {"media": str(stick)}, token_from="/archive/"))
    (job,) = jobs.run_pending(settings)
    assert job.state == "failed"
    assert "«5А, сводная ведомость" in job.message and "отсутствует" in job.message
    page = browser.get("/archive/").get_data(as_text=True)
    assert "ошибка" in page


def test_empty_or_wrong_forms_queue_nothing(browser, school, settings, tmp_path):
    browser.login("zaytsev.io", PASSWORD)
    assert browser.post("/archive/build", {}, token_from="/archive/").status_code == 400
    assert browser.post("/archive/verify", {}, token_from="/archive/").status_code == 400
    # keys missing: refused before a job is queued
    response = browser.post(
        "/archive/build",
        {"year": str(school.year.id), "media": str(tmp_path)},
        token_from="/archive/",
    )
    assert response.status_code == 400 and "ezh keys init" in response.get_data(as_text=True)
    assert Job.select().count() == 0


@pytest.mark.parametrize(
    ("username", "status"),
    [("teacher", 403), ("inspector", 403), ("student", 403), ("deputy", 200)],
)
def test_who_opens_the_archive_page(browser, school, username, status):
    browser.login(school.users[username].username, PASSWORD)
    assert browser.get("/archive/").status_code == status


def test_deputy_reads_but_cannot_write_or_destroy(browser, school, stick):
    browser.login("belova.os", PASSWORD)
    page = browser.get("/archive/").get_data(as_text=True)
    assert "Записать архив" not in page
    assert browser.post("/archive/build", {"media": str(stick)}).status_code == 403
    assert browser.post("/archive/destroy", {"confirm": "1"}).status_code == 403


def _past_retention(settings, school, stick, tmp_path):
    make_keys(settings, tmp_path)
    records = archive.build(settings, school.year, stick, printer=stub_printer)
    journals = [r for r in records if r.unit == "journal"]
    ArchiveRecord.update(retain_until=dt.date.today() - dt.timedelta(days=1)).where(
        ArchiveRecord.id.in_([r.id for r in journals])
    ).execute()
    return journals


def test_director_prints_the_act_and_confirms_destruction(
    browser, school, settings, stick, tmp_path
):
    browser.login("orlova.mi", PASSWORD)
    assert browser.get("/archive/act.pdf").status_code == 302  # nothing due: no act
    journals = _past_retention(settings, school, stick, tmp_path)
    page = browser.get("/archive/").get_data(as_text=True)
    assert "Срок хранения истёк" in page and "Уничтожить" in page
    act = browser.get("/archive/act.pdf")
    assert act.status_code == 200 and act.data.startswith(b"%PDF")
    form = {"record": [str(r.id) for r in journals], "act": "1/2031", "media": str(stick)}
    assert browser.post("/archive/destroy", form, token_from="/archive/").status_code == 400
    assert all((stick / r.file_name).exists() for r in journals)  # no confirm: nothing gone
    form["confirm"] = "1"
    response = browser.post("/archive/destroy", form, token_from="/archive/")
    assert response.status_code == 302
    assert ArchiveRecord.select().where(ArchiveRecord.status == "destroyed").count() == 2
    assert not any((stick / r.file_name).exists() for r in journals)
    page = browser.get("/archive/").get_data(as_text=True)
    assert "акт № 1/2031" in page


def test_admin_sees_units_due_but_only_the_director_destroys(
    browser, school, settings, stick, tmp_path
):
    journals = _past_retention(settings, school, stick, tmp_path)
    browser.login("zaytsev.io", PASSWORD)
    page = browser.get("/archive/").get_data(as_text=True)
    assert "Уничтожение подтверждает директор" in page
    form = {"record": [str(journals[0].id)], "act": "1", "media": str(stick), "confirm": "1"}
    assert browser.post("/archive/destroy", form, token_from="/archive/").status_code == 403


def test_the_page_reminds_of_the_yearly_check(browser, school, settings, stick, tmp_path):
    make_keys(settings, tmp_path)
    archive.build(settings, school.year, stick, printer=stub_printer)
    ArchiveRecord.update(created_at=dt.datetime.now() - dt.timedelta(days=400)).execute()
    browser.login("zaytsev.io", PASSWORD)
    assert "Пора проверить носитель" in browser.get("/archive/").get_data(as_text=True)
