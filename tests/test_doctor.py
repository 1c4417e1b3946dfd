"""`ezh doctor` and the «Самопроверка» page: faults injected, each said in Russian."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from appliance import doctor
from appliance.backup import keys
from appliance.cli_doctor import doctor as doctor_cli
from appliance.db import backup_to, latest_version, write
from appliance.doctor import box, services
from appliance.models import Job, OutboxEntry, ScheduleRun, SyncRun, now
from appliance.sync.netschool import Unavailable

from .factories import PASSWORD

GIB = 1024**3
MIB = 1024**2
REAL_SEPARATE_MEDIUM = services._separate_medium


# --- a healthy box, then one fault at a time --------------------------------------------


@pytest.fixture
def stick(tmp_path, monkeypatch) -> Path:
    """The archive stick, plugged in (a directory standing in for a mounted device)."""
    folder = tmp_path / "stick"
    folder.mkdir()
    monkeypatch.setenv("EZH_MEDIA", str(folder))
    monkeypatch.setattr(services, "_separate_medium", lambda root, data_dir: True)
    return folder


def backup_file(settings, moment: dt.datetime) -> Path:
    folder = settings.data_dir / "backups"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / moment.strftime("ezh-backup-%Y-%m-%dT%H%M.sqlite3.age")
    path.write_bytes(b"age-encrypted")
    return path


def worker_ran(moment: dt.datetime) -> None:
    with write():
        ScheduleRun.create(name="nightly_backup", last_run_at=moment)


@pytest.fixture
def healthy(settings, school, stick, monkeypatch, tmp_path):
    """Everything a working box has: tight rights, keys, a fresh backup, a live worker,
    network time, the school's time zone, no HTTPS."""
    monkeypatch.setattr(box, "ntp_synchronized", lambda: True)
    monkeypatch.setattr(box, "system_zone", lambda: "Europe/Samara")
    monkeypatch.setattr(box, "TLS_CERT", tmp_path / "no-tls" / "ezh.crt")
    os.chmod(settings.data_dir, 0o750)
    keys.init_keys(settings)
    backup_file(settings, now() - dt.timedelta(hours=3))
    worker_ran(now() - dt.timedelta(hours=2))
    return settings


