"""The merge base of journal cells: the last value the box and АСУ РСО both held.

Written when the upstream accepts a push (`push`) or a pull takes or confirms a value
(`pull`); read by the pull to tell a change made in АСУ РСО from one made here, and by
the push to send only the lesson fields that changed. Keys are cell uuids, or
"<lesson uuid>:topic" / "<lesson uuid>:homework" for a lesson's two fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from ..models import SyncCell, database, now

ROWS_PER_STATEMENT = 200  # 4 parameters each: well under SQLite's limit


def values(keys: Iterable[str]) -> dict[str, str]:
    """key → base value, for the keys that have one (never synced: absent)."""
    ordered = list(keys)
    found: dict[str, str] = {}
    for start in range(0, len(ordered), 500):
        query = SyncCell.select(SyncCell.entity_uuid, SyncCell.value).where(
            SyncCell.entity_uuid.in_(ordered[start : start + 500])
        )
        found.update(dict(query.tuples()))
    return found


def remember(key: str, entity_type: str, value: str, at: dt.datetime | None = None) -> None:
    """Both sides now hold `value` (call inside the transaction that makes it so)."""
    at = at or now()
    row = {"entity_type": entity_type, "entity_uuid": key, "value": value, "synced_at": at}
    SyncCell.insert(row).on_conflict(
        conflict_target=[SyncCell.entity_uuid],
        update={SyncCell.value: value, SyncCell.synced_at: at},
    ).execute()


def remember_many(rows: Iterable[tuple[str, str, str]], at: dt.datetime | None = None) -> None:
    """`remember` for many (key, entity_type, value) at once: a few multi-row statements.

    One statement per 200 rows, not one per row: the sync records a batch while its next
    request is in flight, and every statement hands the GIL to the sending thread.
    """
    stamp = str(at or now())
    values = [(entity_type, key, value, stamp) for key, entity_type, value in rows]
    for start in range(0, len(values), ROWS_PER_STATEMENT):
        chunk = values[start : start + ROWS_PER_STATEMENT]
        database.execute_sql(
            'INSERT INTO "sync_cell" ("entity_type", "entity_uuid", "value", "synced_at")'
            f" VALUES {', '.join(['(?, ?, ?, ?)'] * len(chunk))}"
            ' ON CONFLICT ("entity_uuid") DO UPDATE SET'
            ' "value" = excluded."value", "synced_at" = excluded."synced_at"',
            [field for row in chunk for field in row],
        )
