"""The archive register (§9): what was archived, where, and until when it is kept."""

from __future__ import annotations

from peewee import (
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from .base import BaseModel, SyncedModel, now
from .curriculum import SchoolClass
from .people import User
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
    # Added with the archive builder (0005): the unit as written on the medium.
    sha512 = CharField(default="")  # of the ciphertext, like sha256
    size = IntegerField(default=0)  # bytes of the ciphertext (all parts together)
    file_name = CharField(default="")  # relative to the medium's root
    parts = IntegerField(default=1)  # >1 when split for FAT32
    status = CharField(default="written")  # written / failed / destroyed


class ArchiveVerification(BaseModel):
    """One check of an archive unit (§9.2): without the key (signature, hash, size) or
    with it (decrypted, bag validated). The register shows every one."""

    record = ForeignKeyField(ArchiveRecord, backref="verifications", on_delete="CASCADE")
    checked_at = DateTimeField(default=now)
    with_key = BooleanField(default=False)
    ok = BooleanField()
    message = TextField(default="")
    media_label = CharField(default="")
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
