"""Conflicts: a journal cell changed both on the box and in АСУ РСО since they agreed.

The pull's rule picks the value the journal shows — the box's own when it had an unsent
edit (`chosen` "local"), АСУ РСО's when the cell had never been synced ("remote") — and
keeps both; the group's teacher then confirms what the journal shows or takes the other
value («Взять из АСУ РСО» / «Вернуть моё»). Taking a value is an ordinary journal edit
through `appliance.journal` — checked, audited and queued for sync like any other — so
the journal's rules (the edit window, the group's roster, the mark scale) hold here too.

Scope: a teacher handles the conflicts of the groups they teach; the office (director,
deputy, admin) sees every open conflict on the status page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .. import journal
from ..access import ActiveRole, teacher_group_ids
from ..db import snapshot, write
from ..models import Assignment, Lesson, SubjectGroup, SyncConflict, User, now

OFFICE = frozenset({"director", "deputy", "admin"})
KIND_LABELS = {
    "mark": "отметка",
    "attendance": "посещаемость",
    "topic": "тема урока",
    "homework": "домашнее задание",
}


class ConflictError(ValueError):
    """A conflict cannot be resolved this way (message in Russian)."""

    status = 400


def _role_name(role: ActiveRole | str) -> str:
    return role.role if isinstance(role, ActiveRole) else str(role)


def _open():
    return (
        SyncConflict.select()
        .where(SyncConflict.resolved_at.is_null())
        .order_by(SyncConflict.detected_at, SyncConflict.id)
    )


def mine(user: User) -> list[SyncConflict]:
    """Open conflicts in the groups this user teaches (what they can resolve)."""
    groups = teacher_group_ids(user.person)
    if not groups:
        return []
    return list(_open().where(SyncConflict.group_id.in_(groups)))


def open_for(user: User, role: ActiveRole | str) -> list[SyncConflict]:
    """Open conflicts the role sees: the office all of them, a teacher their groups'."""
    if _role_name(role) in OFFICE:
        return list(_open())
    return mine(user)


def find_mine(conflict_id: Any, user: User) -> SyncConflict | None:
    """An open conflict of a group this user teaches, or None (the page answers 404)."""
    try:
        conflict_id = int(conflict_id)
    except (TypeError, ValueError):
        return None
    conflict = SyncConflict.get_or_none(SyncConflict.id == conflict_id)
    if conflict is None or conflict.resolved_at is not None:
        return None
    if conflict.group_id is None or conflict.group_id not in teacher_group_ids(user.person):
        return None
    return conflict


def cell_of(conflict: SyncConflict) -> dict[str, Any]:
    try:
        cell = json.loads(conflict.cell or "{}")
    except ValueError:
        return {}
    return cell if isinstance(cell, dict) else {}


@dataclass(frozen=True)
class Row:
    """A conflict as a list shows it."""

    conflict: SyncConflict
    group: str  # «Математика — 5А», or "" if the group is gone
    kind: str  # «отметка»

    @property
    def id(self) -> int:
        return self.conflict.id

    @property
    def shown(self) -> str:
        """The value the journal shows now (the rule's choice)."""
        c = self.conflict
        return c.remote_value if c.chosen == "remote" else c.local_value


def rows(conflicts: list[SyncConflict]) -> list[Row]:
    """Conflicts with their group's name and the cell's kind, in one extra query."""
    ids = {c.group_id for c in conflicts if c.group_id is not None}
    names = {g.id: g.name for g in SubjectGroup.select().where(SubjectGroup.id.in_(ids))}
    return [
        Row(
            conflict=c,
            group=names.get(c.group_id, ""),
            kind=KIND_LABELS.get(str(cell_of(c).get("kind", "")), "запись журнала"),
        )
        for c in conflicts
    ]


def _resolve(rec, conflict: SyncConflict, action: str, user: User, chosen: str) -> SyncConflict:
    """Mark the conflict resolved (re-read under the write lock: never twice)."""
    fresh = SyncConflict.get_or_none(SyncConflict.id == conflict.id)
    if fresh is None or fresh.resolved_at is not None:
        raise ConflictError("Это расхождение уже разобрано: обновите страницу.")
    before = snapshot(fresh)
    fresh.chosen = chosen
    fresh.resolved_at = now()
    fresh.resolved_by = user.username
    fresh.save()
    rec.record(action, fresh, before=before)
    return fresh


def confirm(conflict: SyncConflict, user: User, ip: str = "") -> SyncConflict:
    """Keep the value the journal shows («Оставить моё» when it is the box's own)."""
    with write(user=user, ip=ip) as rec:
        return _resolve(rec, conflict, "sync_conflict.confirm", user, conflict.chosen)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _apply(conflict: SyncConflict, value: str, user: User, ip: str) -> None:
    """Write `value` into the conflict's cell through the ordinary journal functions."""
    cell = cell_of(conflict)
    kind = cell.get("kind")
    if kind == "mark":
        assignment = Assignment.get_or_none(Assignment.id == _int(cell.get("assignment_id")))
        if assignment is None:
            raise ConflictError(
                "Работы, к которой относится эта отметка, в журнале больше нет: "
                "поставьте отметку вручную."
            )
        journal.set_mark(assignment, _int(cell.get("student_id")) or 0, value, user=user, ip=ip)
        return
    if kind not in ("attendance", "topic", "homework"):
        raise ConflictError("Это расхождение нельзя разобрать автоматически: исправьте журнал.")
    lesson = Lesson.get_or_none(Lesson.id == _int(cell.get("lesson_id")))
    if lesson is None:
        raise ConflictError("Этого урока в журнале больше нет: исправьте журнал вручную.")
    if kind == "attendance":
        journal.set_attendance(lesson, _int(cell.get("student_id")) or 0, value, user=user, ip=ip)
    elif kind == "topic":
        journal.set_topic(lesson, value, user=user, ip=ip)
    else:
        journal.set_homework(lesson, value, user=user, ip=ip)


def _take(conflict: SyncConflict, chosen: str, action: str, user: User, ip: str) -> SyncConflict:
    """Put one side's value into the journal and resolve: one transaction.

    Journal refusals (an old lesson without the deputy's unlock, a student no longer in
    the group, a value outside the scale) come back as ConflictError with their message.
    """
    try:
        with write(user=user, ip=ip) as rec:
            fresh = SyncConflict.get_or_none(SyncConflict.id == conflict.id)
            if fresh is None or fresh.resolved_at is not None:
                raise ConflictError("Это расхождение уже разобрано: обновите страницу.")
            value = fresh.remote_value if chosen == "remote" else fresh.local_value
            _apply(fresh, value or "", user, ip)
            return _resolve(rec, fresh, action, user, chosen)
    except journal.JournalError as exc:
        raise ConflictError(str(exc)) from exc


def take_remote(conflict: SyncConflict, user: User, ip: str = "") -> SyncConflict:
    """«Взять из АСУ РСО»: АСУ РСО's value goes into the journal (and is sent back)."""
    return _take(conflict, "remote", "sync_conflict.take_remote", user, ip)


def take_local(conflict: SyncConflict, user: User, ip: str = "") -> SyncConflict:
    """«Вернуть моё»: when the rule kept АСУ РСО's value, the box's old value comes back
    into the journal and goes to АСУ РСО like any edit."""
    return _take(conflict, "local", "sync_conflict.take_local", user, ip)
