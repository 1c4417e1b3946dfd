"""Checks of the box itself: the data directory, the database, free disk, the clock."""

from __future__ import annotations

import datetime as dt
import email.utils
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

from ..models import AuditEntry, Job, LoginEvent
from ..sync import credentials
from . import FAIL, OK, WARN, Context, Result, check, combine, duration, size_text, user_name, when

# Free space on the data dir's disk.
DISK_WARN_BYTES = 1024**3
DISK_WARN_SHARE = 0.10
DISK_FAIL_BYTES = 200 * 1024**2
# The clock: a Pi has no battery clock and may start in 1970 until NTP answers.
EARLIEST_PLAUSIBLE = dt.datetime(2026, 1, 1)  # this software did not exist before
FUTURE_ROWS_LIMIT = dt.timedelta(days=1)
UPSTREAM_SKEW_LIMIT = dt.timedelta(minutes=2)
PROBE_TIMEOUT = 3.0  # seconds; the page waits for it
LOCALTIME = Path("/etc/localtime")
TLS_CERT = Path("/etc/ezh/tls/ezh.crt")  # deploy/raspi/make-cert.sh; absent without TLS
TLS_WARN_DAYS = 30  # ezh-tls-renew.timer renews at 60: below 30 it did not run
APP_USER = "ezh"  # the service's user on an installed box (deploy/raspi)

SYNC_FILES = (credentials.KEY_FILE, credentials.SECRET_FILE)
SECRET_FILES = ("secret_key", *SYNC_FILES, "keys/box.minisign.key")
OWNED_PATHS = (
    "ezh.sqlite3",
    "ezh.sqlite3-wal",
    "ezh.sqlite3-shm",
    "secret_key",
    *SYNC_FILES,
    "files",
    "backups",
    "jobs",
    "keys",
)


def _writable(path: Path, st: os.stat_result) -> bool:
    """Writable for the box's user: the owner's write bit (root ignores bits) and access()."""
    return bool(st.st_mode & stat.S_IWUSR) and os.access(path, os.W_OK)


@check("data_dir", "Каталог данных и права")
def check_data_dir(ctx: Context) -> Result:
    root = ctx.settings.data_dir
    if not root.exists():
        return FAIL, (
            f"Каталога {root} нет. Проверьте путь в --data; на новой коробке запустите "
            "sudo deploy/raspi/install.sh."
        )
    if not root.is_dir():
        return FAIL, f"{root} — не каталог. Укажите в --data каталог данных (обычно /var/lib/ezh)."
    st = root.stat()
    owner = user_name(st.st_uid)
    fixer = _service_user()
    fix_owner = f"sudo chown -R {fixer}:{fixer} {root}"
    problems: list[Result] = []
    if not _writable(root, st):
        problems.append(
            (
                FAIL,
                f"В каталог {root} нельзя записывать (права {st.st_mode & 0o777:o}): "
                f"отметки не сохранятся. Выполните: sudo chmod 750 {root}. Если права в "
                "порядке, диск мог стать «только для чтения» из-за сбоя карты памяти: "
                "перезагрузите коробку, при повторе замените карту.",
            )
        )
    euid = os.geteuid()
    if euid not in (0, st.st_uid):
        problems.append(
            (
                WARN,
                f"Каталог принадлежит пользователю {owner}, а проверка запущена от "
                f"{user_name(euid)}: запускайте команды как sudo ezh ….",
            )
        )
    if st.st_mode & 0o007:
        problems.append(
            (
                WARN,
                f"Каталог {root} открыт всем пользователям системы (права "
                f"{st.st_mode & 0o777:o}): выполните sudo chmod 750 {root}.",
            )
        )
    problems += _foreign_files(root, st.st_uid, fix_owner)
    problems += _open_secrets(root)
    return combine(problems, f"{root}: права {st.st_mode & 0o777:o}, владелец {owner}.")


