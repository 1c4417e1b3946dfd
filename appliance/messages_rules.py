"""Who may write to whom (§5.3, §5.4), decided by the sender's ACTIVE role.

A person may hold several roles; what they may do right now is what their active role
(`g.role`) allows, as everywhere else in the box: Кузнецов acting as a teacher writes to
the students of his groups, acting as class teacher of 5А to 5А's students and parents.

- parent: the class teacher of each child's class, the teachers of the children's
  groups, the administration (director, deputy, admin);
- student: their class teacher and the teachers of their groups;
- teacher: students of their groups, those students' parents, all staff;
- class teacher: their class's students and parents, all staff;
- director, deputy, admin: everyone;
- inspector: nobody (the access matrix already keeps them out of messages).

A recipient is an active account with a role that reads messages. Students and parents
never share a thread with another family (`split_by_family`), so replies — which any
participant may always write within their own thread — can never become student to
student or parent to another parent. Nobody is ever added to an existing thread.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import access
from .models import (
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
from .school_calendar import current_year

ADMINISTRATION = ("director", "deputy", "admin")
WRITES_TO_EVERYONE = frozenset(ADMINISTRATION)
MESSAGING_ROLES = access.MATRIX["messages"][access.WRITE]

CLASS_TEACHER = "Классный руководитель"
TEACHERS = "Учителя"
OFFICE = "Администрация"
COLLEAGUES = "Учителя и сотрудники"


@dataclass(frozen=True)
class Choice:
    """One person the sender may write to, as the compose form lists them."""

    user_id: int
    name: str
    note: str = ""


@dataclass
class ChoiceGroup:
    """Recipients under one heading: «Классный руководитель», «5А — родители» …"""

    label: str
    choices: list[Choice] = field(default_factory=list)


@dataclass(frozen=True)
class _Contact:
    label: str
    person_id: int
    note: str = ""


# --- small queries -------------------------------------------------------------------


def _studies_on(on: dt.date):
    return (SubjectGroupStudent.starts <= on) & (
        SubjectGroupStudent.ends.is_null() | (SubjectGroupStudent.ends >= on)
    )


def _current_groups():
    """This year's real (not draft) subject groups, with class and subject joined."""
    year = current_year()
    return (
        SubjectGroup.select(SubjectGroup, SchoolClass, Subject)
        .join(SchoolClass)
        .switch(SubjectGroup)
        .join(Subject)
        .where((SubjectGroup.year == (year.id if year else 0)) & ~SubjectGroup.is_draft)
    )


def _reachable(user_ids: Iterable[int] = (), person_ids: Iterable[int] = ()) -> list[User]:
    """Active accounts (by user or person id) with a role that reads messages."""
    users, persons = set(user_ids), set(person_ids)
    if not users and not persons:
        return []
    with_role = RoleGrant.select(RoleGrant.user).where(RoleGrant.role.in_(MESSAGING_ROLES))
    query = User.select(User, Person).join(Person).where(User.is_active & User.id.in_(with_role))
    if users:
        query = query.where(User.id.in_(users))
    if persons:
        query = query.where(User.person.in_(persons))
    return list(query)


def staff_user_ids(user_ids: Iterable[int]) -> set[int]:
    """Which of these accounts hold a staff role (they belong to no family)."""
    ids = set(user_ids)
    if not ids:
        return set()
    query = RoleGrant.select(RoleGrant.user).where(
        RoleGrant.user.in_(ids) & RoleGrant.role.in_(access.STAFF_ROLES)
    )
    return {g.user_id for g in query}


def _staff_contacts() -> list[_Contact]:
    """All staff: the administration apart, the rest as colleagues, with their roles."""
    grants = (
        RoleGrant.select(RoleGrant, User)
        .join(User)
        .where(RoleGrant.role.in_(access.STAFF_ROLES) & User.is_active)
    )
    roles: dict[int, list[access.ActiveRole]] = defaultdict(list)
    for grant in grants:
        roles[grant.user.person_id].append(access.ActiveRole(grant.role, grant.school_class_id))
    class_names = _class_names({r.class_id for rs in roles.values() for r in rs if r.class_id})
    contacts = []
    for person_id, held in roles.items():
        office = any(r.role in ADMINISTRATION for r in held)
        order = list(access.ROLES)
        note = ", ".join(
            access.role_label(r, class_names.get(r.class_id or 0, ""))
            for r in sorted(held, key=lambda r: order.index(r.role))
        )
        contacts.append(_Contact(OFFICE if office else COLLEAGUES, person_id, note))
    return contacts


