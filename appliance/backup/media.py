"""Durable writes to the removable medium (the USB stick of the archive, §9.2).

A unit on the stick is either wholly there under its final name, read back and
compared, or not there at all: it is written under a temporary name, its producer
asked whether every byte came (``check``), fsynced, renamed, the directory fsynced
(and every directory made on the way, with its parent), then read back past the page
cache (``POSIX_FADV_DONTNEED``) and its SHA-256 compared. A full
medium (ENOSPC) or one pulled out mid-write (EIO) never reports success and leaves
nothing under the final name. FAT32 (the usual stick) cannot hold a file of 4 GiB,
so a larger unit is split into ``.001``, ``.002`` … (``cat`` joins them again).
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import io
import os
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

FAT32_MAX_FILE = 4 * 1024**3 - 1  # the largest file FAT32 holds
SPLIT_FILESYSTEMS = frozenset({"vfat", "fat", "msdos", "fat32"})
CHUNK = 4 * 1024 * 1024
LABEL_FILE = "EZH-ARCHIVE.txt"
TMP_SUFFIX = ".part-tmp"
BY_LABEL = Path("/dev/disk/by-label")
MOUNTS = Path("/proc/mounts")


class MediaError(ValueError):
    """The medium could not take or give back a file; the message (Russian) names the unit."""


@dataclass
class Medium:
    """A directory on the removable medium (or one standing in for it in tests)."""

    root: Path
    fstype: str = ""
    label: str = ""
    # The largest file the medium may hold; None: no limit. FAT32 → 4 GiB − 1.
    part_size: int | None = None


@dataclass
class Written:
    """A file written to the medium: its name, its parts and the hashes of its bytes."""

    name: str  # relative to the medium's root (the joined name when split)
    parts: list[Path] = field(default_factory=list)
    size: int = 0
    sha256: str = ""
    sha512: str = ""
    blake2b: bytes = b""  # BLAKE2b-512: minisign's prehash, to sign without re-reading


def open_medium(
    root: Path,
    *,
    fstype: str | None = None,
    part_size: int | None = None,
    create_label: bool = True,
) -> Medium:
    """Look at the medium under ``root``: its filesystem, label and the largest file it takes.

    ``fstype`` and ``part_size`` override what is detected (tests stand a directory in
    for a FAT32 stick and use small parts). ``create_label=False`` (verify, destroy)
    writes nothing: a medium without our label file goes by its filesystem label.
    """
    root = Path(root)
    if not root.is_dir():
        raise MediaError(f"Носитель не найден: {root}. Вставьте флешку и проверьте путь.")
    kind = (fstype if fstype is not None else filesystem_type(root)).lower()
    if part_size is None and kind in SPLIT_FILESYSTEMS:
        part_size = FAT32_MAX_FILE
    label = medium_label(root, create=create_label)
    return Medium(root=root, fstype=kind, label=label, part_size=part_size)


def _mount_of(path: Path) -> tuple[str, str, str] | None:
    """(device, mount point, fstype) of the mount holding ``path``, from /proc/mounts."""
    try:
        lines = MOUNTS.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    target = str(path.resolve())
    best: tuple[str, str, str] | None = None
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        device, point, kind = fields[0], _unescape(fields[1]), fields[2]
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and (best is None or len(point) > len(best[1])):
            best = (device, point, kind)
    return best


def _unescape(value: str) -> str:
    """/proc/mounts and /dev/disk/by-label write spaces and the like as octal escapes."""
    return value.encode("latin-1", "backslashreplace").decode("unicode_escape")


def filesystem_type(root: Path) -> str:
    mount = _mount_of(root)
    return mount[2] if mount else ""


def _filesystem_label(root: Path) -> str:
    mount = _mount_of(root)
    if mount is None or not BY_LABEL.is_dir():
        return ""
    device = os.path.realpath(mount[0])
    for link in BY_LABEL.iterdir():
        if os.path.realpath(link) == device:
            return _unescape(link.name)
    return ""


def _label_from_file(root: Path) -> str:
    try:
        first = (root / LABEL_FILE).read_text(encoding="utf-8").strip().splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    return first[0].strip() if first else ""


def medium_label(root: Path, *, create: bool = True) -> str:
    """The medium's name in the register: our label file, made once with a unique name
    (two sticks with the same vendor label are never taken for one); without it (and
    with ``create`` off) the filesystem label, else the directory's name."""
    label = _label_from_file(root)
    if label:
        return label
    if create:
        label = f"EZH-ARCHIVE-{dt.date.today():%Y%m%d}-{secrets.token_hex(3).upper()}"
        vendor = _filesystem_label(root)
        note = (
            f"{label}\n\nЭтот носитель — электронный архив ЭЖ-box (журналы и сводные ведомости).\n"
            "Первая строка — метка носителя в реестре архива. Не меняйте её.\n"
            + (f"Метка файловой системы: {vendor}\n" if vendor else "")
        )
        try:
            write_bytes(Medium(root=root), LABEL_FILE, note.encode("utf-8"), "метка носителя")
            return label
        except MediaError:
            pass
    return _filesystem_label(root) or root.resolve().name or str(root)


