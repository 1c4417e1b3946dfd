"""The outbox side of the push: coalesced batches, acceptance, backoff, parking.

Every journal change is queued as an `OutboxEntry` in the transaction that made it
(`appliance.db.Recorder.record`). Here the worker takes them out in batches:

* repeated edits of one cell (one `entity_uuid`) coalesce — only the latest payload is
  sent, it covers the earlier entries (their history stays in the audit);
* items come in the order of their first pending entry, so a lesson created before its
  marks is sent before them;
* an entry becomes `accepted` only after the upstream said so, in one transaction
  that also stamps the row's `published_at` (the diary then shows it); accepted
  entries may be deleted later by `prune`, nothing else is ever deleted;
* a failure moves the item's next attempt back (exponential backoff with jitter); an
  upstream rejection parks it with the reason while the rest continue; a newer local
  edit of a parked cell supersedes it (the parked entries are covered by the new one).

A crash between "sent" and "marked accepted" leaves the entries pending: they are sent
again, and the adapter makes the resend harmless (read-back, natural keys).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from peewee import fn

from ..db import write
from ..models import (
    Assignment,
    Attendance,
    AuditEntry,
    Lesson,
    Mark,
    OutboxEntry,
    PeriodMark,
    database,
    now,
)

BACKOFF_BASE = 2.0  # seconds before the second attempt
BACKOFF_CAP = 3600.0  # never wait longer than an hour between attempts

# Entity types whose rows carry `published_at`, stamped when the upstream accepts them.
# Each payload is the row's snapshot and the outbox entry's `entity_uuid` is the row's
# `uuid` (a mark's and an attendance's uuid is its cell uuid, see `journal.cell_uuid`).
PUBLISHED_MODELS = {
    "Assignment": Assignment,
    "Mark": Mark,
    "Attendance": Attendance,
    "PeriodMark": PeriodMark,
    "Lesson": Lesson,
}


@dataclass(frozen=True, slots=True)
class Item:
    """One coalesced change: the latest entry of an entity and every entry it covers."""

    entity_type: str
    entity_uuid: str
    op: str  # "upsert" / "delete" — the latest entry's
    payload: dict[str, Any]
    seqs: tuple[int, ...]  # every covered entry (pending and superseded parked ones)
    attempts: int = 0
    # The pending entry the scan found the cell at: where the next scan of the same run
    # goes on from (`pending_batch(after_seq=…)`); the first covered entry may be older.
    at_seq: int = 0
    # For a delete (whose payload is empty): the row as it was before it was deleted,
    # so the adapter knows the natural key (assignment × student …) to clear upstream.
    last_known: dict[str, Any] = field(default_factory=dict)

    @property
    def first_seq(self) -> int:
        return self.seqs[0]

    @property
    def last_seq(self) -> int:
        return self.seqs[-1]


class _Row(NamedTuple):
    """One outbox entry as the batch reads it (times as SQLite stores them: text)."""

    seq: int
    op: str
    payload: str
    state: str
    attempts: int
    next_attempt_at: str | None


_TABLE = '"outbox_entry"'


def _when(value: str | dt.datetime) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after the `attempts`-th failure: doubling, capped, with jitter.

    "Equal jitter": half the exponential delay is fixed and half random, so retries
    of many items spread out and the wait still grows: the result lies in
    [d/2, d] for d = min(CAP, BASE · 2^(attempts−1)).
    """
    rng = rng or random.Random()
    exponent = max(attempts, 1) - 1
    delay = BACKOFF_CAP if exponent >= 32 else min(BACKOFF_CAP, BACKOFF_BASE * 2**exponent)
    return delay / 2 + rng.uniform(0, delay / 2)


