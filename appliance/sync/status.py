"""What the sync status page shows: the backlog, the last runs, parked changes, own edits.

The admin needs to know at a glance whether АСУ РСО receives the journal: how many
changes wait and since when, when it last worked, why it last failed, and whether a
person must act (a wrong password, Gosuslugi-only login). Parked changes are shown with
the upstream's reason and what the cell is in words a teacher understands («5А ·
Математика · 05.11.2026 · Иванов Пётр — отметка «5»»), so the admin can fix the cause
and send them again. A teacher sees only the changes they made themselves, in two
lists that must not be mixed up: those waiting to be sent (they leave by themselves
unless sending is stopped) and those АСУ РСО refused (each with what to do about it).

Everything here only reads, except `retry_parked`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from peewee import Case, fn

from .. import publishing
from ..db import write
from ..models import (
    Assignment,
    Attendance,
    AuditEntry,
    Lesson,
    Mark,
    OutboxEntry,
    PeriodMark,
    Person,
    SubjectGroup,
    SyncConflict,
    SyncRun,
    Term,
    User,
    now,
)
from .outbox import before_delete

WAITING = ("pending", "parked")
ERROR_STATES = ("offline", "needs_action", "not_configured", "error")
LIST_LIMIT = 200  # rows a list shows; the counts are always complete

# What a change of a lesson row was, by the action that made it (the payload is the
# whole row, so the audit says which field the person changed).
LESSON_ACTIONS = {
    "lesson.topic": "тема урока",
    "lesson.homework": "домашнее задание",
    "lesson.held": "урок проведён",
}
ENTITY_LABELS = {
    "Mark": "отметка",
    "Attendance": "посещаемость",
    "Lesson": "урок",
    "Assignment": "работа на уроке",
    "PeriodMark": "отметка за период",
}
RUN_STATUS_LABELS = {
    "ok": "успешно",
    "offline": "нет связи",
    "needs_action": "нужно действие",
    "not_configured": "не настроена",
    "error": "сбой",  # not «ошибка»: the page's label «Последняя ошибка» says that already
    "running": "идёт",
}
# The engine closes a run a killed worker left «running» with this message (status
# "error"); its counts were never written, so the page must not show them as zeros.
INTERRUPTED_PREFIX = "Прервано"
# A refusal reason that tells the teacher to enter the value in АСУ РСО by hand
# (`push`: a second work of a kind, year and final marks): sending it again cannot help.
BY_HAND = "вручную"


class SyncStatusError(ValueError):
    """A status-page action cannot be done (message in Russian)."""


# --- what a cell is, in words ----------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One journal cell described for people: what, where, whose, which value."""

    what: str  # «отметка», «тема урока»
    where: str  # «5А · Математика · 05.11.2026» (empty when the row is gone for good)
    student: str  # «Иванов Пётр» or ""
    value: str  # the value being sent; «(удаление)» for a cleared cell
    group_id: int | None = None

    @property
    def text(self) -> str:
        parts = [p for p in (self.where, self.student) if p]
        head = ", ".join(parts) if parts else "запись удалена из журнала"
        value = f" «{self.value}»" if self.value else ""
        return f"{head} — {self.what}{value}"


def _lesson_where(lesson: Lesson | None) -> tuple[str, int | None]:
    if lesson is None:
        return "", None
    group = lesson.group
    return (
        f"{group.school_class.name} · {group.subject.name} · {lesson.date:%d.%m.%Y}, "
        f"{lesson.number}-й урок",
        group.id,
    )


def _group_where(group: SubjectGroup | None, term: Term | None, kind: str) -> str:
    if group is None:
        return ""
    period = term.name if term is not None else {"year": "год", "final": "итог"}.get(kind, "")
    where = f"{group.school_class.name} · {group.subject.name}"
    return f"{where} · {period}" if period else where


