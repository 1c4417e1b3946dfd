"""Students at risk: failing a subject or missing lessons without a reason (§4.3, §7.4).

A teacher answers for the students of their groups, a class teacher for their class
(every subject), the office reads the whole school. Each group is judged over its
current term (`terms.default_period`).

- Failing: the predicted period mark (`grading.suggest_period_mark`) is «2» («незач»
  on a pass/fail subject), or the weighted average is under the school's
  `failing_average_threshold` (strictly under: 2.60 with a threshold of 2.60 is not).
- Truant: more unexcused absences («Н») in the term than the school's
  `absence_threshold` (strictly more) — in the teacher's own lessons for a subject
  teacher, in all the class's lessons for the class teacher and the office.

A whole list costs a fixed number of queries (one per table, one per grade for its
terms) however many students, marks or absences there are.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal

from .. import access, grading, terms
from ..access import ActiveRole
from ..models import (
    Assignment,
    Attendance,
    Enrollment,
    Lesson,
    Mark,
    Notification,
    Person,
    School,
    SchoolClass,
    SubjectGroup,
    SubjectGroupStudent,
)
from ..publishing import visible
from ..terms import Period

FAILING, ABSENCES = "failing", "absences"
KINDS = (FAILING, ABSENCES)
UNEXCUSED = "Н"
# Roles that answer for subjects (their own lessons) rather than for whole classes.
SUBJECT_ROLES = frozenset({"teacher"})


@dataclass
class Risk:
    """One reason to notify a student's parents, with the facts behind it."""

    student: Person
    school_class: SchoolClass
    kind: str  # FAILING or ABSENCES
    period: Period
    group: SubjectGroup | None = None  # the subject; None: absences over every subject
    average: Decimal | None = None
    predicted: str = ""
    marks: int = 0
    absences: int = 0
    notified: Notification | None = None  # the latest notice of this kind this term

    @property
    def group_id(self) -> int | None:
        return self.group.id if self.group else None

    @property
    def subject_id(self) -> int | None:
        return self.group.subject_id if self.group else None

    @property
    def subject_name(self) -> str:
        return self.group.subject.name if self.group else ""


def scope_groups(
    person: Person, active: ActiveRole, class_id: int | None = None
) -> list[SubjectGroup]:
    """The groups whose students the role answers for (`access.groups_in_scope`)."""
    return access.groups_in_scope(person, active, class_id)


def at_risk(
    person: Person,
    active: ActiveRole,
    *,
    class_id: int | None = None,
    student_id: int | None = None,
    today: dt.date | None = None,
    published: bool = False,
) -> list[Risk]:
    """Students at risk in the role's scope (optionally one class or one student).

    ``published``: judge on the rows the diary shows only (`publishing.visible`) — what
    is sent to parents must never tell them of marks or absences their diary has not got.
    """
    groups = scope_groups(person, active, class_id)
    return risks_in(
        groups,
        per_subject=active.role in SUBJECT_ROLES,
        student_id=student_id,
        today=today,
        published=published,
    )


def risks_in(
    groups: list[SubjectGroup],
    *,
    per_subject: bool,
    student_id: int | None = None,
    today: dt.date | None = None,
    published: bool = False,
) -> list[Risk]:
    """Failing and truant students of these groups, by class, name, kind and subject.

    Staff see every row; with ``published`` only the rows published to the diary count.
    """
    if not groups:
        return []
    today = today or dt.date.today()
    school = School.get()
    periods = _periods(groups, today)
    members = _members(groups, periods, student_id)
    rows = _failing(groups, periods, members, school, student_id, published)
    if per_subject:
        rows += _absences_by_group(groups, periods, members, school, student_id, published)
    else:
        rows += _absences_by_class(groups, periods, school, student_id, today, published)
    if not rows:
        return rows
    # The rows were built with bare ids (Person(id=…)); one query fills in the people.
    people = {p.id: p for p in Person.select().where(Person.id.in_({r.student.id for r in rows}))}
    for row in rows:
        row.student = people[row.student.id]
    _attach_notices(rows)
    kind_order = {FAILING: 0, ABSENCES: 1}
    rows.sort(
        key=lambda r: (
            r.school_class.grade,
            r.school_class.letter,
            r.student.last_name,
            r.student.first_name,
            r.student.id,
            kind_order[r.kind],
            r.group.subject.sort_order if r.group else -1,
            r.subject_name,
        )
    )
    return rows


