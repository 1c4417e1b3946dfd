"""Database backups: encrypted for the safe's key, rotated, on the stick, and a restore drill."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from appliance import audit, jobs
from appliance.backup import dbbackup, keys
from appliance.cli_backup import backup as backup_cli
from appliance.cli_backup import restore as restore_cli
from appliance.db import write
from appliance.models import AuditEntry, Job, Person, School, database

from .factories import PASSWORD

needs_age = pytest.mark.skipif(
    shutil.which("age") is None, reason="stock age is not installed (Debian package «age»)"
)
NIGHT = dt.datetime(2026, 11, 28, 3, 0)


@pytest.fixture
def secret(settings) -> str:
    """The director's key as on the sheet (the box keeps only its recipient)."""
    return keys.init_keys(settings).identities[0].secret


def key_file(tmp_path: Path, secret: str) -> Path:
    path = tmp_path / "key.txt"
    path.write_text(secret + "\n")
    return path


# --- rotation ---------------------------------------------------------------------------


def test_rotation_keeps_seven_days_and_twelve_months():
    nightly = [dt.datetime(2025, 1, 1, 3) + dt.timedelta(days=n) for n in range(697)]
    assert nightly[-1] == NIGHT
    keep = dbbackup.to_keep(nightly)
    days = {NIGHT - dt.timedelta(days=n) for n in range(7)}
    months = {dt.datetime(2025 + (m > 0), (11 + m) % 12 + 1, 1, 3) for m in range(12)}
    assert min(months) == dt.datetime(2025, 12, 1, 3) and max(months) == dt.datetime(2026, 11, 1, 3)
    assert keep == days | months


def test_rotation_never_drops_the_newest_and_keeps_a_days_last_copy():
    assert dbbackup.to_keep([NIGHT]) == {NIGHT}
    same_day = [NIGHT, NIGHT.replace(hour=12), NIGHT.replace(hour=18)]
    # the day's newest stays; the 03:00 copy is also this month's first (of these)
    assert dbbackup.to_keep(same_day) == {NIGHT.replace(hour=18), NIGHT}


def test_backup_names_say_date_and_time():
    assert dbbackup.backup_name(NIGHT) == "ezh-backup-2026-11-28T0300.sqlite3.age"
    assert dbbackup.taken_at("ezh-backup-2026-11-28T0300.sqlite3.age") == NIGHT
    assert dbbackup.taken_at("ezh-backup-2026-11-28T0300.sqlite3.age.002") == NIGHT
    assert dbbackup.taken_at("notes.txt") is None


# --- making a backup --------------------------------------------------------------------


@needs_age
def test_a_backup_is_encrypted_checked_and_opens_with_stock_age(settings, school, secret, tmp_path):
    name = School.get().name
    result = dbbackup.make_backup(settings, moment=NIGHT)
    path = settings.data_dir / "backups" / "ezh-backup-2026-11-28T0300.sqlite3.age"
    assert result.copies == [path] and result.size == path.stat().st_size
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"age-encryption.org/v1")  # the box cannot read it
    out = tmp_path / "ezh.sqlite3"
    subprocess.run(
        ["age", "-d", "-i", str(key_file(tmp_path, secret)), "-o", str(out), str(path)],
        check=True,
    )
    conn = sqlite3.connect(out)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT name FROM school").fetchone()[0] == name
    assert conn.execute("SELECT count(*) FROM person").fetchone()[0] == Person.select().count()
    conn.close()
    assert not list(settings.data_dir.glob(".backup-*"))  # the plaintext copy is gone


def test_no_keys_no_backup(settings, school):
    with pytest.raises(keys.KeysMissing, match="выполните ezh keys init"):
        dbbackup.make_backup(settings)
    assert (
        not list((settings.data_dir / "backups").glob("*"))
        if (settings.data_dir / "backups").exists()
        else True
    )
    assert not list(settings.data_dir.glob(".backup-*"))


def test_the_stick_gets_a_verified_copy(settings, school, secret, tmp_path):
    stick = tmp_path / "usb"
    stick.mkdir()
    result = dbbackup.make_backup(settings, to=stick, moment=NIGHT)
    copy = stick / "ezh-backups" / result.name
    assert copy in result.copies
    assert copy.read_bytes() == (settings.data_dir / "backups" / result.name).read_bytes()
    places = {b.place for b in dbbackup.all_backups(settings)}
    assert places == {"диск коробки"}  # the stick is shown only when it is configured


def test_a_missing_stick_does_not_stop_the_nightly_copy(
    settings, school, secret, tmp_path, monkeypatch
):
    monkeypatch.setenv("EZH_MEDIA", str(tmp_path / "not-plugged-in"))
    result = dbbackup.make_backup(settings, moment=NIGHT)
    assert "Носитель не найден" in result.media_note
    assert (settings.data_dir / "backups" / result.name).exists()
    view = dbbackup.overview(settings, NIGHT + dt.timedelta(hours=1))
    assert view.stick == tmp_path / "not-plugged-in" and not view.stick_present
    with pytest.raises(dbbackup.BackupError, match="вставьте флешку"):
        dbbackup.make_backup(settings, to=tmp_path / "not-plugged-in")