def _get(model, row_id: Any):
    try:
        return model.get_or_none(model.id == int(row_id)) if row_id not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _student_name(student: Person | None) -> str:
    if student is None:
        return ""
    return f"{student.last_name} {student.first_name}".strip()


def describe(
    entity_type: str,
    entity_uuid: str,
    payload: dict[str, Any] | None = None,
    *,
    op: str = "upsert",
    action: str = "",
) -> Cell:
    """The cell behind an outbox entry, from its row if it still exists, else its data.

    `payload` is the entry's snapshot (empty for a delete: then the row as the audit saw
    it before the deletion is used). `action` is the audit code of its latest change.
    """
    data = dict(payload or {})
    if not data:
        data = before_delete(entity_uuid)
    deleted = op == "delete"
    what = ENTITY_LABELS.get(entity_type, entity_type)
    value = "(удаление)" if deleted else ""
    where, student, group_id = "", "", None
    if entity_type == "Mark":
        row = None if deleted else Mark.get_or_none(Mark.uuid == entity_uuid)
        assignment = row.assignment if row else _get(Assignment, data.get("assignment"))
        lesson = assignment.lesson if assignment else None
        where, group_id = _lesson_where(lesson)
        student = _student_name(row.student if row else _get(Person, data.get("student")))
        value = value or str(row.value if row else data.get("value", ""))
    elif entity_type == "Attendance":
        row = None if deleted else Attendance.get_or_none(Attendance.uuid == entity_uuid)
        lesson = row.lesson if row else _get(Lesson, data.get("lesson"))
        where, group_id = _lesson_where(lesson)
        student = _student_name(row.student if row else _get(Person, data.get("student")))
        value = value or str(row.code if row else data.get("code", ""))
    elif entity_type == "Lesson":
        lesson = Lesson.get_or_none(Lesson.uuid == entity_uuid)
        where, group_id = _lesson_where(lesson)
        what = LESSON_ACTIONS.get(action, what)
        if not deleted and action == "lesson.topic":
            value = str(data.get("topic", ""))
        elif not deleted and action == "lesson.homework":
            value = str(data.get("homework", ""))
    elif entity_type == "Assignment":
        row = None if deleted else Assignment.get_or_none(Assignment.uuid == entity_uuid)
        lesson = row.lesson if row else _get(Lesson, data.get("lesson"))
        where, group_id = _lesson_where(lesson)
        value = value or str(data.get("title", ""))
    elif entity_type == "PeriodMark":
        row = None if deleted else PeriodMark.get_or_none(PeriodMark.uuid == entity_uuid)
        group = row.group if row else _get(SubjectGroup, data.get("group"))
        term = row.term if row else _get(Term, data.get("term"))
        where = _group_where(group, term, str(row.kind if row else data.get("kind", "")))
        group_id = group.id if group is not None else None
        student = _student_name(row.student if row else _get(Person, data.get("student")))
        value = value or str(row.value if row else data.get("value", ""))
    if len(value) > 80:
        value = value[:77] + "…"
    return Cell(what=what, where=where, student=student, value=value, group_id=group_id)


# --- the backlog ---------------------------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """One cell with changes not yet accepted (its entries coalesce into one send)."""

    entity_type: str
    entity_uuid: str
    state: str  # "pending" (will be sent) / "parked" (rejected, waits for a person)
    first_at: dt.datetime
    entries: int
    attempts: int
    last_error: str
    cell: Cell


def _latest_actions(uuids: list[str]) -> dict[str, tuple[str, str]]:
    """entity uuid → (action, username) of its latest audit entry."""
    if not uuids:
        return {}
    latest = (
        AuditEntry.select(fn.MAX(AuditEntry.seq))
        .where(AuditEntry.entity_uuid.in_(uuids))
        .group_by(AuditEntry.entity_uuid)
    )
    rows = AuditEntry.select(AuditEntry.entity_uuid, AuditEntry.action, AuditEntry.username).where(
        AuditEntry.seq.in_(latest)
    )
    return {uuid: (action, username) for uuid, action, username in rows.tuples()}


