"""Durable writes to the archive medium: temp, fsync, rename, read back; FAT32 split;
a full or pulled-out medium never reports success (issue 7, Proof)."""

from __future__ import annotations

import errno
import hashlib
import os

import pytest

from appliance.backup import media


def _payload(size: int) -> bytes:
    return hashlib.sha256(b"seed").digest() * (size // 32) + b"x" * (size % 32)


def test_write_file_is_durable_and_hashed(tmp_path):
    stick = tmp_path / "stick"
    stick.mkdir()
    source = tmp_path / "unit.age"
    data = _payload(100_000)
    source.write_bytes(data)
    written = media.write_file(media.open_medium(stick), source, "ЭЖ-архив/2025-2026/5А.age", "5А")
    target = stick / "ЭЖ-архив" / "2025-2026" / "5А.age"
    assert target.read_bytes() == data
    assert written.sha256 == hashlib.sha256(data).hexdigest()
    assert written.sha512 == hashlib.sha512(data).hexdigest()
    assert written.size == len(data) and written.parts == [target]
    assert not list(stick.rglob("*" + media.TMP_SUFFIX))


def test_fat32_splits_large_files_and_cat_rejoins_them(tmp_path):
    stick = tmp_path / "stick"
    stick.mkdir()
    data = _payload(10_000)
    medium = media.open_medium(stick, fstype="vfat", part_size=4096)
    assert medium.part_size == 4096
    written = media.write_bytes(medium, "a/5А-журнал.tar.age", data, "5А, журнал")
    names = sorted(p.name for p in (stick / "a").iterdir())
    assert names == ["5А-журнал.tar.age.001", "5А-журнал.tar.age.002", "5А-журнал.tar.age.003"]
    assert [p.stat().st_size for p in written.parts] == [4096, 4096, 10_000 - 8192]
    assert b"".join(p.read_bytes() for p in written.parts) == data
    assert b"".join(media.iter_parts(written.parts)) == data
    assert media.PartsReader(written.parts).read() == data
    # written again unsplit (a bigger limit): the old pieces go
    media.write_bytes(media.open_medium(stick), "a/5А-журнал.tar.age", data, "5А, журнал")
    assert sorted(p.name for p in (stick / "a").iterdir()) == ["5А-журнал.tar.age"]


def test_fat32_detected_limit_is_just_under_4_gib(tmp_path):
    medium = media.open_medium(tmp_path, fstype="vfat")
    assert medium.part_size == 4 * 1024**3 - 1
    assert media.open_medium(tmp_path, fstype="ext4").part_size is None


def test_fat_type_read_from_proc_mounts(tmp_path, monkeypatch):
    mounts = tmp_path / "mounts"
    stick = tmp_path / "media" / "ФЛЕШКА 1"
    stick.mkdir(parents=True)
    escaped = str(stick).replace(" ", "\\040")
    mounts.write_text(f"/dev/root / ext4 rw 0 0\n/dev/sdb1 {escaped} vfat rw 0 0\n")
    monkeypatch.setattr(media, "MOUNTS", mounts)
    assert media.filesystem_type(stick / "ЭЖ-архив") == "vfat"
    assert media.filesystem_type(tmp_path) == "ext4"


def test_label_file_is_created_once_and_read_back(tmp_path, monkeypatch):
    monkeypatch.setattr(media, "BY_LABEL", tmp_path / "no-such-dir")
    first = media.medium_label(tmp_path)
    assert first.startswith("EZH-ARCHIVE-")
    assert (tmp_path / media.LABEL_FILE).read_text(encoding="utf-8").startswith(first)
    assert media.medium_label(tmp_path) == first


def test_label_file_wins_over_the_filesystem_label(tmp_path, monkeypatch):
    by_label = tmp_path / "by-label"
    by_label.mkdir()
    device = tmp_path / "sdb1"
    device.write_text("")
    os.symlink(device, by_label / "ARCHIVE\\x202026")
    mounts = tmp_path / "mounts"
    mounts.write_text(f"{device} {tmp_path} vfat rw 0 0\n")
    monkeypatch.setattr(media, "BY_LABEL", by_label)
    monkeypatch.setattr(media, "MOUNTS", mounts)
    # read-only (verify, destroy) on a stick we never labelled: its filesystem label
    assert media.medium_label(tmp_path, create=False) == "ARCHIVE 2026"
    assert not (tmp_path / media.LABEL_FILE).exists()
    # writing: our own label file, unique, and from then on it wins (L5): two sticks
    # with the same vendor label are never taken for one
    first = media.medium_label(tmp_path)
    assert first.startswith("EZH-ARCHIVE-") and first != "ARCHIVE 2026"
    assert "ARCHIVE 2026" in (tmp_path / media.LABEL_FILE).read_text(encoding="utf-8")
    assert media.medium_label(tmp_path) == first
    assert media.medium_label(tmp_path, create=False) == first


def _fail_after(monkeypatch, limit: int, code: int) -> None:
    written = {"n": 0}
    real = media._write_chunk

    def write_chunk(fh, data):
        if written["n"] + len(data) > limit:
            raise OSError(code, os.strerror(code))
        written["n"] += len(data)
        real(fh, data)

    monkeypatch.setattr(media, "_write_chunk", write_chunk)
    monkeypatch.setattr(media, "CHUNK", 1024)


@pytest.mark.parametrize(
    ("code", "words"),
    [(errno.ENOSPC, "не хватило места"), (errno.EIO, "извлечён или неисправен")],
)
def test_failed_write_leaves_nothing_and_names_the_unit(tmp_path, monkeypatch, code, words):
    stick = tmp_path / "stick"
    stick.mkdir()
    _fail_after(monkeypatch, 5000, code)
    with pytest.raises(media.MediaError) as failure:
        media.write_bytes(media.open_medium(stick), "x/5Б-журнал.tar.age", _payload(20_000), "5Б")
    message = str(failure.value)
    assert "«5Б»" in message and words in message and "5Б-журнал.tar.age" in message
    assert list((stick / "x").iterdir()) == []


def test_failed_split_write_leaves_no_part(tmp_path, monkeypatch):
    stick = tmp_path / "stick"
    stick.mkdir()
    _fail_after(monkeypatch, 9000, errno.EIO)  # the third part fails
    medium = media.open_medium(stick, fstype="vfat", part_size=4096)
    with pytest.raises(media.MediaError):
        media.write_bytes(medium, "u.age", _payload(12_000), "5А")
    assert sorted(p.name for p in stick.iterdir()) == [media.LABEL_FILE]


def test_fsync_failure_is_not_success(tmp_path, monkeypatch):
    def broken_fsync(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(media, "_fsync", broken_fsync)
    with pytest.raises(media.MediaError, match="«5А, сводная ведомость»"):
        media.write_bytes(media.Medium(tmp_path), "s.age", b"abc", "5А, сводная ведомость")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_read_back_mismatch_removes_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(media, "read_back", lambda paths: ("0" * 64, b""))
    with pytest.raises(media.MediaError, match="прочитан не таким"):
        media.write_bytes(media.open_medium(tmp_path), "s.age", b"abc", "5А")
    assert not (tmp_path / "s.age").exists()


def test_missing_medium_is_a_russian_error(tmp_path):
    with pytest.raises(media.MediaError, match="Носитель не найден"):
        media.open_medium(tmp_path / "nowhere")
