"""Who teaches what: subject groups with their teachers, rooms and class teachers.

Primary classes are taught mostly by their own class teacher in their home room.
Elsewhere a subject goes to the least-loaded teacher of that subject, keeping
Russian with literature and mathematics with algebra and geometry in one hand.
English from grade 2 is two alphabetical subgroups with two different teachers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from .curriculum import (
    PRIMARY_TEACHER_SUBJECTS,
    SPLIT_FROM_GRADE,
    TEACHING_UNITS,
    grade_subjects,
    hours_week,
)
from .roster import StaffMember, StudentMember

CLASS_TEACHER_POOL = ("rus", "math", "eng", "hist", "geo", "bio", "chem", "phys")


@dataclass
class ClassPlan:
    index: int
    grade: int
    letter: str
    class_teacher: StaffMember | None = None
    room: str | None = None
    students: list[StudentMember] = field(default_factory=list)
    id: int = 0

    @property
    def name(self) -> str:
        return f"{self.grade}{self.letter}"


@dataclass
class GroupPlan:
    school_class: ClassPlan
    subject: str
    teacher: StaffMember
    room: str | None
    students: list[StudentMember]
    subgroup: int | None = None
    id: int = 0


def _room(teacher: StaffMember) -> str | None:
    return teacher.spec.room if teacher.spec else None


def plan_groups(
    classes: list[ClassPlan], staff: list[StaffMember]
) -> tuple[list[GroupPlan], dict[int, int]]:
    """The subject groups of every class and each teacher's weekly hours (by person id)."""
    primary = [s for s in staff if s.spec.key.startswith("primary")]
    load: dict[int, int] = defaultdict(int)
    groups: list[GroupPlan] = []

    units: dict[tuple[int, str], list[str]] = {}
    for cls in classes:
        for code in grade_subjects(cls.grade):
            if cls.grade <= 4 and code in PRIMARY_TEACHER_SUBJECTS:
                teacher = primary[cls.index]
                groups.append(GroupPlan(cls, code, teacher, _room(teacher), cls.students))
                load[teacher.id] += hours_week(code, cls.grade)
            else:
                units.setdefault((cls.index, TEACHING_UNITS.get(code, code)), []).append(code)

    def unit_hours(item: tuple[tuple[int, str], list[str]]) -> int:
        (c, _), codes = item
        return sum(hours_week(code, classes[c].grade) for code in codes)

    order = list(staff)
    for (c, unit), codes in sorted(units.items(), key=lambda it: (-unit_hours(it), it[0])):
        cls = classes[c]
        pool = [
            s
            for s in staff
            if unit in s.spec.subjects and s.spec.grades[0] <= cls.grade <= s.spec.grades[1]
        ]
        if not pool:
            raise ValueError(f"nobody teaches {unit} in grade {cls.grade}")
        pool.sort(key=lambda s: (load[s.id], order.index(s)))
        hours = unit_hours(((c, unit), codes))
        if unit == "eng" and cls.grade >= SPLIT_FROM_GRADE:
            half = (len(cls.students) + 1) // 2
            halves = (cls.students[:half], cls.students[half:])
            for subgroup, (teacher, members) in enumerate(
                zip(pool[:2], halves, strict=True), start=1
            ):
                groups.append(GroupPlan(cls, "eng", teacher, _room(teacher), members, subgroup))
                load[teacher.id] += hours
            continue
        teacher = pool[0]
        for code in codes:
            groups.append(GroupPlan(cls, code, teacher, _room(teacher), cls.students))
        load[teacher.id] += hours
    groups.sort(key=lambda g: (g.school_class.index, g.subject, g.subgroup or 0))
    return groups, dict(load)


def choose_class_teachers(
    classes: list[ClassPlan], staff: list[StaffMember], groups: list[GroupPlan]
) -> None:
    """Primary teachers lead their class; in grades 5–9 a subject teacher of the class does."""
    primary = [s for s in staff if s.spec.key.startswith("primary")]
    taken: set[int] = set()
    for cls in classes:
        if cls.grade <= 4:
            cls.class_teacher = primary[cls.index]
        else:
            hours: dict[int, int] = defaultdict(int)
            for g in groups:
                if g.school_class is cls:
                    hours[g.teacher.id] += hours_week(g.subject, cls.grade)
            candidates = [
                s
                for s in staff
                if s.id not in taken
                and s.spec.key.rstrip("0123456789") in CLASS_TEACHER_POOL
                and hours.get(s.id)
            ]
            if not candidates:
                candidates = [s for s in staff if s.id not in taken and hours.get(s.id)]
            cls.class_teacher = max(candidates, key=lambda s: (hours[s.id], -staff.index(s)))
        taken.add(cls.class_teacher.id)
        cls.room = _room(cls.class_teacher)