def by_code(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {c.code: c for c in checks}


def one(settings, code: str, **kwargs) -> doctor.Check:
    return by_code(doctor.run_checks(settings, **kwargs))[code]


def test_a_healthy_box_passes_every_check(healthy):
    checks = doctor.run_checks(healthy)
    assert [c.code for c in checks] == [
        "data_dir",
        "database",
        "schema",
        "disk",
        "clock",
        "media",
        "keys",
        "backup",
        "sync",
        "worker",
    ]
    assert {c.code: c.status for c in checks if c.status != "ok"} == {}
    assert doctor.exit_code(checks) == 0
    assert "режим WAL" in by_code(checks)["database"].message


# --- data directory ---------------------------------------------------------------------


def test_read_only_data_dir_fails_even_for_root(healthy):
    os.chmod(healthy.data_dir, 0o500)
    try:
        check = one(healthy, "data_dir")
    finally:
        os.chmod(healthy.data_dir, 0o750)
    assert check.status == "fail"
    assert "нельзя записывать" in check.message and "chmod 750" in check.message


def test_read_only_filesystem_fails(healthy, monkeypatch):
    real = os.access
    data_dir = str(healthy.data_dir)
    monkeypatch.setattr(os, "access", lambda p, m, **kw: str(p) != data_dir and real(p, m))
    check = one(healthy, "data_dir")
    assert check.status == "fail" and "только для чтения" in check.message


def test_world_readable_data_dir_and_open_secrets_warn(healthy):
    os.chmod(healthy.data_dir, 0o755)
    os.chmod(healthy.data_dir / "secret_key", 0o644)
    check = one(healthy, "data_dir")
    assert check.status == "warn"
    assert "открыт всем" in check.message and "secret_key (644)" in check.message
    assert "chmod 600" in check.message


def test_a_database_owned_by_someone_else_fails(healthy):
    os.chown(healthy.db_path, 65534, 65534)  # as if `ezh` had been run as another user
    check = one(healthy, "data_dir")
    assert check.status == "fail"
    assert "ezh.sqlite3" in check.message and "chown" in check.message


def test_a_missing_data_dir_is_reported_and_not_created(tmp_path, runner):
    missing = tmp_path / "nowhere"
    result = runner.invoke(doctor_cli, ["--data", str(missing), "--json"])
    assert result.exit_code == 2
    report = json.loads(result.output)
    checks = {c["code"]: c for c in report["checks"]}
    assert checks["data_dir"]["status"] == "fail" and "нет" in checks["data_dir"]["message"]
    assert checks["database"]["status"] == "fail"
    assert checks["sync"]["message"].startswith("Не проверено")
    assert not missing.exists()


# --- database ---------------------------------------------------------------------------


def copy_box(settings, tmp_path: Path) -> Path:
    """A consistent copy of the box's data dir (the live one stays untouched)."""
    target = tmp_path / "copy"
    target.mkdir(mode=0o750)
    backup_to(target / "ezh.sqlite3")
    return target


def test_a_corrupted_database_fails_without_a_crash(healthy, tmp_path, runner):
    target = copy_box(healthy, tmp_path)
    path = target / "ezh.sqlite3"
    size = path.stat().st_size
    assert size > 40 * 4096  # the school's tables span many pages: the middle is data
    with path.open("r+b") as fh:
        for offset in range(size // 3, 2 * size // 3, 4096 * 3):
            fh.seek(offset)
            fh.write(os.urandom(2048))
    checks = by_code(doctor.diagnose(target, probe_upstream=False))
    assert checks["database"].status == "fail"
    assert "восстановите базу из" in checks["database"].message
    assert checks["sync"].message.startswith("Не проверено")
    result = runner.invoke(doctor_cli, ["--data", str(target)])
    assert result.exit_code == 2, result.output
    assert "✗ База данных: целостность" in result.output


def test_a_file_that_is_not_a_database_fails(tmp_path):
    target = tmp_path / "box"
    target.mkdir(mode=0o750)
    (target / "ezh.sqlite3").write_bytes(b"not sqlite at all" * 500)
    checks = by_code(doctor.diagnose(target, probe_upstream=False))
    assert checks["database"].status == "fail"
    assert "не база данных SQLite или повреждён" in checks["database"].message
    assert checks["schema"].status == "fail"


def test_a_database_behind_the_program_says_migrate(healthy, tmp_path):
    target = copy_box(healthy, tmp_path)
    conn = sqlite3.connect(target / "ezh.sqlite3")
    conn.execute(f"PRAGMA user_version = {latest_version() - 1}")
    conn.close()
    check = by_code(doctor.diagnose(target, probe_upstream=False))["schema"]
    assert check.status == "fail" and f"sudo ezh migrate --data {target}" in check.message
    # the doctor only reads: it did not migrate the copy
    conn = sqlite3.connect(target / "ezh.sqlite3")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version() - 1
    conn.close()


def test_a_database_of_a_newer_program_says_so(healthy, tmp_path):
    target = copy_box(healthy, tmp_path)
    conn = sqlite3.connect(target / "ezh.sqlite3")
    conn.execute(f"PRAGMA user_version = {latest_version() + 1}")
    conn.close()
    check = by_code(doctor.diagnose(target, probe_upstream=False))["schema"]
    assert check.status == "fail" and "более новой программой" in check.message


# --- disk -------------------------------------------------------------------------------


def fake_disk(monkeypatch, total: int, free: int) -> None:
    usage = shutil._ntuple_diskusage(total, total - free, free)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage)


@pytest.mark.parametrize(
    ("total", "free", "status"),
    [
        (32 * GIB, 100 * MIB, "fail"),  # full
        (32 * GIB, 800 * MIB, "warn"),  # under 1 GiB
        (100 * GIB, 5 * GIB, "warn"),  # under 10 %
        (32 * GIB, 12 * GIB, "ok"),
    ],
)
def test_free_disk_thresholds(healthy, monkeypatch, total, free, status):
    fake_disk(monkeypatch, total, free)
    check = one(healthy, "disk")
    assert check.status == status, check.message
    if status != "ok":
        assert "journalctl --vacuum-size" in check.message


def test_a_full_disk_makes_the_console_exit_2(healthy, monkeypatch, runner):
    fake_disk(monkeypatch, 32 * GIB, 50 * MIB)
    result = runner.invoke(doctor_cli, ["--data", str(healthy.data_dir)])
    assert result.exit_code == 2
    assert "✗ Свободное место: Свободно 50 МБ" in result.output


# --- clock ------------------------------------------------------------------------------


def test_a_clock_in_1970_fails(healthy, monkeypatch):
    monkeypatch.setattr(doctor, "now", lambda: dt.datetime(1970, 1, 1, 0, 5))
    check = one(healthy, "clock")
    assert check.status == "fail"
    assert "01.01.1970" in check.message and "timedatectl" in check.message


def test_a_clock_behind_the_database_fails(healthy, monkeypatch):
    with write() as rec:  # a change made while the clock was right
        rec.record("backup.create", after={"file": "x"})
    behind = now() - dt.timedelta(days=3)
    monkeypatch.setattr(doctor, "now", lambda: behind)
    check = one(healthy, "clock")
    assert check.status == "fail" and "В базе есть записи от" in check.message


def configure_sync(settings, url: str = "http://127.0.0.1:9") -> None:
    (settings.data_dir / "sync.json").write_text(
        json.dumps({"url": url, "school": "1", "enabled": True}), encoding="utf-8"
    )


def test_a_clock_off_from_the_upstream_warns(healthy, monkeypatch):
    configure_sync(healthy)
    asked = []

    def upstream(url):
        asked.append(url)
        return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=7, seconds=30)

    monkeypatch.setattr(box, "upstream_time", upstream)
    check = one(healthy, "clock")
    assert asked == ["http://127.0.0.1:9"]
    assert check.status == "warn" and "спешат относительно АСУ РСО на 7 мин" in check.message


