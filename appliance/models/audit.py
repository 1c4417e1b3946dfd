"""Control: the hash-chained audit, login events and personal-data views (152-ФЗ)."""

from __future__ import annotations

import datetime as dt

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    TextField,
)

from .base import BaseModel, now
from .people import Person, User


class AuditEntry(BaseModel):
    """One change: who, when, from where, what, before → after; chained by SHA-256."""

    seq = AutoField()
    at = DateTimeField(default=now, index=True)
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    username = CharField(default="")  # kept even if the account is deleted
    ip = CharField(default="")
    action = CharField(index=True)
    entity_type = CharField(default="")
    entity_uuid = CharField(default="", index=True)
    before = TextField(default="")
    after = TextField(default="")
    prev_hash = CharField()
    hash = CharField(unique=True)


class LoginEvent(BaseModel):
    # Full precision: failures are counted from the last success, often the same second.
    at = DateTimeField(default=dt.datetime.now, index=True)
    username = CharField(index=True)
    user = ForeignKeyField(User, null=True, backref="login_events", on_delete="SET NULL")
    ip = CharField(default="", index=True)
    success = BooleanField()
    reason = CharField(default="")


class PersonalDataView(BaseModel):
    at = DateTimeField(default=now, index=True)
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    person = ForeignKeyField(Person, on_delete="CASCADE")
    ip = CharField(default="")
    what = CharField(default="")
