"""The deputy's journal control (§7.5): unlocks of locked lessons and period marks,
substitutions, and the list of what was unlocked, by whom and why.

A lesson older than the school's past-edit window, or a period mark after its deadline,
can be changed only once the deputy unlocks it with a reason (`journal.grant_unlock`).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from . import audit, journal
from .db import write
from .journal import JournalError
from .models import (
    AuditEntry,
    Lesson,
    Person,
    RoleGrant,
    School,
    SchoolClass,
    Subject,
    SubjectGroup,
    Term,
    Unlock,
    User,
    now,
)
from .period_marks import Period, group_members, period_mark_uuid
from .school_calendar import current_year


def find_lesson(group_id: int | None, day: dt.date | None, number: int | None) -> Lesson:
    """The lesson of a group on a date (and number, when the group meets twice that day)."""
    if group_id is None or day is None:
        raise JournalError("Укажите группу и дату урока.")
    query = Lesson.select().where(
        (Lesson.group == group_id) & (Lesson.date == day) & (Lesson.state != "cancelled")
    )
    if number is not None:
        query = query.where(Lesson.number == number)
    lessons = list(query.order_by(Lesson.number))
    if not lessons:
        raise JournalError(f"У этой группы нет урока {day:%d.%m.%Y}.")
    if len(lessons) > 1:
        numbers = ", ".join(str(x.number) for x in lessons)
        raise JournalError(f"В этот день у группы несколько уроков ({numbers}): укажите номер.")
    return lessons[0]


def unlock_lesson(
    lesson: Lesson, reason: str, *, user: User, ip: str, today: dt.date | None = None
) -> Unlock:
    """Let the teacher change one lesson past the edit window (for 24 hours)."""
    today = today or dt.date.today()
    school = School.get()
    if journal.edit_deadline(lesson, school) >= today:
        raise JournalError(
            f"Урок {lesson.date:%d.%m.%Y} ещё можно изменять без разрешения "
            f"(окно правки — {school.past_edit_days} дней)."
        )
    if journal.active_unlock("Lesson", lesson.uuid) is not None:
        raise JournalError("Изменение этого урока уже разрешено.")
    return journal.grant_unlock("Lesson", lesson.uuid, reason, user=user, ip=ip)


def unlock_period_mark(
    group: SubjectGroup,
    period: Period,
    student_id: int,
    reason: str,
    *,
    user: User,
    ip: str,
    today: dt.date | None = None,
) -> Unlock:
    """Let the teacher change ONE period mark after the deadline, once, with a reason."""
    today = today or dt.date.today()
    if not period.locked(today):
        raise JournalError("Срок ещё не истёк: учитель может изменить эту отметку сам.")
    student = next((s for s in group_members(group, period) if s.id == student_id), None)
    if student is None:
        raise JournalError("Этого ученика нет в группе в этом периоде.")
    key = period_mark_uuid(group, student, period)
    if journal.active_unlock("PeriodMark", key) is not None:
        raise JournalError("Изменение этой отметки уже разрешено.")
    with write(user=user, ip=ip):
        unlock = journal.grant_unlock("PeriodMark", key, reason, user=user, ip=ip)
        # The mark may not exist yet: this entry names it for the unlock list and
        # puts the unlock into the mark's own history.
        audit.append(
            "period_mark.unlock",
            user=user,
            ip=ip,
            entity_type="PeriodMark",
            entity_uuid=key,
            after={
                "unlock": unlock.id,
                "what": f"{group.name}: {student.short_name}, {period.label}",
                "reason": unlock.reason,
            },
        )
    return unlock


@dataclass
class UnlockEntry:
    unlock: Unlock
    what: str
    granted_by: str
    state: str  # активно / использовано / истекло


def recent_unlocks(limit: int = 50) -> list[UnlockEntry]:
    """The latest unlocks with what they opened, who granted them and whether used."""
    unlocks = list(
        Unlock.select(Unlock, User, Person)
        .join(User)
        .join(Person)
        .order_by(Unlock.granted_at.desc(), Unlock.id.desc())
        .limit(limit)
    )
    lessons = {
        x.uuid: x
        for x in Lesson.select(Lesson, SubjectGroup, Subject, SchoolClass)
        .join(SubjectGroup)
        .join(Subject)
        .switch(SubjectGroup)
        .join(SchoolClass)
        .where(Lesson.uuid.in_([u.entity_uuid for u in unlocks if u.entity_type == "Lesson"]))
    }
    marks = {
        e.entity_uuid: json.loads(e.after).get("what", "")
        for e in AuditEntry.select().where(
            (AuditEntry.action == "period_mark.unlock")
            & AuditEntry.entity_uuid.in_(
                [u.entity_uuid for u in unlocks if u.entity_type == "PeriodMark"]
            )
        )
    }
    entries = []
    moment = now()
    for u in unlocks:
        if u.entity_type == "Lesson" and u.entity_uuid in lessons:
            lesson = lessons[u.entity_uuid]
            what = f"{lesson.group.name}: урок {lesson.date:%d.%m.%Y}, №{lesson.number}"
        else:
            what = marks.get(u.entity_uuid) or "отметка за период"
        if u.used_at:
            state = "использовано"
        elif u.expires_at <= moment:
            state = "истекло"
        else:
            state = "активно"
        entries.append(UnlockEntry(u, what, u.granted_by.person.short_name, state))
    return entries


def mark_deadlines() -> list[Term]:
    """The current year's terms with a period-mark deadline, in order."""
    year = current_year()
    if year is None:
        return []
    return list(
        Term.select()
        .where((Term.year == year) & Term.mark_deadline.is_null(False))
        .order_by(Term.mark_deadline, Term.grade_from)
    )


def teachers() -> list[Person]:
    """Staff who hold the teacher role: whom a lesson can be given to."""
    return list(
        Person.select()
        .join(User)
        .join(RoleGrant)
        .where(Person.is_staff & (RoleGrant.role == "teacher"))
        .group_by(Person.id)
        .order_by(Person.last_name, Person.first_name)
    )


def substitute_lesson(
    lesson: Lesson, teacher_id: int | None, reason: str, *, user: User, ip: str
) -> Lesson:
    """Give one lesson to another teacher (the substitute writes it like their own)."""
    teacher = next((t for t in teachers() if t.id == teacher_id), None)
    if teacher is None:
        raise JournalError("Выберите учителя, который заменит урок.")
    return journal.substitute(lesson, teacher, reason, user=user, ip=ip)
