"""Real lessons from the timetable: one `Lesson` per group meeting on each school day."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from .bulk import insert_rows
from .db import snapshot, write
from .models import (
    AcademicYear,
    Assignment,
    Attendance,
    Lesson,
    LessonTeacherChange,
    SchoolClass,
    SubjectGroup,
    SubjectGroupTeacher,
    TimetableChange,
    TimetableEntry,
    User,
)
from .school_calendar import SchoolCalendar


@dataclass
class GenerationReport:
    created: int = 0
    kept: int = 0  # meetings that already had their lesson

    @property
    def total(self) -> int:
        return self.created + self.kept


@dataclass(frozen=True)
class Meeting:
    """One class meeting the timetable gives: a group, a date and a lesson number."""

    group_id: int
    date: dt.date
    number: int
    entry_id: int
    room_id: int | None
    teacher_id: int | None
    state: str = "planned"  # "cancelled" when a one-off change cancelled it

    @property
    def key(self) -> tuple[int, dt.date, int]:
        return (self.group_id, self.date, self.number)

    def row(self) -> dict:
        return {
            "group": self.group_id,
            "date": self.date,
            "number": self.number,
            "room": self.room_id,
            "teacher": self.teacher_id,
            "timetable_entry": self.entry_id,
            "state": self.state,
        }


MeetingKey = tuple[int, dt.date, int]  # group, date, lesson number


@dataclass(frozen=True)
class Move:
    """A meeting moved by a one-off change: where it goes, and what it came from."""

    entry_id: int
    origin: MeetingKey
    new_date: dt.date
    new_number: int
    room_id: int | None  # the room chosen for the move, unless a later room change overrides
    meets: bool  # its group is not a draft and its class not closed
    entry_room_id: int | None = None  # the timetable's room, when neither chose one


@dataclass
class OneOffChanges:
    """The year's one-off changes (`TimetableChange`) by the meeting they change.

    Lessons are generated from these as well as from the timetable, so a regeneration
    never brings back a cancelled or moved lesson nor drops a moved one.
    """

    cancelled: set[MeetingKey] = field(default_factory=set)
    moved: dict[MeetingKey, Move] = field(default_factory=dict)
    rooms: dict[MeetingKey, int] = field(default_factory=dict)
    teachers: dict[MeetingKey, int] = field(default_factory=dict)

    @classmethod
    def load(cls, year: AcademicYear, *, without: int | None = None) -> OneOffChanges:
        """One query: the year's changes, the latest of a kind winning for a meeting.

        ``without`` leaves one change out: what its meeting is like once it is undone.
        """
        found = cls()
        query = (
            TimetableChange.select(
                TimetableChange.kind,
                TimetableChange.date,
                TimetableChange.teacher,
                TimetableChange.new_date,
                TimetableChange.new_number,
                TimetableChange.room,
                TimetableEntry.id,
                TimetableEntry.group,
                TimetableEntry.number,
                TimetableEntry.room,
                SubjectGroup.is_draft,
                SchoolClass.closed,
            )
            .join(TimetableEntry)
            .join(SubjectGroup)
            .join(SchoolClass)
            .where((SubjectGroup.year == year) & (TimetableChange.id != (without or 0)))
            .order_by(TimetableChange.id)
            .tuples()
        )
        for (
            kind,
            day,
            teacher,
            new_date,
            new_number,
            room,
            entry,
            group,
            number,
            entry_room,
            draft,
            closed,
        ) in query:
            key = (group, day, number)
            if kind == "cancelled":
                found.cancelled.add(key)
            elif kind == "moved" and new_date and new_number:
                meets = not draft and not closed
                found.moved[key] = Move(entry, key, new_date, new_number, room, meets, entry_room)
            elif kind == "room" and room:
                found.rooms[key] = room
                if key in found.moved:  # a room changed after the move wins over the move's
                    found.moved[key] = replace(found.moved[key], room_id=None)
            elif kind == "substitution" and teacher:
                found.teachers[key] = teacher
        return found

    def apply(self, meeting: Meeting) -> Meeting | None:
        """The meeting as the changes leave it on its own day; None if it moved away."""
        key = meeting.key
        if key in self.moved:
            return None
        return Meeting(
            meeting.group_id,
            meeting.date,
            meeting.number,
            meeting.entry_id,
            self.rooms.get(key, meeting.room_id),
            self.teachers.get(key, meeting.teacher_id),
            "cancelled" if key in self.cancelled else "planned",
        )

    def room_of(self, key: MeetingKey, entry_room_id: int | None) -> int | None:
        """The room a meeting gets: the move's, else a room change's, else the timetable's.

        A move without a room of its own keeps the lesson where it was (`changes._move`),
        so the fallback must be the entry's room, never None.
        """
        move = self.moved.get(key)
        if move is not None:
            return move.room_id or self.rooms.get(key) or move.entry_room_id
        return self.rooms.get(key, entry_room_id)

    def moved_in(self, start: dt.date, end: dt.date, main_teacher: dict[int, int]):
        """Meetings moved to a day from ``start`` to ``end``, in their new place."""
        for move in self.moved.values():
            if not move.meets or not start <= move.new_date <= end:
                continue
            origin = move.origin
            yield Meeting(
                origin[0],
                move.new_date,
                move.new_number,
                move.entry_id,
                self.room_of(origin, move.entry_room_id),
                self.teachers.get(origin, main_teacher.get(origin[0])),
            )


def timetable_meetings(year: AcademicYear, start: dt.date, end: dt.date) -> Iterator[Meeting]:
    """Every meeting the timetable and the calendar give from ``start`` to ``end``, once each.

    The teacher is the group's main teacher and the room the timetable's, unless a
    one-off change says otherwise: a cancelled meeting comes with state "cancelled", a
    moved one on its new day and number. Draft groups and closed classes meet never.
    """
    start, end = max(start, year.starts), min(end, year.ends)
    if start > end:
        return
    calendar = SchoolCalendar.load(year)

    entries = (
        TimetableEntry.select(TimetableEntry, SubjectGroup.id, SchoolClass.grade)
        .join(SubjectGroup)
        .join(SchoolClass)
        .where(
            (SubjectGroup.year == year)
            & ~SubjectGroup.is_draft
            & ~SchoolClass.closed
            & (TimetableEntry.valid_from <= end)
            & (TimetableEntry.valid_to.is_null() | (TimetableEntry.valid_to >= start))
        )
        # The newest entry wins when two claim the same group, weekday and number.
        .order_by(TimetableEntry.valid_from.desc(), TimetableEntry.id)
    )
    by_grade: dict[int, dict[int, list[TimetableEntry]]] = defaultdict(lambda: defaultdict(list))
    for entry in entries:
        by_grade[entry.group.school_class.grade][entry.weekday].append(entry)

    main_teacher: dict[int, int] = {}
    links = (
        SubjectGroupTeacher.select(SubjectGroupTeacher.group, SubjectGroupTeacher.teacher)
        .join(SubjectGroup)
        .where((SubjectGroup.year == year) & SubjectGroupTeacher.is_main)
        .order_by(SubjectGroupTeacher.id)
        .tuples()
    )
    for group_id, teacher_id in links:
        main_teacher.setdefault(group_id, teacher_id)

    changes = OneOffChanges.load(year)
    seen: set[tuple[int, dt.date, int]] = set()
    for grade, weekdays in by_grade.items():
        for day in calendar.school_days(start, end, grade):
            for entry in weekdays.get(calendar.timetable_weekday(day, grade), ()):
                if entry.valid_from > day or (entry.valid_to and entry.valid_to < day):
                    continue
                key = (entry.group_id, day, entry.number)
                if key in seen:
                    continue
                seen.add(key)
                meeting = changes.apply(
                    Meeting(
                        entry.group_id,
                        day,
                        entry.number,
                        entry.id,
                        entry.room_id,
                        main_teacher.get(entry.group_id),
                    )
                )
                if meeting is not None:
                    yield meeting
    for meeting in changes.moved_in(start, end, main_teacher):
        if meeting.key not in seen:  # the timetable took the slot since: it wins
            seen.add(meeting.key)
            yield meeting


def generate_lessons(year: AcademicYear, start: dt.date, end: dt.date) -> GenerationReport:
    """Create the lessons the timetable gives from ``start`` to ``end`` (inclusive).

    Idempotent: a lesson already stored for (group, date, number) is kept as it is.
    The teacher is the group's main teacher and the room the timetable's. Draft
    groups and closed classes get no lessons. Call inside a write transaction.
    """
    report = GenerationReport()
    existing = set(
        Lesson.select(Lesson.group, Lesson.date, Lesson.number)
        .join(SubjectGroup)
        .where((SubjectGroup.year == year) & Lesson.date.between(start, end))
        .tuples()
    )

    def new_lessons():
        for meeting in timetable_meetings(year, start, end):
            if meeting.key in existing:
                report.kept += 1
                continue
            report.created += 1
            yield meeting.row()

    insert_rows(Lesson, new_lessons())
    return report


# --- regeneration after a timetable or calendar change ----------------------------------


@dataclass
class KeptLesson:
    """A lesson the timetable no longer gives that holds data: kept for a person to decide."""

    lesson: Lesson
    holds: list[str]  # what it holds, in Russian: «тема», «оценки» …


@dataclass
class RegenerationReport:
    created: int = 0
    deleted: int = 0
    updated: int = 0  # room, teacher or timetable entry brought up to date
    kept: int = 0  # already as the timetable says
    with_data: list[KeptLesson] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "created": self.created,
            "deleted": self.deleted,
            "updated": self.updated,
            "kept": self.kept,
            "kept_with_data": [k.lesson.uuid for k in self.with_data],
        }


def lesson_data(lessons: list[Lesson]) -> dict[int, list[str]]:
    """What each lesson holds that a person entered (lessons holding nothing are absent)."""
    ids = [lesson.id for lesson in lessons]
    found: dict[int, list[str]] = defaultdict(list)
    for lesson in lessons:
        for holds, label in (
            (lesson.topic or lesson.plan_lesson_id, "тема"),
            (lesson.homework or lesson.homework_file_id, "домашнее задание"),
            (lesson.state == "held", "урок проведён"),
        ):
            if holds:
                found[lesson.id].append(label)
    for model, label in (
        (Assignment, "оценки"),
        (Attendance, "посещаемость"),
        (LessonTeacherChange, "замена учителя"),
    ):
        for chunk in range(0, len(ids), 500):
            query = model.select(model.lesson).where(model.lesson.in_(ids[chunk : chunk + 500]))
            for lesson_id in {row.lesson_id for row in query}:
                found[lesson_id].append(label)
    return dict(found)


def regenerate_lessons(
    year: AcademicYear,
    start: dt.date,
    end: dt.date,
    *,
    user: User | None = None,
    ip: str = "",
    today: dt.date | None = None,
    dry_run: bool = False,
) -> RegenerationReport:
    """Bring FUTURE lessons (from tomorrow on) in line with the current timetable and calendar.

    Creates the lessons the timetable now gives; deletes the ones it no longer gives
    if they hold nothing; a lesson holding data (topic, homework, marks, attendance,
    a substitution) is never dropped: it is kept and reported. Matching lessons get
    the timetable's room and entry, and the group's main teacher unless substituted.
    One transaction; every deletion and the summary are audited. ``dry_run`` reports
    what would happen and changes nothing.
    """
    today = today or dt.date.today()
    start = max(start, today + dt.timedelta(days=1))
    report = RegenerationReport()
    try:
        with write(user=user, ip=ip) as rec:
            _regenerate(year, start, end, report, rec)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return report


class _DryRun(Exception):
    """Rolls a trial regeneration back."""


def _regenerate(year, start, end, report: RegenerationReport, rec) -> None:
    """The body of `regenerate_lessons`, inside its transaction."""
    expected = {m.key: m for m in timetable_meetings(year, start, end)}
    lessons = list(
        Lesson.select()
        .join(SubjectGroup)
        .where((SubjectGroup.year == year) & Lesson.date.between(start, end))
        .order_by(Lesson.date, Lesson.number, Lesson.id)
    )
    holds = lesson_data(lessons)
    for lesson in lessons:
        meeting = expected.pop((lesson.group_id, lesson.date, lesson.number), None)
        if meeting is None and lesson.id in holds:
            report.with_data.append(KeptLesson(lesson, holds[lesson.id]))
        elif meeting is None:
            before = snapshot(lesson)
            lesson.delete_instance()
            rec.record("lesson.delete", lesson, before=before, op="delete")
            report.deleted += 1
        elif _follow(lesson, meeting, substituted="замена учителя" in holds.get(lesson.id, [])):
            report.updated += 1
        else:
            report.kept += 1
    report.created = insert_rows(Lesson, (m.row() for m in expected.values()))
    rec.record("lessons.regenerate", after=report.summary())


def _follow(lesson: Lesson, meeting: Meeting, *, substituted: bool) -> bool:
    """Give a kept lesson the timetable's room, entry and teacher; True if anything changed."""
    changes = {}
    if lesson.timetable_entry_id != meeting.entry_id:
        changes[Lesson.timetable_entry] = meeting.entry_id
    if lesson.room_id != meeting.room_id:
        changes[Lesson.room] = meeting.room_id
    if not substituted and meeting.teacher_id and lesson.teacher_id != meeting.teacher_id:
        changes[Lesson.teacher] = meeting.teacher_id
    if changes:
        Lesson.update(changes).where(Lesson.id == lesson.id).execute()
    return bool(changes)
