"""The weekly digest «Итоги недели» to parents (§7.3: «регулярно оповещает родителей»).

On Friday afternoon the worker sends each enrolled student's parents who have an
account a message from the class teacher: the week's marks with subjects and work
types, absences and lateness, the homework given this week, and the lessons of the
week the student missed («Н», «УП», «Б») that had homework — what to catch up on.
Only what the diary shows is told (`publishing.visible`): a parent never reads a mark
here before the diary has it. A student's parents share one thread (a family reads its
messages together), and each gets a `Notification(kind="digest")`.

Idempotent per week: the week's Monday is stored in the notice, and a student's
parents already sent that week's digest are skipped, so a second run (a retry after
a crash, a manual run) sends nothing new. A student with nothing to report (a
holiday week) gets no digest.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import jobs, messaging
from ..db import write
from ..models import (
    Assignment,
    Attendance,
    Enrollment,
    Lesson,
    Mark,
    Notification,
    Person,
    RoleGrant,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    User,
    WorkType,
    now,
)
from ..publishing import visible
from ..school_calendar import current_year
from . import texts
from .parents import Contact, parent_contacts

DIGEST_JOB = "parent_notices.digest"
ATTENDANCE_SHOWN = tuple(texts.ATTENDANCE_WORDS)
MISSED = ("Н", "УП", "Б")  # absent from the lesson (lateness «ОП» is not a missed lesson)
PROGRESS_EVERY = 10

Progress = Callable[[int, int], None]


def digest_week(day: dt.date) -> dt.date:
    """The Monday of the week a digest sent on ``day`` reports.

    From Friday on, this week; earlier (a worker catching up after the box was off
    over the weekend), the week just over.
    """
    monday = day - dt.timedelta(days=day.weekday())
    return monday if day.isoweekday() >= 5 else monday - dt.timedelta(days=7)


@dataclass
class DigestReport:
    week: dt.date
    checked: int = 0  # students with at least one parent account
    sent: int = 0  # notifications (one per parent)
    students: int = 0  # students whose parents got a digest
    already: int = 0  # students whose parents had this week's digest
    nothing: int = 0  # students with nothing to report
    no_sender: int = 0  # students of a class with no class teacher account and no director


@dataclass
class Week:
    """What one student's digest tells."""

    marks: list[tuple[dt.date, str, str, str]]
    absences: list[tuple[dt.date, str, str]]
    homework: list[tuple[dt.date, str, str]]
    missed: list[tuple[dt.date, str, str]] = field(default_factory=list)  # (date, subject, hw)

    @property
    def empty(self) -> bool:
        return not (self.marks or self.absences or self.homework or self.missed)


def send_weekly_digests(
    week_start: dt.date | None = None, *, progress: Progress | None = None
) -> DigestReport:
    """Send this week's digests that are not sent yet; one transaction per student."""
    week_start = week_start or digest_week(dt.date.today())
    week_end = week_start + dt.timedelta(days=6)
    report = DigestReport(week_start)
    year = current_year()
    if year is None:
        return report
    classes = _enrolled(year, week_start, week_end)
    contacts = {
        sid: [c for c in found if c.user is not None]
        for sid, found in parent_contacts(list(classes)).items()
    }
    students = sorted(sid for sid, found in contacts.items() if found)
    if not students:
        return report
    report.checked = len(students)
    people = {p.id: p for p in Person.select().where(Person.id.in_(students))}
    senders = _senders({classes[sid] for sid in students})
    weeks = _weeks(students, week_start, week_end)
    done = _already_sent(students, week_start)
    for n, sid in enumerate(students, 1):
        school_class = classes[sid]
        sender = senders.get(school_class.id)
        todo = [c for c in contacts[sid] if c.parent.id not in done[sid] and c.user != sender]
        if not todo:
            report.already += 1
        elif weeks[sid].empty:
            report.nothing += 1
        elif sender is None:
            report.no_sender += 1
        else:
            sent = _send(people[sid], school_class, week_start, weeks[sid], sender, todo)
            report.sent += sent
            report.students += 1 if sent else 0
        if progress and (n % PROGRESS_EVERY == 0 or n == len(students)):
            progress(n, len(students))
    return report


def _enrolled(year, week_start: dt.date, week_end: dt.date) -> dict[int, SchoolClass]:
    """Students enrolled in a class of the year during the week, with that class."""
    query = (
        Enrollment.select(Enrollment, SchoolClass)
        .join(SchoolClass)
        .where(
            (SchoolClass.year == year)
            & (Enrollment.starts <= week_end)
            & (Enrollment.ends.is_null() | (Enrollment.ends >= week_start))
        )
        .order_by(Enrollment.starts)
    )
    return {e.student_id: e.school_class for e in query}  # a move in the week: the new class


def _senders(classes: set[SchoolClass]) -> dict[int, User]:
    """Who signs each class's digests: its class teacher, else the director."""
    teachers = {c.class_teacher_id for c in classes if c.class_teacher_id}
    users = {u.person_id: u for u in User.select().where(User.person.in_(teachers))}
    director = (
        User.select()
        .join(RoleGrant)
        .where((RoleGrant.role == "director") & User.is_active)
        .order_by(User.id)
        .first()
    )
    found = {}
    for school_class in classes:
        user = users.get(school_class.class_teacher_id)
        sender = user if user is not None and user.is_active else director
        if sender is not None:
            found[school_class.id] = sender
    return found


