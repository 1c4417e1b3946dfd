"""Encrypted database backups (separate from the archive) and the restore (issue 7, item 9).

A backup is the sqlite backup API's online copy (safe while the box serves), checked
with ``PRAGMA integrity_check``, encrypted in the age format to the archive recipients
(the box cannot read its own backups: the key is in the safe) and written durably to
``DATA/backups/`` and, when it is plugged in, to the USB stick (``EZH_MEDIA`` or
``--to``; the same stick as the archive, folder ``ezh-backups/``). Rotation keeps the
last 7 daily and the last 12 monthly copies, never the newest and never the copy just
written (a Pi without a clock battery may start in the past). A full stick is made room
on by rotating it BEFORE the write (and, on ENOSPC, by dropping all but its newest copy
and trying once more); a copy that still does not reach the stick makes the job say so.

A restore decrypts with the key from the safe, checks, migrates to the current schema,
gives the school a NEW instance id (sync counters are never reused, DESIGN §2), keeps
the current database as ``ezh.sqlite3.before-restore-<time>`` (a hard link: the live
name is never missing) and puts the restored file in place with ONE rename. The box's
services must be stopped: a database held open by them is refused, and the live
database stays locked (EXCLUSIVE) from that check until after the swap.

Backups and restores take ``DATA/.backup.lock`` (one at a time) and first remove the
``.backup-*``/``.restore-*`` folders a crash left in DATA: they hold plaintext copies.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import os
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .. import audit, jobs
from ..config import Settings
from ..db import backup_to, latest_version, migrate, open_database, snapshot, write
from ..durable import fsync_dir
from ..models import AuditEntry, School, User, database, new_uuid
from . import crypto, keys, media

BACKUPS = "backups"
MEDIA_FOLDER = "ezh-backups"
MEDIA_ENV = "EZH_MEDIA"
NAME_FORMAT = "ezh-backup-%Y-%m-%dT%H%M.sqlite3.age"
NAME = re.compile(r"^ezh-backup-(\d{4}-\d{2}-\d{2}T\d{4})\.sqlite3\.age(?:\.(\d{3}))?$")
PART = re.compile(r"\.(\d{3})$")
LOCK_FILE = ".backup.lock"
LEFTOVERS = (".backup-*", ".restore-*")  # temp folders with plaintext database copies
STICK_MARGIN = 1024 * 1024  # FAT's clusters and the directory want a little more room
KEEP_DAILY = 7
KEEP_MONTHLY = 12
STALE_TEMP_SECONDS = 12 * 3600
OVERDUE = dt.timedelta(hours=50)  # the nightly copy missed twice
JOB_KIND = "backup"
NIGHTLY_HOUR = 3


class BackupError(ValueError):
    """A backup or a restore cannot be done (message in Russian)."""


@dataclass
class BackupFile:
    name: str
    taken_at: dt.datetime
    size: int
    place: str  # «диск коробки» / «флешка»
    parts: list[Path] = field(default_factory=list)

    @property
    def size_text(self) -> str:
        return _megabytes(self.size)

    @property
    def file_name(self) -> str:
        """A name that exists on disk: the file, or its first part when split (FAT32)."""
        return self.parts[0].name if self.parts else self.name


@dataclass
class BackupResult:
    name: str
    size: int
    copies: list[Path]
    removed: list[str]
    media_note: str = ""  # why the stick got no copy, when it did not


@dataclass
class RestoreResult:
    kept_as: Path | None
    instance_id: str
    old_instance_id: str
    applied: list[str]
    chain_ok: bool


def backups_dir(settings: Settings) -> Path:
    folder = settings.data_dir / BACKUPS
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def media_root(settings: Settings, to: Path | None = None) -> Path | None:
    """Where the stick is: ``--to``, else the ``EZH_MEDIA`` environment variable."""
    value = to or os.environ.get(MEDIA_ENV)
    return Path(value) if value else None


def backup_name(moment: dt.datetime) -> str:
    return moment.strftime(NAME_FORMAT)


def taken_at(name: str) -> dt.datetime | None:
    match = NAME.match(name)
    return dt.datetime.strptime(match.group(1), "%Y-%m-%dT%H%M") if match else None


# --- rotation -------------------------------------------------------------------------


def to_keep(moments: Iterable[dt.datetime]) -> set[dt.datetime]:
    """Which backups rotation keeps: the newest of each of the last 7 days that have one,
    the first of each of the last 12 months, and always the newest of all."""
    ordered = sorted(set(moments), reverse=True)
    if not ordered:
        return set()
    keep = {ordered[0]}
    days: dict[dt.date, dt.datetime] = {}
    for moment in ordered:  # newest first: the first seen per day is the day's newest
        days.setdefault(moment.date(), moment)
    keep.update(list(days.values())[:KEEP_DAILY])
    months: dict[tuple[int, int], dt.datetime] = {}
    for moment in reversed(ordered):  # oldest first: the first seen is the month's first
        months.setdefault((moment.year, moment.month), moment)
    keep.update(sorted(months.values(), reverse=True)[:KEEP_MONTHLY])
    return keep


def list_backups(folder: Path, place: str) -> list[BackupFile]:
    """Backups in ``folder``, newest first (split parts of one backup counted together)."""
    found: dict[str, BackupFile] = {}
    if not folder.is_dir():
        return []
    for path in sorted(folder.iterdir()):  # sorted: the parts in order, .001 first
        match = NAME.match(path.name)
        if not match or not path.is_file():
            continue
        base = path.name if match.group(2) is None else path.name[: -len(".000")]
        item = found.setdefault(base, BackupFile(base, taken_at(base), 0, place))
        item.size += path.stat().st_size
        item.parts.append(path)
    return sorted(found.values(), key=lambda b: b.taken_at, reverse=True)


def _delete(item: BackupFile) -> None:
    for part in item.parts:
        part.unlink(missing_ok=True)


def rotate(folder: Path, place: str = "", keep_names: Iterable[str] = ()) -> list[str]:
    """Delete the backups in ``folder`` that rotation does not keep; return their names.

    ``keep_names`` are kept whatever their date: the copy just written must survive
    even when the clock was behind and its name says «two years ago».
    """
    items = list_backups(folder, place)
    keep = to_keep(b.taken_at for b in items)
    always = set(keep_names)
    removed = []
    for item in items:
        if item.taken_at not in keep and item.name not in always:
            _delete(item)
            removed.append(item.name)
    now = time.time()
    for temp in folder.glob(".ezh-backup-*.tmp"):  # left by a power cut mid-backup
        if now - temp.stat().st_mtime > STALE_TEMP_SECONDS:
            temp.unlink(missing_ok=True)
    if removed:
        fsync_dir(folder)
    return removed


# --- one at a time, and no plaintext left behind -------------------------------------


@contextmanager
def exclusive(settings: Settings) -> Iterator[list[str]]:
    """Hold ``DATA/.backup.lock`` (one backup or restore at a time) and remove what a
    crashed one left in DATA; yields the names removed."""
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        lock = open(settings.data_dir / LOCK_FILE, "a+b")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise BackupError(f"Нельзя начать: {crypto.os_reason(exc)} ({settings.data_dir}).") from exc
    with lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BackupError(
                "Уже делается другая резервная копия или восстановление: дождитесь окончания."
            ) from exc
        try:
            yield clean_leftovers(settings)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def clean_leftovers(settings: Settings) -> list[str]:
    """Remove the temp folders of a backup or restore that died (plaintext copies!).

    Call only under `exclusive`: then no backup or restore is running to own them.
    """
    removed = []
    for pattern in LEFTOVERS:
        for path in settings.data_dir.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
    return removed


# --- backup ---------------------------------------------------------------------------


def check_file(path: Path, *, quick: bool = False) -> None:
    """``PRAGMA integrity_check`` of a database file (read-only); ``quick``: the faster
    ``quick_check`` (seconds, not minutes, on a large base: the doctor's page)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        pragma = "quick_check" if quick else "integrity_check"
        result = conn.execute(f"PRAGMA {pragma}").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"Файл {path.name} — не база данных SQLite или повреждён.") from exc
    finally:
        conn.close()
    if result != "ok":
        raise BackupError(f"Проверка целостности базы {path.name} не прошла: {result}")


