"""The КТП (calendar-thematic plan), the timetable and real lessons."""

from __future__ import annotations

from peewee import (
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from .base import BaseModel, PublishedModel, SyncedModel
from .curriculum import SubjectGroup
from .people import Person, User
from .school import Room


class Plan(SyncedModel):
    """КТП of one subject group: draft → submitted → approved / returned (§7.4, §7.5)."""

    STATES = ("draft", "submitted", "approved", "returned")

    group = ForeignKeyField(SubjectGroup, backref="plans", on_delete="CASCADE")
    version = IntegerField(default=1)
    state = CharField(default="draft")
    comment = TextField(default="")
    submitted_at = DateTimeField(null=True)
    decided_at = DateTimeField(null=True)
    decided_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    source = CharField(default="")  # «импорт: ktp.xlsx», «копия КТП 5Б» …

    class Meta:
        indexes = ((("group", "version"), True),)


class PlanLesson(SyncedModel):
    plan = ForeignKeyField(Plan, backref="lessons", on_delete="CASCADE")
    position = IntegerField()
    section = CharField(default="")
    topic = TextField()
    hours = IntegerField(default=1)
    homework_hint = TextField(default="")
    planned_date = DateField(null=True)


class TimetableEntry(SyncedModel):
    group = ForeignKeyField(SubjectGroup, backref="timetable", on_delete="CASCADE")
    weekday = IntegerField()  # 1=Monday … 6=Saturday
    number = IntegerField()  # lesson number in the day
    room = ForeignKeyField(Room, null=True, on_delete="SET NULL")
    valid_from = DateField()
    valid_to = DateField(null=True)


class TimetableChange(SyncedModel):
    """A one-off change: substitution, move or cancellation of one meeting."""

    KINDS = ("substitution", "moved", "cancelled", "room")

    date = DateField()
    entry = ForeignKeyField(TimetableEntry, backref="changes", on_delete="CASCADE")
    kind = CharField()
    teacher = ForeignKeyField(Person, null=True, on_delete="SET NULL")
    new_date = DateField(null=True)
    new_number = IntegerField(null=True)
    room = ForeignKeyField(Room, null=True, on_delete="SET NULL")
    reason = CharField(default="")


class Attachment(SyncedModel):
    """A file kept in the data directory (homework, message attachments)."""

    path = CharField()  # relative to the data dir
    filename = CharField()
    size = IntegerField()
    content_type = CharField(default="application/octet-stream")
    sha256 = CharField()
    uploaded_by = ForeignKeyField(User, null=True, on_delete="SET NULL")


class Lesson(PublishedModel):
    """One real class meeting."""

    STATES = ("planned", "held", "cancelled")

    group = ForeignKeyField(SubjectGroup, backref="lessons", on_delete="CASCADE")
    date = DateField(index=True)
    number = IntegerField()
    room = ForeignKeyField(Room, null=True, on_delete="SET NULL")
    teacher = ForeignKeyField(Person, null=True, backref="lessons", on_delete="SET NULL")
    timetable_entry = ForeignKeyField(
        TimetableEntry, null=True, backref="lessons", on_delete="SET NULL"
    )
    plan_lesson = ForeignKeyField(PlanLesson, null=True, on_delete="SET NULL")
    topic = TextField(default="")
    homework = TextField(default="")
    homework_file = ForeignKeyField(Attachment, null=True, on_delete="SET NULL")
    state = CharField(default="planned")

    class Meta:
        indexes = ((("group", "date", "number"), True),)


class LessonTeacherChange(BaseModel):
    """History of substitutions on a lesson (the audit keeps the rest)."""

    lesson = ForeignKeyField(Lesson, backref="teacher_changes", on_delete="CASCADE")
    old_teacher = ForeignKeyField(Person, null=True, on_delete="SET NULL")
    new_teacher = ForeignKeyField(Person, null=True, on_delete="SET NULL")
    changed_at = DateTimeField()
    reason = CharField(default="")