def test_a_clock_that_agrees_with_the_upstream_is_fine(healthy, monkeypatch):
    configure_sync(healthy)
    monkeypatch.setattr(box, "upstream_time", lambda url: dt.datetime.now(dt.UTC))
    check = one(healthy, "clock")
    assert check.status == "ok" and "Совпадают с часами АСУ РСО" in check.message


def test_an_unreachable_upstream_does_not_blame_the_clock(healthy, monkeypatch):
    configure_sync(healthy)

    def offline(url):
        raise Unavailable("нет связи с АСУ РСО")

    monkeypatch.setattr(box, "upstream_time", offline)
    check = one(healthy, "clock")
    assert check.status == "ok" and "Сверить время с АСУ РСО не удалось" in check.message


def test_no_probe_without_sync_or_when_told_not_to(healthy, monkeypatch):
    def never(url):
        raise AssertionError("probed")

    monkeypatch.setattr(box, "upstream_time", never)
    assert one(healthy, "clock").status == "ok"  # sync not configured: no probe
    configure_sync(healthy)
    assert one(healthy, "clock", probe_upstream=False).status == "ok"


def test_a_clock_without_network_time_warns(healthy, monkeypatch):
    monkeypatch.setattr(box, "ntp_synchronized", lambda: False)
    check = one(healthy, "clock")
    assert check.status == "warn" and "NTP" in check.message and "timesyncd" in check.message


def test_no_timedatectl_says_nothing(healthy, monkeypatch):
    monkeypatch.setattr(box, "ntp_synchronized", lambda: None)
    assert one(healthy, "clock").status == "ok"