def make_backup(
    settings: Settings,
    *,
    to: Path | None = None,
    moment: dt.datetime | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> BackupResult:
    """Copy, check, encrypt and write one backup; rotate; return what was done."""
    say = progress or (lambda done, total, message: None)
    with exclusive(settings):
        recipients = keys.recipients(settings)  # no keys: refuse before copying anything
        stick = media_root(settings, to)
        if to is not None and not Path(to).is_dir():
            raise BackupError(f"Папки {to} нет: вставьте флешку и проверьте путь.")
        name = backup_name(moment or dt.datetime.now())
        target = _write_on_box(settings, name, recipients, say)
        copies = [target]
        note = ""
        say(2, 3, "Записываю на флешку…" if stick else "Удаляю старые копии…")
        removed = rotate(target.parent, "диск коробки", keep_names=[name])
        if stick is not None:
            try:
                copies += copy_to_stick(stick, target)
            except media.MediaError as exc:
                if to is not None:  # asked for explicitly: the copy on the stick is the point
                    raise BackupError(stick_message(exc, name)) from exc
                note = stick_message(exc, name)
    size = target.stat().st_size
    say(3, 3, f"Копия {name} записана ({_megabytes(size)})")
    return BackupResult(name, size, copies, removed, note)


def _write_on_box(
    settings: Settings, name: str, recipients: list[str], say: Callable[[int, int, str], None]
) -> Path:
    """The encrypted copy in ``DATA/backups``; a full or broken disk is said plainly."""
    try:
        target = backups_dir(settings) / name
        with tempfile.TemporaryDirectory(prefix=".backup-", dir=settings.data_dir) as tmp:
            plain = Path(tmp) / "ezh.sqlite3"
            say(0, 3, "Копирую базу…")
            backup_to(plain)
            check_file(plain)
            say(1, 3, "Шифрую копию…")
            crypto.encrypt_file(plain, target, recipients)
    except sqlite3.OperationalError as exc:  # «database or disk is full», an I/O error
        full = "full" in str(exc)
        reason = "на диске коробки не хватает места" if full else f"ошибка SQLite ({exc})"
        raise BackupError(
            f"Копия базы не сделана: {reason}. Освободите место в {settings.data_dir} "
            "(копии в папке backups, старые задания в jobs) и повторите."
        ) from exc
    except OSError as exc:
        raise BackupError(
            f"Копия базы не сделана: {crypto.os_reason(exc)} ({settings.data_dir})."
        ) from exc
    return target


def copy_to_stick(stick: Path, target: Path) -> list[Path]:
    """Write ``target`` to the stick's ``ezh-backups`` and rotate it.

    Room is made first (the stick is rotated as if the new copy were there; then its
    oldest copies go while free space is short), so a full stick does not stay full
    forever. A write that still fails for lack of space drops every old copy but the
    newest and tries once more. The newest copy already there is never deleted before
    the new one is safely written.
    """
    name = target.name
    folder = stick / MEDIA_FOLDER
    medium = media.open_medium(stick)
    unit_path = f"{MEDIA_FOLDER}/{name}"
    try:
        _make_room(folder, name, target.stat().st_size)
        try:
            written = media.write_file(medium, target, unit_path, name)
        except media.MediaError as exc:
            if not _out_of_space(exc) or not _drop_old(folder, name, keep_newest=1):
                raise
            written = media.write_file(medium, target, unit_path, name)
    except OSError as exc:  # listing or deleting old copies: the stick went away
        raise media.MediaError(
            f"Резервная копия {name} на флешку не записана: {crypto.os_reason(exc)}."
        ) from exc
    try:
        rotate(folder, "флешка", keep_names=[name])
    except OSError:
        pass  # the copy is there and checked; the next backup rotates again
    return written.parts


def _others(folder: Path, name: str) -> list[BackupFile]:
    """The stick's copies other than ``name``, newest first."""
    return [b for b in list_backups(folder, "флешка") if b.name != name]


def _make_room(folder: Path, name: str, size: int) -> None:
    moment = taken_at(name)
    items = _others(folder, name)
    keep = to_keep([b.taken_at for b in items] + ([moment] if moment else []))
    for item in items[1:]:  # the newest old copy stays until the new one is written
        if item.taken_at not in keep:
            _delete(item)
    items = _others(folder, name)
    while len(items) > 1 and _free_bytes(folder) < size + STICK_MARGIN:
        _delete(items.pop())  # the oldest


def _drop_old(folder: Path, name: str, keep_newest: int) -> list[str]:
    dropped = []
    for item in _others(folder, name)[keep_newest:]:
        _delete(item)
        dropped.append(item.name)
    return dropped


def _free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder if folder.is_dir() else folder.parent).free
    except OSError:
        return 0


