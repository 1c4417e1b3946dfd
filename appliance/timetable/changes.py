"""One-off changes of the timetable: substitutions, moves, cancelled lessons, another room.

`make_change` stores a `TimetableChange` and applies it to the lesson of that day in
the same transaction (creating the lesson first if lessons were not generated that
far), then leaves a notice for the teachers, students and parents concerned.
`undo_change` puts the lesson back while it holds nothing new. Lesson generation
reads the same rows (`appliance.lessons.OneOffChanges`), so a regeneration keeps
every change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from .. import journal
from ..db import Recorder, snapshot, write
from ..lessons import OneOffChanges, lesson_data, timetable_meetings
from ..models import (
    AcademicYear,
    Assignment,
    Attendance,
    Lesson,
    LessonTeacherChange,
    Mark,
    Person,
    Room,
    SchoolClass,
    Subject,
    SubjectGroup,
    TimetableChange,
    TimetableEntry,
    User,
    now,
)
from ..publishing import published_at_for_new_change
from ..school_calendar import SchoolCalendar
from ..years import PlanningError, ensure_editable
from .entries import MAX_NUMBER
from .notices import notify
from .occupancy import check_free, day_occupants, meetings_on

KIND_LABELS = {
    "substitution": "замена учителя",
    "moved": "перенос",
    "cancelled": "урок отменён",
    "room": "другой кабинет",
}


@dataclass(frozen=True)
class ChangeRequest:
    """What the deputy asks for; fields a kind does not use are ignored."""

    kind: str
    teacher: Person | None = None
    new_date: dt.date | None = None
    new_number: int | None = None
    room: Room | None = None
    reason: str = ""


# --- making a change ----------------------------------------------------------------------


def make_change(
    entry: TimetableEntry,
    day: dt.date,
    request: ChangeRequest,
    *,
    user: User | None,
    ip: str = "",
) -> TimetableChange:
    """Record a one-off change of ``entry``'s meeting on ``day`` and apply it to the lesson.

    One transaction: the change, the lesson's new state (audited and queued for
    АСУ РСО) and the notices stand or fall together. Raises PlanningError with a
    Russian reason and changes nothing when the change cannot be made.
    """
    group = entry.group
    year = group.year
    ensure_editable(year)
    if request.kind not in KIND_LABELS:
        raise PlanningError("Выберите, что меняется: замена, перенос, отмена или кабинет.")
    if not any(e.id == entry.id for e in meetings_on(group.school_class, day)):
        raise PlanningError(f"{day:%d.%m.%Y} этого урока нет в расписании.")
    existing = {
        c.kind
        for c in TimetableChange.select().where(
            (TimetableChange.entry == entry) & (TimetableChange.date == day)
        )
    }
    if request.kind in existing:
        raise PlanningError("Такое изменение этого урока уже есть: сначала отмените его.")
    if {request.kind} | existing >= {"moved", "cancelled"}:
        raise PlanningError("Урок уже перенесён или отменён: сначала отмените то изменение.")

    with write(user=user, ip=ip) as rec:
        lesson = _lesson_for(entry, day, rec)
        old_teacher = lesson.teacher
        _APPLY[request.kind](lesson, request, user=user, ip=ip, rec=rec)
        change = TimetableChange.create(
            date=day,
            entry=entry,
            kind=request.kind,
            teacher=request.teacher if request.kind == "substitution" else None,
            new_date=request.new_date if request.kind == "moved" else None,
            new_number=request.new_number if request.kind == "moved" else None,
            room=request.room if request.kind in ("moved", "room") else None,
            reason=request.reason.strip()[:250],
        )
        rec.record("timetable.change.create", change)
        notify(lesson, change, old_teacher, describe(change, entry))
    return change


def _lesson_for(entry: TimetableEntry, day: dt.date, rec: Recorder) -> Lesson:
    """The lesson of the entry's meeting on ``day`` (where a move put it), made if missing."""
    key = (entry.group_id, day, entry.number)
    move = OneOffChanges.load(entry.group.year).moved.get(key)
    where = (move.new_date, move.new_number) if move else (day, entry.number)
    lesson = Lesson.get_or_none(
        (Lesson.group == entry.group_id) & (Lesson.date == where[0]) & (Lesson.number == where[1])
    )
    if lesson is not None:
        return lesson
    meeting = next(
        (
            m
            for m in timetable_meetings(entry.group.year, where[0], where[0])
            if m.key == (entry.group_id, *where)
        ),
        None,
    )
    if meeting is None:
        raise PlanningError("У этой группы в этот день уроков нет (группа — черновик?).")
    lesson = Lesson.create(**meeting.row())
    rec.record("lesson.create", lesson, sync=True)
    return lesson