def is_failing(
    marks: list[tuple[str, int]], scale: str, school: School
) -> tuple[bool, Decimal | None, str]:
    """(failing?, exact weighted average, predicted period mark) for one student's marks."""
    predicted = grading.suggest_period_mark(
        marks, scale, school.rounding_threshold, school.min_marks_for_period
    )
    average = grading.exact_average(marks) if scale == "five" else None
    under = average is not None and average < Decimal(school.failing_average_threshold)
    return predicted in ("2", "незач") or under, average, predicted


def is_truant(absences: int, school: School) -> bool:
    return absences > school.absence_threshold


# --- the pieces, each one query ----------------------------------------------------------


def _periods(groups: list[SubjectGroup], today: dt.date) -> dict[int, Period]:
    """Each group's current term; groups of one grade share it (one lookup per grade)."""
    by_grade: dict[tuple[int, int], Period] = {}
    found = {}
    for group in groups:
        key = (group.year_id, group.school_class.grade)
        if key not in by_grade:
            by_grade[key] = terms.default_period(group, today)
        found[group.id] = by_grade[key]
    return found


def _bounds(periods: dict[int, Period]) -> tuple[dt.date, dt.date]:
    return min(p.starts for p in periods.values()), max(p.ends for p in periods.values())


def _members(
    groups: list[SubjectGroup], periods: dict[int, Period], student_id: int | None
) -> dict[int, set[int]]:
    """Students each group answers for in its term — `terms.group_members` for many groups.

    A student moved to another subgroup of the same class and subject within the term
    belongs where they ended it, so they are listed once.
    """
    starts, ends = _bounds(periods)
    query = (
        SubjectGroupStudent.select(
            SubjectGroupStudent.student,
            SubjectGroupStudent.group,
            SubjectGroupStudent.starts,
            SubjectGroupStudent.ends,
            SubjectGroup.school_class,
            SubjectGroup.subject,
        )
        .join(SubjectGroup)
        .where(
            (SubjectGroup.year == groups[0].year_id)
            & SubjectGroup.school_class.in_({g.school_class_id for g in groups})
            & SubjectGroup.subject.in_({g.subject_id for g in groups})
            & (SubjectGroupStudent.starts <= ends)
            & (SubjectGroupStudent.ends.is_null() | (SubjectGroupStudent.ends >= starts))
        )
        .order_by(SubjectGroupStudent.starts, SubjectGroupStudent.id)
    )
    if student_id is not None:
        query = query.where(SubjectGroupStudent.student == student_id)
    links: dict[tuple[int, int], list[tuple]] = defaultdict(list)
    for student, group_id, begins, stops, class_id, subject_id in query.tuples():
        links[class_id, subject_id].append((student, group_id, begins, stops))
    members = {}
    for group in groups:
        period = periods[group.id]
        last: dict[int, int] = {}
        for student, group_id, begins, stops in links[group.school_class_id, group.subject_id]:
            if begins <= period.ends and (stops is None or stops >= period.starts):
                last[student] = group_id  # the latest membership of the term wins
        members[group.id] = {s for s, g in last.items() if g == group.id}
    return members


def _failing(
    groups, periods, members, school: School, student_id: int | None, published: bool = False
) -> list[Risk]:
    """Marks of every subgroup of the class and subject count (as `marks_in_period`)."""
    graded = [
        g for g in groups if grading.scale_of(g.subject.scale, g.school_class.graded) != "none"
    ]
    if not graded:
        return []
    starts, ends = _bounds(periods)
    query = (
        Mark.select(
            Mark.student,
            Mark.value,
            Assignment.weight,
            Lesson.date,
            SubjectGroup.school_class,
            SubjectGroup.subject,
        )
        .join(Assignment)
        .join(Lesson)
        .join(SubjectGroup)
        .where(
            (SubjectGroup.year == graded[0].year_id)
            & SubjectGroup.school_class.in_({g.school_class_id for g in graded})
            & SubjectGroup.subject.in_({g.subject_id for g in graded})
            & Lesson.date.between(starts, ends)
            & (Lesson.state != "cancelled")
        )
    )
    if student_id is not None:
        query = query.where(Mark.student == student_id)
    if published:
        query = query.where(visible(Mark))
    marks: dict[tuple[int, int, int], list[tuple[dt.date, str, int]]] = defaultdict(list)
    for student, value, weight, day, class_id, subject_id in query.tuples():
        marks[class_id, subject_id, student].append((day, value, weight))
    rows = []
    for group in graded:
        period = periods[group.id]
        scale = grading.scale_of(group.subject.scale, group.school_class.graded)
        for student in members[group.id]:
            got = [
                (value, weight)
                for day, value, weight in marks[group.school_class_id, group.subject_id, student]
                if period.starts <= day <= period.ends
            ]
            failing, average, predicted = is_failing(got, scale, school)
            if failing:
                counted = [m for m in got if m[0] in grading.mark_values(scale)]
                rows.append(
                    Risk(
                        Person(id=student),
                        group.school_class,
                        FAILING,
                        period,
                        group,
                        average=grading.weighted_average(counted),
                        predicted=predicted,
                        marks=len(counted),
                    )
                )
    return rows


