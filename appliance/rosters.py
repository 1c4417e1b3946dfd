"""A class's people as the class teacher sees them: students, their parents, accounts."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import access
from .models import Guardian, Person, SchoolClass, User


@dataclass
class ParentEntry:
    parent: Person
    relation: str
    account: User | None


@dataclass
class RosterEntry:
    student: Person
    account: User | None
    parents: list[ParentEntry] = field(default_factory=list)


def roster(school_class: SchoolClass) -> list[RosterEntry]:
    """Students of the class (alphabetical) with parents and accounts, in three queries."""
    student_ids = access.class_student_ids(school_class)
    if not student_ids:
        return []
    students = list(
        Person.select()
        .where(Person.id.in_(student_ids))
        .order_by(Person.last_name, Person.first_name, Person.middle_name)
    )
    links = list(
        Guardian.select(Guardian, Person)
        .join(Person, on=Guardian.parent)
        .where(Guardian.student.in_(student_ids))
        .order_by(Guardian.relation.desc())
    )
    people_ids = student_ids | {link.parent_id for link in links}
    accounts = {u.person_id: u for u in User.select().where(User.person.in_(people_ids))}
    entries = {s.id: RosterEntry(s, accounts.get(s.id)) for s in students}
    for link in links:
        entries[link.student_id].parents.append(
            ParentEntry(link.parent, link.relation, accounts.get(link.parent_id))
        )
    return list(entries.values())


def student_in_class(school_class: SchoolClass, student_id: int) -> Person | None:
    if student_id not in access.class_student_ids(school_class):
        return None
    return Person.get_by_id(student_id)


def parent_in_class(school_class: SchoolClass, parent_id: int) -> Person | None:
    if parent_id not in access.class_parent_ids(school_class):
        return None
    return Person.get_by_id(parent_id)


def children_in_class(parent: Person, school_class: SchoolClass) -> list[Person]:
    """The parent's children in this class only: a class teacher sees no further."""
    students = access.class_student_ids(school_class)
    return [child for child in access.children_of(parent) if child.id in students]


def guardians_of(student: Person) -> list[Guardian]:
    return list(
        Guardian.select(Guardian, Person)
        .join(Person, on=Guardian.parent)
        .where(Guardian.student == student)
    )


def people_of_class(school_class: SchoolClass, ids: set[int]) -> tuple[list[Person], dict]:
    """The requested people if each is a student or parent of the class, with their role."""
    students = access.class_student_ids(school_class)
    parents = access.class_parent_ids(school_class)
    if not ids or not ids <= (students | parents):
        return [], {}
    role_for = {pid: ("student" if pid in students else "parent") for pid in ids}
    people = list(
        Person.select().where(Person.id.in_(ids)).order_by(Person.last_name, Person.first_name)
    )
    return people, role_for
