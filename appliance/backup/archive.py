"""The year-end electronic archive (§9.2): build it onto the medium, verify it, open it.

Per class of the year two units, each its own file on the medium, because they are
kept for different times: the journal (5 years) and the summary sheet (25 years)::

    ЭЖ-архив/<год>/<класс>-журнал.tar.age             (+ .minisig: the box's signature)
    ЭЖ-архив/<год>/<класс>-сводная-ведомость.tar.age  (+ .minisig)
    ЭЖ-архив/реестр.csv  ЭЖ-архив/box.minisign.pub    (the register and the key)

One unit at a time (memory and disk stay bounded): its bag is staged on the data
disk, then packed and encrypted straight onto the medium, written durably (`media`),
signed (the BLAKE2b prehash is taken while the bytes stream, so a split unit is never
joined on the data disk), and only then entered in the register (`ArchiveRecord`), so
the register never names a unit that is not safely there. Writing a year again never
touches the good unit: the new one goes under a free name, and the old file is retired
only after the new one is written, signed, read back and registered.
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import shutil
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pyrage

from ..config import Settings
from ..db import write
from ..models import AcademicYear, ArchiveRecord, ArchiveVerification, SchoolClass, User, now
from . import bag, crypto, keys, media

ROOT = "ЭЖ-архив"
REGISTER_FILE = f"{ROOT}/реестр.csv"
REGISTER_SIGNATURE = f"{REGISTER_FILE}.minisig"
PUBLIC_KEY_FILE = f"{ROOT}/box.minisign.pub"
STAGING = "archive-staging"
IN_USE = ".in-use"  # a staging folder's lock file: held while its build or check runs
SWEEP_AFTER = 60.0  # seconds: a younger staging folder may be between mkdtemp and its lock
LIVE = ("written", "destroying")  # statuses whose files are on the medium

Progress = Callable[[int, int, str], None]


class ArchiveError(ValueError):
    """The archive cannot be written, verified or opened (message in Russian)."""


class WrongKey(ArchiveError):  # noqa: N818 — a reason told to the admin, not a bug
    """The key given is not one the unit was encrypted to."""


@contextmanager
def _staging(settings: Settings) -> Iterator[Path]:
    """A temporary folder on the data disk, locked while in use, removed whatever happens."""
    root = settings.data_dir / STAGING
    root.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=root))
    lock = open(folder / IN_USE, "w")  # noqa: SIM115 - held open for the whole block
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield folder
    finally:
        lock.close()
        shutil.rmtree(folder, ignore_errors=True)


def sweep_staging(settings: Settings) -> list[Path]:
    """Remove staging folders left by a build or check that died (power cut, kill -9):
    those whose lock nobody holds. Returns what was removed."""
    root = settings.data_dir / STAGING
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for folder in root.glob("tmp*"):
        try:
            if not folder.is_dir() or time.time() - folder.stat().st_mtime < SWEEP_AFTER:
                continue
            with open(folder / IN_USE, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held: still in use
                shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        except OSError:
            continue
    return removed


def sweep_medium(medium: media.Medium) -> list[Path]:
    """Remove ``*.part-tmp`` leftovers of an interrupted write from the archive folder."""
    removed = []
    for path in sorted((medium.root / ROOT).rglob(f"*{media.TMP_SUFFIX}")):
        with suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


def _medium(path: Path | media.Medium, *, create_label: bool = True) -> media.Medium:
    if isinstance(path, media.Medium):
        return path
    return media.open_medium(Path(path), create_label=create_label)


def _unit_error(spec: bag.UnitSpec, exc: BaseException) -> ArchiveError | None:
    """The error of one unit, in Russian and naming it (None: it names it already)."""
    reason = crypto.os_reason(exc) if isinstance(exc, OSError) else str(exc)
    if isinstance(exc, ValueError) and f"«{spec.title}" in reason:
        return None
    return ArchiveError(f"Единица «{spec.title}» не записана: {reason}")


# --- medium path from a form ------------------------------------------------------------

MEDIA_ROOTS = (Path("/media"), Path("/run/media"), Path("/mnt"))


def _device(path: Path) -> int:
    return os.stat(path).st_dev


def check_medium_path(settings: Settings, text: str) -> Path:
    """The medium folder typed into the page, if it may be written to; else ArchiveError.

    Only a mounted medium (under /media, /run/media, /mnt) on a disk other than the
    data's, or the folder the admin configured (``archive_media`` in ezh.toml), and never
    inside the data folder: a typo must not write the archive beside the database or
    into the system.
    """
    if not text.strip():
        raise ArchiveError("Укажите папку носителя.")
    path = Path(text.strip()).expanduser()
    try:
        resolved = path.resolve(strict=True)
    except OSError as exc:
        raise ArchiveError(
            f"Носитель не найден: {path}. Вставьте флешку и проверьте путь."
        ) from exc
    configured = str(
        getattr(settings, "archive_media", "") or settings.extra.get("archive_media", "")
    )

    def within(root: Path) -> bool:
        return resolved == root.resolve() or resolved.is_relative_to(root.resolve())

    # The admin's own setting is trusted (a demo's folder standing in for the stick);
    # any other folder must be a mounted medium on a disk of its own.
    chosen = bool(configured) and within(Path(configured))
    if not (chosen or any(within(r) for r in MEDIA_ROOTS)) or not resolved.is_dir():
        raise ArchiveError(
            f"Папка {path} — не съёмный носитель. Укажите папку флешки: она в /media, "
            "/run/media или /mnt (или задайте archive_media в ezh.toml)."
        )
    if within(settings.data_dir):
        raise ArchiveError(f"Папка {path} внутри папки данных ЭЖ-box: архив там не хранят.")
    try:
        same = not chosen and _device(resolved) == _device(settings.data_dir)
    except OSError as exc:
        raise ArchiveError(f"Носитель {path} не читается: {crypto.os_reason(exc)}.") from exc
    if same:
        raise ArchiveError(
            f"Папка {path} на том же диске, что и данные ЭЖ-box: архив должен лежать на "
            "отдельном носителе. Вставьте флешку и укажите её папку."
        )
    return resolved


# --- build ----------------------------------------------------------------------------


def build(
    settings: Settings,
    year: AcademicYear,
    medium_path: Path | media.Medium,
    user: User | None = None,
    progress: Progress | None = None,
    *,
    printer: bag.Printer | None = None,
) -> list[ArchiveRecord]:
    """Write the year's journal and summary units of every class to the medium."""
    keys.recipients(settings)  # no keys → KeysMissing before anything is written
    medium = _medium(medium_path)
    classes = list(
        SchoolClass.select()
        .where(SchoolClass.year == year)
        .order_by(SchoolClass.grade, SchoolClass.letter)
    )
    if not classes:
        raise ArchiveError(f"В {year.name} учебном году нет классов: архивировать нечего.")
    sweep_staging(settings)
    sweep_medium(medium)
    specs = [bag.UnitSpec(c, year, unit) for c in classes for unit in ("journal", "summary")]
    records = []
    try:
        for done, spec in enumerate(specs):
            if progress:
                progress(done, len(specs), f"Записываю: {spec.title}")
            try:
                records.append(build_unit(settings, spec, medium, user, printer))
            except (ValueError, OSError) as exc:  # printing, keys, media, disk: name the unit
                wrapped = _unit_error(spec, exc)
                if wrapped is None:
                    raise
                raise wrapped from exc
    except BaseException:
        if records:  # the medium's register lists what is safely there, even after a failure
            with suppress(ValueError):  # a full medium: the first error is the one to tell
                write_register(settings, medium)
        raise
    write_register(settings, medium)
    if progress:
        progress(len(specs), len(specs), f"Записано единиц: {len(records)} на «{medium.label}».")
    return records