# The two calls that touch the medium, kept apart so that tests can make them fail.
def _write_chunk(fh: BinaryIO, data: bytes) -> None:
    fh.write(data)


def _fsync(fd: int) -> None:
    os.fsync(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        _fsync(fd)
    finally:
        os.close(fd)


def make_dirs(root: Path, folder: Path) -> None:
    """Create ``folder`` (under ``root``) level by level, fsyncing each new directory and
    its parent: a new directory's entry is as fragile as a renamed file's."""
    missing = []
    current = folder
    while current != root and not current.is_dir():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        _fsync_dir(path)
        _fsync_dir(path.parent)


def _drop_cache(fd: int) -> None:
    """Forget the file's cached pages so that a read-back reads the medium itself."""
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def part_names(name: str, count: int) -> list[str]:
    """The file names of a unit on the medium: itself, or ``name.001`` … when split."""
    if count <= 1:
        return [name]
    return [f"{name}.{n:03d}" for n in range(1, count + 1)]


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "на носителе не хватило места"
    if exc.errno in (errno.EIO, errno.ENODEV, errno.ENXIO, errno.ENOENT):
        return "носитель извлечён или неисправен (ошибка ввода-вывода)"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "носитель защищён от записи"
    return f"ошибка записи ({exc.strerror or exc})"


def _remove_quietly(paths: list[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass  # the medium is gone: nothing more can be removed


def write_file(medium: Medium, source: Path, name: str, unit: str) -> Written:
    """Copy ``source`` to ``name`` on the medium durably (see the module docstring)."""
    with open(source, "rb") as fh:
        return write_stream(medium, fh, name, unit, size_hint=source.stat().st_size)


def write_bytes(medium: Medium, name: str, data: bytes, unit: str) -> Written:
    return write_stream(medium, io.BytesIO(data), name, unit, size_hint=len(data))


def write_stream(
    medium: Medium,
    source: BinaryIO,
    name: str,
    unit: str,
    *,
    size_hint: int = 0,
    check: Callable[[], None] | None = None,
) -> Written:
    """Write what ``source`` yields to ``name`` on the medium: temp, fsync, rename, fsync
    the directory, read back, compare. Raises MediaError naming ``unit`` on any failure.

    ``source`` may be a stream of unknown length (the unit is encrypted on the way): a
    FAT32 unit is cut into parts as the bytes come; ``size_hint`` only serves the early
    check of free space. ``check`` is called once the stream ended, before the last
    fsync and any rename: it raises if the producer failed (a stream cut short must
    never reach the final name).
    """
    final = medium.root / name
    temps: list[Path] = []
    renamed: list[Path] = []
    try:
        make_dirs(medium.root, final.parent)
        _check_space(medium.root, size_hint)
        written = _write_parts(source, final, medium.part_size, temps, check)
        names = part_names(name, len(temps))
        finals = [medium.root / n for n in names]
        for temp, target in zip(temps, finals, strict=True):
            os.replace(temp, target)
            renamed.append(target)
        _fsync_dir(final.parent)
        if read_back(finals)[0] != written.sha256:
            raise MediaError(
                f"Единица «{unit}»: файл {name} на носителе прочитан не таким, каким записан. "
                "Носитель неисправен — возьмите другой."
            )
    except OSError as exc:
        _remove_quietly(temps + renamed)
        raise MediaError(
            f"Единица «{unit}» не записана: {_reason(exc)} (файл {name}). "
            "На носителе её нет; освободите место или вставьте носитель и повторите."
        ) from exc
    except BaseException:
        _remove_quietly(temps + renamed)
        raise
    written.name = name
    written.parts = finals
    _remove_stale_parts(medium.root, name, names)
    return written


def _check_space(root: Path, size: int) -> None:
    """Refuse early when the medium plainly lacks room (the write would fail anyway)."""
    try:
        stat = os.statvfs(root)
    except OSError:
        return
    if size and stat.f_bavail * stat.f_frsize < size:
        raise OSError(errno.ENOSPC, "No space left on device")


def _write_parts(
    source: BinaryIO,
    final: Path,
    limit: int | None,
    temps: list[Path],
    check: Callable[[], None] | None = None,
) -> Written:
    """Copy ``source`` into temp files beside ``final`` (a new one whenever ``limit`` is
    reached), fsync each; ``temps`` receives their paths as they are made (so that the
    caller can remove them on failure). SHA-512 runs on the second core meanwhile.
    At the end of the stream ``check`` says whether it was whole, before the last fsync."""
    sha256, sha512, blake = hashlib.sha256(), hashlib.sha512(), hashlib.blake2b(digest_size=64)
    total = 0
    data = source.read(CHUNK)
    with ThreadPoolExecutor(max_workers=1) as pool:
        while True:
            temp = final.with_name(f"{final.name}.{len(temps) + 1:03d}{TMP_SUFFIX}")
            temps.append(temp)
            with open(temp, "wb") as out:
                taken = 0
                while data and (not limit or taken < limit):
                    piece = data if not limit else data[: limit - taken]
                    data = data[len(piece) :]
                    side = pool.submit(sha512.update, piece)  # hashlib frees the GIL
                    sha256.update(piece)
                    blake.update(piece)
                    _write_chunk(out, piece)
                    side.result()
                    taken += len(piece)
                    total += len(piece)
                    if not data:
                        data = source.read(CHUNK)
                if not data and check is not None:
                    check()  # the producer failed: this stream must not be kept
                out.flush()
                _fsync(out.fileno())
            if not data:
                break
    return Written(
        name=final.name,
        size=total,
        sha256=sha256.hexdigest(),
        sha512=sha512.hexdigest(),
        blake2b=blake.digest(),
    )


def _remove_stale_parts(root: Path, name: str, current: list[str]) -> None:
    """A unit written again with fewer parts (or unsplit) must not keep old pieces."""
    stale = [name] + [f"{name}.{n:03d}" for n in range(1, 1000)]
    for other in stale:
        if other in current:
            continue
        path = root / other
        if path.exists():
            _remove_quietly([path])
        elif other != name:
            break


def iter_parts(paths: list[Path], chunk: int = CHUNK, *, uncached: bool = False) -> Iterator[bytes]:
    """The bytes of a (possibly split) file, in order, without joining it on disk.
    ``uncached``: drop the page cache first, so the bytes come from the medium."""
    for path in paths:
        with open(path, "rb") as fh:
            if uncached:
                _drop_cache(fh.fileno())
            while data := fh.read(chunk):
                yield data


def read_back(paths: list[Path]) -> tuple[str, bytes]:
    """(SHA-256 hex, BLAKE2b-512) of a (possibly split) file read from the medium itself,
    in one pass: the sum of the register and minisign's prehash."""
    sha256, blake = hashlib.sha256(), hashlib.blake2b(digest_size=64)
    for data in iter_parts(paths, uncached=True):
        sha256.update(data)
        blake.update(data)
    return sha256.hexdigest(), blake.digest()


def sha256_of(paths: list[Path]) -> str:
    """SHA-256 of a (possibly split) file as read from the medium now."""
    return read_back(paths)[0]


class PartsReader(io.RawIOBase):
    """A file-like view of a split file's parts (to decrypt without joining on disk)."""

    def __init__(self, paths: list[Path]) -> None:
        self._chunks = iter_parts(paths)
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        while not self._rest:
            try:
                self._rest = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._rest))
        buffer[:n] = self._rest[:n]
        self._rest = self._rest[n:]
        return n
