"""One-off changes of the timetable: substitutions, moves, cancelled lessons, another room.

`make_change` stores a `TimetableChange` and applies it to the lesson of that day in
the same transaction (creating the lesson first if lessons were not generated that
far), then leaves a notice for the teachers, students and parents concerned.
`undo_change` puts the lesson back while it holds nothing new and says what it did;
`drop_changes` does the same for the changes of meetings a timetable edit removes.
The lesson a change concerns is found where the meeting is now: after a move, on
its new day. Lesson generation reads the same rows (`appliance.lessons.OneOffChanges`),
so a regeneration keeps every change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from peewee import JOIN, IntegrityError

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

    try:
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
    except IntegrityError as exc:  # a check above missed a clash: refuse, never a 500
        raise PlanningError(_CLASH) from exc
    return change


_CLASH = (
    "Урок не сохранён: в это время у группы уже есть урок. "
    "Обновите страницу и выберите другое время."
)


def _place(entry: TimetableEntry, day: dt.date) -> tuple[dt.date, int]:
    """Where the entry's meeting of ``day`` is now: its own slot, or where a move put it.

    One query; the latest move of the meeting wins, as in `OneOffChanges.load`.
    """
    move = (
        TimetableChange.select(TimetableChange.new_date, TimetableChange.new_number)
        .join(TimetableEntry)
        .where(
            (TimetableChange.kind == "moved")
            & (TimetableChange.date == day)
            & TimetableChange.new_date.is_null(False)
            & TimetableChange.new_number.is_null(False)
            & (TimetableEntry.group == entry.group_id)
            & (TimetableEntry.number == entry.number)
        )
        .order_by(TimetableChange.id.desc())
        .first()
    )
    return (move.new_date, move.new_number) if move else (day, entry.number)


def _lesson_at(group_id: int, where: tuple[dt.date, int]) -> Lesson | None:
    return Lesson.get_or_none(
        (Lesson.group == group_id) & (Lesson.date == where[0]) & (Lesson.number == where[1])
    )


def _lesson_for(entry: TimetableEntry, day: dt.date, rec: Recorder) -> Lesson:
    """The lesson of the entry's meeting on ``day`` (where a move put it), made if missing."""
    where = _place(entry, day)
    lesson = _lesson_at(entry.group_id, where)
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


def undo_change(change: TimetableChange, *, user: User | None, ip: str = "") -> str:
    """Delete a change and put its lesson back, unless the lesson holds something new since.

    Returns what happened to the lesson, in Russian, for the page to say: a change
    whose lesson was altered since is deleted but leaves the lesson as it is. Refuses
    (PlanningError, nothing written) when the lesson cannot be found at all.
    """
    entry = change.entry
    ensure_editable(entry.group.year)
    text = describe(change, entry)
    try:
        with write(user=user, ip=ip) as rec:
            lesson = _changed_lesson(change)
            if lesson is None:
                raise PlanningError(
                    "Урок этого изменения не найден (его удалили при пересоздании уроков?): "
                    "отменять нечего, изменение оставлено."
                )
            old_teacher = lesson.teacher
            outcome = _REVERT[change.kind](lesson, change, rec)
            _delete_change(change, rec)
            notify(lesson, change, old_teacher, "отменено изменение: " + text)
    except IntegrityError as exc:
        raise PlanningError(_CLASH) from exc
    return outcome


def drop_changes(changes: Iterable[TimetableChange], rec: Recorder) -> int:
    """Delete the one-off changes of meetings the timetable no longer gives (audited).

    Runs inside the caller's transaction. Each change's lesson is put back as in
    `undo_change` when it can be found; a lesson that holds something new since
    refuses the whole edit (PlanningError naming the change), so nothing is lost
    silently. Returns how many changes went.
    """
    count = 0
    for change in changes:
        lesson = _changed_lesson(change)
        if lesson is not None:
            try:
                _REVERT[change.kind](lesson, change, rec)
            except PlanningError as exc:
                raise PlanningError(f"{describe(change)} — {exc}") from exc
        _delete_change(change, rec)
        count += 1
    return count


def _delete_change(change: TimetableChange, rec: Recorder) -> None:
    before = snapshot(change)
    change.delete_instance()
    rec.record("timetable.change.delete", change, before=before, op="delete")


def _changed_lesson(change: TimetableChange) -> Lesson | None:
    """The lesson a change concerns, where it is now (a later move took it elsewhere)."""
    entry = change.entry
    if change.kind == "moved":
        where = (change.new_date, change.new_number)
    else:
        where = _place(entry, change.date)
    return _lesson_at(entry.group_id, where)