def _free_name(medium: media.Medium, spec: bag.UnitSpec) -> str:
    """The unit's file name: «5А-журнал.tar.age», or «5А-журнал.2.tar.age» … while an
    earlier unit (in the register or on the medium) still holds the plain one."""
    base = f"{ROOT}/{spec.year_slug}/{spec.slug}"
    taken = {
        r.file_name
        for r in ArchiveRecord.select(ArchiveRecord.file_name).where(
            (ArchiveRecord.media_label == medium.label) & ArchiveRecord.status.in_(LIVE)
        )
    }
    for n in range(1, 10_000):
        name = f"{base}.tar.age" if n == 1 else f"{base}.{n}.tar.age"
        files = (name, f"{name}.001", f"{name}.minisig")
        if name not in taken and not any((medium.root / f).exists() for f in files):
            return name
    raise ArchiveError(f"Единица «{spec.title}»: на носителе нет свободного имени файла.")


def build_unit(
    settings: Settings,
    spec: bag.UnitSpec,
    medium: media.Medium,
    user: User | None = None,
    printer: bag.Printer | None = None,
) -> ArchiveRecord:
    """Stage, seal, write, sign, read back and register one unit; then retire the unit it
    replaces. Any failure before the register leaves the older unit and its row as they
    were, and nothing of the new one on the medium."""
    name = _free_name(medium, spec)
    unit_file = name.rsplit("/", 1)[-1]
    written: media.Written | None = None
    signature = f"{name}.minisig"
    try:
        with _staging(settings) as staging:
            folder = staging / f"{spec.slug}-{spec.year_slug}"
            bag.make_bag(settings, spec, folder, printer, unit_file=unit_file)
            with bag.sealed(settings, folder) as stream:
                written = media.write_stream(
                    medium,
                    stream.reader,
                    name,
                    spec.title,
                    size_hint=bag.bag_size(folder),
                    check=stream.check,
                )
        text = crypto.sign_digest(
            written.blake2b, keys.signing_key(settings), f"ЭЖ-box: {spec.title}; {name}"
        )
        media.write_bytes(medium, signature, text.encode("utf-8"), spec.title)
        record, replaced = _register(spec, medium, written, user)
    except BaseException:
        if written is not None:  # a unit without its signature or its row is not written
            _remove_files(medium, [*written.parts, medium.root / signature])
        raise
    for old in replaced:  # the new unit is safe and registered: now the old one goes
        _remove_files(medium, _unit_files(medium, old))
    return record