def pending_batch(
    limit: int,
    now_: dt.datetime | None = None,
    *,
    after_seq: int = 0,
    exclude: Collection[tuple[str, str]] = (),
) -> list[Item]:
    """Up to `limit` coalesced items ready to send at `now_`, in order of first entry.

    An entity is ready when none of its pending entries waits for a later retry time;
    an entity with only parked entries is not sent (a new edit brings it back).
    `after_seq` continues a scan where the previous batch of the same run ended (the
    last item's `at_seq`): a large backlog is then read once, not once per batch.
    `exclude`: cells (entity type, uuid) the run has already taken — a batch still in
    flight or not yet recorded when its retry time passes (a slow АСУ РСО) is not
    taken twice; a newer edit of such a cell goes in the next run.

    One scan in order of `seq` reads each pending entry with the number of open
    (pending or parked) entries of its cell. Most cells have one: that entry is the
    item. Only a cell edited again is read whole (`_coalesced`).
    """
    if limit < 1:
        return []
    at = now_ or now()
    items: list[Item] = []
    seen: set[tuple[str, str]] = set(exclude)
    # Plain SQL, rows read lazily: the scan stops where the batch is full. An entry
    # still waiting for its retry time (by SQLite's reading; Python decides) gets
    # neither its payload nor the count: a backlog waiting out an outage scans fast.
    ready = "o.next_attempt_at IS NULL OR o.next_attempt_at <= ?"
    cursor = database.execute_sql(
        f"SELECT o.seq, o.entity_type, o.entity_uuid, o.op, o.next_attempt_at, o.attempts,"
        f" CASE WHEN {ready} THEN o.payload END,"
        f" CASE WHEN {ready} THEN (SELECT COUNT(*) FROM {_TABLE} x"
        # `+x.state`: the cell's entries by its uuid, not every pending entry by state
        f" WHERE x.entity_uuid = o.entity_uuid AND +x.state IN ('pending', 'parked')) END"
        f" FROM {_TABLE} o WHERE o.state = 'pending' AND o.seq > ? ORDER BY o.seq",
        (str(at), str(at), after_seq),
    )
    try:
        for seq, entity_type, uuid, op, next_at, attempts, payload, open_entries in cursor:
            key = (entity_type, uuid)
            if key in seen:
                continue
            seen.add(key)
            if next_at is not None and _when(next_at) > at:
                continue  # the cell waits for its retry time (see `_covered`)
            if open_entries == 1:
                item = _item(entity_type, uuid, op, payload, (seq,), attempts, seq)
            else:  # edited again (or SQLite read the time otherwise: the exact way)
                item = _coalesced(entity_type, uuid, at, seq)
            if item is not None:
                items.append(item)
                if len(items) >= limit:
                    break
    finally:
        cursor.close()
    return items


def _item(
    entity_type: str,
    uuid: str,
    op: str,
    payload: str,
    seqs: tuple[int, ...],
    attempts: int,
    at_seq: int,
) -> Item:
    data = json.loads(payload or "{}")
    return Item(
        entity_type=entity_type,
        entity_uuid=uuid,
        op=op,
        payload=data,
        seqs=seqs,
        attempts=attempts,
        at_seq=at_seq,
        last_known=data if op != "delete" else before_delete(uuid),
    )


def _coalesced(entity_type: str, uuid: str, at: dt.datetime, at_seq: int) -> Item | None:
    """The item of a cell edited more than once: its latest pending entry covers the
    earlier ones (None when it is not ready, see `_covered`)."""
    rows = database.execute_sql(
        f"SELECT seq, op, payload, state, attempts, next_attempt_at FROM {_TABLE}"
        " WHERE entity_uuid = ? AND entity_type = ? AND +state IN ('pending', 'parked')"
        " ORDER BY seq",
        (uuid, entity_type),
    ).fetchall()
    covered = _covered([_Row(*row) for row in rows], at)
    if not covered:
        return None
    latest = covered[-1]
    seqs = tuple(e.seq for e in covered)
    attempts = max(e.attempts for e in covered if e.state == "pending")
    return _item(entity_type, uuid, latest.op, latest.payload, seqs, attempts, at_seq)


def _waits(entry: _Row, at: dt.datetime) -> bool:
    """A pending entry whose retry time has not come."""
    return bool(entry.next_attempt_at) and _when(entry.next_attempt_at) > at


def _covered(entries: list[_Row], at: dt.datetime) -> list[_Row]:
    """The entries of one cell its item covers: up to the latest pending one.

    Nothing ([]) when any pending entry waits for its retry time (so does the cell) or
    only parked entries are left (a new edit brings the cell back).
    """
    pending = [e for e in entries if e.state == "pending"]
    if not pending or any(_waits(e, at) for e in pending):
        return []
    latest_pending = pending[-1].seq  # entries come in order of seq
    # A parked entry after the latest pending one cannot happen (parking covers only
    # what was sent), but never let an older value cover a newer one.
    return [e for e in entries if e.seq <= latest_pending]


