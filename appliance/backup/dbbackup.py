"""Encrypted database backups (separate from the archive) and the restore (issue 7, item 9).

A backup is the sqlite backup API's online copy (safe while the box serves), checked
with ``PRAGMA integrity_check``, encrypted in the age format to the archive recipients
(the box cannot read its own backups: the key is in the safe) and written durably to
``DATA/backups/`` and, when it is plugged in, to the USB stick (``EZH_MEDIA`` or
``--to``; the same stick as the archive, folder ``ezh-backups/``). Rotation keeps the
last 7 daily and the last 12 monthly copies and never the newest away.

A restore decrypts with the key from the safe, checks, migrates to the current schema,
gives the school a NEW instance id (sync counters are never reused, DESIGN §2), keeps
the current database as ``ezh.sqlite3.before-restore-<time>`` and swaps the files. The
box's services must be stopped: a database held open by them is refused.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .. import audit, jobs
from ..config import Settings
from ..db import backup_to, migrate, open_database, snapshot, write
from ..models import School, User, database, new_uuid
from . import crypto, keys, media

BACKUPS = "backups"
MEDIA_FOLDER = "ezh-backups"
MEDIA_ENV = "EZH_MEDIA"
NAME_FORMAT = "ezh-backup-%Y-%m-%dT%H%M.sqlite3.age"
NAME = re.compile(r"^ezh-backup-(\d{4}-\d{2}-\d{2}T\d{4})\.sqlite3\.age(?:\.(\d{3}))?$")
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
    for path in folder.iterdir():
        match = NAME.match(path.name)
        if not match or not path.is_file():
            continue
        base = path.name if match.group(2) is None else path.name[: -len(".000")]
        item = found.setdefault(base, BackupFile(base, taken_at(base), 0, place))
        item.size += path.stat().st_size
        item.parts.append(path)
    return sorted(found.values(), key=lambda b: b.taken_at, reverse=True)


def rotate(folder: Path, place: str = "") -> list[str]:
    """Delete the backups in ``folder`` that rotation does not keep; return their names."""
    items = list_backups(folder, place)
    keep = to_keep(b.taken_at for b in items)
    removed = []
    for item in items:
        if item.taken_at not in keep:
            for part in item.parts:
                part.unlink(missing_ok=True)
            removed.append(item.name)
    now = time.time()
    for temp in folder.glob(".ezh-backup-*.tmp"):  # left by a power cut mid-backup
        if now - temp.stat().st_mtime > STALE_TEMP_SECONDS:
            temp.unlink(missing_ok=True)
    if removed:
        crypto.fsync_dir(folder)
    return removed


# --- backup ---------------------------------------------------------------------------


def check_file(path: Path) -> None:
    """``PRAGMA integrity_check`` of a database file that is not the live one."""
    conn = sqlite3.connect(str(path))
    try:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
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
    recipients = keys.recipients(settings)  # no keys: refuse before copying anything
    stick = media_root(settings, to)
    if to is not None and not Path(to).is_dir():
        raise BackupError(f"Папки {to} нет: вставьте флешку и проверьте путь.")
    name = backup_name(moment or dt.datetime.now())
    folder = backups_dir(settings)
    target = folder / name
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=settings.data_dir) as tmp:
        plain = Path(tmp) / "ezh.sqlite3"
        say(0, 3, "Копирую базу…")
        backup_to(plain)
        check_file(plain)
        say(1, 3, "Шифрую копию…")
        crypto.encrypt_file(plain, target, recipients)
    copies = [target]
    note = ""
    say(2, 3, "Записываю на флешку…" if stick else "Удаляю старые копии…")
    removed = rotate(folder, "диск коробки")
    if stick is not None:
        try:
            medium = media.open_medium(stick)
            written = media.write_file(medium, target, f"{MEDIA_FOLDER}/{name}", name)
            copies += written.parts
            rotate(stick / MEDIA_FOLDER, "флешка")
        except media.MediaError as exc:
            if to is not None:  # asked for explicitly: the copy on the stick is the point
                raise BackupError(str(exc)) from exc
            note = str(exc)
    size = target.stat().st_size
    say(3, 3, f"Копия {name} записана ({_megabytes(size)})")
    return BackupResult(name, size, copies, removed, note)


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
    )


def record_backup(result: BackupResult, user: User | None, ip: str = "") -> None:
    with write(user=user, ip=ip) as rec:
        rec.record(
            "backup.create",
            after={"file": result.name, "size": result.size, "copies": len(result.copies)},
        )


@jobs.handler(JOB_KIND)
def backup_job(ctx: jobs.JobContext) -> str | None:
    """«Сделать копию сейчас» and the nightly copy, in the worker."""
    try:
        result = make_backup(ctx.settings, progress=ctx.progress)
    except (keys.KeysMissing, BackupError, crypto.CryptoError) as exc:
        raise jobs.JobError(str(exc)) from exc
    record_backup(result, ctx.job.created_by, "worker")
    if result.media_note:
        ctx.progress(
            3,
            3,
            f"Копия {result.name} записана на диск коробки; на флешку — нет: {result.media_note}",
        )
    return None


jobs.PERIODIC.append(jobs.Periodic("nightly_backup", JOB_KIND, jobs.daily(NIGHTLY_HOUR)))


# --- restore --------------------------------------------------------------------------


def ensure_not_in_use(path: Path) -> None:
    """Refuse when another process (the web server, the worker) holds the database."""
    if not path.exists():
        return
    conn = sqlite3.connect(str(path), timeout=0, isolation_level=None)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        raise BackupError(
            "База данных открыта другой программой. Остановите службы ЭЖ-box "
            "(sudo systemctl stop ezh-web ezh-worker) и повторите."
        ) from exc
    finally:
        conn.close()


def restore(settings: Settings, source: Path, identity: str) -> RestoreResult:
    """Replace the box's database by the backup ``source`` (see the module docstring)."""
    live = settings.db_path
    if not database.is_closed():
        database.close()
    ensure_not_in_use(live)
    try:
        with tempfile.TemporaryDirectory(prefix=".restore-", dir=settings.data_dir) as tmp:
            plain = Path(tmp) / "ezh.sqlite3"
            crypto.decrypt_file(source, plain, identity)
            check_file(plain)
            result = _prepare_restored(plain)
            ensure_not_in_use(live)
            result.kept_as = _swap(live, plain)
    finally:
        open_database(live)  # this process goes on with the live (restored) database
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
    """Keep the live database aside and put the restored one in its place."""
    kept = None
    if live.exists():
        kept = live.with_name(f"{live.name}.before-restore-{dt.datetime.now():%Y%m%dT%H%M%S}")
        os.replace(live, kept)
    for suffix in ("-wal", "-shm"):  # the old database's; closed cleanly, normally gone
        stale = live.with_name(live.name + suffix)
        if stale.exists() and kept is not None:
            os.replace(stale, Path(str(kept) + suffix))
        elif stale.exists():
            stale.unlink()
    with restored.open("rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(restored, live)
    crypto.fsync_dir(live.parent)
    return kept
