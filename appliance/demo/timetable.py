"""A conflict-free weekly timetable, and the checker that proves it.

The builder fixes each class's day lengths first (no gaps by construction), then
runs a min-conflicts local search that swaps two lessons of one class until no
teacher is in two places at once and no subject comes more often a day than its
weekly hours need. Foreign-language subgroups of a class meet in parallel as one
meeting with two teachers and two rooms.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass

from peewee import JOIN

from ..models import (
    AcademicYear,
    Room,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupTeacher,
    TimetableEntry,
)

WEEKDAYS = {1: "Пн", 2: "Вт", 3: "Ср", 4: "Чт", 5: "Пт", 6: "Сб"}
LONGER_DAYS_FIRST = (1, 2, 3, 0, 4)  # Tuesday, Wednesday, Thursday, Monday, Friday


@dataclass(frozen=True)
class Meeting:
    """One weekly meeting of a class: a group, or parallel subgroups with their teachers."""

    class_index: int
    subject: str
    groups: tuple[int, ...]
    teachers: tuple[int, ...]
    rooms: tuple[int | None, ...]


@dataclass(frozen=True)
class Placement:
    meeting: Meeting
    weekday: int
    number: int


def day_lengths(hours: int, days: int = 5) -> list[int]:
    """Lessons a day for ``hours`` a week, the longer days in mid-week."""
    base, extra = divmod(hours, days)
    lengths = [base] * days
    for i in LONGER_DAYS_FIRST[:extra]:
        lengths[i] += 1
    return lengths


class _Search:
    """Greedy start, then tabu search over swaps of two lessons of one class.

    Slots are numbered ``(weekday - 1) * 8 + number``; loads live in plain lists so a
    swap's change of cost is computed in constant time.
    """

    TEACHER_WEIGHT = 10
    SUBJECT_WEIGHT = 3

    def __init__(self, lengths: dict[int, list[int]], meetings: list[Meeting], rng) -> None:
        self.rng = rng
        self.meetings = meetings
        teachers = sorted({t for m in meetings for t in m.teachers})
        self.tix = {t: i for i, t in enumerate(teachers)}
        self.mteachers = [tuple(self.tix[t] for t in m.teachers) for m in meetings]
        self.slots = {
            c: [d * 8 + p + 1 for d, n in enumerate(days) for p in range(n)]
            for c, days in lengths.items()
        }
        per_class = Counter(m.class_index for m in meetings)
        for c, slots in self.slots.items():
            if per_class[c] != len(slots):
                raise ValueError(f"class {c}: {per_class[c]} meetings for {len(slots)} slots")
        counts = Counter((m.class_index, m.subject) for m in meetings)
        self.limit = {key: math.ceil(n / 5) for key, n in counts.items()}
        self.load = [[0] * 48 for _ in teachers]
        self.subject_load: dict[tuple[int, str], list[int]] = {key: [0] * 6 for key in counts}
        self.at: dict[int, list[int]] = {c: [-1] * len(sl) for c, sl in self.slots.items()}
        self._greedy()

    def _place(self, c: int, i: int, m: int, sign: int) -> None:
        slot = self.slots[c][i]
        for t in self.mteachers[m]:
            self.load[t][slot] += sign
        self.subject_load[c, self.meetings[m].subject][slot // 8] += sign
        self.at[c][i] = m if sign > 0 else -1

    def _greedy(self) -> None:
        """Hardest meetings first, each into its class's least conflicting free slot."""
        rng = self.rng
        teacher_hours = Counter(t for ts in self.mteachers for t in ts)
        order = list(range(len(self.meetings)))
        rng.shuffle(order)
        order.sort(
            key=lambda m: (
                -len(self.mteachers[m]),
                -max((teacher_hours[t] for t in self.mteachers[m]), default=0),
            )
        )
        for m in order:
            c = self.meetings[m].class_index
            subject = self.meetings[m].subject
            best, choices = None, []
            for i, slot in enumerate(self.slots[c]):
                if self.at[c][i] != -1:
                    continue
                score = self.TEACHER_WEIGHT * sum(self.load[t][slot] for t in self.mteachers[m])
                if self.subject_load[c, subject][slot // 8] >= self.limit[c, subject]:
                    score += self.SUBJECT_WEIGHT
                if best is None or score < best:
                    best, choices = score, [i]
                elif score == best:
                    choices.append(i)
            self._place(c, rng.choice(choices), m, +1)

    def _clashes(self, c: int, i: int) -> bool:
        """Whether the lesson in slot ``i`` of class ``c`` takes part in a clash."""
        m, slot = self.at[c][i], self.slots[c][i]
        subject = self.meetings[m].subject
        return any(self.load[t][slot] > 1 for t in self.mteachers[m]) or (
            self.subject_load[c, subject][slot // 8] > self.limit[c, subject]
        )

    def _conflicts(self) -> list[tuple[int, int]]:
        return [
            (c, i)
            for c, slots in self.slots.items()
            for i in range(len(slots))
            if self._clashes(c, i)
        ]

    def _cost(self) -> int:
        teacher = sum(max(0, n - 1) for row in self.load for n in row)
        subject = sum(
            max(0, n - self.limit[key]) for key, days in self.subject_load.items() for n in days
        )
        return self.TEACHER_WEIGHT * teacher + self.SUBJECT_WEIGHT * subject

    def _delta(self, c: int, i: int, j: int) -> int:
        a, b = self.at[c][i], self.at[c][j]
        ta, tb = self.mteachers[a], self.mteachers[b]
        s, t = self.slots[c][i], self.slots[c][j]
        load = self.load
        d = 0
        for x in ta:
            if x not in tb:
                d += (load[x][t] >= 1) - (load[x][s] >= 2)
        for x in tb:
            if x not in ta:
                d += (load[x][s] >= 1) - (load[x][t] >= 2)
        d *= self.TEACHER_WEIGHT
        ds, dt = s // 8, t // 8
        sa, sb = self.meetings[a].subject, self.meetings[b].subject
        if ds != dt and sa != sb:
            la, lb = self.subject_load[c, sa], self.subject_load[c, sb]
            lim_a, lim_b = self.limit[c, sa], self.limit[c, sb]
            d += self.SUBJECT_WEIGHT * (
                (la[dt] >= lim_a) - (la[ds] > lim_a) + (lb[ds] >= lim_b) - (lb[dt] > lim_b)
            )
        return d

    def _swap(self, c: int, i: int, j: int) -> None:
        a, b = self.at[c][i], self.at[c][j]
        self._place(c, i, a, -1)
        self._place(c, j, b, -1)
        self._place(c, i, b, +1)
        self._place(c, j, a, +1)

    def run(self, max_iterations: int) -> bool:
        rng = self.rng
        cost = self._cost()
        best = cost
        tabu: dict[tuple[int, int], int] = {}
        conflicts = self._conflicts()
        for it in range(max_iterations):
            if cost == 0:
                return True
            if it % 50 == 0 or not conflicts:  # the list below only tracks the moved lessons
                conflicts = self._conflicts()
            c, i = rng.choice(conflicts)
            a = self.at[c][i]
            moves = []
            for j in range(len(self.slots[c])):
                b = self.at[c][j]
                if j == i or self.meetings[b] is self.meetings[a]:
                    continue
                delta = self._delta(c, i, j)
                if (tabu.get((a, j), -1) > it or tabu.get((b, i), -1) > it) and (
                    cost + delta >= best
                ):
                    continue
                moves.append((delta, j))
            if not moves:
                continue
            low = min(delta for delta, _ in moves)
            j = rng.choice([j for delta, j in moves if delta == low])
            b = self.at[c][j]
            self._swap(c, i, j)
            cost += low
            best = min(best, cost)
            tenure = 8 + rng.randint(0, 6)
            tabu[a, i] = it + tenure
            tabu[b, j] = it + tenure
            conflicts = [key for key in conflicts if key not in ((c, i), (c, j))]
            conflicts += [(c, idx) for idx in (i, j) if self._clashes(c, idx)]
        return cost == 0

    def placements(self) -> list[Placement]:
        return [
            Placement(self.meetings[self.at[c][i]], slot // 8 + 1, slot % 8)
            for c, slots in self.slots.items()
            for i, slot in enumerate(slots)
        ]


def build_timetable(
    lengths: dict[int, list[int]],
    meetings: list[Meeting],
    rng: random.Random,
    max_iterations: int = 50_000,
    attempts: int = 10,
) -> list[Placement]:
    """Place every meeting on (weekday, lesson number) with no teacher clash."""
    for _ in range(attempts):
        search = _Search(lengths, list(meetings), rng)
        if search.run(max_iterations):
            return search.placements()
    raise RuntimeError("Не удалось составить расписание без накладок")


@dataclass(frozen=True)
class Slot:
    """One timetable entry as plain data (the demo's own tests read them)."""

    weekday: int
    number: int
    class_name: str
    subject: str
    subgroup: int | None
    teachers: tuple[str, ...]
    room: str | None


def timetable_slots(year: AcademicYear, on: dt.date | None = None) -> list[Slot]:
    """The year's timetable entries valid on ``on`` (default: the first day) as `Slot`s."""
    on = on or year.starts
    teachers: dict[int, list[str]] = defaultdict(list)
    links = (
        SubjectGroupTeacher.select(SubjectGroupTeacher, SubjectGroup.id)
        .join(SubjectGroup)
        .where(SubjectGroup.year == year)
        .order_by(SubjectGroupTeacher.id)
    )
    for link in links:
        teachers[link.group_id].append(str(link.teacher_id))
    rows = (
        TimetableEntry.select(TimetableEntry, SubjectGroup, SchoolClass, Subject, Room)
        .join(SubjectGroup)
        .join(SchoolClass)
        .switch(SubjectGroup)
        .join(Subject)
        .switch(TimetableEntry)
        .join(Room, JOIN.LEFT_OUTER)
        .where(
            (SubjectGroup.year == year)
            & (TimetableEntry.valid_from <= on)
            & (TimetableEntry.valid_to.is_null() | (TimetableEntry.valid_to >= on))
        )
    )
    return [
        Slot(
            e.weekday,
            e.number,
            e.group.school_class.name,
            e.group.subject.name,
            e.group.subgroup,
            tuple(teachers[e.group_id]),
            e.room.name if e.room_id else None,
        )
        for e in rows
    ]