def _waiting_query(where=None):
    """Cells with pending or parked entries, oldest first, one row per cell."""
    pending = fn.SUM(Case(None, [(OutboxEntry.state == "pending", 1)], 0))
    condition = OutboxEntry.state.in_(WAITING)
    if where is not None:
        condition &= where
    return (
        OutboxEntry.select(
            OutboxEntry.entity_type,
            OutboxEntry.entity_uuid,
            fn.MIN(OutboxEntry.created_at),
            fn.COUNT(OutboxEntry.seq),
            fn.MAX(OutboxEntry.seq),
            pending.alias("pending"),
        )
        .where(condition)
        .group_by(OutboxEntry.entity_type, OutboxEntry.entity_uuid)
        .order_by(fn.MIN(OutboxEntry.seq))
    )


def _waiting_rows(rows: list[tuple]) -> list[Waiting]:
    """Describe rows of `_waiting_query` (latest entry's payload, reason, author's action)."""
    if not rows:
        return []
    latest = {
        e.seq: e for e in OutboxEntry.select().where(OutboxEntry.seq.in_([r[4] for r in rows]))
    }
    actions = _latest_actions([r[1] for r in rows])
    found = []
    for entity_type, entity_uuid, first_at, count, last_seq, pending in rows:
        entry = latest[last_seq]
        try:
            payload = json.loads(entry.payload or "{}")
        except ValueError:
            payload = {}
        action = actions.get(entity_uuid, ("", ""))[0]
        found.append(
            Waiting(
                entity_type=entity_type,
                entity_uuid=entity_uuid,
                state="pending" if pending else "parked",
                first_at=_as_datetime(first_at),
                entries=count,
                attempts=entry.attempts,
                last_error=entry.last_error,
                cell=describe(
                    entity_type,
                    entity_uuid,
                    payload if isinstance(payload, dict) else {},
                    op=entry.op,
                    action=action,
                ),
            )
        )
    return found


def _as_datetime(value: Any) -> dt.datetime:
    """SQLite aggregates come back as text: MIN(created_at) → datetime."""
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def _only_parked():
    """HAVING: the cell has no pending entry (a newer edit would resend it anyway)."""
    return fn.SUM(Case(None, [(OutboxEntry.state == "pending", 1)], 0)) == 0


def parked(limit: int = LIST_LIMIT) -> list[Waiting]:
    """Cells the upstream rejected and no newer edit will resend: a person must look."""
    rows = list(_waiting_query().having(_only_parked()).limit(limit).tuples())
    return _waiting_rows(rows)


def _parked_count() -> int:
    return _waiting_query().having(_only_parked()).order_by().count()


def retry_parked(entity_uuid: str, user: User | None, ip: str = "") -> int:
    """Send a parked cell again (after the admin fixed the cause); returns its entries.

    The entries go back to pending with a fresh backoff. Audited without the cell as
    the entity, so the change still counts as its teacher's on their own page.
    """
    entity_uuid = (entity_uuid or "").strip()
    if not entity_uuid:
        raise SyncStatusError("Не указано, какое изменение отправить снова.")
    with write(user=user, ip=ip) as rec:
        entity_type = (
            OutboxEntry.select(OutboxEntry.entity_type)
            .where((OutboxEntry.entity_uuid == entity_uuid) & (OutboxEntry.state == "parked"))
            .scalar()
        )
        if entity_type is None:
            raise SyncStatusError("Это изменение уже не отложено: обновите страницу.")
        changed = (
            OutboxEntry.update(state="pending", attempts=0, next_attempt_at=None)
            .where((OutboxEntry.entity_uuid == entity_uuid) & (OutboxEntry.state == "parked"))
            .execute()
        )
        rec.record(
            "sync.retry",
            None,
            after={"entity_type": entity_type, "entity_uuid": entity_uuid, "entries": changed},
        )
    return changed


