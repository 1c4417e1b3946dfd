"""Roles, the access matrix and scopes: the one place that says who may do what.

Every route declares the object it touches and whether it reads or writes
(`appliance.web.guard.requires`); this module answers whether the active role may,
and the scope helpers answer *which* rows (a teacher's groups, a parent's children).
docs/access.md is the same matrix in prose; a test keeps the two equal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .models import (
    Enrollment,
    Guardian,
    Person,
    RoleGrant,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    User,
)

ROLES: dict[str, str] = {
    "director": "Директор",
    "deputy": "Заместитель директора по УВР",
    "admin": "Администратор АСУ РСО",
    "teacher": "Учитель",
    "class_teacher": "Классный руководитель",
    "student": "Обучающийся",
    "parent": "Родитель",
    "inspector": "Орган управления образованием",
}
STAFF_ROLES = frozenset({"director", "deputy", "admin", "teacher", "class_teacher"})
ALL = frozenset(ROLES)
READ, WRITE = "read", "write"

# object → mode → roles. Scope narrows these further (see the helpers below).
MATRIX: dict[str, dict[str, frozenset[str]]] = {
    # one's own first page, password and role switch
    "own": {READ: ALL, WRITE: ALL},
    # lessons, marks, attendance, period marks: a teacher writes in own groups only;
    # a class teacher reads their class's groups; the deputy, director, inspector all
    "journal": {
        READ: frozenset({"director", "deputy", "teacher", "class_teacher", "inspector"}),
        WRITE: frozenset({"teacher"}),
    },
    # excusing absences of a date range, «Н» → «УП»/«Б» (§7.3): own class only
    "excuse": {WRITE: frozenset({"class_teacher"})},
    # the deputy's control: unlock a locked lesson or period mark, give a lesson to
    # another teacher, set work types and their weights (§7.5)
    "journal_control": {
        READ: frozenset({"director", "deputy", "inspector"}),
        WRITE: frozenset({"deputy"}),
    },
    # students and parents of a class: the class teacher of that class (§7.3) and the
    # admin, who keeps everyone's data current (§7.2)
    "class": {
        READ: frozenset({"director", "deputy", "admin", "class_teacher", "inspector"}),
        WRITE: frozenset({"admin", "class_teacher"}),
    },
    # accounts of students and parents: issued by their class teacher (§5.2 б, в)
    # or the admin, who "provides every user with credentials" (§7.2)
    "class_credentials": {WRITE: frozenset({"admin", "class_teacher"})},
    # staff records and their accounts: the admin (§5.2 а, §7.2)
    "staff": {
        READ: frozenset({"director", "deputy", "admin"}),
        WRITE: frozenset({"admin"}),
    },
    # every account: lock, unlock, activity statistics (§7.2, §8.1)
    "accounts": {
        READ: frozenset({"director", "admin"}),
        WRITE: frozenset({"admin"}),
    },
    # personal-data change notices and the 3-day rule (§7.2)
    "personal_data": {
        READ: frozenset({"director", "admin"}),
        WRITE: frozenset({"admin"}),
    },
    # the audit chain
    "audit": {READ: frozenset({"director", "admin", "inspector"})},
    # a student's diary: the student themself, a parent for their children
    "diary": {READ: frozenset({"student", "parent"})},
    # the year's plan: calendar, terms and deadlines, bells, curriculum, subject groups,
    # the timetable and its one-off changes, the year rollover (§7.5: the deputy)
    "planning": {
        READ: frozenset({"director", "deputy", "inspector"}),
        WRITE: frozenset({"deputy"}),
    },
    # a subject group's КТП: its teacher imports, edits and submits it (§7.4)
    "ktp": {
        READ: frozenset({"director", "deputy", "teacher", "inspector"}),
        WRITE: frozenset({"teacher"}),
    },
    # checking КТП: the deputy approves or returns with a comment (§7.5)
    "ktp_review": {
        READ: frozenset({"director", "deputy", "inspector"}),
        WRITE: frozenset({"deputy"}),
    },
    # the timetable as each person needs it: everyone, narrowed to what concerns them
    "timetable": {READ: ALL},
    # messages (§5.3, §5.4): everyone but the inspector; who may write to whom is
    # narrowed by appliance.messages_rules (no student to student, no parent to parent)
    "messages": {
        READ: ALL - {"inspector"},
        WRITE: ALL - {"inspector"},
    },
    # the announcements board (§7.5): everyone reads what is meant for them; the
    # administration posts
    "announcements": {
        READ: ALL,
        WRITE: frozenset({"director", "deputy", "admin"}),
    },
    # notices to parents of failing and truant students (§4.3, §7.3, §7.4): teachers for
    # their groups, class teachers for their class; the office reads who was told what
    "parent_notices": {
        READ: frozenset({"director", "deputy", "teacher", "class_teacher", "inspector"}),
        WRITE: frozenset({"teacher", "class_teacher"}),
    },
    # the school's settings: name, letterhead, the admin's contacts, thresholds
    "school_settings": {
        READ: frozenset({"director", "deputy", "admin"}),
        WRITE: frozenset({"director", "deputy", "admin"}),
    },
    # the sync with АСУ РСО: its state for the office; the address, the service account,
    # "sync now" and parked changes for the admin. Teachers see their own pending
    # changes and conflicts with "journal" write, narrowed to their groups.
    "sync": {
        READ: frozenset({"director", "deputy", "admin"}),
        WRITE: frozenset({"admin"}),
    },
    # reports (§8): user activity, journal filling, progress and attendance, the summary
    # sheet, the director's monthly control; read by the office and the inspector,
    # generated as XLSX/PDF by the director and the deputy
    "reports": {
        READ: frozenset({"director", "deputy", "inspector"}),
        WRITE: frozenset({"director", "deputy"}),
    },
    # the user activity report (§8.1): who logged in and did what — staff, students and
    # parents alike, so personal data: the school's administration only, not the inspector
    "user_activity": {READ: frozenset({"director", "deputy"})},
    # the year-end archive on removable media (§9.2): its register for the office; the
    # admin writes and verifies it
    "archive": {
        READ: frozenset({"director", "deputy", "admin"}),
        WRITE: frozenset({"admin"}),
    },
    # destroying archive units whose retention has passed: the director signs the act
    "archive_destroy": {WRITE: frozenset({"director"})},
    # the box's self-diagnosis (`ezh doctor` on a page): the admin who runs the box and
    # the director who answers for it
    "system_health": {READ: frozenset({"director", "admin"})},
    # database backups (separate from the archive): the admin runs and restores them
    "backup": {
        READ: frozenset({"director", "admin"}),
        WRITE: frozenset({"admin"}),
    },
}

# Permissions that only make sense within a class scope.
CLASS_SCOPED = frozenset({"class_teacher"})


@dataclass(frozen=True)
class ActiveRole:
    """The role a user acts in right now, with its class for a class teacher."""

    role: str
    class_id: int | None = None

    @property
    def key(self) -> str:
        return f"{self.role}:{self.class_id}" if self.class_id else self.role

    @classmethod
    def parse(cls, key: str) -> ActiveRole:
        role, _, class_id = key.partition(":")
        return cls(role, int(class_id) if class_id else None)


def allowed(role: str, obj: str, mode: str) -> bool:
    return role in MATRIX.get(obj, {}).get(mode, frozenset())


def grants_of(user: User) -> list[ActiveRole]:
    """Every role the user holds, in a stable order (staff roles first)."""
    order = list(ROLES)
    grants = [
        ActiveRole(g.role, g.school_class_id)
        for g in RoleGrant.select().where(RoleGrant.user == user)
        if g.role in ROLES
    ]
    return sorted(grants, key=lambda a: (order.index(a.role), a.class_id or 0))


def role_label(active: ActiveRole, class_name: str = "") -> str:
    label = ROLES[active.role]
    return f"{label} {class_name}".strip() if active.class_id else label


# --- scopes -------------------------------------------------------------------------


def teacher_group_ids(person: Person) -> set[int]:
    """Subject groups the teacher works in (any teacher link, main or not)."""
    query = SubjectGroupTeacher.select(SubjectGroupTeacher.group).where(
        SubjectGroupTeacher.teacher == person
    )
    return {link.group_id for link in query}


JOURNAL_READ_ALL = frozenset({"director", "deputy", "inspector"})


def may_read_group(person: Person, active: ActiveRole, group: SubjectGroup) -> bool:
    """Journal scope: a teacher reads own groups, a class teacher their class's, the office all."""
    if active.role in JOURNAL_READ_ALL:
        return True
    if active.role == "class_teacher":
        return group.school_class_id == active.class_id
    if active.role == "teacher":
        return group.id in teacher_group_ids(person)
    return False