def _save(lesson: Lesson, action: str, rec: Recorder, **changes) -> None:
    before = snapshot(lesson)
    for name, value in changes.items():
        setattr(lesson, name, value)
    lesson.updated_at = now()
    lesson.published_at = published_at_for_new_change()
    lesson.save()
    rec.record(action, lesson, before=before, sync=True)


def _substitute(lesson: Lesson, request: ChangeRequest, *, user, ip, rec) -> None:
    teacher = request.teacher
    if teacher is None:
        raise PlanningError("Выберите учителя, который заменит урок.")
    occupants = day_occupants(lesson.group.year, lesson.date)
    check_free(
        occupants,
        lesson.number,
        lesson=lesson,
        teacher_id=teacher.id,
        room_id=None,
        check_class=False,
    )
    try:
        journal.substitute(lesson, teacher, request.reason, user=user, ip=ip)
    except journal.JournalError as exc:
        raise PlanningError(str(exc)) from exc


def _cancel(lesson: Lesson, request: ChangeRequest, *, user, ip, rec) -> None:
    marks = Mark.select().join(Assignment).where(Assignment.lesson == lesson).count()
    if marks:
        raise PlanningError(
            f"На этом уроке уже стоят оценки ({marks}): отменить его нельзя. "
            "Если урока не было, пусть учитель удалит оценки в журнале, или перенесите урок."
        )
    if lesson.state == "held" or Attendance.select().where(Attendance.lesson == lesson).exists():
        raise PlanningError(
            "На этом уроке уже отмечена посещаемость, значит, он прошёл: отменить его нельзя."
        )
    _save(lesson, "lesson.cancel", rec, state="cancelled")


def _move(lesson: Lesson, request: ChangeRequest, *, user, ip, rec) -> None:
    new_date, number = request.new_date, request.new_number
    if new_date is None or number is None or not 1 <= number <= MAX_NUMBER:
        raise PlanningError(f"Укажите новую дату и номер урока (1–{MAX_NUMBER}).")
    group = lesson.group
    year = group.year
    if (new_date, number) == (lesson.date, lesson.number):
        raise PlanningError("Новое время совпадает с прежним.")
    if not year.starts <= new_date <= year.ends:
        raise PlanningError(f"{new_date:%d.%m.%Y} — не в этом учебном году.")
    if not SchoolCalendar.load(year).is_school_day(new_date, group.school_class.grade):
        raise PlanningError(f"{new_date:%d.%m.%Y} у класса нет уроков (выходной или каникулы).")
    holds = lesson_data([lesson]).get(lesson.id, [])
    if set(holds) - {"замена учителя"}:
        raise PlanningError(
            "В уроке уже есть " + ", ".join(holds) + ": перенести его нельзя, он уже прошёл."
        )
    room_id = request.room.id if request.room else lesson.room_id
    check_free(
        day_occupants(year, new_date),
        number,
        lesson=lesson,
        teacher_id=lesson.teacher_id,
        room_id=room_id,
        check_class=True,
    )
    _save(lesson, "lesson.move", rec, date=new_date, number=number, room=room_id)


def _change_room(lesson: Lesson, request: ChangeRequest, *, user, ip, rec) -> None:
    if request.room is None:
        raise PlanningError("Выберите кабинет.")
    if request.room.id == lesson.room_id:
        raise PlanningError("Урок и так в этом кабинете.")
    check_free(
        day_occupants(lesson.group.year, lesson.date),
        lesson.number,
        lesson=lesson,
        teacher_id=None,
        room_id=request.room.id,
        check_class=False,
    )
    _save(lesson, "lesson.room", rec, room=request.room.id)


_APPLY = {
    "substitution": _substitute,
    "cancelled": _cancel,
    "moved": _move,
    "room": _change_room,
}


# --- undoing a change ---------------------------------------------------------------------


def undo_change(change: TimetableChange, *, user: User | None, ip: str = "") -> None:
    """Delete a change and put its lesson back, unless the lesson holds something new since."""
    entry = change.entry
    ensure_editable(entry.group.year)
    with write(user=user, ip=ip) as rec:
        lesson = _changed_lesson(change)
        if lesson is not None:
            old_teacher = lesson.teacher
            _REVERT[change.kind](lesson, change, rec)
            notify(lesson, change, old_teacher, "отменено изменение: " + describe(change, entry))
        before = snapshot(change)
        change.delete_instance()
        rec.record("timetable.change.delete", change, before=before, op="delete")


def _changed_lesson(change: TimetableChange) -> Lesson | None:
    entry = change.entry
    where = (change.date, entry.number)
    if change.kind == "moved":
        where = (change.new_date, change.new_number)
    return Lesson.get_or_none(
        (Lesson.group == entry.group_id) & (Lesson.date == where[0]) & (Lesson.number == where[1])
    )