def _unit_files(medium: media.Medium, record: ArchiveRecord) -> list[Path]:
    """A unit's files on the medium, its signature last."""
    names = media.part_names(record.file_name, record.parts) + [f"{record.file_name}.minisig"]
    return [medium.root / n for n in names]


def _remove_files(medium: media.Medium, paths: list[Path]) -> None:
    """Best effort (the medium may be gone): what stays is reported by `verify`."""
    folders = set()
    for path in paths:
        with suppress(OSError):
            path.unlink(missing_ok=True)
            folders.add(path.parent)
    for folder in folders:
        with suppress(OSError):
            media._fsync_dir(folder)


def _register(
    spec: bag.UnitSpec, medium: media.Medium, written: media.Written, user: User | None
) -> tuple[ArchiveRecord, list[ArchiveRecord]]:
    """Enter the unit in the register; the same unit written before on this medium
    becomes «replaced» in the same transaction. Returns (new row, replaced rows)."""
    with write(user=user) as rec:
        older = list(
            ArchiveRecord.select().where(
                (ArchiveRecord.year == spec.year)
                & (ArchiveRecord.school_class == spec.school_class)
                & (ArchiveRecord.unit == spec.unit)
                & (ArchiveRecord.media_label == medium.label)
                & (ArchiveRecord.status == "written")
            )
        )
        for old in older:
            before = old.status
            old.status = "replaced"
            old.save()
            rec.record("archive.replace", old, before={"status": before}, op="update")
        number = ArchiveRecord.select().where(ArchiveRecord.year == spec.year).count() + 1
        record = ArchiveRecord.create(
            year=spec.year,
            school_class=spec.school_class,
            unit=spec.unit,
            title=spec.title,
            register_number=f"ЭА-{spec.year.starts.year}-{number:03d}",
            sha256=written.sha256,
            sha512=written.sha512,
            size=written.size,
            file_name=written.name,
            parts=len(written.parts),
            media_label=medium.label,
            created_at=now(),
            retain_until=spec.retain_until,
            status="written",
        )
        rec.record("archive.write", record, op="create")
    return record, older