def groups_in_scope(
    person: Person, active: ActiveRole, class_id: int | None = None
) -> list[SubjectGroup]:
    """The current year's groups (no drafts) the role may read, by class then subject.

    The list form of `may_read_group`: the journal, the period sheets and the deputy's
    control page all list exactly these.
    """
    from .school_calendar import current_year  # the calendar imports nothing of access

    year = current_year()
    if year is None:
        return []
    query = (
        SubjectGroup.select(SubjectGroup, SchoolClass, Subject)
        .join(SchoolClass)
        .switch(SubjectGroup)
        .join(Subject)
        .where((SubjectGroup.year == year) & ~SubjectGroup.is_draft)
    )
    if active.role == "teacher":
        mine = SubjectGroupTeacher.select(SubjectGroupTeacher.group).where(
            SubjectGroupTeacher.teacher == person
        )
        query = query.where(SubjectGroup.id.in_(mine))
    elif active.role == "class_teacher":
        query = query.where(SubjectGroup.school_class == active.class_id)
    elif active.role not in JOURNAL_READ_ALL:
        return []
    if class_id is not None:
        query = query.where(SubjectGroup.school_class == class_id)
    order = (SchoolClass.grade, SchoolClass.letter, Subject.sort_order, Subject.name)
    return list(query.order_by(*order, SubjectGroup.subgroup))


