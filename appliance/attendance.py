"""Excused absences: the class teacher turns «Н» into «УП» or «Б» for a date range (§7.3)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .db import snapshot, write
from .grading import EXCUSE_CODES
from .journal import JournalError
from .models import (
    Attendance,
    Enrollment,
    Lesson,
    Person,
    SchoolClass,
    SubjectGroup,
    User,
    now,
)
from .publishing import published_at_for_new_change

MAX_RANGE = dt.timedelta(days=366)


@dataclass(frozen=True)
class Excuse:
    """What the class teacher entered: whom, when, which code, why, on what document."""

    student_id: int
    date_from: dt.date
    date_to: dt.date
    code: str
    reason: str
    document: str = ""


def _student(school_class: SchoolClass, excuse: Excuse) -> Person:
    """The student, enrolled in the class at some time of the range."""
    enrolled = (
        Enrollment.select()
        .where(
            (Enrollment.school_class == school_class)
            & (Enrollment.student == excuse.student_id)
            & (Enrollment.starts <= excuse.date_to)
            & (Enrollment.ends.is_null() | (Enrollment.ends >= excuse.date_from))
        )
        .exists()
    )
    if not enrolled:
        raise JournalError("Этот ученик не учится в вашем классе в указанные дни.")
    return Person.get_by_id(excuse.student_id)


def check_excuse(school_class: SchoolClass, excuse: Excuse) -> Person:
    """Raise JournalError (Russian) unless the excuse can be applied; return the student."""
    year = school_class.year
    if year.read_only:
        raise JournalError("Учебный год закрыт: журнал доступен только для чтения.")
    if excuse.code not in EXCUSE_CODES:
        raise JournalError("Пропуск отмечается как «УП» (уважительная причина) или «Б» (болел).")
    if excuse.date_from > excuse.date_to:
        raise JournalError("Дата начала позже даты окончания.")
    if excuse.date_to - excuse.date_from > MAX_RANGE:
        raise JournalError("Период не может быть длиннее года.")
    if excuse.date_from < year.starts or excuse.date_to > year.ends:
        raise JournalError(
            f"Период должен лежать внутри учебного года "
            f"({year.starts:%d.%m.%Y} — {year.ends:%d.%m.%Y})."
        )
    if not excuse.reason.strip():
        raise JournalError("Укажите причину пропуска.")
    if len(excuse.reason.strip()) > 200:
        raise JournalError("Причина слишком длинная (не больше 200 символов).")
    if len(excuse.document.strip()) > 100:
        raise JournalError("Номер документа слишком длинный (не больше 100 символов).")
    return _student(school_class, excuse)


def excuse_absences(school_class: SchoolClass, excuse: Excuse, *, user: User, ip: str) -> int:
    """Turn every «Н» of the student in the class's lessons of the range into the code.

    One transaction, one audit and outbox entry per changed row; returns how many
    changed. Lessons older than the teachers' past-edit window are changed too: the
    class teacher excusing an absence on a document is a different act from a teacher
    editing an old lesson, and medical notes routinely arrive after a week or more.
    """
    student = check_excuse(school_class, excuse)
    query = (
        Attendance.select(Attendance)
        .join(Lesson)
        .join(SubjectGroup)
        .where(
            (Attendance.student == student)
            & (Attendance.code == "Н")
            & (SubjectGroup.school_class == school_class)
            & Lesson.date.between(excuse.date_from, excuse.date_to)
        )
    )
    changed = 0
    with write(user=user, ip=ip) as rec:
        for row in list(query):
            before = snapshot(row)
            row.code = excuse.code
            row.reason = excuse.reason.strip()
            row.document = excuse.document.strip()
            row.updated_at = now()
            row.published_at = published_at_for_new_change()
            row.save()
            rec.record("attendance.excuse", row, before=before, sync=True)
            changed += 1
    return changed