def test_ntp_state_is_read_from_timedatectl(monkeypatch):
    import subprocess

    def run(args, **kwargs):
        assert args == ["timedatectl", "show", "-p", "NTPSynchronized", "--value"]
        return subprocess.CompletedProcess(args, 0, stdout="no\n", stderr="")

    monkeypatch.setattr(subprocess, "run", run)
    assert box.ntp_synchronized() is False

    def missing(args, **kwargs):
        raise FileNotFoundError("timedatectl")

    monkeypatch.setattr(subprocess, "run", missing)
    assert box.ntp_synchronized() is None


@pytest.mark.parametrize("zone", ["Etc/UTC", "UTC"])
def test_a_utc_box_warns_with_the_school_zone(healthy, monkeypatch, zone):
    monkeypatch.setattr(box, "system_zone", lambda: zone)
    check = one(healthy, "clock")
    assert check.status == "warn"
    assert "sudo timedatectl set-timezone Europe/Samara" in check.message


def test_a_zone_other_than_the_school_s_warns(healthy, monkeypatch):
    monkeypatch.setattr(box, "system_zone", lambda: "Europe/Moscow")
    check = one(healthy, "clock")
    assert check.status == "warn" and "Europe/Moscow" in check.message
    assert "Europe/Samara" in check.message


def test_the_system_zone_is_read_from_localtime(tmp_path, monkeypatch):
    link = tmp_path / "localtime"
    link.symlink_to("/usr/share/zoneinfo/Europe/Samara")
    monkeypatch.setattr(box, "LOCALTIME", link)
    assert box.system_zone() == "Europe/Samara"
    monkeypatch.setattr(box, "LOCALTIME", tmp_path / "none")
    assert box.system_zone() == ""


# --- HTTPS certificate ------------------------------------------------------------------


def make_cert(path: Path, days: int) -> Path:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ezh.local")])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days + 30, hours=1))
        .sign(key, hashes.SHA256())
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_no_tls_no_tls_row(healthy):
    assert "tls" not in by_code(doctor.run_checks(healthy))


@pytest.mark.parametrize(("days", "status"), [(400, "ok"), (20, "warn"), (-2, "fail")])
def test_the_certificate_s_days_left(healthy, monkeypatch, tmp_path, days, status):
    monkeypatch.setattr(box, "TLS_CERT", make_cert(tmp_path / "tls" / "ezh.crt", days))
    check = one(healthy, "tls")
    assert check.status == status
    if status != "ok":
        assert "sudo /usr/local/lib/ezh/tls-setup.sh" in check.message


def test_an_unreadable_certificate_is_said_not_crashed(healthy, monkeypatch, tmp_path):
    cert = make_cert(tmp_path / "tls" / "ezh.crt", 400)
    monkeypatch.setattr(box, "TLS_CERT", cert)

    def closed(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(box, "tls_days_left", closed)
    check = one(healthy, "tls")
    assert check.status == "warn" and f"sudo chmod 755 {cert.parent}" in check.message


def test_the_upstream_time_is_read_from_its_date_header(monkeypatch):
    from appliance.sync.netschool import Response, UrllibTransport

    seen = []

    def send(self, method, url, headers, body, timeout):
        seen.append((method, url, timeout))
        return Response(200, {"date": "Sun, 29 Nov 2026 10:00:00 GMT"})

    monkeypatch.setattr(UrllibTransport, "send", send)
    moment = box.upstream_time("https://asurso.example/")
    assert moment == dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC)
    assert seen == [("HEAD", "https://asurso.example/", box.PROBE_TIMEOUT)]


# --- the stick, keys, backups -----------------------------------------------------------


def test_a_plugged_writable_stick_is_fine_and_named(healthy, stick):
    (stick / "EZH-ARCHIVE.txt").write_text("EZH-ARCHIVE-20261001-AB12\n", encoding="utf-8")
    check = one(healthy, "media")
    assert check.status == "ok"
    assert "«EZH-ARCHIVE-20261001-AB12»" in check.message and "запись возможна" in check.message
    assert not list(stick.glob(".ezh-doctor-*"))  # the test file was removed


