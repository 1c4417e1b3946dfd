"""The diary's week: each school day's lessons with times, rooms, topics, homework, marks.

Built in a fixed number of queries whatever the number of lessons and marks (the
memberships, the lessons, the lessons before the week, marks, attendance, bells,
holidays): a parent opening the diary never waits on a query per lesson.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from peewee import JOIN, fn

from ..dashboard import bell_times
from ..models import (
    ATTENDANCE_CODES,
    Assignment,
    Attachment,
    Attendance,
    Lesson,
    Mark,
    NonSchoolDay,
    Person,
    Room,
    Subject,
    SubjectGroup,
    WorkType,
)
from ..publishing import agreed_field, readable, shown, visible
from .dates import monday_of
from .students import memberships

DAY_OFF_KINDS = ("holiday", "vacation")


@dataclass
class DiaryMark:
    value: str
    work_type: str
    short_name: str
    weight: int
    title: str = ""


@dataclass
class DiaryLesson:
    """One lesson as the diary shows it; topic and homework only once published."""

    lesson: Lesson
    starts: dt.time | None
    ends: dt.time | None
    published: bool
    marks: list[DiaryMark] = field(default_factory=list)
    attendance: str = ""
    due: Lesson | None = None  # the group's previous lesson: its homework is due today

    @property
    def subject(self) -> Subject:
        return self.lesson.group.subject

    @property
    def cancelled(self) -> bool:
        return self.lesson.state == "cancelled"

    @property
    def topic(self) -> str:
        return self.lesson.topic if self.published else _agreed(self.lesson, "topic")

    @property
    def homework(self) -> str:
        return self.lesson.homework if self.published else _agreed(self.lesson, "homework")

    @property
    def homework_file(self) -> Attachment | None:
        return _file_of(self.lesson) if self.published else None

    @property
    def attendance_label(self) -> str:
        return ATTENDANCE_CODES.get(self.attendance, "")

    @property
    def due_homework(self) -> str:
        if self.due is None:
            return ""
        return self.due.homework if self.due.shown else _agreed(self.due, "homework")

    @property
    def due_file(self) -> Attachment | None:
        return _file_of(self.due) if self.due is not None else None


def _file_of(lesson: Lesson) -> Attachment | None:
    # The attachment is joined in the lesson's own query: no lazy load per lesson.
    return lesson.homework_file if lesson.homework_file_id is not None else None


@dataclass
class DiaryDay:
    date: dt.date
    lessons: list[DiaryLesson] = field(default_factory=list)
    note: str = ""  # «Праздник: …», «Каникулы»


@dataclass
class Week:
    monday: dt.date
    days: list[DiaryDay]

    @property
    def sunday(self) -> dt.date:
        return self.monday + dt.timedelta(days=6)

    @property
    def previous(self) -> dt.date:
        return self.monday - dt.timedelta(days=7)

    @property
    def next(self) -> dt.date:
        return self.monday + dt.timedelta(days=7)

    def contains(self, day: dt.date) -> bool:
        return self.monday <= day <= self.sunday

    @property
    def lessons(self) -> list[DiaryLesson]:
        return [lesson for day in self.days for lesson in day.lessons]


def _lessons(group_ids, where):
    """Lessons with what the week shows of their group, subject, room and homework file.

    Only the columns the page reads (a week builds few rows but many objects), with the
    publishing rule as the `shown` flag: the lesson itself is the timetable, always shown;
    its topic and homework only once published.
    """
    return (
        Lesson.select(
            Lesson.id,
            Lesson.group,
            Lesson.date,
            Lesson.number,
            Lesson.state,
            Lesson.topic,
            Lesson.homework,
            Lesson.homework_file,
            Lesson.room,
            SubjectGroup.id,
            SubjectGroup.subgroup,
            SubjectGroup.subject,
            Subject.id,
            Subject.name,
            Subject.sort_order,
            Room.id,
            Room.name,
            Attachment.id,
            Attachment.filename,
            Attachment.size,
            visible(Lesson).alias("shown"),
            agreed_field(Lesson, "topic").alias("agreed_topic"),
            agreed_field(Lesson, "homework").alias("agreed_homework"),
        )
        .join(SubjectGroup)
        .join(Subject)
        .switch(Lesson)
        .join(Room, JOIN.LEFT_OUTER)
        .switch(Lesson)
        .join(Attachment, JOIN.LEFT_OUTER, on=(Lesson.homework_file == Attachment.id))
        .where(Lesson.group.in_(group_ids) & where)
    )


def week(student: Person, day: dt.date, grade: int | None = None) -> Week:
    """The student's week containing `day`: Monday to Friday, Saturday when it has lessons.

    Lessons come from the student's subject groups on the days they belonged to them
    (a student moved between subgroups sees each on its own days). Topic, homework,
    marks and attendance follow the publishing rule.
    """
    monday = monday_of(day)
    sunday = monday + dt.timedelta(days=6)
    links = memberships(student, monday, sunday)
    lessons: list[Lesson] = []
    if links:
        group_ids = sorted({link.group_id for link in links})
        found = _lessons(group_ids, Lesson.date.between(monday, sunday)).order_by(
            Lesson.date, Lesson.number, Subject.sort_order
        )
        lessons = [
            lesson
            for lesson in found
            if any(link.group_id == lesson.group_id and link.covers(lesson.date) for link in links)
        ]
    rows = _diary_lessons(student, lessons, monday)
    notes = _day_notes(monday, sunday, grade)
    days = []
    for offset in range(7):
        date = monday + dt.timedelta(days=offset)
        todays = [row for row in rows if row.lesson.date == date]
        if todays or offset < 5:
            days.append(DiaryDay(date, todays, notes.get(date, "")))
    return Week(monday, days)


def _diary_lessons(student: Person, lessons: list[Lesson], monday: dt.date) -> list[DiaryLesson]:
    if not lessons:
        return []
    ids = [lesson.id for lesson in lessons]
    marks = _marks(student, ids)
    attendance = {
        row.lesson_id: row.code
        for row in Attendance.select(
            Attendance.lesson, shown(Attendance, Attendance.code).alias("code")
        ).where((Attendance.student == student) & Attendance.lesson.in_(ids) & readable(Attendance))
    }
    previous = _previous_lessons({lesson.group_id for lesson in lessons}, monday)
    bells = bell_times()
    rows = []
    for lesson in lessons:  # by date and number: each group's lessons in order
        starts, ends = bells.get(lesson.number, (None, None))
        due = previous.get(lesson.group_id)
        rows.append(
            DiaryLesson(
                lesson,
                starts,
                ends,
                published=bool(lesson.shown),
                marks=marks.get(lesson.id, []),
                attendance=attendance.get(lesson.id, ""),
                due=due if _gives_homework(due) else None,
            )
        )
        if lesson.state != "cancelled":
            previous[lesson.group_id] = lesson
    return rows


def _gives_homework(lesson: Lesson | None) -> bool:
    """A lesson with published homework (text or a file) for the group's next lesson,
    or with the homework АСУ РСО accepted before a newer one that still waits."""
    if lesson is None:
        return False
    if lesson.shown:
        return bool(lesson.homework or lesson.homework_file_id)
    return bool(_agreed(lesson, "homework"))


def _agreed(lesson: Lesson, name: str) -> str:
    """A lesson's last accepted topic or homework (selected by `_lessons`)."""
    return getattr(lesson, f"agreed_{name}", "") or ""


