"""One archive unit of one class: a BagIt bag, signed, packed as tar, encrypted with age.

A unit must open in 5 or 25 years with stock tools and no ЭЖ-box (DESIGN §3):
``age -d`` decrypts it, ``tar`` unpacks it, ``minisign -V`` checks the signature of
its tag manifest, ``bagit.py --validate`` checks every file against the sha256 and
sha512 manifests, ``sqlite3`` and any PDF viewer read what is inside. The README.txt
in every bag says so in Russian.

Layout of a bag (the payload under ``data/``, the rest are tag files)::

    bagit.txt  bag-info.txt  manifest-sha256.txt  manifest-sha512.txt
    README.txt  box.minisign.pub  tagmanifest-sha256.txt  tagmanifest-sha512.txt
    tagmanifest-sha256.txt.minisig        (the box's signature of the tag manifest)
    data/<PDF>  data/данные/…  data/база/<class>.sqlite3  data/аудит/…
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tarfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import bagit
import pyrage
from pyrage import x25519

from .. import __version__
from ..config import Settings
from ..models import AcademicYear, School, SchoolClass
from . import crypto, extract, keys

UNIT_TITLES = {"journal": "журнал", "summary": "сводная ведомость"}
RETAIN_YEARS = {"journal": 5, "summary": 25}  # §9.2
SIGNED_MANIFEST = "tagmanifest-sha256.txt"
PUBLIC_KEY_FILE = "box.minisign.pub"
README = "README.txt"
PIPE_BUFFER = 1024 * 1024

# Writes the unit's documents (PDF, CSV/JSON) into a folder; returns the files written.
Printer = Callable[[SchoolClass, AcademicYear, str, Path], list[Path]]


@dataclass(frozen=True)
class UnitSpec:
    """Which unit: a class's journal or summary sheet of one year."""

    school_class: SchoolClass
    year: AcademicYear
    unit: str  # "journal" | "summary"

    @property
    def year_slug(self) -> str:
        return self.year.name.replace("/", "-")

    @property
    def slug(self) -> str:
        """The unit's file stem: «5А-журнал», «5А-сводная-ведомость»."""
        return f"{self.school_class.name}-{UNIT_TITLES[self.unit].replace(' ', '-')}"

    @property
    def title(self) -> str:
        return f"{self.school_class.name}, {UNIT_TITLES[self.unit]}, {self.year.name}"

    @property
    def retain_until(self) -> dt.date:
        ends = self.year.ends
        years = RETAIN_YEARS[self.unit]
        try:
            return ends.replace(year=ends.year + years)
        except ValueError:  # 29 February: kept through the whole of February, to 1 March
            return dt.date(ends.year + years, 3, 1)


def default_printer(
    school_class: SchoolClass, year: AcademicYear, unit: str, out: Path
) -> list[Path]:
    """The printed journal or summary sheet (PDF/A) and its data, by the printing module."""
    from . import printing

    stem = f"{school_class.name}-{year.name.replace('/', '-')}"
    if unit == "journal":
        pdf = out / f"журнал-{stem}.pdf"
        printing.journal_pdf(school_class, year, pdf)
    else:
        pdf = out / f"сводная-ведомость-{stem}.pdf"
        printing.summary_pdf(school_class, year, pdf)
    data_dir = out / "данные"
    data_dir.mkdir(exist_ok=True)
    return [pdf, *printing.export_class_data(school_class, year, data_dir, unit)]


def make_bag(
    settings: Settings,
    spec: UnitSpec,
    folder: Path,
    printer: Printer | None = None,
    *,
    unit_file: str | None = None,
) -> Path:
    """Fill ``folder`` (empty, on the data disk) as the unit's bag, signed; return it.

    ``unit_file``: the unit's file name on the medium, for the README's commands.
    """
    folder.mkdir(parents=True, exist_ok=False)
    (printer or default_printer)(spec.school_class, spec.year, spec.unit, folder)
    _add_database_parts(settings, spec, folder)
    _no_percent_names(folder)
    info = {
        "Source-Organization": School.get().name,
        "External-Description": f"Электронный архив ЭЖ: {spec.title}",
        "External-Identifier": f"{spec.year_slug}/{spec.slug}",
        "EZH-Class": spec.school_class.name,
        "EZH-Year": spec.year.name,
        "EZH-Unit": spec.unit,
        "EZH-Retain-Until": spec.retain_until.isoformat(),
        "Bag-Software-Agent": f"ЭЖ-box {__version__}",
    }
    write_bag(folder, info)
    public = keys.public_key_text(settings)
    (folder / PUBLIC_KEY_FILE).write_text(public, encoding="utf-8")
    readme = readme_text(spec, public, unit_file or f"{spec.slug}.tar.age", folder.name)
    (folder / README).write_text(readme, encoding="utf-8")
    write_tag_manifests(folder)  # they list README.txt and the public key too
    keys.sign(
        settings,
        folder / SIGNED_MANIFEST,
        folder / f"{SIGNED_MANIFEST}.minisig",
        f"ЭЖ-box: {spec.title}; {School.get().name}",
    )
    return folder


