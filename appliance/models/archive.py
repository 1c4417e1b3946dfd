"""The archive register (§9): what was archived, where, and until when it is kept."""

from __future__ import annotations

from peewee import CharField, DateField, DateTimeField, ForeignKeyField, TextField

from .base import SyncedModel
from .curriculum import SchoolClass
from .school import AcademicYear


class ArchiveRecord(SyncedModel):
    UNITS = ("journal", "summary", "data")

    year = ForeignKeyField(AcademicYear, on_delete="RESTRICT")
    school_class = ForeignKeyField(SchoolClass, null=True, on_delete="RESTRICT")
    unit = CharField()
    title = CharField()
    register_number = CharField(default="")
    sha256 = CharField(default="")
    media_label = CharField(default="")
    created_at = DateTimeField()
    retain_until = DateField()
    last_verified_at = DateTimeField(null=True)
    verification_log = TextField(default="")
    destroyed_at = DateTimeField(null=True)
    destruction_act = CharField(default="")
