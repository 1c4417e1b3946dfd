"""The demo school's people: staff, an inspector, students and their families.

Families come first: a surname, a father's name (for the children's patronymics),
a mother and often a father as guardians, one child or — for a few families — two
children in different grades. Students of a class are listed alphabetically.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field

from . import names
from .curriculum import STAFF, StaffSpec
from .names import FullName

INSPECTOR_POSITION = "специалист Октябрьского управления министерства образования"
SIBLING_FAMILIES = 14
CHRONIC_ABSENTEES = 2


@dataclass
class Member:
    """A person of the demo: their row data plus what the generators need."""

    name: FullName
    birth_date: dt.date
    phone: str = ""
    address: str = ""
    email: str = ""
    position: str = ""
    is_staff: bool = False
    id: int = 0


@dataclass
class StaffMember(Member):
    spec: StaffSpec | None = None


@dataclass
class StudentMember(Member):
    class_index: int = 0
    ability: float = 4.0  # the mean mark this student tends to get
    chronic: bool = False  # misses school often


@dataclass
class ParentMember(Member):
    relation: str = ""
    children: list[StudentMember] = field(default_factory=list)


@dataclass
class Roster:
    staff: list[StaffMember]
    inspector: Member
    students: list[StudentMember]  # by class, alphabetically
    parents: list[ParentMember]

    def everyone(self) -> list[Member]:
        return [*self.staff, self.inspector, *self.students, *self.parents]


def _random_date(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=rng.randint(0, (last - first).days))


def _phone(rng: random.Random) -> str:
    code, first, second, third = (
        rng.randint(a, b) for a, b in ((10, 99), (100, 999), (10, 99), (10, 99))
    )
    return f"+7 9{code} {first}-{second}-{third}"


def _staff(rng: random.Random, surnames: list[str]) -> list[StaffMember]:
    out = []
    for spec in STAFF:
        name = names.adult_name(rng, spec.gender, surnames.pop())
        born = _random_date(rng, dt.date(1963, 1, 1), dt.date(1998, 12, 31))
        if spec.key == "director":
            born = _random_date(rng, dt.date(1968, 1, 1), dt.date(1976, 12, 31))
        out.append(
            StaffMember(name, born, _phone(rng), position=spec.position, is_staff=True, spec=spec)
        )
    return out


def _birth_date(rng: random.Random, first_year: int, grade: int) -> dt.date:
    """Born in the year a first-grader of this cohort turned seven, or the autumn before."""
    year = first_year - grade - 6
    return _random_date(rng, dt.date(year - 1, 9, 1), dt.date(year, 12, 31))


def _ability(rng: random.Random) -> float:
    return min(4.95, max(2.7, rng.gauss(3.95, 0.5)))


def build_roster(
    rng: random.Random, first_year: int, grades: list[int], first_id: int = 1
) -> Roster:
    """Staff, the inspector and the students of classes of ``grades`` with their families.

    Person ids are handed out from ``first_id`` in the order of `Roster.everyone`.
    """
    surnames = list(names.SURNAMES)
    rng.shuffle(surnames)
    staff = _staff(rng, surnames)
    inspector = Member(
        names.adult_name(rng, "ж", surnames.pop()),
        _random_date(rng, dt.date(1975, 1, 1), dt.date(1990, 12, 31)),
        _phone(rng),
        position=INSPECTOR_POSITION,
    )

    sizes = [rng.randint(23, 27) for _ in grades]
    families: list[list[int]] = []
    for _ in range(SIBLING_FAMILIES):
        while True:
            a, b = sorted(rng.sample(range(len(grades)), 2))
            if grades[a] != grades[b]:
                break
        families.append([a, b])
    remaining = list(sizes)
    for a, b in families:
        remaining[a] -= 1
        remaining[b] -= 1
    families += [[c] for c, n in enumerate(remaining) for _ in range(n)]
    rng.shuffle(families)

    by_class: list[list[StudentMember]] = [[] for _ in grades]
    parents: list[ParentMember] = []
    for classes in families:
        surname = rng.choice(names.SURNAMES)
        father_name = rng.choice(names.MEN)
        street = rng.choice(names.STREETS)
        address = (
            f"445240, Самарская обл., г. Октябрьск, ул. {street}, "
            f"д. {rng.randint(1, 60)}, кв. {rng.randint(1, 90)}"
        )
        children = []
        for c in classes:
            gender = rng.choice("мж")
            child = StudentMember(
                names.child_name(rng, gender, surname, father_name),
                _birth_date(rng, first_year, grades[c]),
                address=address,
                class_index=c,
                ability=_ability(rng),
            )
            if grades[c] >= 5 and rng.random() < 0.3:
                child.phone = _phone(rng)
            children.append(child)
            by_class[c].append(child)
        oldest = min(child.birth_date for child in children)
        has_mother = rng.random() < 0.97
        has_father = not has_mother or rng.random() < 0.65
        for relation, gender in (("мать", "ж"), ("отец", "м")):
            if not (has_mother if gender == "ж" else has_father):
                continue
            name = names.adult_name(rng, gender, surname)
            if gender == "м":
                name = FullName(name.last_name, father_name, name.middle_name, "м")
            age = rng.randint(22, 38) if gender == "ж" else rng.randint(24, 42)
            born = oldest - dt.timedelta(days=365 * age + rng.randint(0, 300))
            parents.append(
                ParentMember(name, born, _phone(rng), address, relation=relation, children=children)
            )

    students: list[StudentMember] = []
    for members in by_class:
        members.sort(key=lambda s: (s.name.last_name, s.name.first_name, s.name.middle_name))
        students += members
    older = [s for s in students if grades[s.class_index] >= 7]
    for student in rng.sample(older, CHRONIC_ABSENTEES):
        student.chronic = True
        student.ability = min(student.ability, 3.3)

    roster = Roster(staff, inspector, students, parents)
    for number, member in enumerate(roster.everyone(), start=first_id):
        member.id = number
    return roster