def _out_of_space(exc: media.MediaError) -> bool:
    cause = exc.__cause__
    return isinstance(cause, OSError) and crypto.os_errno(cause) in (
        errno.ENOSPC,
        errno.EDQUOT,
    )


def stick_message(exc: media.MediaError, name: str) -> str:
    """The stick's error about this backup, worded as a backup (media.py says «Единица»)."""
    return (
        str(exc)
        .replace(f"Единица «{name}»", f"Резервная копия {name}")
        .replace("На носителе её нет", "На флешке её нет")
    )


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} МБ".replace(".", ",")


def all_backups(settings: Settings) -> list[BackupFile]:
    """Backups on the box's disk and on the stick (when plugged in), newest first."""
    items = list_backups(settings.data_dir / BACKUPS, "диск коробки")
    stick = media_root(settings)
    if stick is not None:
        items += list_backups(stick / MEDIA_FOLDER, "флешка")
    return sorted(items, key=lambda b: (b.taken_at, b.place), reverse=True)


@dataclass
class Overview:
    """What the backups page shows."""

    backups: list[BackupFile]
    last: BackupFile | None
    age: dt.timedelta | None
    overdue: bool  # no copy for more than two nights
    stick: Path | None
    stick_present: bool
    stick_problem: str = ""  # why the last backup did not reach the stick


