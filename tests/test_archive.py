"""The year-end archive (§9.2): units built, written, registered; stock tools open them;
tampering, a wrong key, a full or pulled-out medium are caught (issue 7, Proof)."""

from __future__ import annotations

import csv
import errno
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import bagit
import pytest

from appliance.backup import archive, bag, keys, media
from appliance.models import ArchiveRecord, ArchiveVerification, AuditEntry

from .archive_support import fill_journal, make_keys, need, other_identity, stub_printer


@pytest.fixture
def built(app, school, settings, tmp_path):
    """Keys, a journal with marks, and the year's archive on a stick (a folder)."""
    marks = fill_journal(school)
    identity = make_keys(settings, tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()
    records = archive.build(settings, school.year, stick, printer=stub_printer)
    return {
        "school": school,
        "settings": settings,
        "stick": stick,
        "identity": identity,
        "records": records,
        "marks": marks,
    }


def _record(built, class_name: str, unit: str) -> ArchiveRecord:
    return next(r for r in built["records"] if r.school_class.name == class_name and r.unit == unit)


def test_every_class_gets_a_journal_and_a_summary_unit_in_the_register(built):
    school, stick = built["school"], built["stick"]
    year = school.year
    slug = year.name.replace("/", "-")
    assert sorted((r.school_class.name, r.unit) for r in built["records"]) == [
        ("5А", "journal"),
        ("5А", "summary"),
        ("5Б", "journal"),
        ("5Б", "summary"),
    ]
    journal = _record(built, "5А", "journal")
    assert journal.file_name == f"ЭЖ-архив/{slug}/5А-журнал.tar.age"
    assert journal.retain_until == year.ends.replace(year=year.ends.year + 5)
    summary = _record(built, "5А", "summary")
    assert summary.file_name == f"ЭЖ-архив/{slug}/5А-сводная-ведомость.tar.age"
    assert summary.retain_until == year.ends.replace(year=year.ends.year + 25)
    for record in built["records"]:
        unit = stick / record.file_name
        assert unit.stat().st_size == record.size and record.parts == 1
        assert media.sha256_of([unit]) == record.sha256 and len(record.sha512) == 128
        assert (stick / f"{record.file_name}.minisig").is_file()
        assert record.media_label == media.medium_label(stick) and record.status == "written"
        assert AuditEntry.get(AuditEntry.entity_uuid == record.uuid).action == "archive.write"
    assert len({r.register_number for r in built["records"]}) == 4
    rows = list(
        csv.reader(
            (stick / archive.REGISTER_FILE).read_text(encoding="utf-8-sig").splitlines(),
            delimiter=";",
        )
    )
    assert rows[0][:3] == ["Рег. номер", "Учебный год", "Класс"] and len(rows) == 5
    assert {row[8] for row in rows[1:]} == {r.sha256 for r in built["records"]}
    public = (stick / archive.PUBLIC_KEY_FILE).read_text(encoding="utf-8")
    assert public == keys.public_key_text(built["settings"])
    assert not list((built["settings"].data_dir / archive.STAGING).iterdir())  # cleaned up


def test_stock_age_tar_minisign_and_bagit_open_a_unit(built, tmp_path):
    age, minisign, tar = need("age"), need("minisign"), need("tar")
    stick = built["stick"]
    unit = stick / _record(built, "5А", "journal").file_name
    pub = stick / archive.PUBLIC_KEY_FILE
    # the ciphertext's signature, without the key
    subprocess.run([minisign, "-Vm", str(unit), "-p", str(pub)], check=True, capture_output=True)
    out = tmp_path / "out"
    out.mkdir()
    plain = out / "unit.tar"
    subprocess.run(
        [age, "-d", "-i", str(built["identity"]), "-o", str(plain), str(unit)], check=True
    )
    subprocess.run([tar, "xf", str(plain), "-C", str(out)], check=True)
    folder = out / f"5А-журнал-{built['school'].year.name.replace('/', '-')}"
    result = subprocess.run(
        [minisign, "-Vm", "tagmanifest-sha256.txt", "-p", "box.minisign.pub"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "5А, журнал" in result.stdout  # the trusted comment names the unit
    assert bagit.Bag(str(folder)).validate(processes=1)
    validator = Path(sys.executable).with_name("bagit.py")
    if validator.exists():
        subprocess.run([sys.executable, str(validator), "--validate", str(folder)], check=True)
    manifests = {p.name for p in folder.glob("*manifest-*.txt")}
    assert {"manifest-sha256.txt", "manifest-sha512.txt"} <= manifests
    info = (folder / "bag-info.txt").read_text(encoding="utf-8")
    assert "EZH-Class: 5А" in info and "Source-Organization: Тестовая школа № 1" in info
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    assert "age -d -i" in readme and "minisign -Vm tagmanifest-sha256.txt" in readme
    assert "bagit.py --validate" in readme and "sqlite3" in readme


def test_snapshot_holds_only_the_class_and_no_contacts_or_passwords(built, tmp_path):
    folder = archive.open_unit(
        built["settings"],
        built["stick"] / _record(built, "5А", "journal").file_name,
        built["identity"].read_text(),
        tmp_path / "open",
    )
    db_file = next((folder / "data" / "база").glob("*.sqlite3"))
    conn = sqlite3.connect(db_file)
    marks = {row[0] for row in conn.execute("SELECT value FROM mark")}
    students = {row[0] for row in conn.execute("SELECT last_name FROM person WHERE NOT is_staff")}
    contacts = conn.execute("SELECT count(*) FROM person WHERE phone != '' OR email != ''")
    hashes = conn.execute("SELECT count(*) FROM user WHERE password_hash IS NOT NULL")
    classes = [row[0] for row in conn.execute("SELECT grade || letter FROM school_class")]
    assert marks == {"5", "4"} and classes == ["5А"]
    assert students == {"Иванов", "Петрова", "Сидоров"}  # not Фёдоров of 5Б
    assert contacts.fetchone()[0] == 0 and hashes.fetchone()[0] == 0
    assert conn.execute("SELECT code FROM attendance").fetchall() == [("Н",)]
    conn.close()
    stock = need("sqlite3")
    out = subprocess.run([stock, str(db_file), "SELECT count(*) FROM lesson"], capture_output=True)
    assert out.stdout.strip() == b"3"


def test_audit_extract_verifies_on_its_own(built, tmp_path):
    folder = archive.open_unit(
        built["settings"],
        built["stick"] / _record(built, "5А", "journal").file_name,
        built["identity"].read_text(),
        tmp_path / "open",
    )
    audit_dir = folder / "data" / "аудит"
    lines = [json.loads(line) for line in (audit_dir / "audit.jsonl").read_text().splitlines()]
    uuids = {line["fields"]["entity_uuid"] for line in lines}
    marks = built["marks"]
    assert marks["ivanov"].uuid in uuids and marks["petrova"].uuid in uuids
    assert marks["fedorov"].uuid not in uuids  # 5Б's mark stays in 5Б's unit
    assert {line["fields"]["action"] for line in lines} >= {"mark.set", "lesson.topic"}
    # a mark cleared since is no longer in the database, but its history is in the extract
    cleared = [
        line["fields"]["action"]
        for line in lines
        if line["fields"]["entity_uuid"] == marks["sidorov"].uuid
    ]
    assert cleared == ["mark.set", "mark.delete"]
    assert [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)
    assert all(line["verified"] for line in lines)
    run = subprocess.run(
        [sys.executable, str(audit_dir / "verify_audit.py"), str(audit_dir / "audit.jsonl")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and f"Проверено записей: {len(lines)}" in run.stdout
    # an entry changed afterwards no longer verifies
    lines[0]["fields"]["username"] = "someone.else"
    forged = tmp_path / "forged.jsonl"
    forged.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n")
    run = subprocess.run(
        [sys.executable, str(audit_dir / "verify_audit.py"), str(forged)], capture_output=True
    )
    assert run.returncode == 1


def test_summary_unit_keeps_period_marks_history_without_the_database(built, tmp_path):
    folder = archive.open_unit(
        built["settings"],
        built["stick"] / _record(built, "5А", "summary").file_name,
        built["identity"].read_text(),
        tmp_path / "open",
    )
    assert not (folder / "data" / "база").exists()
    assert (folder / "data" / "summary-5А.pdf").is_file()
    assert (folder / "data" / "аудит" / "audit.jsonl").read_text() == ""  # no period marks yet


def test_verify_without_and_with_the_key_records_the_results(built):
    settings, stick = built["settings"], built["stick"]
    report = archive.verify(settings, stick)
    assert report.ok and len(report.checks) == 4 and not report.with_key
    full = archive.verify(settings, stick, built["identity"].read_text())
    assert full.ok and full.with_key
    record = ArchiveRecord.get_by_id(_record(built, "5А", "journal").id)
    assert record.last_verified_at is not None
    assert [v.with_key for v in record.verifications.order_by("id")] == [False, True]
    assert "с ключом" in record.verification_log


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("flip", "изменён"),
        ("truncate", "обрезан"),
        ("missing", "отсутствует"),
        ("signature", "Подпис"),
    ],
)
def test_tampering_fails_naming_the_unit_and_the_file(built, damage, words):
    record = _record(built, "5Б", "summary")
    unit = built["stick"] / record.file_name
    if damage == "flip":
        _flip_byte(unit, record.size // 2)
    elif damage == "truncate":
        unit.write_bytes(unit.read_bytes()[:-100])
    elif damage == "missing":
        unit.unlink()
    else:
        (built["stick"] / f"{record.file_name}.minisig").unlink()
    report = archive.verify(built["settings"], built["stick"])
    assert [c.record.id for c in report.failed] == [record.id]
    message = report.failed[0].message
    assert "«5Б, сводная ведомость" in message and "5Б-сводная-ведомость.tar.age" in message
    assert words in message
    last = record.verifications.order_by(ArchiveVerification.id.desc()).first()
    assert last is not None and not last.ok


def test_a_forged_unit_with_matching_register_still_fails_on_the_signature(built):
    """Someone replaces the ciphertext AND fixes the hashes in the register: the box's
    signature over the ciphertext still catches it."""
    record = _record(built, "5А", "summary")
    unit = built["stick"] / record.file_name
    other = built["stick"] / _record(built, "5Б", "summary").file_name
    unit.write_bytes(other.read_bytes())
    written = media.Written(name=record.file_name)
    written.sha256 = media.sha256_of([unit])
    ArchiveRecord.update(sha256=written.sha256, size=unit.stat().st_size).where(
        ArchiveRecord.id == record.id
    ).execute()
    report = archive.verify(built["settings"], built["stick"])
    assert [c.record.id for c in report.failed] == [record.id]
    assert "minisig" in report.failed[0].message and "не сходится" in report.failed[0].message


def test_wrong_key_fails_naming_unit_and_file(built, tmp_path):
    wrong = other_identity(tmp_path).read_text()
    checks = ArchiveVerification.select().count()
    # a key that fits no unit: one message, and nothing goes into the register (QA)
    with pytest.raises(archive.ArchiveError, match="не подходит ни к одной.*5А-журнал.tar.age"):
        archive.verify(built["settings"], built["stick"], wrong)
    assert ArchiveVerification.select().count() == checks
    with pytest.raises(archive.ArchiveError, match="5А-журнал.tar.age"):
        archive.open_unit(
            built["settings"],
            built["stick"] / _record(built, "5А", "journal").file_name,
            wrong,
            tmp_path / "x",
        )


def test_a_changed_file_inside_the_bag_fails_validation(built, tmp_path):
    folder = archive.open_unit(
        built["settings"],
        built["stick"] / _record(built, "5А", "journal").file_name,
        built["identity"].read_text(),
        tmp_path / "open",
    )
    pdf = folder / "data" / "journal-5А.pdf"
    pdf.write_bytes(pdf.read_bytes() + b" ")
    with pytest.raises(ValueError, match="journal-5А.pdf"):
        bag.validate(folder, keys.public_key_text(built["settings"]))
    (folder / "tagmanifest-sha256.txt").write_text("forged", encoding="utf-8")
    pdf.write_bytes(pdf.read_bytes()[:-1])
    with pytest.raises(ValueError):
        bag.validate(folder, keys.public_key_text(built["settings"]))


def test_fat32_units_are_split_verified_and_opened(app, school, settings, tmp_path):
    fill_journal(school)
    identity = make_keys(settings, tmp_path).read_text()
    stick = tmp_path / "fat"
    stick.mkdir()
    medium = media.open_medium(stick, fstype="vfat", part_size=16 * 1024)
    records = archive.build(settings, school.year, medium, printer=stub_printer)
    journal = next(r for r in records if r.unit == "journal" and r.school_class.name == "5А")
    assert journal.parts > 1
    parts = sorted((stick / journal.file_name).parent.glob("5А-журнал.tar.age.0*"))
    assert len(parts) == journal.parts and all(p.stat().st_size <= 16 * 1024 for p in parts)
    assert not (stick / journal.file_name).exists()
    assert archive.verify(settings, medium).ok
    assert archive.verify(settings, medium, identity).ok
    folder = archive.open_unit(settings, parts[0], identity, tmp_path / "open")
    assert (folder / "bagit.txt").is_file()
    joined = tmp_path / "joined.tar.age"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))  # what `cat` does
    age = need("age")
    key = tmp_path / "k.txt"
    key.write_text(identity)
    listing = subprocess.run(
        f"{age} -d -i {key} {joined} | tar tf -", shell=True, capture_output=True, text=True
    )
    assert "bagit.txt" in listing.stdout


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
def test_full_or_pulled_medium_writes_no_unit_and_no_register_row(
    app, school, settings, tmp_path, monkeypatch, code
):
    make_keys(settings, tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()
    written = {"n": 0}
    real = media._write_chunk

    def write_chunk(fh, data):
        written["n"] += len(data)
        if written["n"] > 60_000:  # the first unit fits, the second does not
            raise OSError(code, "simulated")
        real(fh, data)

    monkeypatch.setattr(media, "_write_chunk", write_chunk)
    monkeypatch.setattr(media, "CHUNK", 4096)
    with pytest.raises(media.MediaError) as failure:
        archive.build(settings, school.year, stick, printer=stub_printer)
    message = str(failure.value)
    assert "Единица «5А," in message and "не записана" in message
    registered = {r.file_name for r in ArchiveRecord.select()}
    on_stick = {str(p.relative_to(stick)) for p in stick.rglob("*.tar.age") if p.is_file()}
    assert on_stick == registered  # only what was safely written is in the register
    assert not list(stick.rglob("*" + media.TMP_SUFFIX))
    assert not list((settings.data_dir / archive.STAGING).iterdir())


def test_no_keys_no_archive(app, school, settings, tmp_path):
    stick = tmp_path / "stick"
    stick.mkdir()
    with pytest.raises(keys.KeysMissing):
        archive.build(settings, school.year, stick, printer=stub_printer)
    assert not (stick / archive.ROOT).exists() and ArchiveRecord.select().count() == 0


def test_writing_a_year_again_replaces_the_units_on_that_medium(built):
    settings, stick, school = built["settings"], built["stick"], built["school"]
    again = archive.build(settings, school.year, stick, printer=stub_printer)
    old = ArchiveRecord.get_by_id(built["records"][0].id)
    assert old.status == "replaced"
    assert ArchiveRecord.select().where(ArchiveRecord.status == "written").count() == len(again)
    assert archive.verify(settings, stick).ok


def test_a_failed_print_names_the_unit_and_keeps_what_was_written(app, school, settings, tmp_path):
    make_keys(settings, tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()

    def printer(school_class, year, unit, out):
        if school_class.name == "5Б":
            raise ValueError("В классе нет предметов.")
        return stub_printer(school_class, year, unit, out)

    with pytest.raises(archive.ArchiveError, match="Единица «5Б, журнал.*нет предметов"):
        archive.build(settings, school.year, stick, printer=printer)
    assert [r.title.split(",")[0] for r in ArchiveRecord.select()] == ["5А", "5А"]
    register = (stick / archive.REGISTER_FILE).read_text(encoding="utf-8-sig")
    assert register.count("5А-") == 2 and "5Б" not in register
    assert not list((settings.data_dir / archive.STAGING).iterdir())


def test_a_packing_failure_leaves_no_unit_on_the_medium(
    app, school, settings, tmp_path, monkeypatch
):
    make_keys(settings, tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()

    def broken_pack(folder, out):
        out.write(b"\0" * 100_000)  # a valid-looking start, then the bag cannot be read
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(bag, "pack", broken_pack)
    with pytest.raises(archive.ArchiveError, match="Единица «5А, журнал.*упаковать"):
        archive.build(settings, school.year, stick, printer=stub_printer)
    assert not list(stick.rglob("*.tar.age*")) and ArchiveRecord.select().count() == 0


def test_building_and_verifying_never_change_the_working_directory(
    app, school, settings, tmp_path, monkeypatch
):
    """Under `ezh demo` the worker shares its process with the web server: building a bag
    must not `chdir` (bagit-python's make_bag does, so the box writes its bags itself)."""
    import os

    fill_journal(school)
    identity = make_keys(settings, tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()

    def refuse(path):
        raise AssertionError(f"chdir({path}) while archiving")

    monkeypatch.setattr(os, "chdir", refuse)
    records = archive.build(settings, school.year, stick, printer=stub_printer)
    report = archive.verify(settings, stick, identity.read_text())
    assert records and report.ok