def _service_user() -> str:
    """Who must own the data: ezh on an installed box (even when the data dir itself got
    another owner by mistake), elsewhere the user running the program."""
    try:
        pwd.getpwnam(APP_USER)
    except KeyError:
        return user_name(os.geteuid())
    return APP_USER


def _foreign_files(root: Path, uid: int, fix: str) -> list[Result]:
    """Files of the box owned by someone else (a command run as root): the service cannot
    write them and stops."""
    foreign = []
    for name in OWNED_PATHS:
        path = root / name
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        if st.st_uid != uid or (name == "ezh.sqlite3" and not st.st_mode & stat.S_IWUSR):
            foreign.append(name)
    if not foreign:
        return []
    return [
        (
            FAIL,
            f"Служба не сможет писать в {', '.join(foreign)} (другой владелец или нет права "
            f"записи). Выполните: {fix} && sudo chmod u+w {root}/ezh.sqlite3, затем "
            "sudo systemctl restart ezh-web ezh-worker.",
        )
    ]


def _open_secrets(root: Path) -> list[Result]:
    shown = []
    for name in SECRET_FILES:
        path = root / name
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            continue
        if mode & 0o077:
            shown.append(f"{name} ({mode & 0o777:o})")
    if not shown:
        return []
    files = " ".join(str(root / s.split(" ")[0]) for s in shown)
    return [
        (
            WARN,
            f"Секретные файлы доступны не только службе: {', '.join(shown)}. "
            f"Выполните: sudo chmod 600 {files}.",
        )
    ]


# --- the database ---------------------------------------------------------------------


def _quick_check(path: Path) -> None:
    """The page waits for it: ``quick_check``; the console runs the full check."""
    from ..backup.dbbackup import check_file

    check_file(path, quick=True)


@check("database", "База данных: целостность")
def check_database(ctx: Context) -> Result:
    import sqlite3

    from ..backup import dbbackup

    path = ctx.settings.db_path
    if not path.exists():
        return FAIL, (
            f"Файла базы {path} нет. Новая коробка: sudo ezh init --data {ctx.settings.data_dir}; "
            "иначе восстановите базу из резервной копии (docs/doctor.md)."
        )
    restore = (
        "Остановите службы (sudo systemctl stop ezh-watchdog.timer ezh-web ezh-worker) и "
        "восстановите базу из "
        "последней резервной копии: страница «Резервные копии», раздел «Как восстановить»."
    )
    try:
        if ctx.full_integrity:
            dbbackup.check_file(path)
        else:
            _quick_check(path)
    except dbbackup.BackupError as exc:
        return FAIL, f"{exc} {restore}"
    conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=5)
    try:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()
    size = size_text(path.stat().st_size)
    if str(mode).lower() != "wal":
        return WARN, (
            f"Целостность в порядке ({size}), но база не в режиме WAL (режим «{mode}»): "
            "запись медленнее и менее надёжна. Перезапустите службу: "
            "sudo systemctl restart ezh-web (она включает WAL сама)."
        )
    return OK, f"Целостность в порядке, режим WAL, размер {size}."


@check("schema", "База данных: версия")
def check_schema(ctx: Context) -> Result:
    report = ctx.health
    if report.get("database") != "ok" or "schema_version" not in report:
        return FAIL, "База не читается программой: см. строку «База данных: целостность»."
    version, latest = report["schema_version"], report["schema_latest"]
    data = ctx.settings.data_dir
    if version < latest:
        return FAIL, (
            f"База версии {version}, программа ждёт {latest}: обновление не доведено. "
            f"Выполните: sudo ezh migrate --data {data} (или запустите install.sh снова)."
        )
    if version > latest:
        return FAIL, (
            f"База версии {version} сделана более новой программой (эта знает до {latest}). "
            "Поставьте ту версию ЭЖ-box, что работала с базой (install.sh из новой версии); "
            "старой программой с этой базой не работайте."
        )
    return OK, f"Версия {version}: все обновления базы применены."


# --- disk and clock ---------------------------------------------------------------------