def before_delete(entity_uuid: str) -> dict[str, Any]:
    """The row as the audit saw it just before its latest deletion ({} if unknown)."""
    before = (
        AuditEntry.select(AuditEntry.before)
        .where((AuditEntry.entity_uuid == entity_uuid) & (AuditEntry.before != ""))
        .order_by(AuditEntry.seq.desc())
        .scalar()
    )
    try:
        found = json.loads(before) if before else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _chunks(values: Sequence, size: int = 500) -> Iterable[Sequence]:
    """SQLite limits the number of bound parameters: IN lists go in pieces."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _marks(values: Sequence) -> str:
    return ", ".join("?" * len(values))


def _all_seqs(items: Iterable[Item]) -> list[int]:
    return [seq for item in items for seq in item.seqs]


def mark_accepted(items: Sequence[Item], accepted_at: dt.datetime | None = None) -> int:
    """The upstream accepted `items`: their entries become accepted and rows published.

    One transaction. A row is stamped only if no newer local edit is still waiting
    (that newer value has not been accepted yet). Returns the entries updated.
    """
    if not items:
        return 0
    at = accepted_at or now()
    stamp = str(at)
    with write():
        changed = 0
        for chunk in _chunks(_all_seqs(items)):
            changed += database.execute_sql(
                f"UPDATE {_TABLE} SET state = 'accepted', accepted_at = ?, last_error = ''"
                f" WHERE seq IN ({_marks(chunk)}) AND state IN ('pending', 'parked')",
                [stamp, *chunk],
            ).rowcount
        # After the update, what is still pending or parked for a cell is newer than
        # what was accepted: such a row keeps waiting for its own acceptance (NOT EXISTS).
        # The `+` keep SQLite on the uuid indexes (not every unpublished row by its
        # published_at, nor every pending entry by its state).
        by_model: dict[str, list[str]] = {}
        for item in items:
            if item.op != "delete":
                by_model.setdefault(item.entity_type, []).append(item.entity_uuid)
        for entity_type, found in by_model.items():
            model = PUBLISHED_MODELS.get(entity_type)
            if model is None:
                continue
            table = f'"{model._meta.table_name}"'
            for chunk in _chunks(found):
                database.execute_sql(
                    f"UPDATE {table} SET published_at = ? WHERE uuid IN ({_marks(chunk)})"
                    f" AND +published_at IS NULL AND NOT EXISTS (SELECT 1 FROM {_TABLE} o"
                    f" WHERE o.entity_uuid = {table}.uuid AND +o.state IN ('pending', 'parked'))",
                    [stamp, *chunk],
                )
    return changed


def begin(items: Sequence[Item], *, now_: dt.datetime | None = None) -> None:
    """About to send `items`: count the attempt first, in its own committed transaction.

    A worker killed after the request left finds the items attempted on restart, so it
    reads them back before writing again (`push`), and waits the first backoff.
    """
    if not items:
        return
    at = now_ or now()
    with write():
        for attempts, group in _by_attempts(items).items():
            seqs = [seq for item in group for seq in item.seqs]
            when = str(at + dt.timedelta(seconds=backoff(attempts + 1)))
            for chunk in _chunks(seqs):
                database.execute_sql(
                    f"UPDATE {_TABLE} SET attempts = ?, next_attempt_at = ?"
                    f" WHERE seq IN ({_marks(chunk)}) AND state = 'pending'",
                    [attempts + 1, when, *chunk],
                )


def _by_attempts(items: Iterable[Item]) -> dict[int, list[Item]]:
    found: dict[int, list[Item]] = {}
    for item in items:
        found.setdefault(item.attempts, []).append(item)
    return found


def skip(items: Sequence[Item], reason: str) -> None:
    """Close entries the upstream does not take by design (rosters …), with the reason."""
    if not items:
        return
    with write():
        OutboxEntry.update(state="skipped", last_error=reason[:1000]).where(
            OutboxEntry.seq.in_(_all_seqs(items)) & (OutboxEntry.state == "pending")
        ).execute()


def mark_failed(
    items: Sequence[Item],
    error: str,
    retry_at: dt.datetime | None = None,
    *,
    now_: dt.datetime | None = None,
    rng: random.Random | None = None,
) -> None:
    """Sending `items` failed (network, 5xx): count the attempt and wait before the next.

    `retry_at` (from a Retry-After or a maintenance window) is honoured when later than
    the backoff. Sets the counter `begin` set (attempts + 1), so it may follow it. One
    transaction.
    """
    at = now_ or now()
    rng = rng or random.Random()
    with write():
        for item in items:
            attempts = item.attempts + 1
            wait = at + dt.timedelta(seconds=backoff(attempts, rng))
            when = max(wait, retry_at) if retry_at is not None else wait
            OutboxEntry.update(
                attempts=attempts, next_attempt_at=when, last_error=error[:1000]
            ).where(OutboxEntry.seq.in_(item.seqs) & (OutboxEntry.state == "pending")).execute()


def park(item: Item, reason: str) -> None:
    """The upstream rejected `item` (unknown student, closed period): keep it aside.

    The reason stays for the admin; the other items go on. A newer local edit of the
    same cell is a new pending entry that covers the parked ones when it is sent.
    """
    with write():
        OutboxEntry.update(state="parked", last_error=reason[:1000]).where(
            OutboxEntry.seq.in_(item.seqs) & OutboxEntry.state.in_(("pending", "parked"))
        ).execute()


def prune(older_than: dt.datetime) -> int:
    """Delete entries accepted (or skipped) before `older_than`; never a pending one."""
    with write():
        accepted = (OutboxEntry.state == "accepted") & (OutboxEntry.accepted_at < older_than)
        skipped = (OutboxEntry.state == "skipped") & (OutboxEntry.created_at < older_than)
        return OutboxEntry.delete().where(accepted | skipped).execute()


def counts() -> dict[str, int]:
    """Entries per state (for the status page and tests)."""
    query = OutboxEntry.select(OutboxEntry.state, fn.COUNT(OutboxEntry.seq)).group_by(
        OutboxEntry.state
    )
    found = {state: 0 for state in OutboxEntry.STATES}
    found.update(dict(query.tuples()))
    return found


def groups_waiting_since(before: dt.datetime) -> set[int]:
    """Subject groups with journal edits queued by `before` and still unsent.

    Such an edit waited through a sync run (АСУ РСО was away, or it failed): someone
    may have changed the same cell in АСУ РСО meanwhile, so its group is read back
    before the push (`engine`) and a cell changed on both sides becomes a conflict.
    """
    # `+o.state`: found by age (the created_at index) — usually few entries are old,
    # while a backlog holds many pending ones
    rows = database.execute_sql(
        f"""
        SELECT json_extract(o.payload, '$.group') FROM {_TABLE} o
         WHERE +o.state = 'pending' AND o.created_at <= ? AND o.entity_type = 'Lesson'
        UNION
        SELECT l.group_id FROM {_TABLE} o
          JOIN "lesson" l ON l.id = json_extract(o.payload, '$.lesson')
         WHERE +o.state = 'pending' AND o.created_at <= ? AND o.entity_type = 'Attendance'
        UNION
        SELECT l.group_id FROM {_TABLE} o
          JOIN "assignment" a ON a.id = json_extract(o.payload, '$.assignment')
          JOIN "lesson" l ON l.id = a.lesson_id
         WHERE +o.state = 'pending' AND o.created_at <= ? AND o.entity_type = 'Mark'
        """,
        (str(before), str(before), str(before)),
    ).fetchall()
    found = {int(group) for (group,) in rows if group is not None}
    # A deletion's payload is empty: its lesson comes from the row as it was.
    deletes = database.execute_sql(
        f"SELECT DISTINCT entity_type, entity_uuid FROM {_TABLE} WHERE +state = 'pending'"
        " AND op = 'delete' AND created_at <= ? AND entity_type IN ('Mark', 'Attendance')",
        (str(before),),
    ).fetchall()
    for entity_type, uuid in deletes:
        row = before_delete(uuid)
        lesson_id = row.get("lesson")
        if entity_type == "Mark":
            lesson_id = (
                Assignment.select(Assignment.lesson)
                .where(Assignment.id == row.get("assignment"))
                .scalar()
            )
        group = Lesson.select(Lesson.group).where(Lesson.id == lesson_id).scalar()
        if group is not None:
            found.add(int(group))
    return found