# --- BagIt (RFC 8493), written here: bagit-python's make_bag changes the process's working
# directory while it hashes, and under `ezh demo` the worker shares its process with the
# web server. Validation stays with bagit-python (`validate`), and the stock `bagit.py`.

ALGORITHMS = ("sha256", "sha512")
HASH_CHUNK = 1024 * 1024


def _bag_path(path: Path, folder: Path) -> str:
    """A file's path in a manifest: relative, "/"-separated, CR LF encoded. A "%" never
    gets here (`_no_percent_names`): bagit-python does not decode "%25", RFC 8493 wants
    it, so a name with "%" would fail one validator or the other."""
    text = path.relative_to(folder).as_posix()
    return text.replace("\r", "%0D").replace("\n", "%0A")


PERCENT_STAND_IN = "\uff05"  # «％», the full-width percent sign: reads the same


def _no_percent_names(folder: Path) -> None:
    """Rename payload files and folders whose names hold "%" (deepest first)."""
    for path in sorted(folder.rglob("*%*"), key=lambda p: len(p.parts), reverse=True):
        path.rename(path.with_name(path.name.replace("%", PERCENT_STAND_IN)))


def _digests(path: Path) -> dict[str, str]:
    hashes = {name: hashlib.new(name) for name in ALGORITHMS}
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            for found in hashes.values():
                found.update(chunk)
    return {name: found.hexdigest() for name, found in hashes.items()}


def _write_manifest(target: Path, lines: list[str]) -> None:
    target.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def write_bag(folder: Path, info: dict[str, str]) -> None:
    """Make ``folder`` a bag in place: its files move under ``data/``, then bagit.txt,
    the payload manifests and bag-info.txt (with Payload-Oxum) are written."""
    data = folder / "data"
    moving = sorted(folder.iterdir())
    data.mkdir()
    for child in moving:
        child.rename(data / child.name)
    manifests: dict[str, list[str]] = {name: [] for name in ALGORITHMS}
    octets = count = 0
    for path in sorted(p for p in data.rglob("*") if p.is_file()):
        for name, digest in _digests(path).items():
            manifests[name].append(f"{digest}  {_bag_path(path, folder)}")
        octets += path.stat().st_size
        count += 1
    (folder / "bagit.txt").write_text(
        "BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n", encoding="utf-8"
    )
    for name, lines in manifests.items():
        _write_manifest(folder / f"manifest-{name}.txt", lines)
    fields = {
        **info,
        "Bagging-Date": dt.date.today().isoformat(),
        "Payload-Oxum": f"{octets}.{count}",
    }
    (folder / "bag-info.txt").write_text(
        "".join(f"{key}: {' '.join(str(value).split())}\n" for key, value in fields.items()),
        encoding="utf-8",
    )


def write_tag_manifests(folder: Path) -> None:
    """The tag manifests: every file outside ``data/`` but the tag manifests themselves
    (and their signature, made after them)."""
    tags = sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith("tagmanifest-")
    )
    digests = {p: _digests(p) for p in tags}
    for name in ALGORITHMS:
        lines = [f"{digests[p][name]}  {_bag_path(p, folder)}" for p in tags]
        _write_manifest(folder / f"tagmanifest-{name}.txt", lines)