def existing(path: Path) -> Path:
    """``path`` or its nearest existing parent (a vanished data dir still has a disk)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


@check("disk", "Свободное место")
def check_disk(ctx: Context) -> Result:
    root = ctx.settings.data_dir
    usage = shutil.disk_usage(existing(root))
    share = usage.free / usage.total if usage.total else 0.0
    text = f"Свободно {size_text(usage.free)} из {size_text(usage.total)} ({share:.0%})."
    advice = (
        f"Удалите ненужное: старые файлы заданий в {root}/jobs, лишние копии в {root}/backups "
        "(копии есть и на флешке), журнал системы — sudo journalctl --vacuum-size=100M."
    )
    if usage.free < DISK_FAIL_BYTES:
        return FAIL, f"{text} Места почти нет: новые отметки могут не сохраниться. {advice}"
    if usage.free < DISK_WARN_BYTES or share < DISK_WARN_SHARE:
        return WARN, f"{text} Место кончается. {advice}"
    return OK, text


def _newest_row() -> dt.datetime | None:
    """The latest moment the box wrote down (a change, a login, a queued job)."""
    found = []
    for column in (AuditEntry.at, LoginEvent.at, Job.created_at):
        row = column.model.select(column).order_by(column.desc()).tuples().first()
        if row is not None and isinstance(row[0], dt.datetime):
            found.append(row[0])
    return max(found, default=None)


def upstream_time(url: str) -> dt.datetime:
    """The clock of АСУ РСО: the HTTP ``Date`` of a HEAD of its address (aware, UTC).

    Raises `Unavailable` (no connection) or ValueError (no usable Date header).
    """
    from ..sync.netschool import UrllibTransport

    answer = UrllibTransport().send("HEAD", url.rstrip("/") + "/", {}, None, PROBE_TIMEOUT)
    value = answer.headers.get("date", "")
    if not value:
        raise ValueError("АСУ РСО не сообщает время")
    moment = email.utils.parsedate_to_datetime(value)  # ValueError when malformed
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _upstream_skew(ctx: Context) -> Result | None:
    """Compare with АСУ РСО's clock when sync is set up (never any other site)."""
    from ..sync import settings as sync_settings
    from ..sync.netschool import NetSchoolError

    config = sync_settings.load(ctx.settings)
    if not ctx.probe_upstream or not config.configured:
        return None
    try:
        theirs = upstream_time(config.url)
    except (NetSchoolError, ValueError) as exc:
        return OK, f"Сверить время с АСУ РСО не удалось ({exc})."
    ours = ctx.clock().astimezone(dt.UTC)  # naive local time → UTC
    skew = ours - theirs.astimezone(dt.UTC)
    if abs(skew) > UPSTREAM_SKEW_LIMIT:
        way = "спешат" if skew > dt.timedelta(0) else "отстают"
        return WARN, (
            f"Часы коробки {way} относительно АСУ РСО на {duration(abs(skew))}: сроки и даты "
            "уроков могут сдвинуться. Проверьте синхронизацию времени: timedatectl status "
            "(должно быть «System clock synchronized: yes»)."
        )
    return OK, "Совпадают с часами АСУ РСО."


def ntp_synchronized() -> bool | None:
    """timedatectl's NTPSynchronized; None where it cannot tell (no timedatectl, no systemd)."""
    try:
        answer = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = answer.stdout.strip()
    if answer.returncode != 0 or value not in ("yes", "no"):
        return None
    return value == "yes"


def system_zone() -> str:
    """The system's time zone name ("" when unknown): the /etc/localtime link."""
    try:
        target = os.readlink(LOCALTIME)
    except OSError:
        return ""
    return target.split("/zoneinfo/", 1)[1] if "/zoneinfo/" in target else ""


def _school_zone() -> str:
    from ..models import School

    school = School.select().first()
    return school.timezone if school is not None else ""