# --- the overview --------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    pending: int  # cells waiting to be sent (coalesced: what the upstream will receive)
    pending_entries: int  # edits behind them
    parked: int  # cells rejected and waiting for a person
    oldest_pending_at: dt.datetime | None
    accepted_today: int
    last_run: SyncRun | None
    last_success: SyncRun | None
    last_error: SyncRun | None  # the latest run that did not succeed
    needs_action: SyncRun | None  # the latest finished run, when a person must act
    open_conflicts: int
    at: dt.datetime

    @property
    def oldest_pending_age(self) -> dt.timedelta | None:
        if self.oldest_pending_at is None:
            return None
        return max(self.at - self.oldest_pending_at, dt.timedelta(0))

    @property
    def error_is_current(self) -> bool:
        """Did the last error come after the last success (is it still the state)?"""
        if self.last_error is None:
            return False
        return self.last_success is None or self.last_error.id > self.last_success.id


def overview(at: dt.datetime | None = None) -> Overview:
    at = at or now()
    waiting = list(
        OutboxEntry.select(
            OutboxEntry.state,
            fn.COUNT(fn.DISTINCT(OutboxEntry.entity_uuid)),
            fn.COUNT(OutboxEntry.seq),
            fn.MIN(OutboxEntry.created_at),
        )
        .where(OutboxEntry.state.in_(WAITING))
        .group_by(OutboxEntry.state)
        .tuples()
    )
    by_state = {state: (cells, entries, first) for state, cells, entries, first in waiting}
    pending_cells, pending_entries, first = by_state.get("pending", (0, 0, None))
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    accepted_today = (
        OutboxEntry.select(fn.COUNT(fn.DISTINCT(OutboxEntry.entity_uuid)))
        .where((OutboxEntry.state == "accepted") & (OutboxEntry.accepted_at >= midnight))
        .scalar()
    )
    runs = SyncRun.select().order_by(SyncRun.id.desc())
    last_success = runs.where(SyncRun.status == "ok").first()
    last_error = runs.where(SyncRun.status.in_(ERROR_STATES)).first()
    # As the worker sees it (`engine`): the latest finished run says a person must act.
    finished = _last_finished()
    action = finished if finished is not None and finished.status == "needs_action" else None
    return Overview(
        pending=pending_cells,
        pending_entries=pending_entries,
        parked=_parked_count() if "parked" in by_state else 0,
        oldest_pending_at=_as_datetime(first) if first else None,
        accepted_today=accepted_today or 0,
        last_run=SyncRun.select().order_by(SyncRun.id.desc()).first(),
        last_success=last_success,
        last_error=last_error,
        needs_action=action,
        open_conflicts=SyncConflict.select().where(SyncConflict.resolved_at.is_null()).count(),
        at=at,
    )


def recent_runs(limit: int = 10) -> list[SyncRun]:
    return list(SyncRun.select().order_by(SyncRun.id.desc()).limit(limit))


def interrupted(run: SyncRun) -> bool:
    """Was the run cut short (the worker killed)? Then nobody counted what it sent."""
    return run.status == "error" and (run.message or "").startswith(INTERRUPTED_PREFIX)


def counted(run: SyncRun) -> bool:
    """Do the run's figures mean anything? They are written only when a run ends itself:
    a run under way or an interrupted one shows 0 though cells may have reached АСУ РСО."""
    return run.status != "running" and not interrupted(run)


def run_label(run: SyncRun) -> str:
    """The run's outcome in words: «прервано» for a killed run, not a bare «сбой»."""
    if interrupted(run):
        return "прервано"
    return RUN_STATUS_LABELS.get(run.status, run.status)


def _last_finished() -> SyncRun | None:
    return SyncRun.select().where(SyncRun.status != "running").order_by(SyncRun.id.desc()).first()


def age_text(delta: dt.timedelta | None) -> str:
    """«5 мин», «2 ч 10 мин», «3 дн. 4 ч» — how long something has waited."""
    if delta is None:
        return ""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "меньше минуты"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} дн. {hours} ч" if hours else f"{days} дн."
    if hours:
        return f"{hours} ч {minutes} мин" if minutes else f"{hours} ч"
    return f"{minutes} мин"