REGISTER_HEADER = [
    "Рег. номер",
    "Учебный год",
    "Класс",
    "Единица",
    "Название",
    "Файл",
    "Частей",
    "Размер, байт",
    "SHA-256",
    "SHA-512",
    "Носитель",
    "Записано",
    "Хранить до",
    "Состояние",
]
STATUS_TITLES = {
    "written": "записано",
    "replaced": "перезаписано",
    "failed": "ошибка",
    "destroying": "уничтожается",
    "destroyed": "уничтожено",
}


def register_rows(label: str | None = None):
    query = ArchiveRecord.select().order_by(ArchiveRecord.year, ArchiveRecord.register_number)
    if label is not None:
        query = query.where(ArchiveRecord.media_label == label)
    return query


def register_csv(label: str) -> bytes:
    """The register of one medium as the CSV written beside its units. It changes only
    when units are written, replaced or destroyed (checks live in the box's register),
    so `verify` can compare it byte for byte."""
    out = io.StringIO()
    table = csv.writer(out, delimiter=";")
    table.writerow(REGISTER_HEADER)
    for r in register_rows(label):
        table.writerow(
            [
                r.register_number,
                r.year.name,
                r.school_class.name if r.school_class else "",
                bag.UNIT_TITLES.get(r.unit, r.unit),
                r.title,
                r.file_name,
                r.parts,
                r.size,
                r.sha256,
                r.sha512,
                r.media_label,
                f"{r.created_at:%d.%m.%Y %H:%M}",
                f"{r.retain_until:%d.%m.%Y}",
                STATUS_TITLES.get(r.status, r.status),
            ]
        )
    return out.getvalue().encode("utf-8-sig")  # the BOM lets Excel read Cyrillic


def _digest(data: bytes) -> bytes:
    hasher = crypto.blake2b_hasher()
    hasher.update(data)
    return hasher.digest()


def write_register(settings: Settings, medium: media.Medium) -> None:
    """The register of this medium (signed by the box), and the box's public key, beside
    the units."""
    data = register_csv(medium.label)
    signature = crypto.sign_digest(
        _digest(data), keys.signing_key(settings), f"ЭЖ-box: реестр носителя {medium.label}"
    )
    media.write_bytes(medium, REGISTER_FILE, data, "реестр архива")
    media.write_bytes(medium, REGISTER_SIGNATURE, signature.encode("utf-8"), "реестр архива")
    public = keys.public_key_text(settings).encode("utf-8")
    media.write_bytes(medium, PUBLIC_KEY_FILE, public, "ключ подписи")


def box_public_key(settings: Settings) -> str | None:
    """The box's own public signing key, or None on a box that never made one (the key
    is never taken from the medium: whoever forged a unit would bring theirs)."""
    folder = keys.keys_dir(settings)
    if (folder / keys.PUBLIC_KEY).exists() or (folder / keys.SIGNING_KEY).exists():
        return keys.public_key_text(settings)
    return None


# --- verify ---------------------------------------------------------------------------


@dataclass
class UnitCheck:
    record: ArchiveRecord
    ok: bool
    message: str


