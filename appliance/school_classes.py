"""The classes of an academic year: add, rename, give a room, close, reopen (§7.5).

Each year has its own classes (the rollover makes next year's 6А from this year's
5А). The class teacher is not set here: the admin assigns them on the staff card.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from peewee import JOIN

from .curriculum import GRADES, reference_date
from .db import snapshot, write
from .models import AcademicYear, Enrollment, Lesson, Person, Room, SchoolClass, SubjectGroup
from .numbers import is_number
from .years import PlanningError, ensure_editable

LETTER = re.compile(r"^[А-ЯЁ]$")
# A class letter typed on the Latin layout: «5A» means «5А».
LATIN_LOOKALIKES = str.maketrans("ABCEHKMOPTX", "АВСЕНКМОРТХ")


@dataclass
class ClassRow:
    school_class: SchoolClass
    students: int
    groups: int


def year_classes(year: AcademicYear, *, include_closed: bool = True) -> list[SchoolClass]:
    """The year's classes with their class teacher and room (one query for the list)."""
    query = (
        SchoolClass.select(SchoolClass, Person, Room)
        .join(Person, JOIN.LEFT_OUTER, on=SchoolClass.class_teacher)
        .switch(SchoolClass)
        .join(Room, JOIN.LEFT_OUTER, on=SchoolClass.room)
        .where(SchoolClass.year == year)
    )
    if not include_closed:
        query = query.where(~SchoolClass.closed)
    return list(query.order_by(SchoolClass.grade, SchoolClass.letter))


def class_rows(year: AcademicYear) -> list[ClassRow]:
    """Each class of the year with its number of students (on the reference day) and groups."""
    on = reference_date(year)
    classes = year_classes(year)
    students: dict[int, int] = {}
    for e in Enrollment.select(Enrollment.school_class).where(
        Enrollment.school_class.in_(classes)
        & (Enrollment.starts <= on)
        & (Enrollment.ends.is_null() | (Enrollment.ends >= on))
    ):
        students[e.school_class_id] = students.get(e.school_class_id, 0) + 1
    groups: dict[int, int] = {}
    for g in SubjectGroup.select(SubjectGroup.school_class).where(SubjectGroup.year == year):
        groups[g.school_class_id] = groups.get(g.school_class_id, 0) + 1
    return [ClassRow(c, students.get(c.id, 0), groups.get(c.id, 0)) for c in classes]


def _clean_class(year: AcademicYear, data: Mapping, school_class: SchoolClass | None) -> dict:
    grade = (data.get("grade") or "").strip()
    if not is_number(grade, 2) or int(grade) not in GRADES:
        raise PlanningError("Параллель класса — число от 1 до 11.")
    letter = (data.get("letter") or "").strip().upper().translate(LATIN_LOOKALIKES)
    if not LETTER.match(letter):
        raise PlanningError("Буква класса — одна русская буква (А, Б, В …).")
    room_id = (data.get("room") or "").strip()
    room = None
    if room_id:
        room = Room.get_or_none(Room.id == int(room_id)) if is_number(room_id) else None
        if room is None:
            raise PlanningError("Такого кабинета нет.")
    twin = SchoolClass.get_or_none(
        (SchoolClass.year == year)
        & (SchoolClass.grade == int(grade))
        & (SchoolClass.letter == letter)
    )
    if twin is not None and (school_class is None or twin.id != school_class.id):
        raise PlanningError(f"Класс {grade}{letter} в {year.name} учебном году уже есть.")
    if school_class is not None and school_class.grade != int(grade):
        held = (
            Lesson.select()
            .join(SubjectGroup)
            .where(SubjectGroup.school_class == school_class)
            .exists()
        )
        if held:
            raise PlanningError(
                f"У класса {school_class.name} уже есть уроки в журнале: параллель менять "
                "нельзя (учебный план и периоды другие). Создайте новый класс."
            )
    return {"grade": int(grade), "letter": letter, "room": room}


def save_class(
    year: AcademicYear, data: Mapping, *, user, ip: str, school_class: SchoolClass | None = None
) -> SchoolClass:
    """Add a class to the year, or change its grade, letter or room."""
    ensure_editable(year)
    cleaned = _clean_class(year, data, school_class)
    with write(user=user, ip=ip) as rec:
        if school_class is None:
            school_class = SchoolClass.create(year=year, **cleaned)
            rec.record("class.create", school_class, sync=True)
            return school_class
        before = snapshot(school_class)
        for key, value in cleaned.items():
            setattr(school_class, key, value)
        school_class.save()
        rec.record("class.update", school_class, before=before, sync=True)
    return school_class


def set_class_closed(school_class: SchoolClass, closed: bool, *, user, ip: str) -> None:
    """Close a class (it leaves the lists, its journal stays) or open it again."""
    ensure_editable(school_class.year)
    if school_class.closed == closed:
        return
    with write(user=user, ip=ip) as rec:
        before = snapshot(school_class)
        school_class.closed = closed
        school_class.save()
        rec.record(
            "class.close" if closed else "class.reopen", school_class, before=before, sync=True
        )


def delete_class(school_class: SchoolClass, *, user, ip: str) -> None:
    """Remove a class made by mistake: only one with no students and no groups."""
    ensure_editable(school_class.year)
    if Enrollment.select().where(Enrollment.school_class == school_class).exists():
        raise PlanningError(
            f"В классе {school_class.name} есть ученики: его можно закрыть, но не удалить."
        )
    if SubjectGroup.select().where(SubjectGroup.school_class == school_class).exists():
        raise PlanningError(
            f"У класса {school_class.name} есть группы: сначала удалите их или закройте класс."
        )
    with write(user=user, ip=ip) as rec:
        before = snapshot(school_class)
        school_class.delete_instance()
        rec.record("class.delete", school_class, before=before, sync=True, op="delete")
