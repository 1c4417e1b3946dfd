"""The one-click notice to parents of a student at risk (§7.3, §7.4).

One user action is one transaction: for each parent a `Notification` row — channel
"app" with a message thread from the sender to that parent when the parent has an
account, channel "letter" otherwise — audited, and one background job that prints
all the letters of the action into one PDF. The parents with an account share
one thread, as every message to a family does (`messages_rules.split_by_family`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from .. import access, jobs, messaging
from ..access import ActiveRole
from ..db import write
from ..models import Job, Notification, Person, User, now
from . import texts
from .letters import LETTERS_JOB
from .parents import Contact, parent_contacts
from .risk import KINDS, Risk, at_risk, latest_notices

WRITERS = frozenset({"teacher", "class_teacher"})
UNPUBLISHED = (
    "{name} в зоне риска только с учётом ещё не опубликованных отметок или пропусков "
    "(их пока нет в дневнике: АСУ РСО их не приняла). По опубликованным данным "
    "уведомлять не о чем — родители не получат сведений, которых не видят в дневнике."
)


class NoticeError(ValueError):
    """A notice refused for a reason the sender can act on (message in Russian)."""


@dataclass
class Sent:
    notifications: list[Notification] = field(default_factory=list)
    job: Job | None = None  # the letters' PDF, when some parent has no account
    without_parents: list[Person] = field(default_factory=list)
    already: list[Person] = field(default_factory=list)  # notified meanwhile (a double click)

    def count(self, channel: str) -> int:
        return sum(1 for n in self.notifications if n.channel == channel)


def may_notify(person: Person, active: ActiveRole, student: Person) -> bool:
    """Write scope: a teacher for students of their groups, a class teacher for their class."""
    return active.role in WRITERS and access.can_see_student(person, active, student)


def find_risk(
    person: Person,
    active: ActiveRole,
    student: Person,
    kind: str,
    group_id: int | None,
    today: dt.date | None = None,
) -> Risk:
    """The at-risk row the sender asks about, judged on published rows only (what the
    parents' diary shows); NoticeError when the student is not at risk on them."""
    if kind not in KINDS:
        raise NoticeError("Выберите, о чём уведомить: неуспеваемость или пропуски.")

    def matches(row: Risk) -> bool:
        return row.kind == kind and (row.group is None or row.group_id == group_id)

    for row in at_risk(person, active, student_id=student.id, today=today, published=True):
        if matches(row):
            return row
    if any(matches(r) for r in at_risk(person, active, student_id=student.id, today=today)):
        raise NoticeError(UNPUBLISHED.format(name=student.full_name))
    raise NoticeError(
        f"{student.full_name} сейчас не в списке «в зоне риска» по этой причине: "
        "уведомлять не о чем. Обновите страницу."
    )


def notify_student(
    person: Person,
    active: ActiveRole,
    student: Person,
    kind: str,
    group_id: int | None,
    *,
    user: User,
    ip: str = "",
    today: dt.date | None = None,
) -> Sent:
    """The one-click notice about one student (facts recomputed now, not taken from the form)."""
    row = find_risk(person, active, student, kind, group_id, today)
    sent = send_notices([row], role=active.role, sender=user, ip=ip)
    if sent.already:
        raise NoticeError(
            f"Родители ученика {student.full_name} уже уведомлены только что "
            "(повторное нажатие): второе уведомление не отправлено."
        )
    if sent.without_parents:
        raise NoticeError(
            f"У ученика {student.full_name} не записаны родители: "
            "их вносит классный руководитель в карточке ученика."
        )
    return sent


def notify_everyone_due(
    person: Person, active: ActiveRole, *, user: User, ip: str = "", today: dt.date | None = None
) -> Sent:
    """Notify about every row of the sender's list whose parents were not told this term.

    Judged on published rows only: a student at risk only through marks or absences the
    diary does not show yet is not notified (the parents must not learn of them here).
    """
    rows = [r for r in at_risk(person, active, today=today, published=True) if r.notified is None]
    if not rows:
        if any(r.notified is None for r in at_risk(person, active, today=today)):
            raise NoticeError(
                "Уведомлять некого по опубликованным данным: оставшиеся ученики списка "
                "в зоне риска только с учётом отметок или пропусков, которых ещё нет "
                "в дневнике (АСУ РСО их не приняла)."
            )
        raise NoticeError("Уведомлять некого: по всем ученикам списка родители уже уведомлены.")
    sent = send_notices(rows, role=active.role, sender=user, ip=ip)
    if not sent.notifications and sent.already:
        raise NoticeError("Уведомлять некого: родители только что уведомлены (повторное нажатие).")
    return sent


def send_notices(rows: list[Risk], *, role: str, sender: User, ip: str = "") -> Sent:
    """Notices for these rows in ONE transaction, with one letters job for all letters.

    Students without recorded parents are skipped and listed in the result. The rows'
    notices are looked up again under the write lock: a row whose latest notice this term
    is no longer the one the sender saw (`Risk.notified`) was notified meanwhile — by a
    double click or a colleague — and is skipped (listed in ``already``).
    """
    contacts = parent_contacts({r.student.id for r in rows})
    sent = Sent()
    with write(user=sender, ip=ip) as rec:
        latest = latest_notices(rows)
        for row, notice in zip(rows, latest, strict=True):
            if _id(notice) != _id(row.notified):
                sent.already.append(row.student)
                continue
            reachable = [c for c in contacts.get(row.student.id, []) if c.user != sender]
            if not reachable:
                sent.without_parents.append(row.student)
                continue
            sent.notifications += _notices(row, reachable, role, sender, rec)
        letters = [n for n in sent.notifications if n.channel == "letter"]
        if letters:
            sent.job = jobs.enqueue(
                LETTERS_JOB, {"notifications": [n.id for n in letters]}, user=sender
            )
            for notice in letters:
                payload = json.loads(notice.payload)
                payload["job_id"] = sent.job.id
                notice.payload = _json(payload)
                notice.save()
        for notice in sent.notifications:
            rec.record("parent_notice.send", notice, op="create")
    return sent


def facts_payload(row: Risk, title: str) -> dict:
    """The facts as they were when sent: the log and the letters show these, never recompute."""
    period = row.period
    return {
        "class": row.school_class.name,
        "class_id": row.school_class.id,
        "subject": row.subject_name,
        "subject_id": row.subject_id,
        "group_id": row.group_id,
        "term": period.label,
        "term_id": period.term_id,
        "starts": period.starts.isoformat(),
        "ends": period.ends.isoformat(),
        "average": None if row.average is None else str(row.average),
        "predicted": row.predicted,
        "marks": row.marks,
        "absences": row.absences,
        "sender_title": title,
    }


def _id(notice: Notification | None) -> int | None:
    return None if notice is None else notice.id


def _json(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


def _notices(
    row: Risk, contacts: list[Contact], role: str, sender: User, rec
) -> list[Notification]:
    """One student's notice: one thread for the parents with an account (a family reads
    it together, as every message to a family), a letter for each of the others."""
    title = texts.sender_title(row, role)
    facts = facts_payload(row, title)
    in_app = [c for c in contacts if c.user is not None]
    notices = []
    if in_app:
        body = texts.notice_body(row, [c.parent for c in in_app], "app", sender.person, title)
        thread, _ = messaging.start_thread(
            sender, [c.user for c in in_app], texts.subject_line(row), body, rec=rec
        )
        payload = {**facts, "thread_id": thread.id}
        notices += [_record(row, c, sender, body, payload) for c in in_app]
    for contact in contacts:
        if contact.user is None:
            body = texts.notice_body(row, [contact.parent], "letter", sender.person, title)
            notices.append(_record(row, contact, sender, body, facts))
    return notices


def _record(row: Risk, contact: Contact, sender: User, body: str, payload: dict) -> Notification:
    return Notification.create(
        kind=row.kind,
        channel=contact.channel,
        student=row.student,
        recipient=contact.parent,
        created_by=sender,
        body=body,
        payload=_json(payload),
        sent_at=now(),
    )