def _weeks(students: list[int], week_start: dt.date, week_end: dt.date) -> dict[int, Week]:
    """Every student's week in four queries (published rows only)."""
    weeks = defaultdict(lambda: Week([], [], []))
    in_week = Lesson.date.between(week_start, week_end) & (Lesson.state != "cancelled")
    marks = (
        Mark.select(Mark.student, Lesson.date, Subject.name, Mark.value, WorkType.name)
        .join(Assignment)
        .join(WorkType)
        .switch(Assignment)
        .join(Lesson)
        .join(SubjectGroup)
        .join(Subject)
        .where(in_week & Mark.student.in_(students) & visible(Mark))
        .order_by(Subject.sort_order, Subject.name, Lesson.date, Lesson.number, Mark.id)
    )
    for sid, day, subject, value, work_type in marks.tuples():
        weeks[sid].marks.append((day, subject, value, work_type))
    absences = (
        Attendance.select(Attendance.student, Lesson.date, Subject.name, Attendance.code)
        .join(Lesson)
        .join(SubjectGroup)
        .join(Subject)
        .where(
            in_week
            & Attendance.student.in_(students)
            & Attendance.code.in_(ATTENDANCE_SHOWN)
            & visible(Attendance)
        )
        .order_by(Lesson.date, Lesson.number)
    )
    for sid, day, subject, code in absences.tuples():
        weeks[sid].absences.append((day, subject, code))
    homework = (
        Lesson.select(SubjectGroupStudent.student, Lesson.date, Subject.name, Lesson.homework)
        .join(SubjectGroupStudent, on=SubjectGroupStudent.group == Lesson.group)
        .switch(Lesson)
        .join(SubjectGroup)
        .join(Subject)
        .where(
            in_week
            & SubjectGroupStudent.student.in_(students)
            & (SubjectGroupStudent.starts <= Lesson.date)
            & (SubjectGroupStudent.ends.is_null() | (SubjectGroupStudent.ends >= Lesson.date))
            & (Lesson.homework != "")
            & visible(Lesson)
        )
        .order_by(Lesson.date, Lesson.number)
    )
    for sid, day, subject, text in homework.tuples():
        weeks[sid].homework.append((day, subject, text))
    missed = (
        Attendance.select(Attendance.student, Lesson.date, Subject.name, Lesson.homework)
        .join(Lesson)
        .join(SubjectGroup)
        .join(Subject)
        .where(
            in_week
            & Attendance.student.in_(students)
            & Attendance.code.in_(MISSED)
            & (Lesson.homework != "")
            & visible(Attendance)
            & visible(Lesson)
        )
        .order_by(Lesson.date, Lesson.number)
    )
    for sid, day, subject, text in missed.tuples():
        weeks[sid].missed.append((day, subject, text))
    return weeks


def _already_sent(students: list[int] | int, week_start: dt.date) -> dict[int, set[int]]:
    """Parents (person ids) already sent this week's digest, by student.

    A digest of a week is never sent before that week's Monday, so the search starts there.
    """
    key = week_start.isoformat()
    ids = [students] if isinstance(students, int) else students
    query = Notification.select(
        Notification.student, Notification.recipient, Notification.payload
    ).where(
        (Notification.kind == "digest")
        & Notification.student.in_(ids)
        & (Notification.sent_at >= dt.datetime.combine(week_start, dt.time()))
    )
    found: dict[int, set[int]] = defaultdict(set)
    for sid, parent, payload in query.tuples():
        if json.loads(payload or "{}").get("week") == key:
            found[sid].add(parent)
    return found


def _send(
    student: Person,
    school_class: SchoolClass,
    week_start: dt.date,
    week: Week,
    sender: User,
    contacts: list[Contact],
) -> int:
    """One student's digest to their parents not yet sent it: one thread for the family."""
    subject = texts.digest_subject(student, week_start)
    body = texts.digest_body(
        student,
        school_class.name,
        week_start,
        week.marks,
        week.absences,
        week.homework,
        missed=week.missed,
    )
    with write() as rec:
        done = _already_sent(student.id, week_start)[student.id]  # again, under the lock
        todo = [c for c in contacts if c.parent.id not in done]
        if not todo:
            return 0
        thread, _ = messaging.start_thread(sender, [c.user for c in todo], subject, body, rec=rec)
        payload = {
            "week": week_start.isoformat(),
            "thread_id": thread.id,
            "class": school_class.name,
            "class_id": school_class.id,
            "auto": True,
        }
        for contact in todo:
            notice = Notification.create(
                kind="digest",
                channel="app",
                student=student,
                recipient=contact.parent,
                created_by=sender,
                body=body,
                payload=json.dumps(payload, ensure_ascii=False, sort_keys=True),
                sent_at=now(),
            )
            rec.record("parent_notice.digest", notice, op="create")
    return len(todo)


@jobs.handler(DIGEST_JOB)
def weekly_digest(ctx: jobs.JobContext) -> None:
    """The periodic job (Fridays 15:00); ``week`` (a Monday, ISO) in params for a re-run."""
    raw = ctx.params.get("week")
    week = dt.date.fromisoformat(raw) if raw else None
    report = send_weekly_digests(week, progress=lambda done, total: ctx.progress(done, total))
    message = f"сводок отправлено — {report.sent} (учеников: {report.students})"
    ctx.progress(report.checked, report.checked, message)
    return None


jobs.PERIODIC.append(jobs.Periodic("weekly_digest", DIGEST_JOB, jobs.weekly(5, 15)))
