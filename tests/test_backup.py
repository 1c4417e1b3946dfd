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


# --- review fixes -----------------------------------------------------------------------


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _encrypt_db(settings, tmp_path: Path, build) -> Path:
    """An encrypted «backup» of a database made by ``build(conn)`` (not a real box's)."""
    from appliance.backup import crypto

    plain = tmp_path / "made.sqlite3"
    conn = sqlite3.connect(plain)
    build(conn)
    conn.commit()
    conn.close()
    target = tmp_path / dbbackup.backup_name(NIGHT)
    crypto.encrypt_file(plain, target, keys.recipients(settings))
    return target


def _newer_schema(conn) -> None:
    from appliance.db import latest_version

    conn.execute("CREATE TABLE school (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute(f"PRAGMA user_version = {latest_version() + 1}")


def _no_school(conn) -> None:
    conn.execute("CREATE TABLE notes (x TEXT)")


def _not_sound(conn) -> None:
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.execute("CREATE INDEX t_x ON t (x)")
    conn.executemany("INSERT INTO t VALUES (?)", [(str(n),) for n in range(2000)])
    conn.commit()
    conn.execute("PRAGMA writable_schema = ON")  # the index now points at the wrong table
    conn.execute("UPDATE sqlite_master SET rootpage = 2 WHERE name = 't_x'")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (_newer_schema, "более новой версией ЭЖ-box"),
        (_no_school, "В копии нет школы"),
        (_not_sound, "Проверка целостности|не база данных"),
    ],
)
def test_a_failure_after_decryption_leaves_the_live_database_untouched(
    settings, school, secret, tmp_path, build, message
):
    _rename_school("Живая база")
    database.close()
    before = _sha(settings.db_path)
    source = _encrypt_db(settings, tmp_path, build)
    with pytest.raises(dbbackup.BackupError, match=message):
        dbbackup.restore(settings, source, secret)
    database.close()
    assert _sha(settings.db_path) == before
    assert not list(settings.data_dir.glob("ezh.sqlite3.before-restore-*"))
    assert not list(settings.data_dir.glob(".restore-*"))
    assert School.get().name == "Живая база"