def _add_database_parts(settings: Settings, spec: UnitSpec, folder: Path) -> None:
    """The SQLite snapshot (journal unit) and the audit extract (both units)."""
    source = settings.db_path
    base = folder / "база"
    base.mkdir()
    snapshot = base / f"{spec.school_class.name}-{spec.year_slug}.sqlite3"
    extract.class_snapshot(source, spec.school_class.id, spec.year.id, snapshot)
    audit_dir = folder / "аудит"
    audit_dir.mkdir()
    # The summary keeps (25 years) the period, year and final marks and their history.
    only = None if spec.unit == "journal" else {"PeriodMark"}
    count = extract.audit_extract(source, snapshot, audit_dir / "audit.jsonl", only)
    seq, head = extract.chain_head(source)
    (audit_dir / "verify_audit.py").write_text(extract.VERIFY_SCRIPT, encoding="utf-8")
    (audit_dir / "chain-head.txt").write_text(
        f"Записей в выписке: {count}\nПоследняя запись журнала изменений коробки: "
        f"№ {seq}, хеш {head}\n"
        "Подлинность выписки доказывает подпись ЭЖ-box под описью пакета (README.txt, "
        "шаг 3); хеш записи показывает лишь, что она приведена такой, какой записана.\n",
        encoding="utf-8",
    )
    if spec.unit != "journal":
        snapshot.unlink()
        base.rmdir()


def validate(folder: Path, public_key_text: str | None = None) -> None:
    """Validate the bag (both manifests) and, when given the key, its signature.

    Raises ValueError (Russian) naming the first bad file.
    """
    try:
        the_bag = bagit.Bag(str(folder))
        the_bag.validate(processes=1)
    except bagit.BagValidationError as exc:
        raise ValueError(f"Пакет BagIt не прошёл проверку: {_bad_files(the_bag, exc)}") from exc
    except bagit.BagError as exc:
        raise ValueError(f"Это не пакет BagIt: {exc}") from exc
    if public_key_text is not None:
        crypto.verify_file(
            folder / SIGNED_MANIFEST, folder / f"{SIGNED_MANIFEST}.minisig", public_key_text
        )


def _bad_files(the_bag: bagit.Bag, exc: bagit.BagValidationError) -> str:
    """Name the files that fail: bagit stops at the size total (Payload-Oxum) first,
    so on that failure the files' checksums are compared to find which one changed."""
    details = list(getattr(exc, "details", None) or [])
    if not details:
        try:
            the_bag._validate_entries(1)  # bagit's own per-file check (sha256 and sha512)
        except bagit.BagValidationError as inner:
            details = list(getattr(inner, "details", None) or [])
    if not details:
        return str(exc)
    return "; ".join(str(d) for d in details[:3])


def pack(folder: Path, out: BinaryIO) -> None:
    """Write the bag as a tar stream (no index held in memory), its folder as the root."""
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        tar.add(str(folder), arcname=folder.name)


def bag_size(folder: Path) -> int:
    """Bytes of the bag's files (the unit is about as big: tar and age add little)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


@dataclass
class Sealed:
    """The stream of a unit being sealed and how to learn whether it came whole."""

    reader: BinaryIO
    threads: list[threading.Thread]
    errors: list[BaseException]

    def check(self) -> None:
        """Wait for the packer and the encrypter; raise if either failed. Called at the
        end of the stream, BEFORE the written bytes get their final name."""
        for thread in self.threads:
            thread.join()
        if self.errors:
            raise crypto.CryptoError(
                f"Единицу не удалось упаковать и зашифровать: {self.errors[0]}"
            )


@contextmanager
def sealed(settings: Settings, folder: Path) -> Iterator[Sealed]:
    """The unit as a stream: the bag packed as tar and encrypted in the age format to the
    archive's recipients, produced by two threads while the caller reads it.

    Nothing of the unit lands on the data disk a second time (the bag is read once),
    so the stream goes straight to the medium. The caller calls ``check()`` at the end
    of the stream, before keeping what it wrote (`media.write_stream(check=…)`); the
    context checks again on leaving.
    """
    recipients = [
        x25519.Recipient.from_str(crypto.parse_recipient(r)) for r in keys.recipients(settings)
    ]
    tar_read, tar_write = os.pipe()
    age_read, age_write = os.pipe()
    errors: list[BaseException] = []

    def packer() -> None:
        with os.fdopen(tar_write, "wb", buffering=PIPE_BUFFER) as out:
            pack(folder, out)

    def encrypter() -> None:
        with (
            os.fdopen(tar_read, "rb", buffering=PIPE_BUFFER) as plain,
            os.fdopen(age_write, "wb", buffering=PIPE_BUFFER) as cipher,
        ):
            pyrage.encrypt_io(plain, cipher, recipients)

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # handed to the caller's thread below
                errors.append(exc)

        return run

    threads = [threading.Thread(target=guarded(w), daemon=True) for w in (packer, encrypter)]
    for thread in threads:
        thread.start()
    reader = os.fdopen(age_read, "rb", buffering=PIPE_BUFFER)
    stream = Sealed(reader, threads, errors)
    try:
        yield stream
    finally:
        reader.close()  # a reader that stopped early makes the writers fail and end
        for thread in threads:
            thread.join()
    stream.check()


README_COMMAND = "   $ "  # the README's commands start so (a test runs them as written)


def readme_text(spec: UnitSpec, public_key: str, unit_file: str, folder_name: str) -> str:
    """README.txt of a unit: what it is and how to open it with no ЭЖ-box.

    The commands (lines starting with ``README_COMMAND``) work when typed in order, in a
    folder holding the unit's file(s) and the key file; a test runs them so.
    """
    name = spec.school_class.name
    tar_file = unit_file.removesuffix(".age")
    what = (
        "печатная версия электронного журнала класса (PDF/A), данные журнала (CSV/JSON), "
        "копия базы данных класса за год (SQLite) и выписка журнала изменений"
        if spec.unit == "journal"
        else "сводная ведомость учёта успеваемости класса (PDF/A), её данные (CSV/JSON) "
        "и выписка журнала изменений итоговых отметок"
    )
    key_line = public_key.strip().splitlines()[-1]
    run = README_COMMAND
    database = (
        f"{run}sqlite3 data/база/{name}-{spec.year_slug}.sqlite3 .tables\n"
        if spec.unit == "journal"
        else ""
    )
    return f"""ЭЛЕКТРОННЫЙ АРХИВ ЭЖ — {spec.title.upper()}