def overview(settings: Settings, moment: dt.datetime | None = None) -> Overview:
    items = all_backups(settings)
    last = items[0] if items else None
    age = (moment or dt.datetime.now()) - last.taken_at if last else None
    stick = media_root(settings)
    return Overview(
        backups=items,
        last=last,
        age=age,
        overdue=age is None or age > OVERDUE,
        stick=stick,
        stick_present=bool(stick and stick.is_dir()),
        stick_problem=last_stick_problem(),
    )


def last_stick_problem() -> str:
    """The stick's failure in the last recorded backup ("" when it went well)."""
    entry = (
        AuditEntry.select(AuditEntry.after)
        .where(AuditEntry.action == "backup.create")
        .order_by(AuditEntry.seq.desc())
        .first()
    )
    if entry is None or not entry.after:
        return ""
    try:
        return str(json.loads(entry.after).get("stick_error", ""))
    except (ValueError, AttributeError):
        return ""


def record_backup(result: BackupResult, user: User | None, ip: str = "") -> None:
    after: dict = {"file": result.name, "size": result.size, "copies": len(result.copies)}
    if result.media_note:
        after["stick_error"] = result.media_note
    with write(user=user, ip=ip) as rec:
        rec.record("backup.create", after=after)


@jobs.handler(JOB_KIND, long=True)
def backup_job(ctx: jobs.JobContext) -> str | None:
    """«Сделать копию сейчас» and the nightly copy, in the worker."""
    try:
        result = make_backup(ctx.settings, progress=ctx.progress)
    except (keys.KeysMissing, BackupError, crypto.CryptoError) as exc:
        raise jobs.JobError(str(exc)) from exc
    record_backup(result, ctx.job.created_by, "worker")
    if result.media_note:  # done, but not silently: the job page and /backup/ say it
        ctx.progress(3, 3, stick_warning(result))
    return None


def stick_warning(result: BackupResult) -> str:
    return (
        f"Копия {result.name} записана только на диск коробки. "
        f"ВНИМАНИЕ, на флешку она не записана: {result.media_note}"
    )


jobs.PERIODIC.append(jobs.Periodic("nightly_backup", JOB_KIND, jobs.daily(NIGHTLY_HOUR)))


# --- restore --------------------------------------------------------------------------


IN_USE = (
    "База данных открыта другой программой. Остановите службы ЭЖ-box "
    "(sudo systemctl stop ezh-watchdog.timer ezh-web ezh-worker) и повторите."
)


def hold_exclusive(path: Path) -> sqlite3.Connection | None:
    """Lock the live database EXCLUSIVE and keep it locked (until the connection closes).

    Refuses (BackupError) when another process (the web server, the worker) has it
    open. Its WAL is checkpointed into the file first, so the kept copy loses nothing
    that was only in ``-wal``. None when there is no database, or it is too damaged to
    open at all (then it is only kept aside: restoring it is the point).
    """
    if not path.exists():
        return None
    conn = sqlite3.connect(str(path), timeout=0, isolation_level=None)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")  # the lock outlives the transaction
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("COMMIT")
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy:
            raise BackupError(IN_USE)
    except sqlite3.OperationalError as exc:  # «database is locked»
        conn.close()
        raise BackupError(IN_USE) from exc
    except sqlite3.DatabaseError:  # «file is not a database»: nothing to lock or lose
        conn.close()
        return None
    except BaseException:
        conn.close()
        raise
    return conn


