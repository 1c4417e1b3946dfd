"""The lesson page's writes: a whole lesson form at once, and the homework file.

A form (or one field of it, sent by HTMX) is stored in one transaction: every changed
field, or on any refusal none of them. Each field goes through `appliance.journal`, so
every change has its audit and outbox entry. The homework file is kept in the data dir
under a fresh uuid; the name the browser sent is only ever shown, never used as a path.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from . import journal
from .db import snapshot, write
from .durable import fsync_dir as _fsync_dir
from .grading import GradingError
from .lesson_page import FIELD_NAME, attendance_name, mark_name, match_plan_lesson
from .models import Assignment, Attachment, Attendance, Lesson, Mark, School, User, now
from .numbers import is_number
from .publishing import published_at_for_new_change

HOMEWORK_DIR = "homework"


@dataclass
class LessonChanges:
    """The fields of a lesson form (all of them, or one from an HTMX field)."""

    topic: str | None = None
    plan_lesson: str | None = None
    homework: str | None = None
    attendance: dict[int, str] = field(default_factory=dict)
    marks: dict[tuple[int, int], str] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> LessonChanges:
        changes = cls()
        for name, value in form.items():
            match = FIELD_NAME.match(name)
            if name in ("topic", "plan_lesson", "homework"):
                setattr(changes, name, value)
            elif match and match.group(1):
                changes.attendance[int(match.group(1))] = value
            elif match:
                changes.marks[(int(match.group(2)), int(match.group(3)))] = value
            else:
                continue
            changes.names.append(name)
        return changes


class _Refused(Exception):
    """Rolls the whole form back when any field was refused."""


def _same(typed: str, stored: str) -> bool:
    """A typed mark or code equal to the stored one («н» is «Н»)."""
    return typed.strip().casefold() == stored.casefold()


def save_changes(lesson: Lesson, changes: LessonChanges, *, user: User, ip: str) -> dict[str, str]:
    """Store a lesson form in one transaction: every changed field, or none of them.

    Unchanged fields are skipped (no audit noise; an untouched mark of a future lesson
    is no error). Returns the Russian refusals by field name; `journal.NotYourLesson`
    propagates for the caller to answer 403.
    """
    errors: dict[str, str] = {}

    def attempt(name: str, action) -> None:
        try:
            action()
        except journal.NotYourLesson:
            raise
        except (journal.JournalError, GradingError) as exc:
            errors[name] = str(exc)

    try:
        with write(user=user, ip=ip):
            if _topic_changed(lesson, changes):
                attempt("topic", lambda: _save_topic(lesson, changes, user, ip))
            if changes.homework is not None and changes.homework.strip() != lesson.homework:
                attempt(
                    "homework",
                    lambda: journal.set_homework(lesson, changes.homework, user=user, ip=ip),
                )
            _save_attendance(lesson, changes, attempt, user, ip)
            _save_marks(lesson, changes, attempt, errors, user, ip)
            if errors:
                raise _Refused
    except _Refused:
        pass
    return errors


def _topic_changed(lesson: Lesson, changes: LessonChanges) -> bool:
    if changes.plan_lesson:
        return changes.plan_lesson != str(lesson.plan_lesson_id)
    return changes.topic is not None and " ".join(changes.topic.split()) != lesson.topic


def _save_topic(lesson: Lesson, changes: LessonChanges, user: User, ip: str) -> None:
    if changes.plan_lesson:  # «взять из КТП»: the plan's own words
        if not is_number(changes.plan_lesson):
            raise journal.JournalError("Эта тема не из КТП этой группы.")
        topic, plan_id = "", int(changes.plan_lesson)
    else:
        topic = changes.topic or ""
        plan_id = match_plan_lesson(lesson, topic) if topic.strip() else None
    journal.set_topic(lesson, topic, user=user, ip=ip, plan_lesson_id=plan_id)


def _save_attendance(lesson: Lesson, changes: LessonChanges, attempt, user: User, ip: str):
    stored = {a.student_id: a.code for a in Attendance.select().where(Attendance.lesson == lesson)}
    for student_id, raw in changes.attendance.items():
        if not _same(raw, stored.get(student_id, "")):
            attempt(
                attendance_name(student_id),
                lambda s=student_id, r=raw: journal.set_attendance(lesson, s, r, user=user, ip=ip),
            )


def _save_marks(lesson: Lesson, changes: LessonChanges, attempt, errors, user: User, ip: str):
    assignments = {
        a.id: a
        for a in Assignment.select().where(Assignment.lesson == lesson).order_by(Assignment.id)
    }
    stored = {
        (m.assignment_id, m.student_id): m.value
        for m in Mark.select().where(Mark.assignment.in_(list(assignments)))
    }
    for (assignment_id, student_id), raw in changes.marks.items():
        name = mark_name(assignment_id, student_id)
        wanted = assignment_id or min(assignments, default=0)
        if wanted and wanted not in assignments:
            errors[name] = "Этой работы нет на этом уроке."
        elif not _same(raw, stored.get((wanted, student_id), "")):

            def put(a=wanted, s=student_id, r=raw):
                assignment = assignments.get(a) or journal.default_assignment(
                    lesson, user=user, ip=ip
                )
                assignments[assignment.id] = assignment
                journal.set_mark(assignment, s, r, user=user, ip=ip)

            attempt(name, put)


# --- the homework file ---------------------------------------------------------------


def safe_filename(name: str) -> str:
    """A display name from what the browser sent: no path, no control or reserved characters."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r'[<>:"|?*]', "_", name)
    name = " ".join(name.split()).strip(" .")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    stem, ext = stem[:100].strip() or "файл", ext[:12]
    return f"{stem}.{ext}" if ext else stem