# --- a teacher's own waiting changes ---------------------------------------------------


@dataclass(frozen=True)
class Sending:
    """Will the waiting changes leave by themselves? What a teacher is told about it.

    `state`: "working" (they leave by themselves), "offline" (they leave once АСУ РСО
    answers again), "stopped" (the last run needs a person: the worker sends nothing until
    the admin acts), "off" (sync is not configured: nothing is sent at all).
    """

    state: str
    since: dt.datetime | None = None
    message: str = ""


def sending() -> Sending:
    """The state of sending as the worker sees it (`engine.loop`): its latest finished run."""
    if not publishing.upstream_configured():
        return Sending("off")
    finished = _last_finished()
    if finished is None:
        return Sending("working")
    if finished.status == "needs_action":
        return Sending("stopped", finished.started_at, finished.message)
    if finished.status == "not_configured":
        return Sending("off")
    if finished.status == "offline":
        return Sending("offline", finished.started_at, finished.message)
    return Sending("working")


def by_hand(reason: str) -> bool:
    """Does the refusal say the value goes into АСУ РСО by hand? (sending it again would
    only be refused again, so the admin page offers no «Отправить снова» for it)"""
    return BY_HAND in (reason or "").lower()


def parked_advice(reason: str) -> str:
    """What the teacher does about a refused change: the reason's own instruction when it
    gives one (enter it in АСУ РСО by hand — sending again would be refused again),
    otherwise nothing: the admin sees the change, fixes the cause and sends it again."""
    if by_hand(reason):
        return "Внесите это в АСУ РСО вручную, как сказано в причине."
    return "Ничего: администратор устранит причину и отправит снова."


@dataclass(frozen=True)
class OwnWaiting:
    pending: int  # cells that will be sent (a parked cell with a newer edit counts here)
    parked: int  # cells АСУ РСО refused that nothing newer will send
    oldest_pending_at: dt.datetime | None  # the oldest edit still to be sent
    pending_cells: list[Waiting]  # the first LIST_LIMIT of each
    parked_cells: list[Waiting]

    @property
    def count(self) -> int:
        return self.pending + self.parked

    @property
    def cells(self) -> list[Waiting]:
        return self.pending_cells + self.parked_cells


def own_waiting(user: User, limit: int = LIST_LIMIT) -> OwnWaiting:
    """Waiting cells whose latest change (by the audit) this user made, pending apart
    from parked: a refused change is not «waiting to be sent» and will not leave by itself.
    """
    waiting_uuids = OutboxEntry.select(OutboxEntry.entity_uuid).where(
        OutboxEntry.state.in_(WAITING)
    )
    latest = (
        AuditEntry.select(fn.MAX(AuditEntry.seq))
        .where(AuditEntry.entity_uuid.in_(waiting_uuids))
        .group_by(AuditEntry.entity_uuid)
    )
    mine = AuditEntry.select(AuditEntry.entity_uuid).where(
        AuditEntry.seq.in_(latest) & (AuditEntry.user == user)
    )
    rows = list(_waiting_query(OutboxEntry.entity_uuid.in_(mine)).tuples())
    pending_rows = [r for r in rows if r[5]]
    parked_rows = [r for r in rows if not r[5]]
    oldest = (
        OutboxEntry.select(fn.MIN(OutboxEntry.created_at))
        .where((OutboxEntry.state == "pending") & OutboxEntry.entity_uuid.in_(mine))
        .scalar()
    )
    return OwnWaiting(
        pending=len(pending_rows),
        parked=len(parked_rows),
        oldest_pending_at=_as_datetime(oldest) if oldest else None,
        pending_cells=_waiting_rows(pending_rows[:limit]),
        parked_cells=_waiting_rows(parked_rows[:limit]),
    )
