"""Telling people about a one-off change: a notice on each one's first page (§7.5).

The teachers concerned (the one who had the lesson and the one who takes it), the
group's students on that day and their parents — whoever of them has an account.
"""

from __future__ import annotations

import datetime as dt

from ..models import (
    Enrollment,
    Guardian,
    Lesson,
    Person,
    SubjectGroup,
    SubjectGroupStudent,
    TimetableChange,
    User,
    UserNotice,
    now,
)


def notify(lesson: Lesson, change: TimetableChange, old_teacher: Person | None, text: str):
    """A notice for the teachers (old and new), the group's students and their parents."""
    day = change.new_date if change.kind == "moved" and change.new_date else change.date
    teachers = {p.id for p in (old_teacher, lesson.teacher, change.teacher) if p is not None}
    students = _students_of(lesson.group, change.date)
    parents: dict[int, int] = {}
    for parent_id, student_id in (
        Guardian.select(Guardian.parent, Guardian.student)
        .where(Guardian.student.in_(list(students) or [0]))
        .tuples()
    ):
        parents.setdefault(parent_id, student_id)
    people = teachers | students | set(parents)
    link = f"/timetable/?on={day.isoformat()}"
    rows = []
    for user_id, person_id in (
        User.select(User.id, User.person)
        .where(User.person.in_(list(people) or [0]) & User.is_active)
        .tuples()
    ):
        child = parents.get(person_id) if person_id not in teachers | students else None
        rows.append(
            {
                "user": user_id,
                "kind": "timetable",
                "text": text,
                "link": f"{link}&child={child}" if child else link,
                "created_at": now(),
            }
        )
    if rows:
        UserNotice.insert_many(rows).execute()


def _students_of(group: SubjectGroup, day: dt.date) -> set[int]:
    """The group's students on ``day``; a group with none listed: the class's."""
    members = {
        s
        for (s,) in SubjectGroupStudent.select(SubjectGroupStudent.student)
        .where(
            (SubjectGroupStudent.group == group)
            & (SubjectGroupStudent.starts <= day)
            & (SubjectGroupStudent.ends.is_null() | (SubjectGroupStudent.ends >= day))
        )
        .tuples()
    }
    if members:
        return members
    return {
        s
        for (s,) in Enrollment.select(Enrollment.student)
        .where(
            (Enrollment.school_class == group.school_class_id)
            & (Enrollment.starts <= day)
            & (Enrollment.ends.is_null() | (Enrollment.ends >= day))
        )
        .tuples()
    }