def test_a_backup_rotates_old_copies_on_disk_and_stick(settings, school, secret, tmp_path):
    stick = tmp_path / "usb"
    for folder in (settings.data_dir / "backups", stick / "ezh-backups"):
        folder.mkdir(parents=True, exist_ok=True)
        for n in range(1, 40):
            (folder / dbbackup.backup_name(NIGHT - dt.timedelta(days=n))).write_bytes(b"old")
        (folder / "notes.txt").write_text("не трогать")
    result = dbbackup.make_backup(settings, to=stick, moment=NIGHT)
    for folder in (settings.data_dir / "backups", stick / "ezh-backups"):
        names = sorted(p.name for p in folder.iterdir())
        assert "notes.txt" in names and result.name in names
        kept = {dbbackup.taken_at(n) for n in names if n != "notes.txt"}
        assert kept == dbbackup.to_keep(kept)
        # the last 7 days, plus the 1st of November and of October
        assert len(kept) == 7 + 2
    assert len(result.removed) == 39 + 1 - 9


def test_the_nightly_backup_is_due_once_a_night(settings, school, secret):
    due = jobs.daily(3)
    assert due(NIGHT.replace(minute=5), None)
    assert not due(NIGHT.replace(minute=50), NIGHT.replace(minute=5))
    assert not due(NIGHT + dt.timedelta(hours=23), NIGHT.replace(minute=5))
    assert due(NIGHT + dt.timedelta(days=1), NIGHT.replace(minute=5))
    assert not due(NIGHT.replace(hour=2), NIGHT - dt.timedelta(hours=23))

    queued = [j for j in jobs.schedule_due(NIGHT.replace(minute=1)) if j.kind == "backup"]
    assert len(queued) == 1
    assert not [j for j in jobs.schedule_due(NIGHT.replace(minute=30)) if j.kind == "backup"]
    [done] = [j for j in jobs.run_pending(settings) if j.kind == "backup"]
    assert done.state == "done" and "записана" in done.message
    assert len(dbbackup.list_backups(settings.data_dir / "backups", "")) == 1
    assert AuditEntry.select().where(AuditEntry.action == "backup.create").count() == 1


def test_the_backup_job_without_keys_fails_in_russian(settings, school):
    with write():
        job = jobs.enqueue("backup")
    jobs.run_pending(settings)
    job = Job.get_by_id(job.id)
    assert job.state == "failed"
    assert job.message == "Ключи архива не созданы: выполните ezh keys init"


def test_backup_command(runner, settings, school, secret, tmp_path):
    stick = tmp_path / "usb"
    stick.mkdir()
    result = runner.invoke(backup_cli, ["--data", str(settings.data_dir), "--to", str(stick)])
    assert result.exit_code == 0, result.output
    assert "записана" in result.output
    assert len(list((stick / "ezh-backups").glob("ezh-backup-*.sqlite3.age"))) == 1


def test_backup_command_without_keys_says_what_to_do(runner, settings, school):
    result = runner.invoke(backup_cli, ["--data", str(settings.data_dir)])
    assert result.exit_code != 0 and "ezh keys init" in result.output


# --- restore ----------------------------------------------------------------------------


def _rename_school(name: str) -> None:
    with write(ip="test") as rec:
        school = School.get()
        School.update(name=name).where(School.id == school.id).execute()
        rec.record("school.update", School.get(), before={"name": school.name})


def test_restore_drill(settings, school, secret, tmp_path):
    """Data → backup → change → restore: the backed-up state, a new instance id, a sound chain."""
    _rename_school("Школа до копии")  # the chain is not empty when it is backed up
    before = School.get()
    people = sorted(p.last_name for p in Person.select())
    result = dbbackup.make_backup(settings, moment=NIGHT)
    _rename_school("Изменено после копии")
    Person.update(last_name="Переименован").execute()

    restored = dbbackup.restore(settings, settings.data_dir / "backups" / result.name, secret)

    now = School.get()
    assert now.name == before.name and sorted(p.last_name for p in Person.select()) == people
    assert now.instance_id == restored.instance_id
    assert restored.old_instance_id == before.instance_id != now.instance_id
    assert restored.chain_ok and audit.verify_chain() is None
    chain = [(e.action, e.after) for e in AuditEntry.select().order_by(AuditEntry.seq)]
    assert [a for a, _ in chain] == ["school.update", "backup.restore"]
    assert "Изменено после копии" not in str(chain) and now.instance_id in chain[1][1]
    kept = restored.kept_as
    assert kept is not None and kept.name.startswith("ezh.sqlite3.before-restore-")
    conn = sqlite3.connect(kept)
    assert conn.execute("SELECT name FROM school").fetchone()[0] == "Изменено после копии"
    conn.close()
    assert not list(settings.data_dir.glob(".restore-*"))


