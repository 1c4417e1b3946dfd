"""Whose timetable a person may see: everyone reads it, narrowed to what concerns them.

A student sees their own class; a parent their children's classes; a teacher the
classes they teach (and their own lessons); a class teacher their class; the office
(director, deputy, inspector, admin) every class. Teacher and room timetables are
planning data (director, deputy, inspector). Out of scope is «not found» (404).
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import access
from ..models import (
    AcademicYear,
    Enrollment,
    Guardian,
    Person,
    SchoolClass,
    SubjectGroup,
    SubjectGroupTeacher,
)

OFFICE = frozenset({"director", "deputy", "inspector", "admin"})


@dataclass(frozen=True)
class Child:
    """A parent's child with their class in the year (None: not in a class of that year)."""

    person: Person
    school_class: SchoolClass | None


def enrolled_classes(student: Person | int, year: AcademicYear) -> list[SchoolClass]:
    """The classes of ``year`` the student is (or was) enrolled in, latest first."""
    return list(
        SchoolClass.select()
        .join(Enrollment)
        .where((Enrollment.student == student) & (SchoolClass.year == year))
        .order_by(Enrollment.starts.desc())
    )


def children(parent: Person, year: AcademicYear) -> list[Child]:
    """A parent's children, each with their class of the year."""
    kids = (
        Person.select()
        .join(Guardian, on=Guardian.student)
        .where(Guardian.parent == parent)
        .order_by(Person.last_name, Person.first_name)
    )
    return [Child(kid, next(iter(enrolled_classes(kid, year)), None)) for kid in kids]


def taught_class_ids(teacher: Person, year: AcademicYear) -> set[int]:
    query = (
        SubjectGroup.select(SubjectGroup.school_class)
        .join(SubjectGroupTeacher)
        .where((SubjectGroupTeacher.teacher == teacher) & (SubjectGroup.year == year))
        .tuples()
    )
    return {class_id for (class_id,) in query}


def visible_class_ids(
    person: Person, active: access.ActiveRole, year: AcademicYear
) -> set[int] | None:
    """The classes of ``year`` whose timetable the role may see; None means all of them."""
    role = active.role
    if role in OFFICE:
        return None
    if role == "student":
        return {c.id for c in enrolled_classes(person, year)}
    if role == "parent":
        return {c.school_class.id for c in children(person, year) if c.school_class}
    if role == "class_teacher":
        return {active.class_id} if active.class_id else set()
    if role == "teacher":
        return taught_class_ids(person, year)
    return set()


def may_view_class(person: Person, active: access.ActiveRole, school_class: SchoolClass) -> bool:
    """Whether the role may open this class's timetable."""
    allowed = visible_class_ids(person, active, school_class.year)
    return allowed is None or school_class.id in allowed


def may_plan(active: access.ActiveRole) -> bool:
    """Teacher and room timetables, conflicts and changes: the planning readers."""
    return access.allowed(active.role, "planning", access.READ)


def may_edit(active: access.ActiveRole, year: AcademicYear | None = None) -> bool:
    """The deputy edits the timetable (of a year not yet closed) and the rooms."""
    writes = access.allowed(active.role, "planning", access.WRITE)
    return writes and not (year is not None and year.read_only)