def can_write_group(person: Person, active: ActiveRole, group: SubjectGroup) -> bool:
    return active.role == "teacher" and group.id in teacher_group_ids(person)


def children_of(parent: Person) -> list[Person]:
    return list(
        Person.select()
        .join(Guardian, on=Guardian.student)
        .where(Guardian.parent == parent)
        .order_by(Person.last_name, Person.first_name)
    )


def current_class_of(student: Person, on: dt.date | None = None) -> SchoolClass | None:
    on = on or dt.date.today()
    enrollment = (
        Enrollment.select()
        .where(
            (Enrollment.student == student)
            & (Enrollment.starts <= on)
            & ((Enrollment.ends.is_null()) | (Enrollment.ends >= on))
        )
        .order_by(Enrollment.starts.desc())
        .first()
    )
    return enrollment.school_class if enrollment else None


def class_student_ids(school_class: SchoolClass, on: dt.date | None = None) -> set[int]:
    on = on or dt.date.today()
    query = Enrollment.select(Enrollment.student).where(
        (Enrollment.school_class == school_class)
        & (Enrollment.starts <= on)
        & ((Enrollment.ends.is_null()) | (Enrollment.ends >= on))
    )
    return {e.student_id for e in query}


def class_parent_ids(school_class: SchoolClass) -> set[int]:
    students = class_student_ids(school_class)
    if not students:
        return set()
    query = Guardian.select(Guardian.parent).where(Guardian.student.in_(students))
    return {g.parent_id for g in query}


def can_see_student(person: Person, active: ActiveRole, student: Person) -> bool:
    """May the active role read this student's data at all? (scope only)"""
    role = active.role
    if role in {"director", "deputy", "admin", "inspector"}:
        return True
    if role == "student":
        return student.id == person.id
    if role == "parent":
        return any(child.id == student.id for child in children_of(person))
    if role == "class_teacher":
        cls = SchoolClass.get_or_none(SchoolClass.id == active.class_id)
        return cls is not None and student.id in class_student_ids(cls)
    if role == "teacher":
        groups = teacher_group_ids(person)
        return bool(groups) and (
            SubjectGroupStudent.select()
            .where((SubjectGroupStudent.student == student) & SubjectGroupStudent.group.in_(groups))
            .exists()
        )
    return False


def manages_class(active: ActiveRole, school_class: SchoolClass) -> bool:
    """Write scope over a class's people: its own class teacher, or the admin."""
    if active.role == "class_teacher":
        return active.class_id == school_class.id
    return active.role == "admin"


def may_read_class(active: ActiveRole, school_class: SchoolClass) -> bool:
    if active.role == "class_teacher":
        return active.class_id == school_class.id
    return allowed(active.role, "class", READ)
