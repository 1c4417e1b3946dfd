"""Base classes shared by every model: the database proxy, UUIDs and timestamps."""

from __future__ import annotations

import datetime as dt
import uuid

from peewee import CharField, DatabaseProxy, DateTimeField, Model

database = DatabaseProxy()


def new_uuid() -> str:
    return str(uuid.uuid4())


def now() -> dt.datetime:
    """Naive local wall-clock time: the box lives in one school and one time zone."""
    return dt.datetime.now().replace(microsecond=0)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class SyncedModel(BaseModel):
    """A row that travels to АСУ РСО or into the archive: it carries a stable UUID."""

    uuid = CharField(unique=True, default=new_uuid, max_length=36)
    updated_at = DateTimeField(default=now)


class PublishedModel(SyncedModel):
    """Journal data the diary shows only once published (see DESIGN.md §3)."""

    published_at = DateTimeField(null=True, index=True)
