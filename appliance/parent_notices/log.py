"""Who was notified of what and when (§4.3): the school's record of notices to parents.

Every notice is a `Notification` row; this reads them back in a reader's scope — a
teacher: the notices they sent and those about their groups' subjects; a class
teacher: everything about the students of their class; the office: all — with
whether the parent has read it (the notice's own ``read_at``, else the parent's read
mark on its message thread). A fixed number of queries for any number of rows.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from peewee import JOIN, fn

from .. import access
from ..access import ActiveRole
from ..models import (
    Enrollment,
    Notification,
    Person,
    SubjectGroupStudent,
    ThreadParticipant,
    User,
)
from . import texts

LIMIT = 500
OFFICE = frozenset({"director", "deputy", "inspector"})


@dataclass(frozen=True)
class LogFilter:
    class_id: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    kind: str = ""


@dataclass
class LogEntry:
    notice: Notification
    payload: dict
    read_at: dt.datetime | None = None

    @property
    def kind_label(self) -> str:
        return texts.KIND_LABELS.get(self.notice.kind, self.notice.kind)

    @property
    def channel_label(self) -> str:
        return texts.CHANNEL_LABELS.get(self.notice.channel, self.notice.channel)

    @property
    def sender_name(self) -> str:
        user = self.notice.created_by
        return user.person.short_name if user is not None else ""

    @property
    def job_id(self) -> int | None:
        return self.payload.get("job_id")


def notice_log(
    person: Person, user: User, active: ActiveRole, flt: LogFilter, *, limit: int = LIMIT
) -> list[LogEntry]:
    """The notices the reader may see, newest first, with their read state."""
    query = (
        notices_with_people()
        .where(_scope(person, user, active))
        .order_by(Notification.sent_at.desc(), Notification.id.desc())
        .limit(limit)
    )
    if flt.class_id is not None:
        query = query.where(Notification.student.in_(_class_students(flt.class_id)))
    if flt.date_from is not None:
        query = query.where(Notification.sent_at >= dt.datetime.combine(flt.date_from, dt.time()))
    if flt.date_to is not None:
        after = dt.datetime.combine(flt.date_to + dt.timedelta(days=1), dt.time())
        query = query.where(Notification.sent_at < after)
    if flt.kind in Notification.KINDS:
        query = query.where(Notification.kind == flt.kind)
    entries = [LogEntry(n, json.loads(n.payload or "{}")) for n in query]
    _read_states(entries)
    return entries


def notices_with_people():
    """Notices with their student, parent, sender and sender's person: one query for a list."""
    student, parent, sender = Person.alias(), Person.alias(), Person.alias()
    return (
        Notification.select(Notification, student, parent, User, sender)
        .join(student, on=(Notification.student == student.id), attr="student")
        .switch(Notification)
        .join(parent, JOIN.LEFT_OUTER, on=(Notification.recipient == parent.id), attr="recipient")
        .switch(Notification)
        .join(User, JOIN.LEFT_OUTER, on=(Notification.created_by == User.id), attr="created_by")
        .join(sender, JOIN.LEFT_OUTER, on=(User.person == sender.id), attr="person")
    )


def _class_students(class_id: int):
    """Everyone enrolled in the class at any time: a notice stays with the class it was about."""
    return Enrollment.select(Enrollment.student).where(Enrollment.school_class == class_id)


def _scope(person: Person, user: User, active: ActiveRole):
    if active.role in OFFICE:
        return Notification.id.is_null(False)
    mine = Notification.created_by == user
    if active.role == "class_teacher" and active.class_id:
        return mine | Notification.student.in_(_class_students(active.class_id))
    if active.role == "teacher":
        groups = sorted(access.teacher_group_ids(person))
        if not groups:
            return mine
        # Notices about the teacher's own subject groups; a digest (every subject) is not.
        students = SubjectGroupStudent.select(SubjectGroupStudent.student).where(
            SubjectGroupStudent.group.in_(groups)
        )
        about_mine = (
            (Notification.kind != "digest")
            & Notification.student.in_(students)
            & fn.json_extract(Notification.payload, "$.group_id").in_(groups)
        )
        return mine | about_mine
    return mine


def _read_states(entries: list[LogEntry]) -> None:
    """For app notices: read_at, else when the parent last read the notice's thread."""
    threads = {e.payload["thread_id"] for e in entries if e.payload.get("thread_id") is not None}
    for entry in entries:
        entry.read_at = entry.notice.read_at
    if not threads:
        return
    reads = (
        ThreadParticipant.select(
            ThreadParticipant.thread, User.person, ThreadParticipant.last_read_at
        )
        .join(User)
        .where(
            ThreadParticipant.thread.in_(list(threads))
            & ThreadParticipant.last_read_at.is_null(False)
        )
        .tuples()
    )
    seen = {(thread, person): at for thread, person, at in reads}
    for entry in entries:
        thread = entry.payload.get("thread_id")
        if entry.read_at is None and thread is not None:
            entry.read_at = seen.get((thread, entry.notice.recipient_id))
