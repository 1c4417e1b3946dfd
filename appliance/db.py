"""The database: SQLite pragmas, numbered migrations and the one write path.

Every user action that changes data goes through `write()`: one ``BEGIN IMMEDIATE``
transaction holding the change, its audit entry and, for journal data, its outbox
entry (the transactional outbox of DESIGN.md §3). Either all of it is stored or none.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from peewee import Model, SqliteDatabase

from . import audit
from .models import ALL_MODELS, OutboxEntry, SyncedModel, User, database

PRAGMAS = {
    "journal_mode": "wal",
    # FULL: an acknowledged write survives a power cut even in WAL mode (DESIGN §5).
    "synchronous": "full",
    "foreign_keys": 1,
    "busy_timeout": 10_000,
    # Per connection, and there is one per server thread (8) and per worker thread: 16 MB
    # each came to 125 MiB in the web process alone (bench/footprint.py). The OS page cache
    # holds the file for all of them, so a small cache costs no measurable speed.
    "cache_size": -2_000,  # 2 MB
}

# Never copied into the audit or the outbox.
REDACTED = frozenset({"password_hash"})

MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def open_database(path: str | Path) -> SqliteDatabase:
    """Bind every model to the SQLite file at ``path`` and return the database."""
    db = SqliteDatabase(str(path), pragmas=PRAGMAS, thread_safe=True)
    # SQLite's LOWER/LIKE fold only ASCII; searches of Russian names need this.
    db.register_function(casefold, "casefold", 1)
    database.initialize(db)
    return db


def casefold(value: str | None) -> str | None:
    return value.casefold().replace("ё", "е") if isinstance(value, str) else value


def migrations() -> list[tuple[int, str, str]]:
    """The shipped migrations as (number, name, sql), in order."""
    found = []
    for item in resources.files("appliance.migrations").iterdir():
        match = MIGRATION_NAME.match(item.name)
        if match:
            found.append((int(match.group(1)), item.name, item.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if numbers != list(range(1, len(found) + 1)):
        raise RuntimeError(f"Migrations are not numbered 1..N: {numbers}")
    return found


def schema_version(db: SqliteDatabase | None = None) -> int:
    db = db or database
    return db.execute_sql("PRAGMA user_version").fetchone()[0]


def latest_version() -> int:
    return len(migrations())


def migrate(db: SqliteDatabase | None = None) -> list[str]:
    """Apply the migrations the database lacks; return their names."""
    db = db or database
    applied = []
    current = schema_version(db)
    for number, name, sql in migrations():
        if number <= current:
            continue
        # executescript commits on its own, so the version bump lives in the script.
        conn = db.connection()
        conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
        applied.append(name)
    return applied


def create_schema_sql() -> str:
    """The CREATE statements of the current models (used to write a new migration)."""
    statements = []
    for model in ALL_MODELS:
        schema = model._schema
        statements.append(
            schema._create_context().sql(schema._create_table(safe=False)).query()[0] + ";"
        )
        for index in schema._create_indexes(safe=False):
            statements.append(schema._create_context().sql(index).query()[0] + ";")
    return "\n".join(statements) + "\n"


def snapshot(instance: Model | None) -> dict[str, Any] | None:
    """A row as plain data for the audit: foreign keys as ids, dates as ISO strings."""
    if instance is None:
        return None
    data: dict[str, Any] = {}
    for name, field in instance._meta.fields.items():
        value = instance.__data__.get(name)
        if name in REDACTED:
            value = "***" if value else value
        if isinstance(value, dt.date | dt.time):
            value = value.isoformat()
        data[field.column_name if name.endswith("_id") else name] = value
    return data


@dataclass
class Recorder:
    """Handed to the body of `write()`: it records what the body changed."""

    user: User | None
    ip: str

    def record(
        self,
        action: str,
        entity: Model | None = None,
        *,
        before: dict | None = None,
        after: dict | None = None,
        sync: bool = False,
        op: str = "upsert",
    ) -> None:
        """Audit one change (and queue it for АСУ РСО when ``sync``)."""
        entity_type = type(entity).__name__ if entity is not None else ""
        entity_uuid = getattr(entity, "uuid", "") if entity is not None else ""
        if entity is not None and after is None and op != "delete":
            after = snapshot(entity)
        audit.append(
            action,
            user=self.user,
            ip=self.ip,
            entity_type=entity_type,
            entity_uuid=entity_uuid or (str(entity.get_id()) if entity is not None else ""),
            before=before,
            after=after,
        )
        if sync:
            if not isinstance(entity, SyncedModel):
                raise TypeError(f"{entity_type} does not sync: it has no stable uuid")
            OutboxEntry.create(
                entity_type=entity_type,
                entity_uuid=entity_uuid,
                op=op,
                payload=json.dumps(after or {}, ensure_ascii=False, default=str),
            )


# Writers of this process queue here rather than in SQLite's busy handler, which
# retries with sleeps in no order: under 40 concurrent teachers a write waited 5.5 s
# there against 2.8 s here. busy_timeout still covers other processes (CLI, backups).
_WRITE_LOCK = threading.RLock()  # re-entrant: write() may nest (savepoints)


@contextmanager
def write(user: User | None = None, ip: str = "") -> Iterator[Recorder]:
    """Run a domain action in one IMMEDIATE transaction with its audit and outbox entries."""
    with _WRITE_LOCK, database.atomic("IMMEDIATE"):
        yield Recorder(user=user, ip=ip)


def integrity_check(db: SqliteDatabase | None = None) -> str:
    db = db or database
    return db.execute_sql("PRAGMA integrity_check").fetchone()[0]


def backup_to(target: str | Path, db: SqliteDatabase | None = None) -> None:
    """Online copy with the sqlite3 backup API (safe while the box is serving)."""
    db = db or database
    dest = sqlite3.connect(str(target))
    try:
        db.connection().backup(dest)
    finally:
        dest.close()