def ensure_not_in_use(path: Path) -> None:
    """Refuse when another process (the web server, the worker) holds the database."""
    conn = hold_exclusive(path)
    if conn is not None:
        conn.close()


def backup_parts(source: Path) -> list[Path]:
    """The file(s) of the backup ``source``: itself, or — for a copy split on a FAT32
    stick — ``.001``, ``.002`` … in order, given the first part or the base name."""
    source = Path(source)
    base = source.with_name(PART.sub("", source.name)) if PART.search(source.name) else source
    parts = []
    while (part := base.with_name(f"{base.name}.{len(parts) + 1:03d}")).is_file():
        parts.append(part)
    if parts and (source != base or not source.exists()):
        return parts
    if not source.is_file():
        raise BackupError(f"Файла {source} нет: проверьте имя (копия на флешке — в ezh-backups).")
    return [source]


def check_version(path: Path, name: str) -> None:
    """Refuse a copy made by a newer ЭЖ-box: this program cannot read its schema."""
    conn = sqlite3.connect(str(path))
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    if version > latest_version():
        raise BackupError(
            f"Копия {name} сделана более новой версией ЭЖ-box (версия базы {version}, "
            f"эта программа знает до {latest_version()}). Сначала обновите ЭЖ-box, "
            "потом восстанавливайте."
        )


def restore(settings: Settings, source: Path, identity: str) -> RestoreResult:
    """Replace the box's database by the backup ``source`` (see the module docstring).

    Any failure before the swap (wrong key, damaged copy, newer schema, not a school)
    leaves the live database as it was.
    """
    live = settings.db_path
    parts = backup_parts(source)
    if database.obj is not None and not database.is_closed():  # a fresh `ezh` has none
        database.close()
    try:
        with exclusive(settings):
            guard = hold_exclusive(live)
            try:
                result = _restore_locked(settings, parts, identity, live)
            finally:
                if guard is not None:
                    guard.close()
    finally:
        open_database(live)  # this process goes on with the live (restored) database
    return result


def _restore_locked(
    settings: Settings, parts: list[Path], identity: str, live: Path
) -> RestoreResult:
    name = parts[0].name
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=settings.data_dir) as tmp:
        plain = Path(tmp) / "ezh.sqlite3"
        crypto.decrypt_file(parts if len(parts) > 1 else parts[0], plain, identity)
        check_file(plain)
        check_version(plain, name)
        result = _prepare_restored(plain)
        result.kept_as = _swap(live, plain)
    return result


def _prepare_restored(path: Path) -> RestoreResult:
    """Migrate the restored copy, give it a new instance id and audit the restore."""
    db = open_database(path)
    try:
        applied = migrate(db)
        school = School.get_or_none()
        if school is None:
            raise BackupError("В копии нет школы: это не резервная копия ЭЖ-box.")
        old = school.instance_id
        before = snapshot(school)
        with write(user=None, ip="console") as rec:
            School.update(instance_id=new_uuid()).where(School.id == school.id).execute()
            school = School.get_by_id(school.id)
            rec.record("backup.restore", school, before=before, after=snapshot(school))
        chain_ok = audit.verify_chain() is None
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return RestoreResult(None, school.instance_id, old, applied, chain_ok)


def _swap(live: Path, restored: Path) -> Path | None:
    """Keep the live database aside (hard link) and rename the restored one over it.

    The live name never disappears (one ``os.replace``), and the old database's
    ``-wal``/``-shm`` (checkpointed: empty) are removed so they never meet the
    restored file. The caller still holds the old file's EXCLUSIVE lock.
    """
    kept = None
    if live.exists():
        stamp = f"{live.name}.before-restore-{dt.datetime.now():%Y%m%dT%H%M%S}"
        for n in range(1, 100):  # two restores in one second keep both old databases
            kept = live.with_name(stamp if n == 1 else f"{stamp}-{n}")
            try:
                os.link(live, kept)
                break
            except FileExistsError:
                continue
    for suffix in ("-wal", "-shm"):
        live.with_name(live.name + suffix).unlink(missing_ok=True)
    with restored.open("rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(restored, live)
    fsync_dir(live.parent)
    return kept