@dataclass
class VerifyReport:
    label: str
    with_key: bool
    checks: list[UnitCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # of the medium, not of one unit

    @property
    def ok(self) -> bool:
        """Every unit and the medium in order — and at least one unit found."""
        return bool(self.checks) and all(c.ok for c in self.checks) and not self.problems

    @property
    def failed(self) -> list[UnitCheck]:
        return [c for c in self.checks if not c.ok]

    def summary(self) -> str:
        if not self.checks:
            text = f"На носителе «{self.label}» нет единиц архива из реестра: проверять нечего."
        else:
            how = "с ключом" if self.with_key else "без ключа"
            bad = len(self.failed) + len(self.problems)
            text = f"Проверено {how}: {len(self.checks)} ед. на «{self.label}»; с ошибками: {bad}."
        lines = [c.message for c in self.failed] + self.problems
        return text + "".join(f"\n{line}" for line in lines)


def _parts(medium: media.Medium, record: ArchiveRecord) -> list[Path]:
    return [medium.root / n for n in media.part_names(record.file_name, record.parts)]


def _check_file(medium: media.Medium, record: ArchiveRecord) -> tuple[list[Path], bytes]:
    """Presence, size and SHA-256 of the unit's ciphertext, read from the medium itself;
    returns the parts and the BLAKE2b prehash for the signature. ArchiveError if off."""
    parts = _parts(medium, record)
    for part in parts:
        if not part.is_file():
            raise ArchiveError(f"файл {part.relative_to(medium.root)} отсутствует на носителе")
    size = sum(p.stat().st_size for p in parts)
    if size != record.size:
        raise ArchiveError(
            f"файл {record.file_name}: размер {size} байт, в реестре {record.size} — "
            "файл обрезан или дописан"
        )
    sha256, blake = media.read_back(parts)
    if sha256 != record.sha256:
        raise ArchiveError(f"файл {record.file_name} изменён: контрольная сумма SHA-256 не та")
    return parts, blake


def _check_signature(path: Path, digest: bytes, shown: str, public: str) -> None:
    """The box's minisign signature ``path`` over the file ``shown`` (given its prehash)."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError as exc:
        raise crypto.SignatureError(f"Подписи {path.name} к файлу {shown} нет.") from exc
    crypto.verify_digest(digest, shown, text, public, path.name)


def _check_unit(
    settings: Settings,
    medium: media.Medium,
    record: ArchiveRecord,
    identity: str | None,
    public: str,
) -> None:
    parts, blake = _check_file(medium, record)
    signature = medium.root / f"{record.file_name}.minisig"
    try:
        _check_signature(signature, blake, Path(record.file_name).name, public)
    except crypto.CryptoError as exc:
        raise ArchiveError(f"файл {signature.relative_to(medium.root)}: {exc}") from exc
    if identity is not None:
        with _staging(settings) as staging:
            folder = _unpack(parts, identity, staging / "open", record.file_name)
            try:
                bag.validate(folder, public)
            except ValueError as exc:
                raise ArchiveError(f"файл {record.file_name}, внутри: {exc}") from exc


def _medium_problems(medium: media.Medium, records: list[ArchiveRecord], public: str) -> list[str]:
    """What is wrong with the medium beside its units: files the register does not know,
    leftovers of an interrupted write, a register or key that is not the box's."""
    problems = []
    known = {REGISTER_FILE, REGISTER_SIGNATURE, PUBLIC_KEY_FILE}
    for record in records:
        known.update(str(p.relative_to(medium.root)) for p in _unit_files(medium, record))
    root = medium.root / ROOT
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if not path.is_file():
            continue
        name = path.relative_to(medium.root).as_posix()
        if name.endswith(media.TMP_SUFFIX):
            problems.append(f"Файл {name} — остаток прерванной записи (его можно удалить).")
        elif name not in known:
            problems.append(f"Файл {name} есть на носителе, но его нет в реестре ЭЖ-box.")
    register = medium.root / REGISTER_FILE
    if not register.is_file():
        problems.append(f"Файла {REGISTER_FILE} на носителе нет.")
    else:
        data = register.read_bytes()
        if data != register_csv(medium.label):
            problems.append(f"Файл {REGISTER_FILE} не совпадает с реестром ЭЖ-box.")
        try:
            _check_signature(medium.root / REGISTER_SIGNATURE, _digest(data), "реестр.csv", public)
        except crypto.CryptoError as exc:
            problems.append(f"Файл {REGISTER_SIGNATURE}: {exc}")
    key = medium.root / PUBLIC_KEY_FILE
    if not key.is_file() or key.read_text(encoding="utf-8", errors="replace") != public:
        problems.append(f"Файл {PUBLIC_KEY_FILE}: ключ подписи на носителе не тот, что у ЭЖ-box.")
    return problems


def verify(
    settings: Settings,
    medium_path: Path | media.Medium,
    identity: str | None = None,
    user: User | None = None,
    progress: Progress | None = None,
) -> VerifyReport:
    """Check every unit the register has on this medium and record each result.

    Without the key: presence, size, SHA-256 and the box's signature of the ciphertext.
    With the key (the text of the director's key file): also decrypt, unpack, validate
    the bag and the signature of its tag manifest. Every failure names unit and file.
    The medium itself is checked too: files not in the register, leftovers, the
    register and the key beside the units. Nothing is written to the medium.
    """
    if identity is not None:
        crypto.parse_identities(identity)  # a malformed key fails once, not per unit
    public = box_public_key(settings)
    if public is None:
        raise ArchiveError(
            "На этом ЭЖ-box нет ключа подписи архива: проверять нечем (ezh keys init)."
        )
    medium = _medium(medium_path, create_label=False)
    records = list(register_rows(medium.label).where(ArchiveRecord.status == "written"))
    report = VerifyReport(medium.label, identity is not None)
    wrong_key = 0
    for done, record in enumerate(records):
        if progress:
            progress(done, len(records), f"Проверяю: {record.title}")
        try:
            _check_unit(settings, medium, record, identity, public)
            check = UnitCheck(record, True, f"Единица «{record.title}»: в порядке.")
        except (ArchiveError, crypto.CryptoError) as exc:
            wrong_key += isinstance(exc, WrongKey)
            check = UnitCheck(record, False, f"Единица «{record.title}»: {exc}")
        except OSError as exc:
            reason = crypto.os_reason(exc)
            check = UnitCheck(record, False, f"Единица «{record.title}» не прочитана: {reason}")
        report.checks.append(check)
    if records and wrong_key == len(records):
        # Not the archive's fault: nothing goes into the register for a key that fits none.
        first = Path(records[0].file_name).name
        raise ArchiveError(
            f"Ключ не подходит ни к одной единице на носителе (например, к {first}): возьмите "
            "ключ с листа директора (или заместителя), которым шифровался архив. "
            "В реестр ничего не записано."
        )
    for check in report.checks:
        _record_check(check.record, check, medium.label, identity is not None, user)
    try:
        report.problems = _medium_problems(medium, records, public)
    except OSError as exc:
        report.problems = [f"Носитель не читается: {crypto.os_reason(exc)}."]
    if progress:
        progress(len(records), len(records), report.summary().splitlines()[0])
    return report


def _record_check(
    record: ArchiveRecord, check: UnitCheck, label: str, with_key: bool, user: User | None
) -> None:
    with write(user=user) as rec:
        row = ArchiveVerification.create(
            record=record,
            with_key=with_key,
            ok=check.ok,
            message=check.message,
            media_label=label,
            user=user,
        )
        stamp = f"{row.checked_at:%d.%m.%Y %H:%M}"
        line = f"{stamp} {'с ключом' if with_key else 'без ключа'}: {check.message}"
        changes: dict = {
            ArchiveRecord.verification_log: (record.verification_log + "\n" + line).strip()
        }
        if check.ok:
            changes[ArchiveRecord.last_verified_at] = row.checked_at
        ArchiveRecord.update(changes).where(ArchiveRecord.id == record.id).execute()
        rec.record(
            "archive.verify",
            record,
            after={"ok": check.ok, "with_key": with_key, "message": check.message},
        )


# --- open -----------------------------------------------------------------------------


def _decrypt_failure(exc: BaseException, shown: str) -> ArchiveError:
    """A failed decryption in the words `crypto.decrypt_file` uses, naming the file."""
    if isinstance(exc, pyrage.DecryptError) and crypto.os_errno(exc) is None:
        message = crypto._decrypt_message(Path(shown), str(exc))
        return (WrongKey if "No matching keys" in str(exc) else ArchiveError)(message)
    if isinstance(exc, OSError | pyrage.DecryptError) and crypto.os_errno(exc) is None:
        return ArchiveError(  # the age crate reports a failed chunk as an I/O error
            f"Файл {shown} повреждён или обрезан: расшифровка остановилась "
            "(проверка целостности не прошла)."
        )
    return ArchiveError(f"Файл {shown} не расшифрован: {crypto.os_reason(exc)}.")


def _decrypt_untar(parts: list[Path], identity: str, dest: Path, shown: str) -> None:
    """Decrypt the unit's parts straight into tar's stream reader ("r|"): no plaintext
    tar and no joined ciphertext on the disk. Raises ArchiveError naming ``shown``."""
    identities = crypto.parse_identities(identity)
    read_fd, write_fd = os.pipe()
    errors: list[BaseException] = []

    def decrypt() -> None:
        try:
            with (
                os.fdopen(write_fd, "wb", buffering=bag.PIPE_BUFFER) as plain,
                media.PartsReader(parts) as cipher,
            ):
                pyrage.decrypt_io(cipher, plain, identities)
        except BaseException as exc:  # handed to the caller's thread below
            errors.append(exc)

    thread = threading.Thread(target=decrypt, daemon=True)
    thread.start()
    unpacked: BaseException | None = None
    with os.fdopen(read_fd, "rb", buffering=bag.PIPE_BUFFER) as plain:
        try:
            with tarfile.open(fileobj=plain, mode="r|") as tar:
                tar.extractall(dest, filter="data")
            while plain.read(bag.PIPE_BUFFER):  # the rest (tar's zero blocks): let age end
                pass
        except (tarfile.TarError, OSError) as exc:
            unpacked = exc
    thread.join()
    if errors and not (unpacked is not None and isinstance(errors[0], BrokenPipeError)):
        raise _decrypt_failure(errors[0], shown) from errors[0]
    if unpacked is not None:
        raise ArchiveError(f"файл {shown} расшифрован, но это не архив tar: {unpacked}") from (
            unpacked
        )


def _unpack(parts: list[Path], identity: str, to_dir: Path, shown: str) -> Path:
    """Decrypt and untar a unit into ``to_dir``; return the bag's folder. It is unpacked
    in a scratch folder first: a unit that fails half-way leaves nothing in ``to_dir``."""
    to_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".unpack-", dir=to_dir))
    try:
        _decrypt_untar(parts, identity, scratch, shown)
        folders = [p for p in scratch.iterdir() if p.is_dir() and (p / "bagit.txt").exists()]
        if len(folders) != 1:
            raise ArchiveError(f"в файле {shown} нет пакета BagIt")
        target = to_dir / folders[0].name
        if target.exists():
            raise ArchiveError(f"Папка {target} уже есть: укажите другую или удалите её.")
        folders[0].rename(target)
        return target
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def unit_parts(unit_file: Path) -> list[Path]:
    """The files of a unit given by its name (``x.tar.age``) or one of its parts."""
    unit_file = Path(unit_file)
    if unit_file.is_file() and not unit_file.suffix[1:].isdigit():
        return [unit_file]
    base = unit_file.with_suffix("") if unit_file.suffix[1:].isdigit() else unit_file
    parts = sorted(base.parent.glob(f"{base.name}.[0-9][0-9][0-9]"))
    if not parts:
        raise ArchiveError(f"Файла {unit_file} нет.")
    return parts


