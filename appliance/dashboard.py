"""What each role's first page shows: the teacher's day, a student's next day, overviews."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from peewee import JOIN, fn

from . import access, publishing
from .models import (
    Assignment,
    Attendance,
    Bell,
    BellSchedule,
    Lesson,
    LoginEvent,
    Mark,
    OutboxEntry,
    Person,
    RoleGrant,
    Room,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    User,
)
from .people import data_change_report


@dataclass
class LessonRow:
    lesson: Lesson
    starts: dt.time | None
    ends: dt.time | None
    missing: list[str] = field(default_factory=list)
    published: bool = True  # topic and homework shown to students and parents


def bell_times() -> dict[int, tuple[dt.time, dt.time]]:
    schedule = BellSchedule.select().where(BellSchedule.is_default).first()
    if schedule is None:
        return {}
    return {b.number: (b.starts, b.ends) for b in Bell.select().where(Bell.schedule == schedule)}


def _lessons_query():
    """Lessons with everything a day list shows, in one query (no lazy loads per row)."""
    return (
        Lesson.select(Lesson, SubjectGroup, Subject, SchoolClass, Room)
        .join(SubjectGroup)
        .join(Subject)
        .switch(SubjectGroup)
        .join(SchoolClass)
        .switch(Lesson)
        .join(Room, JOIN.LEFT_OUTER)
        .where(Lesson.state != "cancelled")
    )


def _next_lesson_day(where, today: dt.date) -> dt.date | None:
    first = (
        Lesson.select(fn.MIN(Lesson.date))
        .join(SubjectGroup)
        .where(where & (Lesson.date >= today) & (Lesson.state != "cancelled"))
        .scalar()
    )
    if isinstance(first, str):
        first = dt.date.fromisoformat(first)
    return first


def teacher_day(teacher: Person, today: dt.date | None = None) -> tuple[dt.date | None, list]:
    """Today's lessons of a teacher, or the next school day's, with what is still missing."""
    today = today or dt.date.today()
    day = _next_lesson_day(Lesson.teacher == teacher, today)
    if day is None:
        return None, []
    lessons = list(
        _lessons_query()
        .where((Lesson.teacher == teacher) & (Lesson.date == day))
        .order_by(Lesson.number)
    )
    ids = [lesson.id for lesson in lessons]
    with_marks = {
        a.lesson_id
        for a in Assignment.select(Assignment.lesson).join(Mark).where(Assignment.lesson.in_(ids))
    }
    with_attendance = {
        a.lesson_id for a in Attendance.select(Attendance.lesson).where(Attendance.lesson.in_(ids))
    }
    bells = bell_times()
    rows = []
    for lesson in lessons:
        missing = []
        if not lesson.topic:
            missing.append("тема")
        if not lesson.homework:
            missing.append("домашнее задание")
        if lesson.state != "held" and lesson.id not in with_attendance:
            missing.append("посещаемость")
        if lesson.group.school_class.graded and lesson.id not in with_marks:
            missing.append("оценки")
        starts, ends = bells.get(lesson.number, (None, None))
        rows.append(LessonRow(lesson, starts, ends, missing))
    return day, rows


def student_day(student: Person, today: dt.date | None = None) -> tuple[dt.date | None, list]:
    """The student's lessons of today or the next school day, with published homework."""
    today = today or dt.date.today()
    groups = [
        link.group_id
        for link in SubjectGroupStudent.select(SubjectGroupStudent.group).where(
            (SubjectGroupStudent.student == student)
            & (SubjectGroupStudent.starts <= today)
            & (SubjectGroupStudent.ends.is_null() | (SubjectGroupStudent.ends >= today))
        )
    ]
    if not groups:
        return None, []
    day = _next_lesson_day(Lesson.group.in_(groups), today)
    if day is None:
        return None, []
    bells = bell_times()
    lessons = _lessons_query().where(Lesson.group.in_(groups) & (Lesson.date == day))
    rows = []
    for lesson in lessons.order_by(Lesson.number):
        starts, ends = bells.get(lesson.number, (None, None))
        rows.append(LessonRow(lesson, starts, ends, published=publishing.is_visible(lesson)))
    return day, rows


def class_summary(school_class: SchoolClass) -> dict:
    students = access.class_student_ids(school_class)
    parents = access.class_parent_ids(school_class)
    people = students | parents
    with_accounts = User.select().where(User.person.in_(people)).count() if people else 0
    return {
        "students": len(students),
        "parents": len(parents),
        "without_account": len(people) - with_accounts,
    }


def school_overview(today: dt.date | None = None) -> dict:
    """Journal filling and population at a glance for the director, deputy, inspector."""
    today = today or dt.date.today()
    week_ago = today - dt.timedelta(days=7)
    recent = Lesson.select().where(
        (Lesson.date >= week_ago) & (Lesson.date < today) & (Lesson.state != "cancelled")
    )
    return {
        "classes": SchoolClass.select().where(~SchoolClass.closed).count(),
        "students": RoleGrant.select().where(RoleGrant.role == "student").count(),
        "teachers": RoleGrant.select().where(RoleGrant.role == "teacher").count(),
        "lessons_week": recent.count(),
        "lessons_without_topic": recent.where(Lesson.topic == "").count(),
    }


def admin_overview(data_dir: Path, today: dt.date | None = None) -> dict:
    today = today or dt.date.today()
    since = dt.datetime.combine(today, dt.time()) - dt.timedelta(days=1)
    return {
        "accounts": User.select().count(),
        "locked": User.select()
        .where(User.admin_locked | (User.locked_until > dt.datetime.now()))
        .count(),
        "never_logged_in": User.select().where(User.last_login_at.is_null()).count(),
        "failed_logins_day": LoginEvent.select()
        .where((LoginEvent.success == False) & (LoginEvent.at >= since))  # noqa: E712
        .count(),
        "overdue_changes": sum(1 for row in data_change_report(today) if row.overdue),
        "outbox_pending": OutboxEntry.select().where(OutboxEntry.state == "pending").count(),
        "free_disk_mb": shutil.disk_usage(data_dir).free // (1024 * 1024),
    }


def staff_without_login() -> list[User]:
    return list(
        User.select(User, Person)
        .join(Person)
        .switch(User)
        .join(LoginEvent, JOIN.LEFT_OUTER, on=(LoginEvent.user == User.id))
        .where(Person.is_staff & LoginEvent.id.is_null())
        .order_by(Person.last_name)
    )