def _marks(student: Person, lesson_ids: list[int]) -> dict[int, list[DiaryMark]]:
    query = (
        Mark.select(
            shown(Mark, Mark.value).alias("value"),
            Assignment.lesson,
            Assignment.weight,
            Assignment.title,
            WorkType.name,
            WorkType.short_name,
        )
        .join(Assignment)
        .join(WorkType)
        .where((Mark.student == student) & Assignment.lesson.in_(lesson_ids) & readable(Mark))
        .order_by(Assignment.id)
    )
    found: dict[int, list[DiaryMark]] = {}
    for mark in query:
        assignment = mark.assignment
        work_type = assignment.work_type
        found.setdefault(assignment.lesson_id, []).append(
            DiaryMark(
                mark.value,
                work_type.name,
                work_type.short_name or work_type.name,
                assignment.weight,
                assignment.title,
            )
        )
    return found


def _previous_lessons(group_ids: set[int], monday: dt.date) -> dict[int, Lesson]:
    """Each group's last lesson before the week (not cancelled), in one query."""
    last_day = (
        Lesson.select(Lesson.group.alias("group_id"), fn.MAX(Lesson.date).alias("day"))
        .where(
            Lesson.group.in_(sorted(group_ids))
            & (Lesson.date < monday)
            & (Lesson.state != "cancelled")
        )
        .group_by(Lesson.group)
    )
    query = _lessons(
        sorted(group_ids), (Lesson.date < monday) & (Lesson.state != "cancelled")
    ).join(
        last_day,
        on=((Lesson.group == last_day.c.group_id) & (Lesson.date == last_day.c.day)),
        src=Lesson,
    )
    found: dict[int, Lesson] = {}
    for lesson in query.order_by(Lesson.number):
        found[lesson.group_id] = lesson  # the day's last lesson wins
    return found


def _day_notes(monday: dt.date, sunday: dt.date, grade: int | None) -> dict[dt.date, str]:
    """Holidays and vacations of the week for the student's grade."""
    query = NonSchoolDay.select().where(
        NonSchoolDay.date.between(monday, sunday) & NonSchoolDay.kind.in_(DAY_OFF_KINDS)
    )
    if grade is not None:
        query = query.where((NonSchoolDay.grade_from <= grade) & (NonSchoolDay.grade_to >= grade))
    labels = {"holiday": "Праздник", "vacation": "Каникулы"}
    return {
        row.date: f"{labels[row.kind]}: {row.note}" if row.note else labels[row.kind]
        for row in query
    }


def homework_lesson(student: Person, lesson_id: int) -> Lesson | None:
    """A lesson of a group the student is or was in (flagged `shown` when published).

    None for any other lesson: the file route then answers 404, as for a missing one.
    """
    group_ids = sorted({link.group_id for link in memberships(student)})
    if not group_ids:
        return None
    return _lessons(group_ids, Lesson.id == lesson_id).first()
