"""Uploaded files kept in the data dir: written whole under a fresh uuid, then linked.

Message attachments use this; it is the homework file's storage (`appliance.lesson_form`)
made neutral of lessons, so any uploaded file is kept the same way: the name the browser
sent is only ever shown, never used as a path; the school's size limit is checked while
reading; the file is on disk (fsynced) before the row that points at it is committed,
and removed again when that transaction does not happen.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .db import Recorder
from .durable import fsync_dir
from .lesson_form import safe_filename
from .models import Attachment, School, User

CHUNK = 64 * 1024


class UploadError(ValueError):
    """An uploaded file refused for a reason the user can fix (message in Russian)."""


@dataclass(frozen=True)
class Upload:
    """A file as the browser sent it: its name (display only) and its bytes."""

    filename: str
    stream: BinaryIO


@dataclass(frozen=True)
class StoredFile:
    """A file written under the files dir, not yet linked to any row."""

    path: Path
    filename: str
    size: int
    sha256: str

    @property
    def content_type(self) -> str:
        return mimetypes.guess_type(self.filename)[0] or "application/octet-stream"


def limit_kb() -> int:
    """The school's limit for one uploaded file (the same as for homework files)."""
    return School.get().homework_file_limit_kb


def store_upload(upload: Upload, folder: Path, max_kb: int) -> StoredFile:
    """Write one upload to ``folder`` under a fresh uuid, checking its size while reading."""
    name = safe_filename(upload.filename)
    folder.mkdir(parents=True, exist_ok=True)
    stored = uuid.uuid4().hex
    target, partial = folder / stored, folder / f".{stored}.part"
    digest, size = hashlib.sha256(), 0
    try:
        with open(partial, "xb") as out:
            while chunk := upload.stream.read(CHUNK):
                size += len(chunk)
                if size > max_kb * 1024:
                    raise UploadError(f"Файл «{name}» слишком большой: не больше {max_kb} КБ.")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise UploadError(f"Файл «{name}» пустой: выберите другой.")
        os.replace(partial, target)
        fsync_dir(folder)
    except BaseException:
        partial.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        raise
    return StoredFile(path=target, filename=name, size=size, sha256=digest.hexdigest())


@contextmanager
def kept_files(
    uploads: Sequence[Upload], folder: Path, max_kb: int | None = None
) -> Iterator[list[StoredFile]]:
    """Store every upload, or none: on any error inside the block the files are removed.

    Use it around the write transaction that links the files, so a refused action
    leaves no orphan file behind.
    """
    max_kb = limit_kb() if max_kb is None else max_kb
    stored: list[StoredFile] = []
    try:
        for upload in uploads:
            stored.append(store_upload(upload, folder, max_kb))
        yield stored
    except BaseException:
        for item in stored:
            item.path.unlink(missing_ok=True)
        raise


def create_attachment(stored: StoredFile, files_dir: Path, user: User, rec: Recorder) -> Attachment:
    """The audited row for a stored file (inside the caller's write transaction)."""
    attachment = Attachment.create(
        path=str(stored.path.relative_to(files_dir.parent)),
        filename=stored.filename,
        size=stored.size,
        content_type=stored.content_type,
        sha256=stored.sha256,
        uploaded_by=user,
    )
    rec.record("attachment.create", attachment)
    return attachment


def file_on_disk(attachment: Attachment, files_dir: Path) -> Path | None:
    """The attachment's file, if it is there (never a path outside ``files_dir``)."""
    path = (files_dir.parent / attachment.path).resolve()
    if not path.is_relative_to(files_dir.resolve()) or not path.is_file():
        return None
    return path
