"""The school itself, its calendar, bells and rooms."""

from __future__ import annotations

from decimal import Decimal

from peewee import (
    BooleanField,
    CharField,
    DateField,
    DecimalField,
    ForeignKeyField,
    IntegerField,
    TextField,
    TimeField,
)

from .base import BaseModel, SyncedModel, new_uuid


class School(BaseModel):
    """The one school this box serves, with its settings."""

    name = CharField()
    short_name = CharField()
    address = TextField(default="")
    letterhead = TextField(default="")
    admin_contact = TextField(default="")
    timezone = CharField(default="Europe/Samara")
    # A fresh instance id after every restore, so counters are never reused (DESIGN §2).
    instance_id = CharField(default=new_uuid)
    past_edit_days = IntegerField(default=7)
    # A fractional part at or above the threshold rounds up: 3.60 → 4 with 0.60.
    rounding_threshold = DecimalField(max_digits=3, decimal_places=2, default=Decimal("0.60"))
    min_marks_for_period = IntegerField(default=3)
    failing_average_threshold = DecimalField(
        max_digits=3, decimal_places=2, default=Decimal("2.60")
    )
    absence_threshold = IntegerField(default=5)
    homework_file_limit_kb = IntegerField(default=5120)
    setup_complete = BooleanField(default=False)


class AcademicYear(SyncedModel):
    name = CharField(unique=True)  # "2026/2027"
    starts = DateField()
    ends = DateField()
    is_current = BooleanField(default=False)
    read_only = BooleanField(default=False)


class Term(SyncedModel):
    """A marking period: quarter, half-year or the year, for a range of grades."""

    KINDS = ("quarter", "half", "year")

    year = ForeignKeyField(AcademicYear, backref="terms", on_delete="CASCADE")
    kind = CharField()
    number = IntegerField()
    name = CharField()
    starts = DateField()
    ends = DateField()
    grade_from = IntegerField(default=1)
    grade_to = IntegerField(default=11)
    mark_deadline = DateField(null=True)  # from the school order (§7.4)


class NonSchoolDay(BaseModel):
    """A holiday or vacation day, or a weekend day made a working day (transfer)."""

    KINDS = ("holiday", "vacation", "workday")

    year = ForeignKeyField(AcademicYear, backref="non_school_days", on_delete="CASCADE")
    date = DateField()
    kind = CharField()
    works_as_weekday = IntegerField(null=True)  # for kind="workday": 1=Monday … 5=Friday
    grade_from = IntegerField(default=1)
    grade_to = IntegerField(default=11)
    note = CharField(default="")


class BellSchedule(BaseModel):
    name = CharField()
    is_default = BooleanField(default=False)


class Bell(BaseModel):
    schedule = ForeignKeyField(BellSchedule, backref="bells", on_delete="CASCADE")
    number = IntegerField()
    starts = TimeField()
    ends = TimeField()

    class Meta:
        indexes = ((("schedule", "number"), True),)


class Room(SyncedModel):
    name = CharField(unique=True)
    capacity = IntegerField(null=True)
    note = CharField(default="")