def test_no_stick_configured_warns(healthy, monkeypatch):
    monkeypatch.delenv("EZH_MEDIA")
    check = one(healthy, "media")
    assert check.status == "warn" and "не задана" in check.message


def test_a_stick_not_plugged_in_warns(healthy, stick):
    stick.rmdir()
    check = one(healthy, "media")
    assert check.status == "warn" and "не вставлена" in check.message


def test_an_empty_mount_folder_means_the_stick_is_out(healthy, monkeypatch):
    # install.sh's /media/ezh-archive with nothing mounted on it
    monkeypatch.setattr(services, "_separate_medium", REAL_SEPARATE_MEDIUM)
    folder = healthy.data_dir.parent / "ezh-archive"
    folder.mkdir()
    monkeypatch.setenv("EZH_MEDIA", str(folder))
    check = one(healthy, "media")
    assert check.status == "warn" and check.message.startswith("Флешка не вставлена")


def test_a_folder_on_the_box_is_not_a_stick(healthy, monkeypatch):
    # the real device comparison: the test's folders share the box's disk
    monkeypatch.setattr(services, "_separate_medium", REAL_SEPARATE_MEDIUM)
    folder = healthy.data_dir.parent / "media"
    folder.mkdir()
    monkeypatch.setenv("EZH_MEDIA", str(folder))
    check = one(healthy, "media")
    assert check.status == "warn" and "не смонтирована флешка" in check.message


def test_a_read_only_stick_fails(healthy, stick, monkeypatch):
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, **kw: str(p) != str(stick) and real(p, m))
    check = one(healthy, "media")
    assert check.status == "fail" and "записать на неё нельзя" in check.message


def test_the_archive_media_setting_is_checked_too(healthy, tmp_path, monkeypatch):
    monkeypatch.delenv("EZH_MEDIA")
    healthy.extra["archive_media"] = str(tmp_path / "archive-stick")
    check = one(healthy, "media")
    assert check.status == "warn" and str(tmp_path / "archive-stick") in check.message


def test_missing_keys_fail(settings, school, stick):
    check = one(settings, "keys")
    assert check.status == "fail"
    assert "Ключи архива не созданы" in check.message and "sudo ezh keys init" in check.message
    # the sheet goes to RAM, not the SD card, and is shredded after printing
    assert "--sheet /dev/shm/ezh-key-director.pdf" in check.message
    assert "sudo shred -u /dev/shm/ezh-key-director.pdf" in check.message
    assert "/tmp/ezh-key" not in check.message


def test_ownership_advice_names_the_service_user(healthy, monkeypatch):
    import pwd

    monkeypatch.setattr(box, "_foreign_files", lambda root, uid, fix: [("fail", fix)])
    real = pwd.getpwnam

    def with_ezh(name):
        if name == "ezh":
            return real("root")
        return real(name)

    monkeypatch.setattr(pwd, "getpwnam", with_ezh)
    check = one(healthy, "data_dir")
    assert f"sudo chown -R ezh:ezh {healthy.data_dir}" in check.message

    def without(name):
        raise KeyError(name)

    monkeypatch.setattr(pwd, "getpwnam", without)
    me = doctor.user_name(os.geteuid())
    assert f"sudo chown -R {me}:{me}" in one(healthy, "data_dir").message


def test_the_page_runs_the_quick_check_and_the_console_the_full_one(healthy, monkeypatch):
    from appliance.backup import dbbackup

    calls = []
    real = dbbackup.check_file

    def check_file(path, quick=False):
        calls.append("quick" if quick else "full")
        real(path, quick=quick)

    monkeypatch.setattr(dbbackup, "check_file", check_file)
    assert one(healthy, "database").status == "ok"
    assert calls == ["quick"]
    assert one(healthy, "database", full_integrity=True).status == "ok"
    assert calls == ["quick", "full"]


def test_no_backup_fails(settings, school, stick):
    check = one(settings, "backup")
    assert check.status == "fail" and "Резервных копий базы нет" in check.message