def _clock_setup(ctx: Context) -> list[Result]:
    """Network time and the time zone: a Pi without NTP drifts, and a zone other than the
    school's shifts lesson dates and the nightly jobs."""
    problems: list[Result] = []
    if ntp_synchronized() is False:
        problems.append(
            (
                WARN,
                "Часы не сверены с сервером времени (NTP): без батарейки они уходят. "
                "Укажите в роутере школы сервер времени или в /etc/systemd/timesyncd.conf "
                "строку NTP=адрес-роутера, затем sudo systemctl restart systemd-timesyncd.",
            )
        )
    zone = system_zone()
    school = _school_zone() if ctx.db_ready else ""
    if zone in ("UTC", "Universal", "Zulu") or zone.startswith("Etc/"):
        want = school or "Europe/Samara"
        problems.append(
            (
                WARN,
                f"Часовой пояс коробки {zone}, а не пояс школы: даты и сроки сдвинутся. "
                f"Выполните: sudo timedatectl set-timezone {want}, затем "
                "sudo systemctl restart ezh-web ezh-worker.",
            )
        )
    elif zone and school and zone != school:
        problems.append(
            (
                WARN,
                f"Часовой пояс коробки {zone}, а в настройках школы {school}. Выполните: "
                f"sudo timedatectl set-timezone {school} (или исправьте пояс в настройках "
                "школы), затем sudo systemctl restart ezh-web ezh-worker.",
            )
        )
    return problems


@check("clock", "Часы")
def check_clock(ctx: Context) -> Result:
    at = ctx.at
    set_time = (
        "У Raspberry Pi нет батарейки часов: время берётся из сети. Проверьте подключение "
        "к сети и timedatectl status; если сети нет — задайте время вручную: "
        "sudo date -s 'ГГГГ-ММ-ДД ЧЧ:ММ', затем sudo systemctl restart ezh-web ezh-worker."
    )
    if at < EARLIEST_PLAUSIBLE:
        return FAIL, (
            f"На часах коробки {when(at)} — это раньше выхода программы: даты уроков, "
            f"отметок и сроки будут неверны. {set_time}"
        )
    newest = _newest_row() if ctx.db_ready else None
    if newest is not None and newest - at > FUTURE_ROWS_LIMIT:
        return FAIL, (
            f"В базе есть записи от {when(newest)}, а часы показывают {when(at)}: часы "
            f"отстали. {set_time}"
        )
    status, note = _upstream_skew(ctx) or (OK, "")
    problems = _clock_setup(ctx)
    if status != OK:
        problems.insert(0, (status, note))
    return combine(problems, f"На часах коробки {when(at)}. {note}".strip())


def tls_days_left(path: Path) -> int:
    """Whole days until the certificate at ``path`` expires (negative: expired)."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(path.read_bytes())
    left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    return left.days


def check_tls(ctx: Context) -> Result | None:
    """The HTTPS certificate (only on a box where TLS is set up: None elsewhere)."""
    try:
        if not TLS_CERT.is_file():
            return None
    except PermissionError:  # /etc/ezh/tls closed to the service: _check_tls says so
        pass
    return _check_tls(ctx)


@check("tls", "Сертификат HTTPS")
def _check_tls(ctx: Context) -> Result:
    try:
        days = tls_days_left(TLS_CERT)
    except PermissionError:
        return WARN, (
            f"Сертификат HTTPS {TLS_CERT} не читается службой, срок не проверен. Выполните: "
            f"sudo chmod 755 {TLS_CERT.parent} && sudo chmod 644 {TLS_CERT}."
        )
    renew = (
        "Выполните: sudo /usr/local/lib/ezh/tls-setup.sh (интернет не нужен) и проверьте "
        "таймер продления: systemctl status ezh-tls-renew.timer."
    )
    if days < 0:
        return FAIL, f"Сертификат HTTPS {TLS_CERT} истёк: браузеры не откроют https://. {renew}"
    if days < TLS_WARN_DAYS:
        return WARN, f"Сертификат HTTPS истекает через {days} дн. {renew}"
    return OK, f"Сертификат HTTPS действует ещё {days} дн."
