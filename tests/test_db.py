"""The database: migrations, pragmas, the one write path and the audit chain."""

from __future__ import annotations

import hashlib
from importlib import resources

import pytest
from peewee import IntegrityError

from appliance import audit
from appliance.db import (
    create_schema_sql,
    latest_version,
    migrate,
    schema_version,
    write,
)
from appliance.models import (
    ALL_MODELS,
    AuditEntry,
    Mark,
    OutboxEntry,
    Person,
    SyncedModel,
    database,
)

FIRST_MIGRATION_SHA256 = "25a7cffb8aa56f366e6450349caaadd8a23da303ae3ba91917febab2abdd5867"


def test_pragmas_keep_writes_durable_and_consistent(db):
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute_sql("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_migrations_bring_schema_to_latest_once(db):
    assert schema_version(db) == latest_version()
    assert migrate(db) == []


def test_migrated_schema_matches_the_models(db):
    """A model change without a new migration fails here."""
    for model in ALL_MODELS:
        table = model._meta.table_name
        columns = {c.name for c in db.get_columns(table)}
        expected = {f.column_name for f in model._meta.sorted_fields}
        assert columns == expected, f"{table}: migration and model differ"


def _shape(conn) -> dict:
    """Tables with their columns (name, type, not null, pk) and indexes (unique, columns)."""
    shape = {}
    tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    for (table,) in tables:
        columns = [row[1:4] + row[5:] for row in conn.execute(f'PRAGMA table_info("{table}")')]
        indexes = {
            (name, unique, tuple(c[2] for c in conn.execute(f'PRAGMA index_info("{name}")')))
            for _, name, unique, *_ in conn.execute(f'PRAGMA index_list("{table}")')
        }
        shape[table] = (columns, indexes)
    return shape


def test_migrations_give_exactly_the_models_schema(db, tmp_path):
    """Every migration in order builds what the models declare, column by column and index
    by index, so a model change without a migration (or a wrong migration) fails here."""
    import sqlite3

    fresh = sqlite3.connect(tmp_path / "models.db")
    fresh.executescript(create_schema_sql())
    assert _shape(db.connection()) == _shape(fresh)


def test_first_migration_is_frozen():
    """0001 shipped; later changes come as new numbered files, never edits of it."""
    text = (resources.files("appliance.migrations") / "0001_initial.sql").read_text("utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert digest == FIRST_MIGRATION_SHA256


def test_every_synced_row_gets_a_stable_uuid(db):
    with write():
        a = Person.create(last_name="Иванов", first_name="Иван")
        b = Person.create(last_name="Иванов", first_name="Иван")
    assert len(a.uuid) == 36 and a.uuid != b.uuid
    assert Person.get_by_id(a.id).uuid == a.uuid
    synced = [m for m in ALL_MODELS if issubclass(m, SyncedModel)]
    assert Mark in synced and len(synced) > 15


def test_write_stores_row_audit_and_outbox_together(db):
    with write(ip="10.0.0.5") as rec:
        person = Person.create(last_name="Петров", first_name="Пётр")
        rec.record("person.create", person, sync=True)
    entry = AuditEntry.get(AuditEntry.entity_uuid == person.uuid)
    assert entry.action == "person.create" and entry.ip == "10.0.0.5"
    assert "Петров" in entry.after
    outbox = OutboxEntry.get(OutboxEntry.entity_uuid == person.uuid)
    assert outbox.entity_type == "Person" and outbox.state == "pending"


def test_failure_mid_action_leaves_nothing(db):
    """The transactional outbox: the row, its audit and its outbox entry, or none of them."""
    with pytest.raises(RuntimeError), write() as rec:
        person = Person.create(last_name="Сидоров", first_name="Илья")
        rec.record("person.create", person, sync=True)
        raise RuntimeError("power cut in the middle of the action")
    assert Person.select().count() == 0
    assert AuditEntry.select().count() == 0
    assert OutboxEntry.select().count() == 0


def test_constraint_violation_mid_action_rolls_back_everything(db):
    with write() as rec:
        person = Person.create(last_name="Орлов", first_name="Олег")
        rec.record("person.create", person, sync=True)
    with pytest.raises(IntegrityError), write() as rec:
        other = Person.create(last_name="Котов", first_name="Кирилл")
        rec.record("person.create", other, sync=True)
        Person.create(uuid=person.uuid, last_name="Дубль", first_name="Дубль")
    assert [p.last_name for p in Person.select()] == ["Орлов"]
    assert AuditEntry.select().count() == 1
    assert OutboxEntry.select().count() == 1


def test_write_is_an_immediate_transaction(db):
    with write():
        assert database.in_transaction()
        # BEGIN IMMEDIATE holds the write lock already: a second connection cannot write.
        import sqlite3

        other = sqlite3.connect(db.database, timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()


def test_audit_never_stores_password_hashes(db):
    from appliance.models import User

    with write() as rec:
        person = Person.create(last_name="Ким", first_name="Ина")
        user = User.create(person=person, username="kim.i", password_hash="$argon2id$secret")
        rec.record("user.create", user)
    assert "argon2" not in AuditEntry.get().after


def test_audit_chain_detects_tampering(db):
    with write() as rec:
        for n in range(5):
            person = Person.create(last_name=f"Фамилия{n}", first_name="Имя")
            rec.record("person.create", person)
    assert audit.verify_chain() is None
    third = AuditEntry.select().order_by(AuditEntry.seq).offset(2).first()
    AuditEntry.update(after='{"last_name":"Подделка"}').where(AuditEntry.seq == third.seq).execute()
    assert audit.verify_chain() == third.seq


def test_audit_chain_detects_a_deleted_entry(db):
    with write() as rec:
        for n in range(3):
            rec.record("note", after={"n": n})
    second = AuditEntry.select().order_by(AuditEntry.seq).offset(1).first()
    AuditEntry.delete().where(AuditEntry.seq == second.seq).execute()
    assert audit.verify_chain() == second.seq + 1