def _class_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {c.id: c.name for c in SchoolClass.select().where(SchoolClass.id.in_(ids))}


def _office_contacts() -> list[_Contact]:
    return [c for c in _staff_contacts() if c.label == OFFICE]


def _teachers_of_students(student_ids: set[int], label_child: bool) -> list[_Contact]:
    """Teachers of these students' current groups, noted with subject (and child)."""
    if not student_ids:
        return []
    on = dt.date.today()
    groups = {g.id: g for g in _current_groups()}
    links = SubjectGroupStudent.select().where(
        SubjectGroupStudent.student.in_(student_ids)
        & SubjectGroupStudent.group.in_(list(groups))
        & _studies_on(on)
    )
    children = {p.id: p for p in Person.select().where(Person.id.in_(student_ids))}
    by_group: dict[int, set[int]] = defaultdict(set)
    for link in links:
        by_group[link.group_id].add(link.student_id)
    teachers = SubjectGroupTeacher.select().where(SubjectGroupTeacher.group.in_(list(by_group)))
    contacts = []
    for link in teachers:
        subject = groups[link.group_id].subject.name
        if not label_child:
            contacts.append(_Contact(TEACHERS, link.teacher_id, subject))
            continue
        for child_id in sorted(by_group[link.group_id]):
            note = f"{subject} ({children[child_id].first_name})"
            contacts.append(_Contact(TEACHERS, link.teacher_id, note))
    return contacts


def _class_teachers_of(students: list[Person], label_child: bool) -> list[_Contact]:
    contacts = []
    for child in students:
        school_class = access.current_class_of(child)
        if school_class is not None and school_class.class_teacher_id:
            note = school_class.name + (f" ({child.first_name})" if label_child else "")
            contacts.append(_Contact(CLASS_TEACHER, school_class.class_teacher_id, note))
    return contacts


def _class_people(class_student_ids: dict[SchoolClass, set[int]]) -> list[_Contact]:
    """Students and their parents, under «5А — ученики» and «5А — родители»."""
    all_ids = set().union(*class_student_ids.values()) if class_student_ids else set()
    if not all_ids:
        return []
    students = {p.id: p for p in Person.select().where(Person.id.in_(all_ids))}
    parents: dict[int, list[int]] = defaultdict(list)
    for link in Guardian.select().where(Guardian.student.in_(all_ids)):
        parents[link.student_id].append(link.parent_id)
    contacts = []
    for school_class in sorted(class_student_ids, key=lambda c: (c.grade, c.letter)):
        for student_id in sorted(class_student_ids[school_class]):
            contacts.append(_Contact(f"{school_class.name} — ученики", student_id))
            for parent_id in parents[student_id]:
                note = students[student_id].short_name
                contacts.append(_Contact(f"{school_class.name} — родители", parent_id, note))
    return contacts


def _students_of_teacher(person: Person) -> dict[SchoolClass, set[int]]:
    mine = SubjectGroupTeacher.select(SubjectGroupTeacher.group).where(
        SubjectGroupTeacher.teacher == person
    )
    groups = {g.id: g for g in _current_groups().where(SubjectGroup.id.in_(mine))}
    if not groups:
        return {}
    links = SubjectGroupStudent.select().where(
        SubjectGroupStudent.group.in_(list(groups)) & _studies_on(dt.date.today())
    )
    by_class: dict[SchoolClass, set[int]] = defaultdict(set)
    for link in links:
        by_class[groups[link.group_id].school_class].add(link.student_id)
    return dict(by_class)


def _students_of_class(school_class: SchoolClass | None) -> dict[SchoolClass, set[int]]:
    if school_class is None:
        return {}
    return {school_class: access.class_student_ids(school_class)}


def _contacts(sender: User, role: access.ActiveRole, class_id: int | None) -> list[_Contact]:
    """Everyone the active role may write to (for the office: staff and one class)."""
    person = sender.person
    if role.role == "parent":
        children = access.children_of(person)
        several = len(children) > 1
        ids = {c.id for c in children}
        return (
            _class_teachers_of(children, several)
            + _teachers_of_students(ids, several)
            + _office_contacts()
        )
    if role.role == "student":
        return _class_teachers_of([person], False) + _teachers_of_students({person.id}, False)
    if role.role == "teacher":
        return _staff_contacts() + _class_people(_students_of_teacher(person))
    if role.role == "class_teacher":
        own = SchoolClass.get_or_none(SchoolClass.id == role.class_id)
        return _staff_contacts() + _class_people(_students_of_class(own))
    if role.role in WRITES_TO_EVERYONE:
        chosen = SchoolClass.get_or_none(SchoolClass.id == class_id) if class_id else None
        return _staff_contacts() + _class_people(_students_of_class(chosen))
    return []


