"""The review's findings on the year-end archive, each pinned by a test that failed before
its fix: a re-run never loses the good unit (H1), a cut stream never gets its final name
(H2), the signing key is never taken from the stick (H3), no contacts in the audit
extract (H4), verify sees the whole medium (M1), durability (M5), split units signed and
opened without joining (M6), README as written (L1), "%" in names (L2), sweeps (L4),
29 February (L5)."""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import bagit
import pytest

from appliance import people
from appliance.backup import archive, bag, crypto, keys, media, retention
from appliance.config import Settings
from appliance.models import ArchiveRecord

from .archive_support import fill_journal, make_keys, need, stub_printer


@pytest.fixture
def built(app, school, settings, tmp_path):
    fill_journal(school)
    identity = make_keys(settings, tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()
    records = archive.build(settings, school.year, stick, printer=stub_printer)
    return SimpleNamespace(
        school=school, settings=settings, stick=stick, identity=identity, records=records
    )


def _journal(records, name: str = "5А") -> ArchiveRecord:
    return next(r for r in records if r.unit == "journal" and r.school_class.name == name)


def _files(stick: Path) -> set[str]:
    return {str(p.relative_to(stick)) for p in stick.rglob("*") if p.is_file()}


# --- H1: writing a year again never destroys the good unit ---------------------------


@pytest.mark.parametrize("failure", ["sign", "fsync_dir", "register"])
def test_a_failed_rerun_leaves_the_old_unit_and_its_row(built, monkeypatch, failure):
    first = _journal(built.records)
    before = _files(built.stick)
    unit_bytes = (built.stick / first.file_name).read_bytes()

    def boom(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if failure == "sign":
        monkeypatch.setattr(crypto, "sign_digest", boom)
    elif failure == "fsync_dir":
        monkeypatch.setattr(media, "_fsync_dir", lambda path: boom())
    else:
        monkeypatch.setattr(archive, "_register", boom)
    with pytest.raises(ValueError, match="«5А, журнал"):
        archive.build(built.settings, built.school.year, built.stick, printer=stub_printer)
    monkeypatch.undo()
    assert (built.stick / first.file_name).read_bytes() == unit_bytes
    assert _files(built.stick) == before  # nothing new, nothing gone
    assert ArchiveRecord.get_by_id(first.id).status == "written"
    assert archive.verify(built.settings, built.stick).ok


def test_a_rerun_writes_under_a_new_name_then_retires_the_old_unit(built):
    first = _journal(built.records)
    again = archive.build(built.settings, built.school.year, built.stick, printer=stub_printer)
    new = _journal(again)
    assert new.file_name.endswith("5А-журнал.2.tar.age") and new.file_name != first.file_name
    assert ArchiveRecord.get_by_id(first.id).status == "replaced"
    assert not (built.stick / first.file_name).exists()
    assert not (built.stick / f"{first.file_name}.minisig").exists()
    report = archive.verify(built.settings, built.stick, built.identity.read_text())
    assert report.ok, report.summary()
    third = _journal(
        archive.build(built.settings, built.school.year, built.stick, printer=stub_printer)
    )
    assert third.file_name == first.file_name  # the plain name is free again
    assert archive.verify(built.settings, built.stick).ok


# --- H2: a pack failure is known before the rename -----------------------------------


def test_a_cut_short_stream_never_reaches_the_final_name(
    app, school, settings, tmp_path, monkeypatch
):
    make_keys(settings, tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()
    renamed = []
    real_replace = os.replace

    def spy(src, dst):
        renamed.append(str(dst))
        return real_replace(src, dst)

    def bad_pack(folder, out):
        out.write(b"x" * 1000)
        out.flush()
        raise RuntimeError("disk read error")

    monkeypatch.setattr(media.os, "replace", spy)
    monkeypatch.setattr(bag, "pack", bad_pack)
    with pytest.raises(archive.ArchiveError, match="«5А, журнал.*упаковать"):
        archive.build(settings, school.year, stick, printer=stub_printer)
    assert not [name for name in renamed if name.endswith(".tar.age")]
    assert not list(stick.rglob("*.tar.age*")) and ArchiveRecord.select().count() == 0


# --- H3: the signing key is the box's or the key sheet's, never the stick's ----------


def _forge(built, tmp_path) -> tuple[ArchiveRecord, crypto.SigningKey]:
    """An attacker's unit: a changed bag signed with their own key (put on the stick and
    in the bag), encrypted to the director's public recipient, in place of the real one."""
    record = _journal(built.records)
    real = archive.open_unit(
        built.settings,
        built.stick / record.file_name,
        built.identity.read_text(),
        tmp_path / "o",
    )
    evil = crypto.generate_signing_key()
    forged = tmp_path / "forge" / real.name
    shutil.copytree(real / "data", forged)
    (forged / "journal-5А.pdf").write_bytes(b"%PDF forged")
    bag.write_bag(forged, {"EZH-Class": "5А"})
    (forged / bag.PUBLIC_KEY_FILE).write_text(evil.public_key_text())
    bag.write_tag_manifests(forged)
    crypto.sign_file(
        forged / bag.SIGNED_MANIFEST, forged / f"{bag.SIGNED_MANIFEST}.minisig", evil, "forged"
    )
    plain = tmp_path / "forged.tar"
    with open(plain, "wb") as out:
        bag.pack(forged, out)
    crypto.encrypt_file(plain, built.stick / record.file_name, keys.recipients(built.settings))
    (built.stick / archive.PUBLIC_KEY_FILE).write_text(evil.public_key_text())
    return record, evil


def test_open_never_trusts_the_key_on_the_stick(built, tmp_path):
    record, _ = _forge(built, tmp_path)
    unit = built.stick / record.file_name
    identity = built.identity.read_text()
    lone = Settings(data_dir=tmp_path / "lone")  # a computer without the box
    lone.data_dir.mkdir()
    with pytest.raises(archive.ArchiveError, match="--public-key"):
        archive.open_unit(lone, unit, identity, tmp_path / "o2")
    sheet_key = keys.public_key_text(built.settings)  # as typed from the key sheet
    with pytest.raises(archive.ArchiveError, match="другим ключом"):
        archive.open_unit(lone, unit, identity, tmp_path / "o3", sheet_key)
    with pytest.raises(archive.ArchiveError, match="другим ключом"):
        archive.open_unit(built.settings, unit, identity, tmp_path / "o4")  # the box's key
    report = archive.verify(built.settings, built.stick, identity)
    assert not report.ok and any("box.minisign.pub" in p for p in report.problems)


# --- H4: no contact data in the audit extract ----------------------------------------


def test_the_audit_extract_keeps_no_contacts(app, school, settings, tmp_path):
    fill_journal(school)
    identity = make_keys(settings, tmp_path)
    admin = school.users["admin"]
    student = people.enroll_student(
        {
            "last_name": "Кузнецов",
            "first_name": "Пётр",
            "email": "petya@mail.ru",
            "phone": "+79991234567",
            "address": "ул. Ленина, 1",
        },
        school.classes["5А"],
        user=admin,
        ip="1.2.3.4",
    )
    people.add_parent(
        student,
        {"last_name": "Кузнецова", "first_name": "Анна", "phone": "+79990000000"},
        "мать",
        user=admin,
        ip="1.2.3.4",
    )
    stick = tmp_path / "s"
    stick.mkdir()
    records = archive.build(settings, school.year, stick, printer=stub_printer)
    folder = archive.open_unit(
        settings, stick / _journal(records).file_name, identity.read_text(), tmp_path / "o"
    )
    text = (folder / "data/аудит/audit.jsonl").read_text(encoding="utf-8")
    for secret in ("petya@mail.ru", "+79991234567", "Ленина", "+79990000000"):
        assert secret not in text
    assert '"entity_type": "Person"' not in text and '"entity_type": "User"' not in text
    assert '"entity_type": "Mark"' in text  # the journal's own history stays
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    assert "Контактные данные (телефоны, адреса, почта) и пароли в архив не попадают" in readme


# --- M1/M2: verify sees the whole medium and writes nothing ---------------------------


def test_verify_reports_strays_leftovers_and_a_changed_register_or_key(built):
    assert archive.verify(built.settings, built.stick).ok
    record = _journal(built.records)
    folder = (built.stick / record.file_name).parent
    shutil.copy(built.stick / record.file_name, folder / "7В-журнал.tar.age")
    (folder / "5А-журнал.tar.age.001.part-tmp").write_bytes(b"half")
    report = archive.verify(built.settings, built.stick)
    assert not report.ok and all(c.ok for c in report.checks)
    text = report.summary()
    assert "7В-журнал.tar.age есть на носителе, но его нет в реестре" in text
    assert "part-tmp — остаток прерванной записи" in text
    (folder / "7В-журнал.tar.age").unlink()
    (folder / "5А-журнал.tar.age.001.part-tmp").unlink()
    register = built.stick / archive.REGISTER_FILE
    data = register.read_bytes()
    register.write_bytes(data.replace(b"5\xd0\x90", b"5\xd0\x91", 1))  # 5А → 5Б once
    (built.stick / archive.PUBLIC_KEY_FILE).write_text("garbage")
    text = archive.verify(built.settings, built.stick).summary()
    assert "реестр.csv не совпадает" in text and "реестр.csv.minisig" in text
    assert "ключ подписи на носителе не тот" in text
    register.write_bytes(data)
    (built.stick / archive.PUBLIC_KEY_FILE).write_text(keys.public_key_text(built.settings))
    assert archive.verify(built.settings, built.stick).ok


def test_the_register_on_the_stick_is_signed_for_stock_minisign(built):
    minisign = need("minisign")
    public = built.stick / archive.PUBLIC_KEY_FILE
    run = subprocess.run(
        [minisign, "-Vm", str(built.stick / archive.REGISTER_FILE), "-p", str(public)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr


def test_verify_creates_no_label_and_an_empty_medium_fails(app, school, settings, tmp_path):
    import appliance.backup.tasks  # noqa: F401  (registers the jobs)
    from appliance import jobs
    from appliance.db import write

    make_keys(settings, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    report = archive.verify(settings, empty)
    assert not report.ok and "нет единиц архива" in report.summary()
    with write() as _:
        jobs.enqueue("archive.verify", {"media": str(empty)})
    (job,) = jobs.run_pending(settings)
    assert job.state == "failed" and "нет единиц архива" in job.message
    assert list(empty.iterdir()) == []  # no label file made by a check


# --- M3: destroy marks first, deletes, then says destroyed ---------------------------


def test_a_destruction_cut_short_leaves_rows_destroying_and_can_be_finished(built, monkeypatch):
    ids = [r.id for r in built.records if r.unit == "journal"]
    later = dt.date(2100, 1, 1)
    real = Path.unlink
    calls: list[str] = []

    def unlink(self, missing_ok=False):
        calls.append(self.name)
        if len(calls) == 3:
            raise OSError(errno.EIO, "I/O error")
        return real(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(retention.DestructionError, match="уничтожается.*1/2100"):
        retention.destroy(built.settings, ids, built.stick, "1/2100", today=later)
    monkeypatch.undo()
    assert calls[:2] == ["5А-журнал.tar.age", "5А-журнал.tar.age.minisig"]  # signature last
    assert {ArchiveRecord.get_by_id(i).status for i in ids} == {"destroying"}
    assert {r.id for r in retention.due_for_destruction(later)} >= set(ids)
    retention.destroy(built.settings, ids, built.stick, "1/2100", today=later)
    assert {ArchiveRecord.get_by_id(i).status for i in ids} == {"destroyed"}
    assert archive.verify(built.settings, built.stick).ok  # summaries, register, key


# --- M4: an OSError of the data disk names the unit ----------------------------------


def test_a_full_staging_disk_names_the_unit(app, school, settings, tmp_path, monkeypatch):
    make_keys(settings, tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bag, "make_bag", full)
    with pytest.raises(archive.ArchiveError, match="Единица «5А, журнал.*не хватает места"):
        archive.build(settings, school.year, stick, printer=stub_printer)


# --- M5: directories fsynced, read-back past the page cache --------------------------


def test_new_directories_are_fsynced_and_read_back_skips_the_cache(tmp_path, monkeypatch):
    synced: list[Path] = []
    dropped: list[int] = []
    real = media._fsync_dir
    monkeypatch.setattr(media, "_fsync_dir", lambda p: (synced.append(Path(p)), real(p)))
    monkeypatch.setattr(media, "_drop_cache", lambda fd: dropped.append(fd))
    medium = media.Medium(root=tmp_path, part_size=100)
    written = media.write_bytes(medium, "ЭЖ-архив/2025-2026/u.bin", b"a" * 250, "u")
    archive_dir, year_dir = tmp_path / "ЭЖ-архив", tmp_path / "ЭЖ-архив" / "2025-2026"
    assert {tmp_path, archive_dir, year_dir} <= set(synced)
    assert synced.index(archive_dir) < synced.index(year_dir)
    assert len(written.parts) == 3 and len(dropped) == 3  # every part read from the medium


# --- M6: split units are signed and opened without being joined on the data disk ----


def test_split_units_are_signed_while_written_and_opened_as_a_stream(
    app, school, settings, tmp_path, monkeypatch
):
    minisign = need("minisign")
    fill_journal(school)
    identity = make_keys(settings, tmp_path).read_text()

    def never(*args, **kwargs):
        raise AssertionError("the unit was read again or decrypted to a temp file")

    real_hash = crypto.file_blake2b

    def small_files_only(path):  # the tag manifest is hashed so; a unit never is
        assert ".tar.age" not in Path(path).name, "a unit hashed in a second pass"
        return real_hash(path)

    monkeypatch.setattr(crypto, "file_blake2b", small_files_only)
    monkeypatch.setattr(crypto, "decrypt_file", never)  # no plaintext tar on the disk
    stick = tmp_path / "fat"
    stick.mkdir()
    medium = media.open_medium(stick, fstype="vfat", part_size=8 * 1024)
    records = archive.build(settings, school.year, medium, printer=stub_printer)
    report = archive.verify(settings, medium, identity)
    assert report.ok, report.summary()
    journal = _journal(records)
    assert journal.parts > 1
    parts = [stick / n for n in media.part_names(journal.file_name, journal.parts)]
    joined = tmp_path / Path(journal.file_name).name
    subprocess.run(f"cat {' '.join(map(str, parts))} > '{joined}'", shell=True, check=True)
    signature = tmp_path / f"{joined.name}.minisig"
    shutil.copy(stick / f"{journal.file_name}.minisig", signature)
    run = subprocess.run(
        [
            minisign,
            "-Vm",
            str(joined),
            "-x",
            str(signature),
            "-p",
            str(stick / archive.PUBLIC_KEY_FILE),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and "5А, журнал" in run.stdout, run.stderr
    folder = archive.open_unit(settings, parts[0], identity, tmp_path / "open")
    assert (folder / "bagit.txt").is_file()
    assert not [p for p in (tmp_path / "open").iterdir() if p != folder]  # no scratch left


def test_crypto_sign_digest_matches_sign_file(tmp_path):
    key = crypto.generate_signing_key()
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 100_000)
    text = crypto.sign_digest(crypto.file_blake2b(path), key, "c")
    (tmp_path / "f.bin.minisig").write_text(text)
    assert crypto.verify_file(path, tmp_path / "f.bin.minisig", key.public_key_text()) == "c"
    assert (
        crypto.verify_digest(crypto.file_blake2b(path), "f.bin", text, key.public_key_text()) == "c"
    )
    with pytest.raises(crypto.SignatureError, match="f.bin изменён"):
        crypto.verify_digest(bytes(64), "f.bin", text, key.public_key_text())


# --- L1: the README's commands work as written ----------------------------------------


def _readme_commands(readme: str) -> list[str]:
    return [
        line[len(bag.README_COMMAND) :]
        for line in readme.splitlines()
        if line.startswith(bag.README_COMMAND)
    ]


@pytest.mark.parametrize("split", [False, True])
def test_the_readme_commands_work_as_written(app, school, settings, tmp_path, split):
    for tool in ("age", "minisign", "tar", "sqlite3"):
        need(tool)
    validator = Path(sys.executable).with_name("bagit.py")
    if not validator.exists():
        pytest.skip("bagit.py is not installed")
    fill_journal(school)
    identity = make_keys(settings, tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()
    medium = media.open_medium(
        stick, fstype="vfat" if split else None, part_size=8 * 1024 if split else None
    )
    records = archive.build(settings, school.year, medium, printer=stub_printer)
    record = _journal(records)
    work = tmp_path / "папка"
    work.mkdir()
    for name in media.part_names(record.file_name, record.parts):
        shutil.copy(stick / name, work)
    shutil.copy(identity, work / "key.txt")
    folder = archive.open_unit(
        settings,
        stick / media.part_names(record.file_name, record.parts)[0],
        identity.read_text(),
        tmp_path / "o",
    )
    commands = _readme_commands((folder / "README.txt").read_text(encoding="utf-8"))
    assert len(commands) >= 8 and any(c.startswith("cd ") for c in commands)
    script = "set -e\n" + "\n".join(commands) + "\n"
    env = {**os.environ, "PATH": f"{validator.parent}:{os.environ['PATH']}"}
    run = subprocess.run(["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Signature and comment signature verified" in run.stdout + run.stderr
    assert "is valid" in run.stdout + run.stderr  # bagit.py
    assert "Проверено записей" in run.stdout and "mark" in run.stdout  # verify_audit, .tables


def test_the_readme_names_the_key_sheet_and_the_proof_of_the_extract(built, tmp_path):
    folder = archive.open_unit(
        built.settings,
        built.stick / _journal(built.records).file_name,
        built.identity.read_text(),
        tmp_path / "o",
    )
    readme = (folder / "README.txt").read_text(encoding="utf-8")
    key_line = keys.public_key_text(built.settings).strip().splitlines()[-1]
    assert f"-P {key_line}" in readme and "листе ключа" in readme
    assert "pipx install bagit" in readme
    assert "Подлинность выписки доказывает подпись" in readme  # L3, said plainly


# --- L2: "%" in a payload name --------------------------------------------------------


def test_a_percent_in_a_name_passes_both_validators(app, school, settings, tmp_path):
    make_keys(settings, tmp_path)

    def printer(school_class, year, unit, out):
        path = out / "50% готово, итог.csv"
        path.write_text("x", encoding="utf-8")
        return [path]

    spec = bag.UnitSpec(school.classes["5А"], school.year, "journal")
    folder = bag.make_bag(settings, spec, tmp_path / "b", printer)
    assert (folder / "data" / "50％ готово, итог.csv").is_file()
    bag.validate(folder, keys.public_key_text(settings))
    assert bagit.Bag(str(folder)).validate(processes=1)
    validator = Path(sys.executable).with_name("bagit.py")
    if validator.exists():
        run = subprocess.run(
            [sys.executable, str(validator), "--validate", str(folder)],
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr


# --- L4: leftovers are swept at the start of a build ---------------------------------


def test_a_build_sweeps_staging_and_part_tmp_leftovers(app, school, settings, tmp_path):
    import fcntl

    make_keys(settings, tmp_path)
    staging = settings.data_dir / archive.STAGING
    stale, busy = staging / "tmpdead", staging / "tmpbusy"
    for folder in (stale, busy):
        (folder / "5А-журнал-2025").mkdir(parents=True)
        (folder / "5А-журнал-2025" / "big.pdf").write_bytes(b"x" * 1000)
        old = time.time() - 3600
        os.utime(folder, (old, old))
    lock = open(busy / archive.IN_USE, "w")  # noqa: SIM115
    fcntl.flock(lock, fcntl.LOCK_EX)
    stick = tmp_path / "stick"
    (stick / archive.ROOT / "2025-2026").mkdir(parents=True)
    leftover = stick / archive.ROOT / "2025-2026" / "5А-журнал.tar.age.001.part-tmp"
    leftover.write_bytes(b"half")
    try:
        archive.build(settings, school.year, stick, printer=stub_printer)
        assert not stale.exists() and busy.exists()  # a staging folder in use is kept
    finally:
        lock.close()
    assert not leftover.exists()
    assert archive.verify(settings, stick).ok


# --- L5: 29 February and the label ---------------------------------------------------


def test_retention_from_29_february_runs_to_1_march(school):
    leap = SimpleNamespace(ends=dt.date(2028, 2, 29), name="2027/2028")
    journal = bag.UnitSpec(school.classes["5А"], leap, "journal")
    summary = bag.UnitSpec(school.classes["5А"], leap, "summary")
    assert journal.retain_until == dt.date(2033, 3, 1)
    assert summary.retain_until == dt.date(2053, 3, 1)
    assert bag.UnitSpec(
        school.classes["5А"], SimpleNamespace(ends=dt.date(2028, 5, 31)), "journal"
    ).retain_until == dt.date(2033, 5, 31)


def test_two_sticks_with_one_vendor_label_are_two_media(tmp_path, monkeypatch):
    by_label = tmp_path / "by-label"
    by_label.mkdir()
    device = tmp_path / "sdb1"
    device.write_text("")
    os.symlink(device, by_label / "KINGSTON")
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    mounts = tmp_path / "mounts"
    mounts.write_text(f"{device} {one} vfat rw 0 0\n{device} {two} vfat rw 0 0\n")
    monkeypatch.setattr(media, "BY_LABEL", by_label)
    monkeypatch.setattr(media, "MOUNTS", mounts)
    first, second = media.open_medium(one).label, media.open_medium(two).label
    assert first != second and "KINGSTON" not in (first, second)
    assert re.fullmatch(r"EZH-ARCHIVE-\d{8}-[0-9A-F]{6}", first)