def _refuse_if_filled(lesson: Lesson, what: str) -> None:
    holds = set(lesson_data([lesson]).get(lesson.id, [])) - {"замена учителя"}
    if holds:
        raise PlanningError(
            f"В уроке уже есть {', '.join(sorted(holds))}: {what} отменить нельзя. "
            "Оформите новое изменение, если нужно."
        )


def _revert_substitution(lesson: Lesson, change: TimetableChange, rec: Recorder) -> None:
    _refuse_if_filled(lesson, "замену")
    link = (
        LessonTeacherChange.select()
        .where(
            (LessonTeacherChange.lesson == lesson)
            & (LessonTeacherChange.new_teacher == change.teacher_id)
        )
        .order_by(LessonTeacherChange.id.desc())
        .first()
    )
    if link is None or lesson.teacher_id != change.teacher_id:
        return  # the lesson was given to someone else since: leave it to them
    link.delete_instance()
    _save(lesson, "lesson.substitute_undo", rec, teacher=link.old_teacher_id)


def _revert_cancel(lesson: Lesson, change: TimetableChange, rec: Recorder) -> None:
    if lesson.state == "cancelled":
        _save(lesson, "lesson.cancel_undo", rec, state="planned")


def _revert_move(lesson: Lesson, change: TimetableChange, rec: Recorder) -> None:
    _refuse_if_filled(lesson, "перенос")
    entry = change.entry
    room_id = OneOffChanges.load(entry.group.year).rooms.get(
        (entry.group_id, change.date, entry.number), entry.room_id
    )
    check_free(
        day_occupants(entry.group.year, change.date),
        entry.number,
        lesson=lesson,
        teacher_id=lesson.teacher_id,
        room_id=room_id,
        check_class=True,
    )
    _save(lesson, "lesson.move_undo", rec, date=change.date, number=entry.number, room=room_id)


def _revert_room(lesson: Lesson, change: TimetableChange, rec: Recorder) -> None:
    if lesson.room_id == change.room_id:
        _save(lesson, "lesson.room_undo", rec, room=change.entry.room_id)


_REVERT = {
    "substitution": _revert_substitution,
    "cancelled": _revert_cancel,
    "moved": _revert_move,
    "room": _revert_room,
}


# --- describing and notifying -----------------------------------------------------------


def describe(change: TimetableChange, entry: TimetableEntry | None = None) -> str:
    """«5А, 12.11.2026, 3-й урок (Математика): урок отменён. Причина: …»"""
    entry = entry or change.entry
    group = entry.group
    head = f"{group.school_class.name}, {change.date:%d.%m.%Y}, {entry.number}-й урок"
    subject = group.subject.name + (f", {group.subgroup} подгр." if group.subgroup else "")
    what = KIND_LABELS[change.kind]
    if change.kind == "substitution" and change.teacher_id:
        what = f"замена, ведёт {change.teacher.full_name}"
    elif change.kind == "moved":
        what = f"урок перенесён на {change.new_date:%d.%m.%Y}, {change.new_number}-й урок"
        what += f", кабинет {change.room.name}" if change.room_id else ""
    elif change.kind == "room" and change.room_id:
        what = f"урок пройдёт в кабинете {change.room.name}"
    reason = f" Причина: {change.reason}." if change.reason else ""
    return f"{head} ({subject}): {what}.{reason}"


# --- listing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeRow:
    change: TimetableChange
    text: str
    lesson_id: int | None


def changes_between(
    year: AcademicYear, start: dt.date, end: dt.date, class_ids: Iterable[int] | None = None
) -> list[ChangeRow]:
    """The year's one-off changes dated (or moved to) a day from ``start`` to ``end``."""
    query = (
        TimetableChange.select(TimetableChange, TimetableEntry, SubjectGroup, SchoolClass, Subject)
        .join(TimetableEntry)
        .join(SubjectGroup)
        .join(SchoolClass)
        .switch(SubjectGroup)
        .join(Subject)
        .where(
            (SubjectGroup.year == year)
            & (
                TimetableChange.date.between(start, end)
                | TimetableChange.new_date.between(start, end)
            )
        )
        .order_by(
            TimetableChange.date, TimetableEntry.number, SchoolClass.grade, TimetableChange.id
        )
    )
    if class_ids is not None:
        query = query.where(SchoolClass.id.in_(list(class_ids) or [0]))
    rows = []
    for change in query:
        lesson = _changed_lesson(change)
        rows.append(ChangeRow(change, describe(change), lesson.id if lesson else None))
    return rows
