"""The demo journal's history: held lessons with topics, marks, attendance, quarter marks.

Every lesson before today is held: its topic and homework come from the group's
КТП in order. Students miss school now and then (illness spans several days, a
couple of students are chronic absentees). Marks follow each student's ability;
the whole group writes a контрольная or проверочная every two or three weeks.
First-graders get attendance only.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from peewee import JOIN

from .. import grading
from ..bulk import insert_rows, next_id
from ..models import (
    Assignment,
    Attendance,
    Mark,
    PeriodMark,
    Person,
    SubjectGroup,
    Term,
    database,
)
from ..period_marks import period_mark_key
from .curriculum import SUBJECT_BY_CODE, hours_week
from .dates import TermPlan
from .staffing import GroupPlan
from .topics import work_type_of

FALLBACK_WORK = {
    "lang": "Диктант",
    "lit": "Тест",
    "foreign": "Тест",
    "math": "Самостоятельная работа",
    "science": "Проверочная работа",
    "natural": "Проверочная работа",
    "humanities": "Тест",
    "info": "Практическая работа",
    "arts": "Практическая работа",
    "tech": "Практическая работа",
    "pe": "Практическая работа",
    "safety": "Тест",
}
HOMEWORK_KINDS = ("lang", "lit", "foreign", "math", "science", "natural", "humanities", "info")
ABSENT = ("Н", "Б", "УП")
REASONS = {
    "Б": ("Справка из поликлиники", "справка"),
    "УП": ("Заявление родителей: семейные обстоятельства", "заявление"),
}


def suggested_period_mark(
    marks: list[tuple[str, int]], scale: str, threshold: float = 0.6, minimum: int = 3
) -> str:
    """The period mark the product itself suggests (`grading.suggest_period_mark`).

    The demo school keeps the default settings: threshold 0.60, at least 3 marks.
    """
    return grading.suggest_period_mark(marks, scale, Decimal(str(threshold)), minimum)


@dataclass
class HistoryInput:
    today: dt.date
    groups: list[GroupPlan]
    school_days: dict[int, list[dt.date]]  # by grade, up to yesterday
    lessons: list[tuple[int, int, dt.date, int, int]]  # id, group, date, number, teacher
    plan_rows: dict[int, list[tuple[int, str, str, int]]]  # group → (id, topic, homework, hours)
    work_types: dict[str, tuple[int, int]]  # name → (id, weight)
    users: dict[int, int]  # person id → user id
    lesson_ends: dict[int, dt.time]  # lesson number → bell end
    quarters: list[TermPlan]
    term_ids: dict[int, int]  # quarter number → Term id
    counts: dict[str, int] = field(default_factory=dict)


class _Marks:
    """Mark values from a student's ability and a per-subject offset."""

    def __init__(self, rng: random.Random, abilities: dict[int, float]) -> None:
        self.rng = rng
        self.abilities = abilities
        self.offsets: dict[tuple[int, str], float] = {}

    def value(self, student: int, subject: str, scale: str, test: bool) -> str:
        key = (student, subject)
        if key not in self.offsets:
            self.offsets[key] = self.rng.gauss(0, 0.35)
        level = self.abilities[student] + self.offsets[key]
        if scale == "pass_fail":
            return "зач" if self.rng.random() < min(0.99, 0.9 + 0.06 * (level - 3)) else "незач"
        spread, shift = (0.8, -0.15) if test else (0.65, 0.1)
        return str(min(5, max(2, math.floor(level + shift + self.rng.gauss(0, spread) + 0.5))))


def _absences(rng: random.Random, data: HistoryInput) -> dict[tuple[int, dt.date], str]:
    """Whole days away: illness (Б) for 3–7 school days, family reasons (УП), truancy (Н)."""
    away: dict[tuple[int, dt.date], str] = {}
    seen: set[int] = set()
    for group in data.groups:
        for student in group.school_class.students:
            if student.id in seen:
                continue
            seen.add(student.id)
            truancy = 0.12 if student.chronic else 0.004
            sick_left = 0
            for day in data.school_days[group.school_class.grade]:
                if sick_left:
                    away[student.id, day] = "Б"
                    sick_left -= 1
                    continue
                r = rng.random()
                if r < 0.008:
                    away[student.id, day] = "Б"
                    sick_left = rng.randint(2, 6)
                elif r < 0.014:
                    away[student.id, day] = "УП"
                elif r < 0.014 + truancy:
                    away[student.id, day] = "Н"
    return away


