"""The archive page: the admin writes and checks the medium through background jobs, the
register shows the units, the director confirms destruction; everyone else gets 403."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

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


@pytest.fixture(autouse=True)
def removable(monkeypatch, tmp_path, settings):
    """The page takes only a mounted removable medium (M7): here the test's folder stands
    in for /media, and every folder but the data directory for another device."""
    monkeypatch.setattr(archive, "MEDIA_ROOTS", (tmp_path,))
    data = settings.data_dir.resolve()
    monkeypatch.setattr(archive, "_device", lambda path: 1 if Path(path).resolve() == data else 2)


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


def test_the_medium_path_must_be_a_removable_medium(
    browser, school, settings, stick, tmp_path, monkeypatch
):
    """M7: a path typed into the form is written to only when it is a mounted medium and
    not the data disk; anything else is refused in Russian, 400, and nothing is queued."""
    make_keys(settings, tmp_path)
    browser.login("zaytsev.io", PASSWORD)
    build = {"year": str(school.year.id)}
    for path in ("/etc", "/", str(settings.data_dir)):
        response = browser.post("/archive/build", {**build, "media": path}, token_from="/archive/")
        text = response.get_data(as_text=True)
        refused = ("не съёмный носитель", "том же", "внутри папки данных")
        assert response.status_code == 400 and any(reason in text for reason in refused)
    response = browser.post("/archive/verify", {"media": "/etc"}, token_from="/archive/")
    assert response.status_code == 400 and "не съёмный носитель" in response.get_data(as_text=True)
    monkeypatch.undo()  # now the folder is on the data directory's own disk
    monkeypatch.setattr(archive, "MEDIA_ROOTS", (tmp_path,))
    response = browser.post(
        "/archive/build", {**build, "media": str(stick)}, token_from="/archive/"
    )
    assert response.status_code == 400 and "том же диске" in response.get_data(as_text=True)
    assert Job.select().count() == 0
    with pytest.raises(archive.ArchiveError, match="не съёмный"):
        archive.check_medium_path(settings, "/tmp")
    with pytest.raises(archive.ArchiveError, match="Укажите папку"):
        archive.check_medium_path(settings, "  ")
    # the folder the admin configured (a demo's stand-in for the stick) is trusted …
    monkeypatch.setitem(settings.extra, "archive_media", str(stick))
    assert archive.check_medium_path(settings, str(stick)) == stick.resolve()
    # … but never inside the data folder
    inside = settings.data_dir / "stick"
    inside.mkdir()
    monkeypatch.setitem(settings.extra, "archive_media", str(inside))
    with pytest.raises(archive.ArchiveError, match="внутри папки данных"):
        archive.check_medium_path(settings, str(inside))


def test_a_medium_failing_during_destruction_is_a_message_not_a_500(
    browser, school, settings, stick, tmp_path, monkeypatch
):
    """M3: the rows are «destroying» under the act before a file goes; an I/O error is a
    Russian 400, and the same form finishes the job once the medium is back."""
    import errno

    journals = _past_retention(settings, school, stick, tmp_path)
    browser.login("orlova.mi", PASSWORD)
    real = Path.unlink
    calls = []

    def unlink(self, missing_ok=False):
        calls.append(self.name)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error")
        return real(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    form = {
        "record": [str(r.id) for r in journals],
        "act": "2/2031",
        "media": str(stick),
        "confirm": "1",
    }
    response = browser.post("/archive/destroy", form, token_from="/archive/")
    monkeypatch.setattr(Path, "unlink", real)
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "уничтожается" in text and "ввода-вывода" in text
    rows = [ArchiveRecord.get_by_id(r.id) for r in journals]
    assert {r.status for r in rows} == {"destroying"} and {r.destruction_act for r in rows} == {
        "2/2031"
    }
    assert "уничтожение не закончено" in browser.get("/archive/").get_data(as_text=True)
    response = browser.post("/archive/destroy", form, token_from="/archive/")
    assert response.status_code == 302
    rows = [ArchiveRecord.get_by_id(r.id) for r in journals]
    assert {r.status for r in rows} == {"destroyed"}
    assert not any(
        (stick / n).exists() for r in journals for n in (r.file_name, f"{r.file_name}.minisig")
    )
