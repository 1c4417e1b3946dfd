"""Marking periods of a subject group: its quarters or half-years, the year, the final mark.

Terms are rows per grade range (quarters for grades 2–9, half-years for 10–11, as the
school sets them), each with the period-mark deadline from the school order (§7.4).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .groups import same_subject_groups
from .journal import JournalError
from .models import Person, SubjectGroup, SubjectGroupStudent, Term

FINER_TERMS = ("quarter", "half")
KIND_LABELS = {"year": "год", "final": "итоговая"}


@dataclass(frozen=True)
class Period:
    """What a period mark is for: a term (quarter or half-year), the year, or final."""

    kind: str  # PeriodMark.KINDS
    term: Term | None
    starts: dt.date
    ends: dt.date
    label: str
    deadline: dt.date | None

    @property
    def term_id(self) -> int | None:
        return self.term.id if self.term else None

    def locked(self, today: dt.date) -> bool:
        """Past the deadline: «не позднее сроков, оговорённых приказом» — the day itself counts."""
        return self.deadline is not None and today > self.deadline


def grade_terms(group: SubjectGroup) -> list[Term]:
    """The group's grade's quarters or half-years (grades 2–9 and 10–11 differ), in order."""
    grade = group.school_class.grade
    return list(
        Term.select()
        .where(
            (Term.year == group.year_id)
            & Term.kind.in_(FINER_TERMS)
            & (Term.grade_from <= grade)
            & (Term.grade_to >= grade)
        )
        .order_by(Term.starts)
    )


def _term_period(term: Term) -> Period:
    return Period("term", term, term.starts, term.ends, term.name, term.mark_deadline)


def whole_year(group: SubjectGroup, kind: str) -> Period:
    """Year and final marks: the school's year term deadline, else the last term's."""
    grade = group.school_class.grade
    year_term = (
        Term.select()
        .where(
            (Term.year == group.year_id)
            & (Term.kind == "year")
            & (Term.grade_from <= grade)
            & (Term.grade_to >= grade)
        )
        .first()
    )
    terms = grade_terms(group)
    deadline = year_term.mark_deadline if year_term else None
    if deadline is None and terms:
        deadline = terms[-1].mark_deadline
    year = group.year
    starts = terms[0].starts if terms else year.starts
    ends = terms[-1].ends if terms else year.ends
    return Period(kind, None, starts, ends, KIND_LABELS[kind], deadline)


def periods_of(group: SubjectGroup) -> list[Period]:
    """Every period the group gets marks for, in the order of the year."""
    found = [_term_period(t) for t in grade_terms(group)]
    found.append(whole_year(group, "year"))
    if group.school_class.grade in (9, 11):
        found.append(whole_year(group, "final"))
    return found


def period_of(group: SubjectGroup, kind: str, term_id: int | None) -> Period:
    """A period from request data; JournalError when it does not belong to the group."""
    if kind == "term":
        term = next((t for t in grade_terms(group) if t.id == term_id), None)
        if term is None:
            raise JournalError("Такого учебного периода у этого класса нет.")
        return _term_period(term)
    if kind == "final" and group.school_class.grade not in (9, 11):
        raise JournalError("Итоговые отметки ставятся только в 9 и 11 классах.")
    if kind in KIND_LABELS:
        return whole_year(group, kind)
    raise JournalError("Укажите период: четверть (полугодие), год или итоговую отметку.")


def default_period(group: SubjectGroup, today: dt.date) -> Period:
    """The term containing today, else the last one begun, else the year."""
    terms = grade_terms(group)
    begun = [t for t in terms if t.starts <= today]
    # In the holidays between two terms, the term just over is the one being marked.
    if begun and (today <= begun[-1].ends or len(begun) < len(terms)):
        return _term_period(begun[-1])
    if terms and not begun:
        return _term_period(terms[0])
    return whole_year(group, "year")


def group_members(group: SubjectGroup, period: Period) -> list[Person]:
    """Students whose period mark this group gives, alphabetically.

    Everyone in the group at any time of the period, except a student who moved to
    another subgroup of the same class and subject within it: their period mark is
    given where they ended the period (their marks from here count there too).
    """
    links = (
        SubjectGroupStudent.select(
            SubjectGroupStudent.student, SubjectGroupStudent.group, SubjectGroupStudent.starts
        )
        .where(
            SubjectGroupStudent.group.in_(same_subject_groups(group))
            & (SubjectGroupStudent.starts <= period.ends)
            & (SubjectGroupStudent.ends.is_null() | (SubjectGroupStudent.ends >= period.starts))
        )
        .order_by(SubjectGroupStudent.starts, SubjectGroupStudent.id)
        .tuples()
    )
    last_group: dict[int, int] = {}
    for student_id, group_id, _starts in links:
        last_group[student_id] = group_id  # the latest membership of the period wins
    ours = [sid for sid, gid in last_group.items() if gid == group.id]
    if not ours:
        return []
    return list(
        Person.select()
        .where(Person.id.in_(ours))
        .order_by(Person.last_name, Person.first_name, Person.middle_name)
    )
