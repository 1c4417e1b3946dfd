"""The year-end electronic archive (§9.2): build it onto the medium, verify it, open it.

Per class of the year two units, each its own file on the medium, because they are
kept for different times: the journal (5 years) and the summary sheet (25 years)::

    ЭЖ-архив/<год>/<класс>-журнал.tar.age             (+ .minisig: the box's signature)
    ЭЖ-архив/<год>/<класс>-сводная-ведомость.tar.age  (+ .minisig)
    ЭЖ-архив/реестр.csv  ЭЖ-архив/box.minisign.pub    (the register and the key)

One unit at a time (memory and disk stay bounded): its bag is staged on the data
disk, then packed and encrypted straight onto the medium, written durably (`media`),
signed, and only then entered in the register (`ArchiveRecord`), so the register
never names a unit that is not safely there.
"""

from __future__ import annotations

import csv
import io
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings
from ..db import write
from ..models import AcademicYear, ArchiveRecord, ArchiveVerification, SchoolClass, User, now
from . import bag, crypto, keys, media

ROOT = "ЭЖ-архив"
REGISTER_FILE = f"{ROOT}/реестр.csv"
PUBLIC_KEY_FILE = f"{ROOT}/box.minisign.pub"
STAGING = "archive-staging"

Progress = Callable[[int, int, str], None]


class ArchiveError(ValueError):
    """The archive cannot be written, verified or opened (message in Russian)."""


@contextmanager
def _staging(settings: Settings):
    """A temporary folder on the data disk, removed whatever happens."""
    root = settings.data_dir / STAGING
    root.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _medium(path: Path | media.Medium) -> media.Medium:
    return path if isinstance(path, media.Medium) else media.open_medium(Path(path))


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
    specs = [bag.UnitSpec(c, year, unit) for c in classes for unit in ("journal", "summary")]
    records = []
    try:
        for done, spec in enumerate(specs):
            if progress:
                progress(done, len(specs), f"Записываю: {spec.title}")
            try:
                records.append(build_unit(settings, spec, medium, user, printer))
            except ValueError as exc:  # printing, keys, media: say which unit
                if f"«{spec.title}" in str(exc):
                    raise
                raise ArchiveError(f"Единица «{spec.title}» не записана: {exc}") from exc
    except BaseException:
        if records:  # the medium's register lists what is safely there, even after a failure
            with suppress(media.MediaError):  # a full medium: the first error is the one to tell
                write_register(settings, medium)
        raise
    write_register(settings, medium)
    if progress:
        progress(len(specs), len(specs), f"Записано единиц: {len(records)} на «{medium.label}».")
    return records


def build_unit(
    settings: Settings,
    spec: bag.UnitSpec,
    medium: media.Medium,
    user: User | None = None,
    printer: bag.Printer | None = None,
) -> ArchiveRecord:
    """Stage, seal, write and register one unit."""
    name = f"{ROOT}/{spec.year_slug}/{spec.slug}.tar.age"
    written: media.Written | None = None
    with _staging(settings) as staging:
        folder = bag.make_bag(settings, spec, staging / f"{spec.slug}-{spec.year_slug}", printer)
        try:
            with bag.sealed(settings, folder) as stream:
                written = media.write_stream(
                    medium, stream, name, spec.title, size_hint=bag.bag_size(folder)
                )
            with _joined(written.parts, staging) as unit_file:
                signature = staging / f"{spec.slug}.tar.age.minisig"
                keys.sign(settings, unit_file, signature, f"ЭЖ-box: {spec.title}; {name}")
            media.write_file(medium, signature, f"{name}.minisig", spec.title)
        except BaseException:
            for part in written.parts if written else []:
                part.unlink(missing_ok=True)  # a unit without its signature is not written
            raise
    return _register(spec, medium, written, user)


def _register(
    spec: bag.UnitSpec, medium: media.Medium, written: media.Written, user: User | None
) -> ArchiveRecord:
    with write(user=user) as rec:
        older = ArchiveRecord.select().where(
            (ArchiveRecord.file_name == written.name)
            & (ArchiveRecord.media_label == medium.label)
            & (ArchiveRecord.status == "written")
        )
        for old in older:  # the same file on the same medium was written over
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
    return record


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
    "Проверено",
    "Состояние",
]
STATUS_TITLES = {
    "written": "записано",
    "replaced": "перезаписано",
    "failed": "ошибка",
    "destroyed": "уничтожено",
}


def register_rows(label: str | None = None):
    query = ArchiveRecord.select().order_by(ArchiveRecord.year, ArchiveRecord.register_number)
    if label is not None:
        query = query.where(ArchiveRecord.media_label == label)
    return query


def write_register(settings: Settings, medium: media.Medium) -> None:
    """The register of this medium, and the box's public key, beside the units."""
    out = io.StringIO()
    table = csv.writer(out, delimiter=";")
    table.writerow(REGISTER_HEADER)
    for r in register_rows(medium.label):
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
                f"{r.last_verified_at:%d.%m.%Y %H:%M}" if r.last_verified_at else "",
                STATUS_TITLES.get(r.status, r.status),
            ]
        )
    data = out.getvalue().encode("utf-8-sig")  # the BOM lets Excel read Cyrillic
    media.write_bytes(medium, REGISTER_FILE, data, "реестр архива")
    public = keys.public_key_text(settings).encode("utf-8")
    media.write_bytes(medium, PUBLIC_KEY_FILE, public, "ключ подписи")


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

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[UnitCheck]:
        return [c for c in self.checks if not c.ok]

    def summary(self) -> str:
        if not self.checks:
            return f"На носителе «{self.label}» нет единиц архива из реестра."
        how = "с ключом" if self.with_key else "без ключа"
        bad = len(self.failed)
        text = f"Проверено {how}: {len(self.checks)} ед. на «{self.label}»; с ошибками: {bad}."
        return text + "".join(f"\n{c.message}" for c in self.failed)


