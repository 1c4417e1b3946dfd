"""Which groups a role may read, and the marking periods a group's grid can show."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..access import ActiveRole, groups_in_scope, may_read_group
from ..models import (
    AcademicYear,
    Person,
    SchoolClass,
    Subject,
    SubjectGroup,
    Term,
)
from ..school_calendar import SchoolCalendar, TermSpan

YEAR_PERIOD_ID = 0  # the whole academic year, for a school that has not set terms yet


def readable_group(group_id: int, person: Person, role: ActiveRole) -> SubjectGroup | None:
    """The group with its class, subject and year, or None when missing or out of scope."""
    group = (
        SubjectGroup.select(SubjectGroup, SchoolClass, Subject, AcademicYear)
        .join(SchoolClass)
        .switch(SubjectGroup)
        .join(Subject)
        .switch(SubjectGroup)
        .join(AcademicYear)
        .where(SubjectGroup.id == group_id)
        .first()
    )
    if group is None or not may_read_group(person, role, group):
        return None
    return group


@dataclass
class ClassGroups:
    school_class: SchoolClass
    groups: list[SubjectGroup]


def readable_groups(person: Person, role: ActiveRole) -> list[ClassGroups]:
    """The groups the role may open (`access.groups_in_scope`), in sections by class."""
    sections: dict[int, ClassGroups] = {}
    for group in groups_in_scope(person, role):
        section = sections.setdefault(group.school_class_id, ClassGroups(group.school_class, []))
        section.groups.append(group)
    return list(sections.values())


# --- periods --------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """The span a grid shows: a term (quarter, half-year, year) or, lacking terms, the year."""

    id: int
    kind: str
    name: str
    starts: dt.date
    ends: dt.date


def periods_of(group: SubjectGroup) -> list[Period]:
    """The group's terms for its grade: quarters or half-years first, then the year."""
    grade = group.school_class.grade
    terms = (
        Term.select()
        .where((Term.year == group.year_id) & (Term.grade_from <= grade) & (Term.grade_to >= grade))
        .order_by(Term.kind == "year", Term.starts, Term.id)
    )
    periods = [Period(t.id, t.kind, t.name, t.starts, t.ends) for t in terms]
    if not periods:
        year = group.year
        periods = [
            Period(YEAR_PERIOD_ID, "year", f"{year.name} учебный год", year.starts, year.ends)
        ]
    return periods


def default_period(group: SubjectGroup, periods: list[Period], today: dt.date) -> Period:
    """The term containing today for the class's grade; else the last begun; else the first."""
    grade = group.school_class.grade
    calendar = SchoolCalendar(group.year.starts, group.year.ends)
    # The span's number carries the period's position back out of term_for.
    calendar.terms = [
        TermSpan(p.kind, i, p.name, p.starts, p.ends, grade, grade) for i, p in enumerate(periods)
    ]
    span = calendar.term_for(today, grade)
    if span is not None:
        return periods[span.number]
    begun = [p for p in periods if p.starts <= today]
    return max(begun, key=lambda p: p.starts) if begun else periods[0]


def pick_period(
    group: SubjectGroup, periods: list[Period], period_id: int | None, today: dt.date
) -> Period | None:
    if period_id is None:
        return default_period(group, periods, today)
    return next((p for p in periods if p.id == period_id), None)