# --- the public rules ----------------------------------------------------------------


def allowed_among(sender: User, role: access.ActiveRole, user_ids: Iterable[int]) -> set[int]:
    """Those of ``user_ids`` the sender, in their active role, may write to."""
    wanted = set(user_ids) - {sender.id}
    if role.role not in MESSAGING_ROLES or not wanted:
        return set()
    users = _reachable(user_ids=wanted)
    if role.role in WRITES_TO_EVERYONE:
        return {u.id for u in users}
    persons = {c.person_id for c in _contacts(sender, role, None)}
    return {u.id for u in users if u.person_id in persons}


def may_write_to(sender: User, role: access.ActiveRole, recipient: User) -> bool:
    """May ``sender``, acting in ``role``, start a thread with ``recipient``?"""
    return recipient.id in allowed_among(sender, role, [recipient.id])


def recipients_for(
    sender: User, role: access.ActiveRole, class_id: int | None = None
) -> list[ChoiceGroup]:
    """The compose form's choices, grouped; people without an account are left out.

    The administration writes to the whole school, so its class lists come one class
    at a time (``class_id``); everyone else gets their whole scope at once.
    """
    contacts = _contacts(sender, role, class_id)
    users = {u.person_id: u for u in _reachable(person_ids={c.person_id for c in contacts})}
    rank = {label: n for n, label in enumerate(_ordered(dict.fromkeys(c.label for c in contacts)))}
    home: dict[int, str] = {}  # each person once, under their first heading
    notes: dict[int, list[str]] = defaultdict(list)
    for contact in contacts:
        user = users.get(contact.person_id)
        if user is None or user.id == sender.id:
            continue
        if user.id not in home or rank[contact.label] < rank[home[user.id]]:
            home[user.id] = contact.label
        if contact.note and contact.note not in notes[user.id]:
            notes[user.id].append(contact.note)
    by_id = {u.id: u for u in users.values()}
    groups: dict[str, list[Choice]] = {label: [] for label in rank}
    for user_id, label in home.items():
        name = by_id[user_id].person.full_name
        groups[label].append(Choice(user_id, name, ", ".join(notes[user_id])))
    return [
        ChoiceGroup(label, sorted(choices, key=lambda c: c.name))
        for label, choices in groups.items()
        if choices
    ]


def _ordered(labels: Iterable[str]) -> list[str]:
    first = [CLASS_TEACHER, TEACHERS, OFFICE, COLLEAGUES]
    known = [label for label in first if label in labels]
    return known + [label for label in labels if label not in first]


def describe(user_ids: Iterable[int]) -> dict[int, str]:
    """Each account's roles in words, to say who a participant is («Родитель», «Директор»)."""
    ids = set(user_ids)
    if not ids:
        return {}
    grants = list(RoleGrant.select().where(RoleGrant.user.in_(ids)))
    names = _class_names({g.school_class_id for g in grants if g.school_class_id})
    order = list(access.ROLES)
    held: dict[int, list[access.ActiveRole]] = defaultdict(list)
    for grant in grants:
        if grant.role in access.ROLES:
            held[grant.user_id].append(access.ActiveRole(grant.role, grant.school_class_id))
    return {
        user_id: ", ".join(
            access.role_label(r, names.get(r.class_id or 0, ""))
            for r in sorted(roles, key=lambda r: order.index(r.role))
        )
        for user_id, roles in held.items()
    }


# --- families ------------------------------------------------------------------------