Школа: {School.get().name}
Единица хранения: {what}.
Срок хранения: до {spec.retain_until:%d.%m.%Y} (§9.2 Положения об ЭЖ).
Создано: ЭЖ-box {__version__}, {dt.date.today():%d.%m.%Y}.

КАК ОТКРЫТЬ БЕЗ ЭЖ-box
Нужны стандартные программы age, tar, minisign, bagit.py, sqlite3, python3 и любая
программа для PDF. В Debian/Ubuntu:
     apt install age minisign sqlite3 pipx
     pipx install bagit          (программа bagit.py; в Debian нет пакета python3-bagit)

Положите в одну папку файл единицы {unit_file} (или все его части .001, .002 …)
и файл key.txt — секретный ключ age с листа ключа из сейфа директора
(строка AGE-SECRET-KEY-1…). Откройте в этой папке терминал и выполните по порядку
(знак $ не набирается):

1. Если файл на носителе разделён на части, соединить их (для целого файла
   команда ничего не делает):
{run}[ -f {unit_file} ] || cat {unit_file}.[0-9][0-9][0-9] > {unit_file}
2. Расшифровать и распаковать:
{run}age -d -i key.txt {unit_file} > {tar_file}
{run}tar xf {tar_file}
{run}cd {folder_name}
3. Проверить подпись ЭЖ-box на описи пакета:
{run}minisign -Vm tagmanifest-sha256.txt -P {key_line}
   Ключ после -P сверьте с открытым ключом подписи на листе ключа из сейфа: если он
   другой, эта единица не от вашего ЭЖ-box. Ключ box.minisign.pub внутри пакета
   сам по себе ничего не доказывает — доверяйте только листу ключа.
4. Проверить все файлы по суммам sha256 и sha512 (подписанная опись выше
   подтверждает эти суммы):
{run}bagit.py --validate .
5. Прочитать:
{database}{run}python3 data/аудит/verify_audit.py data/аудит/audit.jsonl
   data/*.pdf — печатная версия для просмотра и печати;
   data/данные/ — те же сведения в CSV (LibreOffice, Excel) и JSON;
   data/база/ — база класса за год (только в единице «журнал»), открывается sqlite3;
   data/аудит/audit.jsonl — записи журнала изменений (кто, когда, что было и что стало)
     по строкам этого класса, кроме записей о людях и учётных записях (в них
     контактные данные).

О ВЫПИСКЕ ЖУРНАЛА ИЗМЕНЕНИЙ. Подлинность выписки доказывает подпись ЭЖ-box (шаг 3):
она заверяет описи, а описи — суммы каждого файла, и audit.jsonl тоже. Хеш каждой
записи (verify_audit.py) лишь показывает, что запись приведена ровно такой, какой её
записала коробка; цепочку целиком выписка не содержит (в ней только записи этого
класса), так что пропуски между номерами записей — это записи других классов.

Контактные данные (телефоны, адреса, почта) и пароли в архив не попадают.
"""
