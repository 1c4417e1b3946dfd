"""Sync bookkeeping: the transactional outbox, the id map, runs and conflicts."""

from __future__ import annotations

from peewee import (
    AutoField,
    CharField,
    DateTimeField,
    IntegerField,
    TextField,
)

from .base import BaseModel, now


class OutboxEntry(BaseModel):
    """A journal change waiting for АСУ РСО; deleted only after the upstream accepted it."""

    STATES = ("pending", "accepted", "parked")

    seq = AutoField()
    created_at = DateTimeField(default=now, index=True)
    entity_type = CharField()
    entity_uuid = CharField(index=True)
    op = CharField()  # upsert / delete
    payload = TextField()
    state = CharField(default="pending", index=True)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(null=True)
    last_error = TextField(default="")
    accepted_at = DateTimeField(null=True)


class IdMap(BaseModel):
    entity_type = CharField()
    local_uuid = CharField()
    remote_id = CharField()

    class Meta:
        indexes = (
            (("entity_type", "local_uuid"), True),
            (("entity_type", "remote_id"), True),
        )


class SyncRun(BaseModel):
    started_at = DateTimeField(default=now)
    finished_at = DateTimeField(null=True)
    direction = CharField(default="push")
    pushed = IntegerField(default=0)
    pulled = IntegerField(default=0)
    failed = IntegerField(default=0)
    status = CharField(default="running")
    message = TextField(default="")


class SyncConflict(BaseModel):
    entity_type = CharField()
    entity_uuid = CharField(index=True)
    local_value = TextField()
    remote_value = TextField()
    chosen = CharField()  # "local" / "remote"
    detected_at = DateTimeField(default=now)
    resolved_at = DateTimeField(null=True)
    resolved_by = CharField(default="")