@pytest.mark.parametrize(("days", "status"), [(1, "ok"), (3, "warn"), (8, "fail")])
def test_backup_age(healthy, days, status):
    for old in (healthy.data_dir / "backups").iterdir():
        old.unlink()
    backup_file(healthy, now() - dt.timedelta(days=days))
    check = one(healthy, "backup")
    assert check.status == status, check.message
    assert "Последняя копия" in check.message


def test_a_backup_that_missed_the_stick_warns(healthy):
    with write() as rec:
        rec.record("backup.create", after={"file": "x", "stick_error": "флешка полна"})
    check = one(healthy, "backup")
    assert check.status == "warn" and "флешка полна" in check.message


# --- sync -------------------------------------------------------------------------------


def pending_change(created_at: dt.datetime) -> None:
    with write():
        OutboxEntry.create(
            entity_type="Mark", entity_uuid="u-1", op="upsert", payload="{}", created_at=created_at
        )


def test_sync_not_configured_is_said_plainly(healthy):
    check = one(healthy, "sync")
    assert check.status == "ok" and "не настроена" in check.message


def test_sync_needing_a_person_fails(healthy):
    configure_sync(healthy)
    with write():
        SyncRun.create(
            status="needs_action", finished_at=now(), message="Неверный логин или пароль."
        )
    check = one(healthy, "sync", probe_upstream=False)
    assert check.status == "fail"
    assert (
        "Неверный логин или пароль" in check.message and "Синхронизировать сейчас" in check.message
    )


@pytest.mark.parametrize(("hours", "status"), [(0.2, "ok"), (2, "warn"), (30, "fail")])
def test_the_oldest_unsent_change(healthy, hours, status):
    configure_sync(healthy)
    pending_change(now() - dt.timedelta(hours=hours))
    check = one(healthy, "sync", probe_upstream=False)
    assert check.status == status, check.message
    if status != "ok":
        assert "Самое старое неотправленное изменение ждёт" in check.message


def test_changes_waiting_while_sync_is_off_warn(healthy):
    pending_change(now())
    check = one(healthy, "sync")
    assert check.status == "warn" and "ждут отправки: 1" in check.message


# --- worker -----------------------------------------------------------------------------


def test_a_worker_that_never_ran_fails(settings, school, stick):
    check = one(settings, "worker")
    assert check.status == "fail" and "ни разу не работала" in check.message


def test_a_job_waiting_long_means_the_worker_is_down(healthy):
    with write():
        Job.create(kind="backup", created_at=now() - dt.timedelta(minutes=40))
    check = one(healthy, "worker")
    assert check.status == "fail"
    assert "ждут в очереди" in check.message and "systemctl restart ezh-worker" in check.message


def running_job(started_at: dt.datetime) -> None:
    with write():
        Job.create(kind="archive_build", state="running", started_at=started_at)


def test_a_long_job_in_hand_is_not_a_dead_worker(healthy):
    running_job(now() - dt.timedelta(minutes=50))
    with write():  # queued behind it, waiting legitimately
        Job.create(kind="backup", created_at=now() - dt.timedelta(minutes=40))
    check = one(healthy, "worker")
    assert check.status == "ok" and "выполняет задание «archive_build»" in check.message


@pytest.mark.parametrize(("hours", "status"), [(5, "warn"), (20, "fail")])
def test_a_job_running_for_hours_looks_stuck(healthy, hours, status):
    running_job(now() - dt.timedelta(hours=hours))
    check = one(healthy, "worker")
    assert check.status == status and "systemctl restart ezh-worker" in check.message


@pytest.mark.parametrize(("hours", "status"), [(2, "ok"), (30, "warn"), (60, "fail")])
def test_the_worker_s_last_trace(settings, school, stick, hours, status):
    worker_ran(now() - dt.timedelta(hours=hours))
    check = one(settings, "worker")
    assert check.status == status, check.message
    assert "отдельного сигнала служба не пишет" in check.message