def _unexcused(groups, periods, student_id: int | None, published: bool = False):
    """(student, group, date) of every «Н» in the groups' lessons of the terms."""
    starts, ends = _bounds(periods)
    query = (
        Attendance.select(Attendance.student, Lesson.group, Lesson.date)
        .join(Lesson)
        .where(
            Lesson.group.in_([g.id for g in groups])
            & (Attendance.code == UNEXCUSED)
            & Lesson.date.between(starts, ends)
            & (Lesson.state != "cancelled")
        )
    )
    if student_id is not None:
        query = query.where(Attendance.student == student_id)
    if published:
        query = query.where(visible(Attendance))
    return [
        (student, group_id, day)
        for student, group_id, day in query.tuples()
        if periods[group_id].starts <= day <= periods[group_id].ends
    ]


def _absences_by_group(
    groups, periods, members, school, student_id, published: bool = False
) -> list[Risk]:
    """A subject teacher: «Н» in their own lessons, per group."""
    found = _unexcused(groups, periods, student_id, published)
    counts = Counter((group_id, student) for student, group_id, _ in found)
    by_id = {g.id: g for g in groups}
    return [
        Risk(
            Person(id=student),
            by_id[group_id].school_class,
            ABSENCES,
            periods[group_id],
            by_id[group_id],
            absences=n,
        )
        for (group_id, student), n in counts.items()
        if is_truant(n, school) and student in members[group_id]
    ]


def _absences_by_class(
    groups, periods, school, student_id, today: dt.date, published: bool = False
) -> list[Risk]:
    """A class teacher and the office: «Н» in every lesson of the class, per student."""
    class_of = {g.id: g.school_class for g in groups}
    found = _unexcused(groups, periods, student_id, published)
    counts = Counter((class_of[group_id].id, student) for student, group_id, _ in found)
    truant = {key: n for key, n in counts.items() if is_truant(n, school)}
    if not truant:
        return []
    year = groups[0].year
    on = min(max(today, year.starts), year.ends)
    enrolled = set(
        Enrollment.select(Enrollment.school_class, Enrollment.student)
        .where(
            Enrollment.school_class.in_({c for c, _ in truant})
            & Enrollment.student.in_({s for _, s in truant})
            & (Enrollment.starts <= on)
            & (Enrollment.ends.is_null() | (Enrollment.ends >= on))
        )
        .tuples()
    )
    classes = {c.id: c for c in class_of.values()}
    period_of = {class_of[g].id: periods[g] for g in periods}
    return [
        Risk(Person(id=student), classes[class_id], ABSENCES, period_of[class_id], absences=n)
        for (class_id, student), n in truant.items()
        if (class_id, student) in enrolled
    ]


def _attach_notices(rows: list[Risk]) -> None:
    """The latest notice of the same kind (and subject, for failing) within the term."""
    for row, notice in zip(rows, latest_notices(rows), strict=True):
        row.notified = notice


def latest_notices(rows: list[Risk]) -> list[Notification | None]:
    """For each row, the latest notice of its kind (and subject, for failing) in its term."""
    if not rows:
        return []
    since = min(r.period.starts for r in rows)
    notices = (
        Notification.select()
        .where(
            Notification.student.in_({r.student.id for r in rows})
            & Notification.kind.in_(KINDS)
            & (Notification.sent_at >= dt.datetime.combine(since, dt.time()))
        )
        .order_by(Notification.sent_at, Notification.id)
    )
    by_student: dict[tuple[int, str], list[tuple[Notification, int | None]]] = defaultdict(list)
    for notice in notices:
        subject_id = json.loads(notice.payload or "{}").get("subject_id")
        by_student[notice.student_id, notice.kind].append((notice, subject_id))
    found: list[Notification | None] = []
    for row in rows:
        latest = None
        for notice, subject_id in by_student[row.student.id, row.kind]:
            in_term = row.period.starts <= notice.sent_at.date() <= row.period.ends
            same_subject = row.kind != FAILING or subject_id == row.subject_id
            if in_term and same_subject:
                latest = notice  # ordered by time: the last one wins
        found.append(latest)
    return found