NO_PUBLIC_KEY = (
    "Нет открытого ключа подписи ЭЖ-box, чтобы проверить единицу. Укажите --public-key "
    "ФАЙЛ (ключ подписи с листа ключа из сейфа) или --data (каталог данных этого ЭЖ-box). "
    "Ключу с носителя верить нельзя: подделавший единицу положил бы туда свой."
)


def open_unit(
    settings: Settings,
    unit_file: Path,
    identity: str,
    to_dir: Path,
    public_key: str | None = None,
) -> Path:
    """Decrypt, unpack and validate a unit into ``to_dir``; return the bag's folder.

    The tag manifest's signature is checked with ``public_key`` (from the key sheet)
    or the box's own key; never with a key found on the medium. With neither: refused.
    """
    public = public_key or box_public_key(settings)
    if not public:
        raise ArchiveError(NO_PUBLIC_KEY)
    try:
        crypto.load_public_key(public)
    except crypto.CryptoError as exc:
        raise ArchiveError(f"Открытый ключ подписи не читается: {exc}") from exc
    parts = unit_parts(Path(unit_file))
    shown = parts[0].name
    try:
        folder = _unpack(parts, identity, Path(to_dir), shown)
    except crypto.CryptoError as exc:
        raise ArchiveError(f"Единица {shown}: {exc}") from exc
    except ArchiveError as exc:
        raise ArchiveError(f"Единица {shown}: {exc}") from exc
    try:
        bag.validate(folder, public)
    except (ValueError, crypto.CryptoError) as exc:
        raise ArchiveError(f"Единица {shown}: {exc}") from exc
    return folder