def test_a_heartbeat_is_used_when_the_worker_writes_one(healthy):
    with write():
        ScheduleRun.create(name=services.HEARTBEAT, last_run_at=now() - dt.timedelta(minutes=9))
    check = one(healthy, "worker")
    assert check.status == "fail" and "не отвечает 9 мин" in check.message
    with write():
        ScheduleRun.update(last_run_at=now()).where(
            ScheduleRun.name == services.HEARTBEAT
        ).execute()
    assert one(healthy, "worker").status == "ok"
    with write():  # silent, but busy with a job: the loop waits for it
        ScheduleRun.update(last_run_at=now() - dt.timedelta(minutes=30)).execute()
    running_job(now() - dt.timedelta(minutes=20))
    assert one(healthy, "worker").status == "ok"


# --- never raises; the console --------------------------------------------------------


def test_a_check_that_breaks_becomes_a_failure_not_a_crash(healthy, monkeypatch):
    def broken(settings):
        raise RuntimeError("диск отвалился")

    monkeypatch.setattr(keys, "status", broken)
    checks = doctor.run_checks(healthy)
    assert len(checks) == 10
    check = by_code(checks)["keys"]
    assert check.status == "fail" and "Проверка не выполнилась" in check.message
    assert "диск отвалился" in check.message


def test_console_exit_codes(healthy, monkeypatch, runner):
    data = str(healthy.data_dir)
    result = runner.invoke(doctor_cli, ["--data", data])
    assert result.exit_code == 0, result.output
    assert "✓ Часы" in result.output and "Итог: всё в порядке." in result.output
    monkeypatch.delenv("EZH_MEDIA")  # a warning only
    result = runner.invoke(doctor_cli, ["--data", data])
    assert result.exit_code == 1, result.output
    assert "! Флешка архива" in result.output and "есть предупреждения" in result.output
    shutil.rmtree(healthy.data_dir / "keys")  # a failure
    result = runner.invoke(doctor_cli, ["--data", data, "--json"])
    assert result.exit_code == 2
    report = json.loads(result.output)
    assert report["status"] == "fail" and report["exit_code"] == 2
    assert {c["code"]: c["status"] for c in report["checks"]}["keys"] == "fail"


def test_console_never_probes_with_no_network(healthy, monkeypatch, runner):
    configure_sync(healthy)

    def never(url):
        raise AssertionError("probed")

    monkeypatch.setattr(box, "upstream_time", never)
    result = runner.invoke(doctor_cli, ["--data", str(healthy.data_dir), "--no-network"])
    assert "Проверка не выполнилась" not in result.output


def test_console_reports_a_broken_settings_file(healthy, runner):
    (healthy.data_dir / "ezh.toml").write_text("nonsense = 1\n", encoding="utf-8")
    result = runner.invoke(doctor_cli, ["--data", str(healthy.data_dir)])
    assert result.exit_code == 2
    assert "✗ Настройки (ezh.toml)" in result.output and "nonsense" in result.output


def test_console_help_is_russian(runner):
    result = runner.invoke(doctor_cli, ["--help"])
    assert result.exit_code == 0 and "Код выхода: 0" in result.output


# --- the page ---------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["zaytsev.io", "orlova.mi"])
def test_the_admin_and_the_director_see_the_checks(browser, healthy, username):
    browser.login(username, PASSWORD)
    page = browser.get("/doctor/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Самопроверка коробки" in text and "Всё в порядке." in text
    assert text.count('class="doctor-ok"') == 10
    assert "sudo ezh doctor --data" in text


def test_the_page_says_what_to_do(browser, settings, school, stick):
    browser.login("zaytsev.io", PASSWORD)
    text = browser.get("/doctor/").get_data(as_text=True)
    assert "Нужно действие." in text
    assert 'class="doctor-fail" data-check="keys"' in text and "sudo ezh keys init" in text


@pytest.mark.parametrize(
    "username", ["belova.os", "smirnova.ev", "kuznetsov.ap", "titov.pa", "ivanov.p", "ivanova.m"]
)
def test_others_may_not_open_the_page(browser, school, username):
    browser.login(username, PASSWORD)
    assert browser.get("/doctor/").status_code == 403
