"""The audit chain: every change appended with a SHA-256 link to the one before.

Editing or deleting an old entry breaks every later hash, so `verify_chain`
shows tampering (DESIGN.md §2, «Control»).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from .models import AuditEntry, User, now

GENESIS = "0" * 64


def to_json(value: Any) -> str:
    """Canonical JSON of a snapshot: sorted keys, dates as ISO strings, no spaces."""
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(prev_hash: str, fields: dict[str, str]) -> str:
    payload = prev_hash + "\n" + json.dumps(fields, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _hashed_fields(entry: AuditEntry) -> dict[str, str]:
    return {
        "at": entry.at.isoformat() if isinstance(entry.at, dt.datetime) else str(entry.at),
        "username": entry.username,
        "ip": entry.ip,
        "action": entry.action,
        "entity_type": entry.entity_type,
        "entity_uuid": entry.entity_uuid,
        "before": entry.before,
        "after": entry.after,
    }


def append(
    action: str,
    *,
    user: User | None,
    ip: str = "",
    entity_type: str = "",
    entity_uuid: str = "",
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Append one entry; call only inside a write transaction (it reads the chain's tip)."""
    last = AuditEntry.select(AuditEntry.hash).order_by(AuditEntry.seq.desc()).first()
    entry = AuditEntry(
        at=now(),
        user=user,
        username=user.username if user else "",
        ip=ip or "",
        action=action,
        entity_type=entity_type,
        entity_uuid=entity_uuid,
        before=to_json(before),
        after=to_json(after),
        prev_hash=last.hash if last else GENESIS,
    )
    entry.hash = entry_hash(entry.prev_hash, _hashed_fields(entry))
    entry.save(force_insert=True)
    return entry


def verify_chain(batch: int = 2000) -> int | None:
    """Walk the chain in order; return the seq of the first broken entry, or None if intact."""
    prev = GENESIS
    last_seq = 0
    while True:
        rows = list(
            AuditEntry.select()
            .where(AuditEntry.seq > last_seq)
            .order_by(AuditEntry.seq)
            .limit(batch)
        )
        if not rows:
            return None
        for entry in rows:
            if entry.prev_hash != prev or entry.hash != entry_hash(prev, _hashed_fields(entry)):
                return entry.seq
            prev = entry.hash
            last_seq = entry.seq