def attach_homework_file(
    lesson: Lesson, stream: BinaryIO, filename: str, files_dir: Path, *, user: User, ip: str
) -> Attachment:
    """Keep an uploaded homework file under ``files_dir`` by a fresh uuid; link it to the lesson.

    The school's size limit (`School.homework_file_limit_kb`) is checked while reading;
    the file is on disk (fsynced) before the row that points at it is committed.
    """
    journal.check_lesson_writable(lesson, user.person)
    limit_kb = School.get().homework_file_limit_kb
    name = safe_filename(filename)
    folder = files_dir / HOMEWORK_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stored = uuid.uuid4().hex
    target, partial = folder / stored, folder / f".{stored}.part"
    digest, size = hashlib.sha256(), 0
    try:
        with open(partial, "xb") as out:
            while chunk := stream.read(64 * 1024):
                size += len(chunk)
                if size > limit_kb * 1024:
                    raise journal.JournalError(f"Файл слишком большой: не больше {limit_kb} КБ.")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise journal.JournalError("Файл пустой: выберите другой.")
        os.replace(partial, target)
        _fsync_dir(folder)
        return _link_homework_file(
            lesson, target, name, size, digest.hexdigest(), files_dir, user, ip
        )
    except BaseException:
        partial.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
        raise


def _link_homework_file(lesson, target, name, size, sha256, files_dir, user, ip) -> Attachment:
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    with write(user=user, ip=ip) as rec:
        attachment = Attachment.create(
            path=str(target.relative_to(files_dir.parent)),
            filename=name,
            size=size,
            content_type=content_type,
            sha256=sha256,
            uploaded_by=user,
        )
        rec.record("attachment.create", attachment)
        _set_homework_file(lesson, attachment, rec)
    return attachment


def remove_homework_file(lesson: Lesson, *, user: User, ip: str) -> None:
    """Unlink the file from the lesson; the file itself stays (the audit points at it)."""
    journal.check_lesson_writable(lesson, user.person)
    with write(user=user, ip=ip) as rec:
        _set_homework_file(lesson, None, rec)


def _set_homework_file(lesson: Lesson, attachment: Attachment | None, rec) -> None:
    before = snapshot(lesson)
    lesson.homework_file = attachment
    lesson.updated_at = now()
    lesson.published_at = published_at_for_new_change()
    lesson.save()
    rec.record("lesson.homework_file", lesson, before=before, sync=True)


def homework_file(lesson: Lesson, files_dir: Path) -> tuple[Path, Attachment] | None:
    """The lesson's homework file on disk, if it has one (never outside ``files_dir``)."""
    if lesson.homework_file_id is None:
        return None
    attachment = Attachment.get_by_id(lesson.homework_file_id)
    path = (files_dir.parent / attachment.path).resolve()
    if not path.is_relative_to(files_dir.resolve()) or not path.is_file():
        return None
    return path, attachment