def _refuse_if_filled(lesson: Lesson, what: str) -> None:
    holds = set(lesson_data([lesson]).get(lesson.id, [])) - {"замена учителя"}
    if holds:
        raise PlanningError(
            f"В уроке уже есть {', '.join(sorted(holds))}: {what} отменить нельзя. "
            "Оформите новое изменение, если нужно."
        )


def _timetable_room(change: TimetableChange) -> int | None:
    """The room the meeting gets once ``change`` is gone (other changes of it still count)."""
    entry = change.entry
    key = (entry.group_id, change.date, entry.number)
    others = OneOffChanges.load(entry.group.year, without=change.id)
    return others.room_of(key, entry.room_id)


def _revert_substitution(lesson: Lesson, change: TimetableChange, rec: Recorder) -> str:
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
        # The lesson was given to someone else since: leave it to them.
        return "Урок с тех пор передан другому учителю — его не меняли."
    link.delete_instance()
    _save(lesson, "lesson.substitute_undo", rec, teacher=link.old_teacher_id)
    teacher = lesson.teacher
    return f"Урок снова ведёт {teacher.full_name}." if teacher else "Замена снята."


def _revert_cancel(lesson: Lesson, change: TimetableChange, rec: Recorder) -> str:
    if lesson.state != "cancelled":
        return "Урок уже не был отменён — его не меняли."
    _save(lesson, "lesson.cancel_undo", rec, state="planned")
    return "Урок снова в расписании."


def _revert_move(lesson: Lesson, change: TimetableChange, rec: Recorder) -> str:
    _refuse_if_filled(lesson, "перенос")
    entry = change.entry
    room_id = _timetable_room(change)
    check_free(
        day_occupants(entry.group.year, change.date),
        entry.number,
        lesson=lesson,
        teacher_id=lesson.teacher_id,
        room_id=room_id,
        check_class=True,
    )
    _save(lesson, "lesson.move_undo", rec, date=change.date, number=entry.number, room=room_id)
    return f"Урок возвращён на {change.date:%d.%m.%Y}, {entry.number}-й урок."


def _revert_room(lesson: Lesson, change: TimetableChange, rec: Recorder) -> str:
    if lesson.room_id != change.room_id:
        return "Кабинет урока с тех пор меняли — его не трогали."
    room_id = _timetable_room(change)
    _save(lesson, "lesson.room_undo", rec, room=room_id)
    room = Room.get_or_none(Room.id == room_id) if room_id else None
    return f"Урок снова в кабинете {room.name}." if room else "Урок снова без кабинета."


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
    """The year's one-off changes dated (or moved to) a day from ``start`` to ``end``.

    ``class_ids`` limits them to those classes (a class grid needs its own only). A
    fixed number of queries however many changes there are: the change with its
    entry, group, class, subject, substitute and room in one, their lessons in one.
    """
    query = (
        TimetableChange.select(
            TimetableChange, TimetableEntry, SubjectGroup, SchoolClass, Subject, Person, Room
        )
        .join(TimetableEntry)
        .join(SubjectGroup)
        .join(SchoolClass)
        .switch(SubjectGroup)
        .join(Subject)
        .switch(TimetableChange)
        .join(Person, JOIN.LEFT_OUTER, on=TimetableChange.teacher)
        .switch(TimetableChange)
        .join(Room, JOIN.LEFT_OUTER, on=TimetableChange.room)
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
    found = list(query)
    lessons = _lessons_of(found)
    return [ChangeRow(c, describe(c), lessons.get(c.id)) for c in found]


def _lessons_of(found: list[TimetableChange]) -> dict[int, int]:
    """Change id → id of its lesson where it is now, for changes listed together (one query).

    A meeting moved away is found through its move, which is listed too: it has the
    same date and class as the other changes of that meeting.
    """
    moves = {
        (c.entry.group_id, c.date, c.entry.number): (c.new_date, c.new_number)
        for c in found
        if c.kind == "moved" and c.new_date and c.new_number
    }
    places: dict[int, tuple[int, dt.date, int]] = {}
    for c in found:
        key = (c.entry.group_id, c.date, c.entry.number)
        if c.kind == "moved":
            where = (c.new_date, c.new_number)
        else:
            where = moves.get(key, key[1:])
        if where[0] is not None and where[1] is not None:
            places[c.id] = (key[0], *where)
    if not places:
        return {}
    stored = {
        (group, day, number): lesson_id
        for lesson_id, group, day, number in Lesson.select(
            Lesson.id, Lesson.group, Lesson.date, Lesson.number
        )
        .where(
            Lesson.group.in_(sorted({p[0] for p in places.values()}))
            & Lesson.date.in_(sorted({p[1] for p in places.values()}))
        )
        .tuples()
    }
    return {cid: stored[p] for cid, p in places.items() if p in stored}