def test_a_new_box_is_restored_from_the_stick(settings, school, secret, tmp_path):
    """The memory card died: a fresh data dir gets the school back from the copy."""
    from appliance.config import load_settings

    stick = tmp_path / "usb"
    stick.mkdir()
    result = dbbackup.make_backup(settings, to=stick, moment=NIGHT)
    name, instance = School.get().name, School.get().instance_id
    fresh = load_settings(tmp_path / "new-box")
    restored = dbbackup.restore(fresh, stick / "ezh-backups" / result.name, secret)
    assert restored.kept_as is None and fresh.db_path.exists()
    assert School.get().name == name and School.get().instance_id != instance
    assert audit.verify_chain() is None


def test_restore_with_a_wrong_key_changes_nothing(settings, school, secret):
    result = dbbackup.make_backup(settings, moment=NIGHT)
    _rename_school("Текущее")
    other = keys.crypto.generate_identity()[0]
    with pytest.raises(keys.crypto.CryptoError, match="Ключ не подходит"):
        dbbackup.restore(settings, settings.data_dir / "backups" / result.name, other)
    assert School.get().name == "Текущее"
    assert not list(settings.data_dir.glob("ezh.sqlite3.before-restore-*"))


def test_restore_refuses_a_database_in_use(settings, school, secret):
    result = dbbackup.make_backup(settings, moment=NIGHT)
    held = sqlite3.connect(settings.db_path)  # the web server or the worker
    held.execute("SELECT count(*) FROM school").fetchone()
    try:
        with pytest.raises(dbbackup.BackupError, match="Остановите службы"):
            dbbackup.restore(settings, settings.data_dir / "backups" / result.name, secret)
    finally:
        held.close()
    assert not list(settings.data_dir.glob("ezh.sqlite3.before-restore-*"))


def test_restore_command(runner, settings, school, secret, tmp_path):
    result = dbbackup.make_backup(settings, moment=NIGHT)
    name = School.get().name
    _rename_school("После копии")
    database.close()
    done = runner.invoke(
        restore_cli,
        [
            str(settings.data_dir / "backups" / result.name),
            "--identity",
            str(key_file(tmp_path, secret)),
            "--data",
            str(settings.data_dir),
            "--yes",
        ],
    )
    assert done.exit_code == 0, done.output
    assert "цепочка цела" in done.output and "Новый идентификатор" in done.output
    assert School.get().name == name


def test_restore_of_a_damaged_file_names_it(runner, settings, school, secret, tmp_path):
    result = dbbackup.make_backup(settings, moment=NIGHT)
    path = settings.data_dir / "backups" / result.name
    data = bytearray(path.read_bytes())
    data[-100] ^= 1
    damaged = tmp_path / result.name
    damaged.write_bytes(bytes(data))
    database.close()
    done = runner.invoke(
        restore_cli,
        [
            str(damaged),
            "--identity",
            str(key_file(tmp_path, secret)),
            "--data",
            str(settings.data_dir),
            "--yes",
        ],
    )
    assert done.exit_code != 0 and f"{result.name} повреждён" in done.output


# --- the page ---------------------------------------------------------------------------


def test_admin_makes_a_backup_from_the_page(browser, settings, school, secret):
    browser.login("zaytsev.io", PASSWORD)
    page = browser.get("/backup/").get_data(as_text=True)
    assert "Копий ещё нет" in page and "Сделать копию сейчас" in page
    assert "ezh restore" in page  # restoring is explained, not offered

    empty = browser.post("/backup/run", {}, token_from="/backup/")
    assert empty.status_code == 302 and Job.select().count() == 0

    response = browser.post("/backup/run", {"start": "1"}, token_from="/backup/")
    job = Job.get(Job.kind == "backup")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/jobs/{job.id}")
    jobs.run_pending(settings)
    assert Job.get_by_id(job.id).state == "done"
    page = browser.get("/backup/").get_data(as_text=True)
    assert "ezh-backup-" in page and "диск коробки" in page and "созданы" in page
    actions = {e.action for e in AuditEntry.select()}
    assert {"backup.run", "backup.create"} <= actions


def test_without_keys_the_page_says_to_run_keys_init(browser, settings, school):
    browser.login("zaytsev.io", PASSWORD)
    page = browser.get("/backup/").get_data(as_text=True)
    assert "Ключи архива не созданы" in page and "ezh keys init --data" in page
    browser.post("/backup/run", {"start": "1"}, token_from="/backup/")
    assert Job.select().count() == 0


def test_the_director_reads_the_page_others_may_not(browser, settings, school, secret):
    browser.login("orlova.mi", PASSWORD)
    page = browser.get("/backup/")
    assert page.status_code == 200
    assert "Сделать копию сейчас" not in page.get_data(as_text=True)
    assert browser.post("/backup/run", {"start": "1"}, token_from="/backup/").status_code == 403
    browser.logout()
    for username in ("belova.os", "smirnova.ev", "titov.pa", "ivanov.p", "ivanova.m"):
        browser.login(username, PASSWORD)
        assert browser.get("/backup/").status_code == 403, username
        browser.logout()
