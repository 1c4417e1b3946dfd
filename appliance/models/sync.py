"""Sync bookkeeping: the transactional outbox, the id map, runs and conflicts."""

from __future__ import annotations

from peewee import (
    AutoField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from .base import BaseModel, now
from .people import User


class OutboxEntry(BaseModel):
    """A journal change waiting for АСУ РСО; deleted only after the upstream accepted it."""

    STATES = ("pending", "accepted", "parked", "skipped")

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
    """A journal cell changed on the box and in АСУ РСО since they last agreed.

    The rule (`appliance.sync.pull`) keeps the box's value and sends it; both values stay
    here until the teacher confirms one or types another.
    """

    entity_type = CharField()
    entity_uuid = CharField(index=True)
    local_value = TextField()
    remote_value = TextField()
    chosen = CharField()  # "local" / "remote"
    detected_at = DateTimeField(default=now)
    resolved_at = DateTimeField(null=True)
    resolved_by = CharField(default="")
    # For the teacher's list: whose journal it is, and what the cell is, in Russian.
    group_id = IntegerField(null=True, index=True)
    description = TextField(default="")
    # The cell as JSON: {"kind": "mark", "assignment_id", "student_id"},
    # {"kind": "attendance", "lesson_id", "student_id"} or {"kind": "topic"/"homework",
    # "lesson_id"} — so "take АСУ РСО's value" works even if the local row is gone.
    cell = TextField(default="{}")


class SyncCell(BaseModel):
    """The last value of a journal cell both the box and АСУ РСО held (the merge base).

    Written when the upstream accepts a push or a pull takes its value; a pull then
    tells "changed upstream" (remote ≠ base) from "changed here" (a pending edit).
    """

    entity_type = CharField()
    entity_uuid = CharField(unique=True)
    value = TextField(default="")
    synced_at = DateTimeField(default=now)


class Job(BaseModel):
    """Background work (digests, PDF letters, reports): queued by a request in the same
    transaction as the change that asks for it, run by `ezh worker` (appliance.jobs)."""

    STATES = ("queued", "running", "done", "failed")

    kind = CharField(index=True)
    params = TextField(default="{}")
    state = CharField(default="queued", index=True)
    progress = IntegerField(default=0)
    total = IntegerField(default=0)
    message = TextField(default="")  # what it is doing, or why it failed (Russian)
    result_file = CharField(default="")  # relative to the data dir
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=now)
    started_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)
    attempts = IntegerField(default=0)


class ScheduleRun(BaseModel):
    """When a periodic job (the weekly digest …) was last queued."""

    name = CharField(unique=True)
    last_run_at = DateTimeField()