def _parts(medium: media.Medium, record: ArchiveRecord) -> list[Path]:
    return [medium.root / n for n in media.part_names(record.file_name, record.parts)]


def _check_file(medium: media.Medium, record: ArchiveRecord) -> list[Path]:
    """Presence, size and SHA-256 of the unit's ciphertext; raise ArchiveError if off."""
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
    if media.sha256_of(parts) != record.sha256:
        raise ArchiveError(f"файл {record.file_name} изменён: контрольная сумма SHA-256 не та")
    return parts


@contextmanager
def _joined(parts: list[Path], staging: Path):
    """The unit as one file (a split one is joined on the data disk for the tools)."""
    if len(parts) == 1:
        yield parts[0]
        return
    joined = staging / parts[0].stem
    with open(joined, "wb") as out:
        for data in media.iter_parts(parts):
            out.write(data)
    try:
        yield joined
    finally:
        joined.unlink(missing_ok=True)


def _check_unit(
    settings: Settings, medium: media.Medium, record: ArchiveRecord, identity: str | None
) -> None:
    parts = _check_file(medium, record)
    public = keys.public_key_text(settings)
    signature = medium.root / f"{record.file_name}.minisig"
    with _staging(settings) as staging, _joined(parts, staging) as unit_file:
        try:
            crypto.verify_file(unit_file, signature, public)
        except crypto.CryptoError as exc:
            raise ArchiveError(f"файл {signature.relative_to(medium.root)}: {exc}") from exc
        if identity is not None:
            folder = _unpack(unit_file, identity, staging / "open")
            try:
                bag.validate(folder, public)
            except ValueError as exc:
                raise ArchiveError(f"файл {record.file_name}, внутри: {exc}") from exc


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
    """
    if identity is not None:
        crypto.parse_identities(identity)  # a malformed key fails once, not per unit
    medium = _medium(medium_path)
    records = list(register_rows(medium.label).where(ArchiveRecord.status == "written"))
    report = VerifyReport(medium.label, identity is not None)
    for done, record in enumerate(records):
        if progress:
            progress(done, len(records), f"Проверяю: {record.title}")
        try:
            _check_unit(settings, medium, record, identity)
            check = UnitCheck(record, True, f"Единица «{record.title}»: в порядке.")
        except (ArchiveError, crypto.CryptoError, OSError) as exc:
            check = UnitCheck(record, False, f"Единица «{record.title}»: {exc}")
        report.checks.append(check)
        _record_check(record, check, medium.label, identity is not None, user)
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


def _unpack(unit_file: Path, identity: str, to_dir: Path) -> Path:
    """Decrypt and untar a unit into ``to_dir``; return the bag's folder."""
    to_dir.mkdir(parents=True, exist_ok=True)
    tar_path = to_dir / f".{unit_file.name}.tar"
    try:
        crypto.decrypt_file(unit_file, tar_path, identity)
        with tarfile.open(tar_path, mode="r|") as tar:
            tar.extractall(to_dir, filter="data")
    except tarfile.TarError as exc:
        raise ArchiveError(
            f"файл {unit_file.name} расшифрован, но это не архив tar: {exc}"
        ) from exc
    finally:
        tar_path.unlink(missing_ok=True)
    folders = [p for p in to_dir.iterdir() if p.is_dir() and (p / "bagit.txt").exists()]
    if len(folders) != 1:
        raise ArchiveError(f"в файле {unit_file.name} нет пакета BagIt")
    return folders[0]


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


def open_unit(settings: Settings, unit_file: Path, identity: str, to_dir: Path) -> Path:
    """Decrypt, unpack and validate a unit into ``to_dir``; return the bag's folder.

    The tag manifest's signature is checked with the box's key if the box has one,
    else with the key written beside the units on the medium.
    """
    parts = unit_parts(Path(unit_file))
    to_dir = Path(to_dir)
    with _staging(settings) as staging, _joined(parts, staging) as joined:
        try:
            folder = _unpack(joined, identity, to_dir)
        except crypto.CryptoError as exc:
            raise ArchiveError(f"Единица {parts[0].name}: {exc}") from exc
    public = _public_key_for(settings, parts[0])
    try:
        bag.validate(folder, public)
    except (ValueError, crypto.CryptoError) as exc:
        raise ArchiveError(f"Единица {parts[0].name}: {exc}") from exc
    return folder


def _public_key_for(settings: Settings, unit_file: Path) -> str | None:
    own = settings.data_dir / "keys" / keys.PUBLIC_KEY
    if own.is_file():
        return own.read_text(encoding="utf-8")
    for folder in unit_file.resolve().parents:
        candidate = folder / "box.minisign.pub"
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    return None