def write_history(rng: random.Random, data: HistoryInput) -> None:
    """Fill the journal for every lesson before ``data.today``; counts go to ``data.counts``."""
    groups = {g.id: g for g in data.groups}
    chronic = {s.id for g in data.groups for s in g.students if s.chronic}
    marks_gen = _Marks(rng, {s.id: s.ability for g in data.groups for s in g.students})
    away = _absences(rng, data)
    sequence = {
        gid: [(pid, topic, hw) for pid, topic, hw, hours in rows for _ in range(hours)]
        for gid, rows in data.plan_rows.items()
    }
    # Lessons beyond the plan's hours (a calendar richer than 34 weeks) revise the year.
    revision = {
        gid: next((row for row in rows if row[1].startswith("Повторение")), rows[-1])
        for gid, rows in sequence.items()
    }
    position: dict[int, int] = defaultdict(int)
    since_work: dict[int, int] = defaultdict(int)
    received: dict[tuple[int, int], list[tuple[dt.date, str, int]]] = defaultdict(list)

    lesson_updates, assignments, marks, attendance = [], [], [], []
    next_assignment = next_id(Assignment)
    for lesson_id, gid, day, number, teacher in sorted(data.lessons, key=lambda r: (r[2], r[3])):
        group = groups[gid]
        grade = group.school_class.grade
        subject = SUBJECT_BY_CODE[group.subject]
        weekly = hours_week(group.subject, grade)
        at = dt.datetime.combine(day, data.lesson_ends[number])
        author = data.users.get(teacher)
        rows = sequence[gid]
        k = position[gid]
        position[gid] += 1
        plan_id, topic, homework = rows[k] if k < len(rows) else revision[gid]
        lesson_updates.append((topic, homework, plan_id, "held", at, lesson_id))

        present = []
        for student in group.students:
            code = away.get((student.id, day))
            if code is None:
                r = rng.random()
                if r < (0.06 if student.id in chronic else 0.008):
                    code = "Н"
                elif r < 0.02:
                    code = "ОП"
            if code:
                reason, document = REASONS.get(code, ("", ""))
                attendance.append(
                    {
                        "lesson": lesson_id,
                        "student": student.id,
                        "code": code,
                        "reason": reason,
                        "document": document,
                        "created_by": author,
                        "published_at": at,
                    }
                )
            if code not in ABSENT:
                present.append(student.id)

        if grade < 2 or subject.scale == "none" or not present:
            continue
        since_work[gid] += 1
        work = work_type_of(topic)
        if work is None and since_work[gid] >= max(3, round(2.5 * weekly)):
            work = FALLBACK_WORK[subject.kind]
        tasks: list[tuple[str, str, list[int]]] = []
        if work:
            since_work[gid] = 0
            tasks.append((work, topic, present))
        else:
            few = rng.randint(6, 10) if weekly <= 2 else rng.randint(3, 6)
            tasks.append(("Ответ на уроке", "", rng.sample(present, min(few, len(present)))))
            if subject.kind in HOMEWORK_KINDS and rng.random() < 0.3:
                checked = rng.sample(present, min(rng.randint(2, 3), len(present)))
                tasks.append(("Домашняя работа", "", checked))
        for work_name, title, students in tasks:
            work_id, weight = data.work_types[work_name]
            assignment_id = next_assignment
            next_assignment += 1
            assignments.append(
                {
                    "id": assignment_id,
                    "lesson": lesson_id,
                    "work_type": work_id,
                    "weight": weight,
                    "title": title,
                    "due_date": day,
                    "published_at": at,
                }
            )
            test = work_name != "Ответ на уроке" and work_name != "Домашняя работа"
            for student in students:
                value = marks_gen.value(student, group.subject, subject.scale, test)
                marks.append(
                    {
                        "assignment": assignment_id,
                        "student": student,
                        "value": value,
                        "created_by": author,
                        "published_at": at,
                    }
                )
                received[gid, student].append((day, value, weight))

    database.cursor().executemany(
        'UPDATE "lesson" SET "topic" = ?, "homework" = ?, "plan_lesson_id" = ?, "state" = ?,'
        ' "published_at" = ? WHERE "id" = ?',
        [(t, h, p, s, str(a), i) for t, h, p, s, a, i in lesson_updates],
    )
    data.counts["held_lessons"] = len(lesson_updates)
    data.counts["assignments"] = insert_rows(Assignment, assignments)
    data.counts["marks"] = insert_rows(Mark, marks)
    data.counts["attendance"] = insert_rows(Attendance, attendance)
    data.counts["period_marks"] = insert_rows(PeriodMark, _period_marks(data, received))
    _key_period_marks()


def _key_period_marks() -> None:
    """Give bulk-written period marks the same stable ids the period page uses."""
    rows = (
        PeriodMark.select(PeriodMark.id, PeriodMark.kind, SubjectGroup.uuid, Person.uuid, Term.uuid)
        .join(SubjectGroup)
        .switch(PeriodMark)
        .join(Person)
        .switch(PeriodMark)
        .join(Term, JOIN.LEFT_OUTER)
        .tuples()
    )
    updates = [
        (period_mark_key(group, kind, term or "", student), mark_id)
        for mark_id, kind, group, student, term in rows
    ]
    database.connection().executemany('UPDATE "period_mark" SET "uuid" = ? WHERE "id" = ?', updates)


def _period_marks(data: HistoryInput, received: dict) -> list[dict]:
    """Quarter marks of every graded group for the quarters that are over."""
    rows = []
    for quarter in data.quarters:
        if quarter.ends >= data.today:
            continue
        at = dt.datetime.combine(quarter.ends, dt.time(16, 0))
        for group in data.groups:
            scale = SUBJECT_BY_CODE[group.subject].scale
            if group.school_class.grade < 2 or scale == "none":
                continue
            for student in group.students:
                got = [
                    (value, weight)
                    for day, value, weight in received.get((group.id, student.id), ())
                    if quarter.starts <= day <= quarter.ends
                ]
                rows.append(
                    {
                        "group": group.id,
                        "student": student.id,
                        "kind": "term",
                        "term": data.term_ids[quarter.number],
                        "value": suggested_period_mark(got, scale),
                        "created_by": data.users.get(group.teacher.id),
                        "published_at": at,
                    }
                )
    return rows
