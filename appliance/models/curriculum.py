"""Subjects, classes, the curriculum (учебный план) and subject groups."""

from __future__ import annotations

from peewee import (
    BooleanField,
    CharField,
    DateField,
    ForeignKeyField,
    IntegerField,
)

from .base import BaseModel, SyncedModel
from .people import Person
from .school import AcademicYear, Room


class Subject(SyncedModel):
    SCALES = ("five", "pass_fail", "none")

    name = CharField(unique=True)
    short_name = CharField(default="")
    scale = CharField(default="five")  # five: 2–5; pass_fail: зачёт/незачёт
    is_foreign_language = BooleanField(default=False)
    sort_order = IntegerField(default=100)


class SchoolClass(SyncedModel):
    year = ForeignKeyField(AcademicYear, backref="classes", on_delete="CASCADE")
    grade = IntegerField()
    letter = CharField()
    class_teacher = ForeignKeyField(Person, null=True, backref="led_classes", on_delete="SET NULL")
    room = ForeignKeyField(Room, null=True, on_delete="SET NULL")
    closed = BooleanField(default=False)

    class Meta:
        indexes = ((("year", "grade", "letter"), True),)

    @property
    def name(self) -> str:
        return f"{self.grade}{self.letter}"

    @property
    def graded(self) -> bool:
        """Grade 1 learns without marks (безотметочное обучение)."""
        return self.grade >= 2


class CurriculumLine(SyncedModel):
    year = ForeignKeyField(AcademicYear, backref="curriculum", on_delete="CASCADE")
    grade = IntegerField()
    subject = ForeignKeyField(Subject, on_delete="CASCADE")
    hours_week = IntegerField()  # whole hours; half hours are written as hours_year
    hours_year = IntegerField()

    class Meta:
        indexes = ((("year", "grade", "subject"), True),)


class SubjectGroup(SyncedModel):
    """Class × subject × teachers × students; each foreign-language subgroup is one group."""

    year = ForeignKeyField(AcademicYear, backref="groups", on_delete="CASCADE")
    school_class = ForeignKeyField(SchoolClass, backref="groups", on_delete="CASCADE")
    subject = ForeignKeyField(Subject, backref="groups", on_delete="CASCADE")
    subgroup = IntegerField(null=True)  # 1, 2 … for subgroups; null for the whole class
    is_draft = BooleanField(default=False)

    @property
    def name(self) -> str:
        suffix = f", {self.subgroup} подгр." if self.subgroup else ""
        return f"{self.subject.name}{suffix} — {self.school_class.name}"


class SubjectGroupTeacher(BaseModel):
    group = ForeignKeyField(SubjectGroup, backref="teacher_links", on_delete="CASCADE")
    teacher = ForeignKeyField(Person, backref="group_links", on_delete="CASCADE")
    is_main = BooleanField(default=True)

    class Meta:
        indexes = ((("group", "teacher"), True),)


class SubjectGroupStudent(BaseModel):
    group = ForeignKeyField(SubjectGroup, backref="student_links", on_delete="CASCADE")
    student = ForeignKeyField(Person, backref="study_links", on_delete="CASCADE")
    starts = DateField()
    ends = DateField(null=True)

    class Meta:
        indexes = ((("group", "student", "starts"), True),)
