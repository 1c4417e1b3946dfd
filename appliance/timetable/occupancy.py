"""Who uses a lesson slot on a day: the check behind moves, substitutions and room changes.

Stored lessons win over what the timetable gives, so a day whose lessons were not
generated yet is checked against the timetable itself. A cancelled lesson frees its
teacher and room, but still holds its group's slot: a lesson is one per group, date
and number, so nothing of that group can be moved onto it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..lessons import timetable_meetings
from ..models import AcademicYear, Lesson, SchoolClass, Subject, SubjectGroup
from ..school_calendar import SchoolCalendar
from ..years import PlanningError
from .entries import EntryRow, load_entries


def meetings_on(school_class: SchoolClass, day: dt.date) -> list[EntryRow]:
    """The class's timetable entries that meet on ``day`` (holidays and transfers applied)."""
    year = school_class.year
    if not year.starts <= day <= year.ends:
        return []
    weekday = SchoolCalendar.load(year).timetable_weekday(day, school_class.grade)
    if weekday is None:
        return []
    return [
        e
        for e in load_entries(year, start=day, end=day, class_id=school_class.id)
        if e.weekday == weekday and not e.is_draft
    ]


@dataclass(frozen=True)
class Occupant:
    """Who uses a lesson slot on a day: a group with its teacher and room."""

    group_id: int
    class_id: int
    subgroup: int | None
    number: int
    teacher_id: int | None
    room_id: int | None
    lesson_id: int | None
    label: str
    cancelled: bool = False


def day_occupants(year: AcademicYear, day: dt.date) -> list[Occupant]:
    """Every meeting of ``day``: stored lessons, else what the timetable gives (cancelled too)."""
    slots: dict[tuple[int, int], tuple[int | None, int | None, int | None, str]] = {}
    for m in timetable_meetings(year, day, day):
        slots[(m.group_id, m.number)] = (m.teacher_id, m.room_id, None, m.state)
    lessons = (
        Lesson.select(
            Lesson.id, Lesson.group, Lesson.number, Lesson.teacher, Lesson.room, Lesson.state
        )
        .join(SubjectGroup)
        .where((SubjectGroup.year == year) & (Lesson.date == day))
        .tuples()
    )
    for lesson_id, group_id, number, teacher_id, room_id, state in lessons:
        slots[(group_id, number)] = (teacher_id, room_id, lesson_id, state)
    groups = {
        g.id: g
        for g in SubjectGroup.select(SubjectGroup, SchoolClass, Subject)
        .join(SchoolClass)
        .switch(SubjectGroup)
        .join(Subject)
        .where(SubjectGroup.id.in_([key[0] for key in slots] or [0]))
    }
    return [
        Occupant(
            group_id,
            groups[group_id].school_class_id,
            groups[group_id].subgroup,
            number,
            teacher_id,
            room_id,
            lesson_id,
            f"{groups[group_id].school_class.name} {groups[group_id].subject.name}",
            state == "cancelled",
        )
        for (group_id, number), (teacher_id, room_id, lesson_id, state) in slots.items()
        if group_id in groups
    ]


def check_free(
    occupants: list[Occupant],
    number: int,
    *,
    lesson: Lesson,
    teacher_id: int | None,
    room_id: int | None,
    check_class: bool,
) -> None:
    """Refuse when the class, the teacher or the room already has a lesson then."""
    group = lesson.group
    for other in occupants:
        if other.number != number or other.lesson_id == lesson.id:
            continue
        if other.group_id == group.id and check_class and other.cancelled:
            raise PlanningError(
                f"У этой группы в это время стоит отменённый урок ({other.label}): "
                "выберите другое время или сначала верните отменённый урок."
            )
        if other.cancelled:
            continue  # frees the class, the teacher and the room
        if other.group_id == group.id and check_class:
            raise PlanningError(f"У этой группы в это время уже есть урок ({other.label}).")
        same_class = other.class_id == group.school_class_id
        parallel = other.subgroup is not None and group.subgroup is not None
        if check_class and same_class and not parallel:
            raise PlanningError(f"У класса в это время уже есть урок: {other.label}.")
        if teacher_id is not None and other.teacher_id == teacher_id:
            raise PlanningError(f"Учитель в это время ведёт другой урок: {other.label}.")
        if room_id is not None and other.room_id == room_id:
            raise PlanningError(f"Кабинет в это время занят: {other.label}.")
