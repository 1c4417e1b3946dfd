"""Period marks: quarter / half-year, year and final marks of a subject group (§7.4).

The suggestion comes from `grading.suggest_period_mark` with the school's rounding
threshold and minimum number of marks. After the period's deadline (the school order,
`Term.mark_deadline`) the teacher can no longer change a mark unless the deputy has
unlocked that one mark (`journal_control.unlock_period_mark`); the change uses the unlock up.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from . import grading
from .db import snapshot, write
from .groups import same_subject_groups
from .journal import JournalError, NotYourLesson, marks_in_period, teaches
from .models import (
    PeriodMark,
    Person,
    School,
    SubjectGroup,
    Term,
    Unlock,
    User,
    now,
)
from .publishing import published_at_for_new_change
from .terms import Period, grade_terms, group_members


def group_scale(group: SubjectGroup) -> str:
    return grading.scale_of(group.subject.scale, group.school_class.graded)


def period_mark_uuid(group: SubjectGroup, student: Person, period: Period) -> str:
    """One stable id per (group, student, kind, term): it exists before the mark does.

    The deputy's unlock names it, and АСУ РСО sees one natural key however often the
    mark changes or is cleared and set again.
    """
    return period_mark_key(
        group.uuid, period.kind, period.term.uuid if period.term else "", student.uuid
    )


def period_mark_key(group_uuid: str, kind: str, term_uuid: str, student_uuid: str) -> str:
    """`period_mark_uuid` from plain uuids (for bulk-written rows such as the demo's)."""
    return str(uuid.uuid5(uuid.UUID(group_uuid), f"{kind}:{term_uuid}:{student_uuid}"))


def _where(group: SubjectGroup, period: Period):
    term = PeriodMark.term.is_null() if period.term is None else PeriodMark.term == period.term
    return (PeriodMark.group == group) & (PeriodMark.kind == period.kind) & term


def _subject_marks(group: SubjectGroup):
    """Period marks of every subgroup of the group's class and subject, this group's last.

    A student moved between subgroups got earlier term marks in the old one; the year
    mark in the new one is suggested from them (this group's own mark wins a tie).
    """
    return (
        PeriodMark.select()
        .where(PeriodMark.group.in_(same_subject_groups(group)))
        .order_by(PeriodMark.group == group, PeriodMark.id)
    )


def _lesson_marks(group: SubjectGroup, period: Period) -> dict[int, list[tuple[str, int]]]:
    """Each student's (value, weight) marks of the group's lessons in the period."""
    return defaultdict(list, marks_in_period(group, period.starts, period.ends))


@dataclass
class SheetRow:
    student: Person
    average: Decimal | None
    count: int
    suggestion: str
    mark: PeriodMark | None
    term_marks: list[str] = field(default_factory=list)  # the year sheet shows the terms
    unlocked: bool = False

    @property
    def value(self) -> str:
        return self.mark.value if self.mark else ""


@dataclass
class Sheet:
    group: SubjectGroup
    period: Period
    scale: str
    rows: list[SheetRow]
    locked: bool
    basis: str  # what the suggestion is made from, for the page
    terms: list[Term] = field(default_factory=list)


def _year_suggestion(values: list[str], terms: int, scale: str, threshold: Decimal) -> str:
    """The year mark from the term marks (all of them needed), rounded by the threshold."""
    if values and len(values) == terms and all(v == grading.EXEMPT for v in values):
        return grading.EXEMPT
    return grading.suggest_period_mark([(v, 1) for v in values], scale, threshold, terms)


def period_sheet(group: SubjectGroup, period: Period, today: dt.date | None = None) -> Sheet:
    """Students with their average, number of marks, suggestion and current mark."""
    today = today or dt.date.today()
    school = School.get()
    scale = group_scale(group)
    students = group_members(group, period)
    marks = _lesson_marks(group, period)
    current = {m.student_id: m for m in PeriodMark.select().where(_where(group, period))}
    year_terms = grade_terms(group) if period.kind != "term" else []
    by_term: dict[tuple[int, int], str] = {}
    if year_terms:
        query = _subject_marks(group).where(PeriodMark.term.in_([t.id for t in year_terms]))
        by_term = {(m.student_id, m.term_id): m.value for m in query}
    year_marks: dict[int, str] = {}
    if period.kind == "final":
        query = _subject_marks(group).where((PeriodMark.kind == "year") & PeriodMark.term.is_null())
        year_marks = {m.student_id: m.value for m in query}

    rows = []
    for student in students:
        got = marks.get(student.id, [])
        counted = [(v, w) for v, w in got if v in grading.mark_values(scale)]
        term_marks = [by_term.get((student.id, t.id), "") for t in year_terms]
        if period.kind == "term" or (period.kind == "year" and not year_terms):
            suggestion = grading.suggest_period_mark(
                got, scale, school.rounding_threshold, school.min_marks_for_period
            )
        elif period.kind == "year":
            suggestion = _year_suggestion(
                [v for v in term_marks if v], len(year_terms), scale, school.rounding_threshold
            )
        else:
            suggestion = year_marks.get(student.id, "")
        rows.append(
            SheetRow(
                student,
                grading.weighted_average(counted),
                len(counted),
                suggestion,
                current.get(student.id),
                term_marks,
            )
        )
    locked = period.locked(today)
    if locked:
        keys = {period_mark_uuid(group, r.student, period): r for r in rows}
        for unlock in Unlock.select().where(
            (Unlock.entity_type == "PeriodMark")
            & Unlock.entity_uuid.in_(list(keys))
            & (Unlock.expires_at > now())
            & Unlock.used_at.is_null()
        ):
            keys[unlock.entity_uuid].unlocked = True
    basis = {
        "term": "по средневзвешенному баллу за период",
        "year": "по отметкам за четверти (полугодия)"
        if year_terms
        else "по средневзвешенному баллу за год",
        "final": "по годовой отметке",
    }[period.kind]
    return Sheet(group, period, scale, rows, locked, basis, year_terms)


# --- changes ---------------------------------------------------------------------------


def _check_writer(group: SubjectGroup, person: Person, period: Period, today: dt.date) -> str:
    """Raise unless ``person`` may set marks of this group now; return the scale."""
    if not teaches(person, group):
        raise NotYourLesson("Это группа другого учителя: отметки за период ставит её учитель.")
    if group.year.read_only:
        raise JournalError("Учебный год закрыт: журнал доступен только для чтения.")
    scale = group_scale(group)
    if scale == "none":
        raise JournalError("В этом классе отметки не ставятся (безотметочное обучение).")
    if period.kind == "term" and today < period.starts:
        raise JournalError(f"Период «{period.label}» ещё не начался.")
    return scale


def _parse(raw: str, scale: str, student: Person) -> str:
    if not raw.strip():
        return ""
    try:
        return grading.parse_period_mark(raw, scale)
    except grading.GradingError as exc:
        raise JournalError(f"{student.short_name}: {exc}") from exc


def _take_unlock(group: SubjectGroup, student: Person, period: Period) -> Unlock:
    """Inside the write: claim the deputy's unlock of this one mark, or refuse."""
    key = period_mark_uuid(group, student, period)
    unlock = (
        Unlock.select()
        .where(
            (Unlock.entity_type == "PeriodMark")
            & (Unlock.entity_uuid == key)
            & (Unlock.expires_at > now())
            & Unlock.used_at.is_null()
        )
        .first()
    )
    if unlock is None:
        raise JournalError(
            f"Срок выставления отметок за {period.label} истёк {period.deadline:%d.%m.%Y}: "
            f"изменить отметку ({student.short_name}) можно только с разрешения "
            "заместителя директора."
        )
    return unlock


def save_period_marks(
    group: SubjectGroup,
    period: Period,
    values: dict[int, str],
    *,
    user: User,
    ip: str,
    today: dt.date | None = None,
) -> int:
    """Set, change or (empty) clear period marks; all or nothing. Returns how many changed."""
    today = today or dt.date.today()
    scale = _check_writer(group, user.person, period, today)
    members = {s.id: s for s in group_members(group, period)}
    changes = []
    with write(user=user, ip=ip) as rec:
        current = {m.student_id: m for m in PeriodMark.select().where(_where(group, period))}
        for student_id, raw in values.items():
            student = members.get(student_id)
            if student is None:
                raise JournalError("Этого ученика нет в группе в этом периоде.")
            value = _parse(raw, scale, student)
            mark = current.get(student_id)
            if (mark.value if mark else "") != value:
                changes.append((student, mark, value))
        for student, mark, value in changes:
            if period.locked(today):
                unlock = _take_unlock(group, student, period)
                before = snapshot(unlock)
                unlock.used_at = now()
                unlock.save()
                rec.record("unlock.use", unlock, before=before)
            _store(rec, group, period, student, mark, value, user)
    return len(changes)


def _store(rec, group, period, student, mark, value, user) -> None:
    if not value:
        before = snapshot(mark)
        mark.delete_instance()
        rec.record("period_mark.delete", mark, before=before, sync=True, op="delete")
        return
    before = snapshot(mark)
    mark = mark or PeriodMark(
        uuid=period_mark_uuid(group, student, period),
        group=group,
        student=student,
        kind=period.kind,
        term=period.term,
        created_by=user,
    )
    mark.value = value
    mark.updated_at = now()
    mark.published_at = published_at_for_new_change()
    mark.save()
    rec.record("period_mark.set", mark, before=before, sync=True)


def accept_suggestions(
    group: SubjectGroup, period: Period, *, user: User, ip: str, today: dt.date | None = None
) -> int:
    """«Принять предложенные»: fill every empty mark the teacher may set with its suggestion."""
    today = today or dt.date.today()
    _check_writer(group, user.person, period, today)
    sheet = period_sheet(group, period, today)
    values = {
        row.student.id: row.suggestion
        for row in sheet.rows
        if row.mark is None and row.suggestion and (not sheet.locked or row.unlocked)
    }
    if sheet.locked and not values:
        raise JournalError(
            f"Срок выставления отметок за {period.label} истёк {period.deadline:%d.%m.%Y}: "
            "изменить отметки можно только с разрешения заместителя директора."
        )
    return save_period_marks(group, period, values, user=user, ip=ip, today=today)