CRASH_MID_WRITE = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
conn.execute("PRAGMA wal_autocheckpoint = 0")
conn.execute("UPDATE school SET name = 'Только в WAL'")
conn.commit()
os._exit(0)  # a power cut: the change lives only in ezh.sqlite3-wal
"""


def test_restore_keeps_what_was_only_in_the_wal_and_no_stale_wal_meets_the_copy(
    settings, school, secret, tmp_path
):
    import sys

    result = dbbackup.make_backup(settings, moment=NIGHT)
    name = School.get().name
    database.close()
    subprocess.run([sys.executable, "-c", CRASH_MID_WRITE, str(settings.db_path)], check=True)
    wal = settings.db_path.with_name("ezh.sqlite3-wal")
    assert wal.stat().st_size > 0

    restored = dbbackup.restore(settings, settings.data_dir / "backups" / result.name, secret)
    kept = restored.kept_as
    assert not Path(f"{kept}-wal").exists() and not Path(f"{kept}-shm").exists()
    conn = sqlite3.connect(f"file:{kept}?immutable=1", uri=True)  # the file alone
    assert conn.execute("SELECT name FROM school").fetchone()[0] == "Только в WAL"
    conn.close()
    assert School.get().name == name and audit.verify_chain() is None
    database.close()
    conn = sqlite3.connect(f"file:{settings.db_path}?immutable=1", uri=True)
    assert conn.execute("SELECT name FROM school").fetchone()[0] == name
    conn.close()


def test_restore_holds_the_database_locked_until_the_swap(settings, school, secret, monkeypatch):
    result = dbbackup.make_backup(settings, moment=NIGHT)
    database.close()
    seen = []
    swap = dbbackup._swap

    def swap_and_look(live, restored):
        other = sqlite3.connect(live, timeout=0)  # the web server starting too early
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("SELECT count(*) FROM school").fetchone()
        finally:
            other.close()
        seen.append(live)
        return swap(live, restored)

    monkeypatch.setattr(dbbackup, "_swap", swap_and_look)
    dbbackup.restore(settings, settings.data_dir / "backups" / result.name, secret)
    assert seen == [settings.db_path]


def test_rotation_never_deletes_the_copy_just_written(settings, school, secret):
    """No clock battery: the box starts in 2024 and its new copy looks two years old."""
    folder = settings.data_dir / "backups"
    folder.mkdir(parents=True, exist_ok=True)
    olds = [NIGHT - dt.timedelta(days=n) for n in range(1, 400)]
    for moment in olds:
        (folder / dbbackup.backup_name(moment)).write_bytes(b"old")
    past = NIGHT - dt.timedelta(days=730)
    assert past not in dbbackup.to_keep([*olds, past])  # rotation alone would drop it
    result = dbbackup.make_backup(settings, moment=past)
    assert result.name == dbbackup.backup_name(past)
    assert (folder / result.name).exists() and result.name not in result.removed
    assert len(result.removed) == len(olds) - len(dbbackup.to_keep(olds))


def test_crash_leftovers_with_plaintext_are_removed_by_the_next_run(settings, school, secret):
    for name in (".backup-abc", ".restore-def"):
        left = settings.data_dir / name
        left.mkdir()
        (left / "ezh.sqlite3").write_bytes(b"plaintext journal")
    (settings.data_dir / ".backup-note.txt").write_text("not ours")  # only folders go
    with write():
        jobs.enqueue("backup")
    [done] = jobs.run_pending(settings)
    assert done.state == "done"
    assert not list(settings.data_dir.glob(".backup-*/")) and not list(
        settings.data_dir.glob(".restore-*")
    )
    assert (settings.data_dir / ".backup-note.txt").exists()
    (settings.data_dir / ".restore-xyz").mkdir()
    database.close()
    dbbackup.restore(settings, settings.data_dir / "backups" / done_name(settings), secret)
    assert not list(settings.data_dir.glob(".restore-*"))


def done_name(settings) -> str:
    [item] = dbbackup.list_backups(settings.data_dir / "backups", "")
    return item.name


def test_one_backup_or_restore_at_a_time(settings, school, secret):
    with dbbackup.exclusive(settings):
        with pytest.raises(dbbackup.BackupError, match="дождитесь окончания"):
            dbbackup.make_backup(settings, moment=NIGHT)


def _split(path: Path, folder: Path, pieces: int) -> list[Path]:
    data = path.read_bytes()
    size = len(data) // pieces + 1
    parts = []
    for n in range(pieces):
        part = folder / f"{path.name}.{n + 1:03d}"
        part.write_bytes(data[n * size : (n + 1) * size])
        parts.append(part)
    return parts


def test_a_split_backup_is_listed_by_a_real_name_and_restored_from_its_first_part(
    runner, settings, school, secret, tmp_path, monkeypatch
):
    result = dbbackup.make_backup(settings, moment=NIGHT)
    name = School.get().name
    stick = tmp_path / "usb"
    (stick / "ezh-backups").mkdir(parents=True)
    parts = _split(settings.data_dir / "backups" / result.name, stick / "ezh-backups", 3)
    monkeypatch.setenv("EZH_MEDIA", str(stick))
    [on_stick] = [b for b in dbbackup.all_backups(settings) if b.place == "флешка"]
    assert on_stick.file_name == parts[0].name and on_stick.parts == parts
    assert (stick / "ezh-backups" / on_stick.file_name).exists()

    for given in (parts[0], stick / "ezh-backups" / result.name):
        _rename_school("После копии")
        database.close()
        done = runner.invoke(
            restore_cli,
            [
                str(given),
                "--identity",
                str(key_file(tmp_path, secret)),
                "--data",
                str(settings.data_dir),
                "--yes",
            ],
        )
        assert done.exit_code == 0, done.output
        assert "частей: 3" in done.output and School.get().name == name


def test_ezh_restore_runs_in_a_fresh_process(settings, school, secret, tmp_path):
    """`ezh restore` as the admin runs it: a new process, the key on standard input."""
    result = dbbackup.make_backup(settings, moment=NIGHT)
    name = School.get().name
    _rename_school("После копии")
    database.close()
    ezh = Path(__import__("sys").executable).with_name("ezh")
    done = subprocess.run(
        [
            str(ezh),
            "restore",
            str(settings.data_dir / "backups" / result.name),
            "--identity",
            "-",
            "--data",
            str(settings.data_dir),
            "--yes",
        ],
        input=secret + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "цепочка цела" in done.stdout
    from appliance.db import open_database

    open_database(settings.db_path)
    assert School.get().name == name
    assert len(list(settings.data_dir.glob("ezh.sqlite3.before-restore-*"))) == 1


def test_restore_command_errors_are_russian(runner, settings, school, secret, tmp_path):
    result = dbbackup.make_backup(settings, moment=NIGHT)
    database.close()
    source = str(settings.data_dir / "backups" / result.name)
    data = ["--data", str(settings.data_dir), "--yes"]
    unreadable = runner.invoke(restore_cli, [source, "--identity", str(tmp_path), *data])
    assert unreadable.exit_code == 1 and isinstance(unreadable.exception, SystemExit)
    assert "Файл ключа" in unreadable.output and "не прочитан" in unreadable.output
    missing = runner.invoke(restore_cli, [str(tmp_path / "нет.age"), "--identity", "-", *data])
    assert missing.exit_code == 1 and "нет.age нет" in missing.output
    typed = runner.invoke(restore_cli, [source, "--identity", "-", *data], input=secret + "\n")
    assert typed.exit_code == 0, typed.output


def test_a_full_data_disk_is_said_plainly(runner, settings, school, secret, monkeypatch):
    def full(target, db=None):
        Path(target).write_bytes(b"half a database")
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(dbbackup, "backup_to", full)
    result = runner.invoke(backup_cli, ["--data", str(settings.data_dir)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "не хватает места" in result.output
    assert not list(settings.data_dir.glob(".backup-*"))


class SmallStick:
    """A stick of ``capacity`` bytes: a write beyond it fails with ENOSPC."""

    def __init__(self, root: Path, capacity: int, monkeypatch) -> None:
        from appliance.backup import media

        self.root, self.capacity = root, capacity
        real = media._write_chunk

        def write_chunk(fh, data):
            fh.flush()
            if self.used() + len(data) > self.capacity:
                raise OSError(28, "No space left on device")
            real(fh, data)

        monkeypatch.setattr(media, "_write_chunk", write_chunk)
        monkeypatch.setattr(dbbackup, "_free_bytes", lambda folder: self.capacity - self.used())

    def used(self) -> int:
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


@pytest.mark.parametrize("free_space_known", [True, False])
def test_a_full_stick_is_made_room_on_and_gets_the_copy(
    settings, school, secret, tmp_path, monkeypatch, free_space_known
):
    """Room is made before the write; when the free space lied, ENOSPC → drop, retry once."""
    stick = tmp_path / "usb"
    folder = stick / "ezh-backups"
    folder.mkdir(parents=True)
    size = dbbackup.make_backup(settings, moment=NIGHT - dt.timedelta(days=90)).size
    (settings.data_dir / "backups" / dbbackup.backup_name(NIGHT - dt.timedelta(days=90))).unlink()
    olds = [NIGHT - dt.timedelta(days=n) for n in (1, 2, 3)]  # all kept by rotation
    for moment in olds:
        (folder / dbbackup.backup_name(moment)).write_bytes(b"x" * size)
    SmallStick(stick, 3 * size + size // 2, monkeypatch)  # full: no room for a fourth
    if not free_space_known:
        monkeypatch.setattr(dbbackup, "_free_bytes", lambda folder: 1 << 40)
    result = dbbackup.make_backup(settings, to=stick, moment=NIGHT)
    assert not result.media_note and folder / result.name in result.copies
    names = {p.name for p in folder.iterdir()}
    assert result.name in names and dbbackup.backup_name(olds[0]) in names  # the newest old one


def test_a_stick_failure_is_not_a_silent_done(
    browser, settings, school, secret, tmp_path, monkeypatch
):
    stick = tmp_path / "usb"
    folder = stick / "ezh-backups"
    folder.mkdir(parents=True)
    (folder / dbbackup.backup_name(NIGHT - dt.timedelta(days=1))).write_bytes(b"x" * 1000)
    SmallStick(stick, 2000, monkeypatch)  # too small for any backup
    monkeypatch.setenv("EZH_MEDIA", str(stick))
    browser.login("zaytsev.io", PASSWORD)
    browser.post("/backup/run", {"start": "1"}, token_from="/backup/")
    jobs.run_pending(settings)
    job = Job.get(Job.kind == "backup")
    assert job.state == "done"
    assert "только на диск коробки" in job.message and "ВНИМАНИЕ" in job.message
    assert "Резервная копия" in job.message and "Единица" not in job.message
    assert "не хватило места" in job.message
    # the newest copy the stick had is still there: nothing was lost for nothing
    assert (folder / dbbackup.backup_name(NIGHT - dt.timedelta(days=1))).exists()
    page = browser.get("/backup/").get_data(as_text=True)
    assert "Последняя копия не записана на флешку" in page and "не хватило места" in page
    shown = browser.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "ВНИМАНИЕ" in shown


def test_the_page_prints_commands_that_run(browser, settings, school, secret):
    browser.login("zaytsev.io", PASSWORD)
    page = browser.get("/backup/").get_data(as_text=True)
    data = str(settings.data_dir)
    assert (
        f"sudo ezh restore {data}/backups/ФАЙЛ --identity - --data {data} --yes &lt; key.txt"
        in page
    )
    browser.logout()
    (settings.data_dir / "keys" / "recipients.txt").unlink()
    browser.login("zaytsev.io", PASSWORD)
    page = browser.get("/backup/").get_data(as_text=True)
    assert f"sudo ezh keys init --data {data} --sheet" in page