def split_by_family(recipients: list[User]) -> list[list[User]]:
    """The recipients of one message as threads: one per family, staff in each.

    Students and parents of different families never see each other (§5.3, §5.4: no
    student to student, no parent to another parent), so a message to several families
    goes as a separate thread to each. Staff recipients take part in every one of them.
    """
    # Family first: a teacher who is also a parent at the school is, in a message to
    # families, a member of their own family's thread only — never a colleague in every
    # thread, where they would meet other families.
    in_family = _in_a_family({u.person_id for u in recipients})
    staff = staff_user_ids(u.id for u in recipients)
    colleagues = [u for u in recipients if u.id in staff and u.person_id not in in_family]
    family_members = [u for u in recipients if u.id not in staff or u.person_id in in_family]
    if not family_members:
        return [colleagues] if colleagues else []
    families = families_of([u.person_id for u in family_members])
    by_root: dict[int, list[User]] = defaultdict(list)
    for user in family_members:
        by_root[families[user.person_id]].append(user)
    return [colleagues + members for members in by_root.values()]


def _in_a_family(person_ids: set[int]) -> set[int]:
    """Which of these people are a student or a parent of a student (a Guardian link)."""
    if not person_ids:
        return set()
    links = Guardian.select(Guardian.parent, Guardian.student).where(
        Guardian.parent.in_(person_ids) | Guardian.student.in_(person_ids)
    )
    found = set()
    for link in links:
        found.update({link.parent_id, link.student_id})
    return found & person_ids


def families_of(person_ids: Iterable[int]) -> dict[int, int]:
    """Person id → one id per family (students, their parents, parents sharing a child)."""
    ids = set(person_ids)
    root = {p: p for p in ids}

    def find(p: int) -> int:
        root.setdefault(p, p)
        while root[p] != p:
            root[p] = root[root[p]]
            p = root[p]
        return p

    if ids:
        links = Guardian.select(Guardian.parent, Guardian.student).where(
            Guardian.parent.in_(ids) | Guardian.student.in_(ids)
        )
        for link in links:
            root[find(link.parent_id)] = find(link.student_id)
    return {p: find(p) for p in ids}


# --- a class's parents at once -------------------------------------------------------


@dataclass
class ClassFamily:
    """The parents of one or more students of a class (siblings share one family)."""

    students: list[Person]
    parents: list[User]  # with an account: they get the message
    unreachable: list[Person]  # without one: a printed letter is needed


def parents_classes(sender: User, role: access.ActiveRole) -> list[SchoolClass]:
    """Classes whose parents the active role may write to all at once."""
    if role.role == "teacher":
        return sorted(_students_of_teacher(sender.person), key=lambda c: (c.grade, c.letter))
    if role.role == "class_teacher":
        own = SchoolClass.get_or_none(SchoolClass.id == role.class_id)
        return [own] if own is not None else []
    if role.role in WRITES_TO_EVERYONE:
        year = current_year()
        return list(
            SchoolClass.select()
            .where((SchoolClass.year == (year.id if year else 0)) & ~SchoolClass.closed)
            .order_by(SchoolClass.grade, SchoolClass.letter)
        )
    return []


def class_families(
    sender: User, role: access.ActiveRole, school_class: SchoolClass
) -> list[ClassFamily] | None:
    """The families of a class the role may write to; None when the class is out of scope.

    A teacher reaches the parents of their own groups' students in that class (the whole
    class for a whole-class group); the class teacher and the office the whole class.
    """
    if school_class.id not in {c.id for c in parents_classes(sender, role)}:
        return None
    if role.role == "teacher":
        student_ids = _students_of_teacher(sender.person).get(school_class, set())
    else:
        student_ids = access.class_student_ids(school_class)
    students = {
        p.id: p
        for p in Person.select()
        .where(Person.id.in_(student_ids))
        .order_by(Person.last_name, Person.first_name)
    }
    parents: dict[int, list[int]] = defaultdict(list)
    for link in Guardian.select().where(Guardian.student.in_(list(students))):
        parents[link.student_id].append(link.parent_id)
    parent_ids = {p for ps in parents.values() for p in ps}
    accounts = {u.person_id: u for u in _reachable(person_ids=parent_ids)}
    people = {p.id: p for p in Person.select().where(Person.id.in_(parent_ids))}
    roots = families_of(set(students) | parent_ids)
    families: dict[int, ClassFamily] = {}
    for student in students.values():
        family = families.setdefault(roots[student.id], ClassFamily([], [], []))
        family.students.append(student)
        for parent_id in parents[student.id]:
            user = accounts.get(parent_id)
            if user is not None and user.id != sender.id and user not in family.parents:
                family.parents.append(user)
            elif user is None and people[parent_id] not in family.unreachable:
                family.unreachable.append(people[parent_id])
    return list(families.values())
