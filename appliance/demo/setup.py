"""The demo school's fixed setup: the school, its year and calendar, bells, rooms, catalogues."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..bulk import insert_rows, next_id
from ..models import (
    AcademicYear,
    Bell,
    BellSchedule,
    CurriculumLine,
    NonSchoolDay,
    Room,
    School,
    Subject,
    Term,
    WorkType,
)
from ..school_calendar import academic_year_bounds, academic_year_name
from . import curriculum as cur
from .dates import TermPlan, demo_calendar

SCHOOL = {
    "name": "ГБОУ ООШ № 2 г.о. Октябрьск",
    "short_name": "ООШ № 2",
    "address": "445240, Самарская область, г. Октябрьск, ул. Ленина, д. 42",
    "letterhead": (
        "Государственное бюджетное общеобразовательное учреждение Самарской области\n"
        "основная общеобразовательная школа № 2 города Октябрьска\n"
        "городского округа Октябрьск Самарской области\n"
        "445240, Самарская область, г. Октябрьск, ул. Ленина, д. 42\n"
        "тел. +7 (84646) 2-12-34, e-mail: oosh2@oktyabrsk.example"
    ),
    "setup_complete": True,
}


@dataclass
class Setup:
    """What later steps need of the setup: rows and ids by name or code."""

    school: School | None = None
    year: AcademicYear | None = None
    terms: list[TermPlan] = field(default_factory=list)
    term_ids: dict[int, int] = field(default_factory=dict)  # quarter number → Term id
    lesson_ends: dict[int, dt.time] = field(default_factory=dict)
    rooms: dict[str, int] = field(default_factory=dict)
    subjects: dict[str, int] = field(default_factory=dict)
    work_types: dict[str, tuple[int, int]] = field(default_factory=dict)  # name → (id, weight)


def write_setup(today: dt.date) -> Setup:
    """The school, the academic year containing ``today`` and everything fixed in it."""
    setup = Setup()
    starts, ends = academic_year_bounds(today)
    setup.school = School.create(**SCHOOL)
    setup.year = AcademicYear.create(
        name=academic_year_name(today), starts=starts, ends=ends, is_current=True
    )
    calendar = demo_calendar(starts.year)
    setup.terms = calendar.terms
    for term in calendar.terms:
        row = Term.create(
            year=setup.year,
            kind=term.kind,
            number=term.number,
            name=term.name,
            starts=term.starts,
            ends=term.ends,
            grade_from=1,
            grade_to=max(cur.GRADES),
            mark_deadline=term.mark_deadline,
        )
        if term.kind == "quarter":
            setup.term_ids[term.number] = row.id
    insert_rows(
        NonSchoolDay,
        (
            {
                "year": setup.year.id,
                "date": d.date,
                "kind": d.kind,
                "works_as_weekday": d.works_as_weekday,
                "grade_from": d.grade_from,
                "grade_to": d.grade_to,
                "note": d.note,
            }
            for d in calendar.days
        ),
    )
    schedule = BellSchedule.create(name="Основное расписание звонков", is_default=True)
    insert_rows(
        Bell,
        ({"schedule": schedule.id, "number": n, "starts": s, "ends": e} for n, s, e in cur.bells()),
    )
    setup.lesson_ends = {n: e for n, _, e in cur.bells()}
    first = next_id(Room)
    setup.rooms = {name: first + i for i, (name, _, _) in enumerate(cur.ROOMS)}
    insert_rows(
        Room,
        (
            {"id": setup.rooms[name], "name": name, "capacity": cap, "note": note}
            for name, cap, note in cur.ROOMS
        ),
    )

    first = next_id(Subject)
    setup.subjects = {s.code: first + i for i, s in enumerate(cur.SUBJECTS)}
    insert_rows(
        Subject,
        (
            {
                "id": setup.subjects[s.code],
                "name": s.name,
                "short_name": s.short_name,
                "scale": s.scale,
                "is_foreign_language": s.is_foreign_language,
                "sort_order": 10 * (i + 1),
            }
            for i, s in enumerate(cur.SUBJECTS)
        ),
    )
    first = next_id(WorkType)
    setup.work_types = {w.name: (first + i, w.weight) for i, w in enumerate(cur.WORK_TYPES)}
    insert_rows(
        WorkType,
        (
            {
                "id": first + i,
                "name": w.name,
                "short_name": w.short_name,
                "weight": w.weight,
                "is_default": w.is_default,
                "sort_order": 10 * (i + 1),
            }
            for i, w in enumerate(cur.WORK_TYPES)
        ),
    )
    insert_rows(
        CurriculumLine,
        (
            {
                "year": setup.year.id,
                "grade": grade,
                "subject": setup.subjects[code],
                "hours_week": cur.hours_week(code, grade),
                "hours_year": cur.hours_year(code, grade),
            }
            for grade in cur.GRADES
            for code in cur.grade_subjects(grade)
        ),
    )
    return setup
