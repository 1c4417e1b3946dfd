"""Assessment: work types, assignments, marks, attendance and period marks."""

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

from .base import BaseModel, PublishedModel, SyncedModel
from .curriculum import SubjectGroup
from .people import Person, User
from .planning import Lesson
from .school import Term

ATTENDANCE_CODES = {
    "Н": "отсутствовал",
    "Б": "болел",
    "УП": "уважительная причина",
    "ОП": "опоздание",
    "ОСВ": "освобождён",
}


class WorkType(SyncedModel):
    """Вид работы with its default weight, set by the deputy."""

    name = CharField(unique=True)
    short_name = CharField(default="")
    weight = IntegerField(default=1)
    is_default = BooleanField(default=False)
    sort_order = IntegerField(default=100)


class Assignment(PublishedModel):
    lesson = ForeignKeyField(Lesson, backref="assignments", on_delete="CASCADE")
    work_type = ForeignKeyField(WorkType, on_delete="RESTRICT")
    weight = IntegerField()
    title = CharField(default="")
    due_date = DateField(null=True)


class Mark(PublishedModel):
    """A mark for one assignment: "2"–"5", or "зач"/"незач" on pass/fail subjects."""

    assignment = ForeignKeyField(Assignment, backref="marks", on_delete="CASCADE")
    student = ForeignKeyField(Person, backref="marks", on_delete="CASCADE")
    value = CharField()
    comment = CharField(default="")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("assignment", "student"), True),)


class Attendance(PublishedModel):
    lesson = ForeignKeyField(Lesson, backref="attendance", on_delete="CASCADE")
    student = ForeignKeyField(Person, backref="attendance", on_delete="CASCADE")
    code = CharField()  # one of ATTENDANCE_CODES
    reason = CharField(default="")
    document = CharField(default="")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("lesson", "student"), True),)


class PeriodMark(PublishedModel):
    """A quarter / half-year / year / final mark: "2"–"5", "н/а", "осв", "зач", "незач"."""

    KINDS = ("term", "year", "final")

    group = ForeignKeyField(SubjectGroup, backref="period_marks", on_delete="CASCADE")
    student = ForeignKeyField(Person, backref="period_marks", on_delete="CASCADE")
    kind = CharField(default="term")
    term = ForeignKeyField(Term, null=True, on_delete="CASCADE")
    value = CharField()
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("group", "student", "kind", "term"), True),)


# SQLite treats NULLs as distinct: a year or final mark (no term) needs its own index.
PeriodMark.add_index(
    PeriodMark.index(PeriodMark.group, PeriodMark.student, PeriodMark.kind, unique=True).where(
        PeriodMark.term.is_null()
    )
)


class Unlock(BaseModel):
    """The deputy's permission to change a locked lesson or period mark, with a reason."""

    entity_type = CharField()
    entity_uuid = CharField(index=True)
    granted_by = ForeignKeyField(User, on_delete="CASCADE")
    reason = TextField()
    granted_at = DateTimeField()
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)
