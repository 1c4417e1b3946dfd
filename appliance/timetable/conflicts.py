"""Timetable conflicts: a teacher, a room or a class in two places at once.

`find_conflicts` works on plain `EntryRow`s: entries are bucketed by (weekday,
number, teacher / room / class), and only pairs inside a bucket whose validity
ranges overlap are looked at, so a whole school's year is checked in a few
milliseconds. Subgroups of one class may meet at once; two groups of one class
clash only when one of them is the whole class or they share a student at the time.
`year_conflicts` loads a year from the database and checks it; it is THE checker
(the demo's builder may call it too).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from ..models import AcademicYear, SubjectGroupStudent
from .entries import FOREVER, WEEKDAY_SHORT, EntryRow, load_entries, short_names

KINDS = {"teacher": "учитель", "room": "кабинет", "class": "класс"}

# student id, starts, ends (None: still a member)
Membership = tuple[int, dt.date, dt.date | None]
MembershipLoader = Callable[[Iterable[int]], dict[int, list[Membership]]]
NameLoader = Callable[[Iterable[int]], dict[int, str]]


@dataclass(frozen=True)
class Conflict:
    """Two entries that cannot both happen: same teacher, room or class at one time."""

    kind: str  # teacher / room / class
    first: EntryRow
    second: EntryRow
    who: str  # the teacher's name, the room or the class
    since: dt.date | None  # None: from the start of the days checked
    until: dt.date | None  # None: to their end
    shared: tuple[str, ...] = field(default=())  # students in two subgroups at once

    @property
    def weekday(self) -> int:
        return self.first.weekday

    @property
    def number(self) -> int:
        return self.first.number

    @property
    def entry_ids(self) -> tuple[int, int]:
        return (self.first.id, self.second.id)

    @property
    def when(self) -> str:
        return f"{WEEKDAY_SHORT.get(self.weekday, self.weekday)}, {self.number}-й урок"

    @property
    def text(self) -> str:
        """The conflict in one Russian sentence."""
        a, b = self.first, self.second
        if self.kind == "teacher":
            what = f"учитель {self.who} сразу в двух местах: {a.label} и {b.label}"
        elif self.kind == "room":
            what = f"кабинет {self.who} занят дважды: {a.label} и {b.label}"
        elif a.group_id == b.group_id:
            what = f"у класса {self.who} урок «{a.group_label}» стоит дважды"
        else:
            what = f"у класса {self.who} два урока сразу: {a.group_label} и {b.group_label}"
            if self.shared:
                what += " (в обеих подгруппах: " + ", ".join(self.shared) + ")"
        return f"{self.when}: {what}{self.period}"

    @property
    def period(self) -> str:
        """« (с 01.11.2026)» when the clash does not last the whole time checked."""
        parts = [f"с {self.since:%d.%m.%Y}" if self.since else ""]
        parts.append(f"по {self.until:%d.%m.%Y}" if self.until else "")
        text = " ".join(p for p in parts if p)
        return f" ({text})" if text else ""


def _overlap(
    a: EntryRow, b: EntryRow, start: dt.date, end: dt.date
) -> tuple[dt.date, dt.date] | None:
    lo = max(a.valid_from, b.valid_from, start)
    hi = min(a.ends, b.ends, end)
    return (lo, hi) if lo <= hi else None


def find_conflicts(
    entries: Sequence[EntryRow],
    *,
    start: dt.date = dt.date.min,
    end: dt.date = FOREVER,
    memberships: MembershipLoader | None = None,
    names: NameLoader | None = None,
) -> list[Conflict]:
    """Every conflict among ``entries`` on days from ``start`` to ``end``.

    ``memberships`` gives the students of groups (asked only for subgroups that
    meet at once); without it, parallel subgroups are taken to share nobody.
    ``names`` gives people's short names (asked only for the people of conflicts).
    """
    teachers: dict[tuple, list[EntryRow]] = defaultdict(list)
    rooms: dict[tuple, list[EntryRow]] = defaultdict(list)
    classes: dict[tuple, list[EntryRow]] = defaultdict(list)
    for entry in entries:
        if not entry.meets_within(start, end):
            continue
        slot = (entry.weekday, entry.number)
        for teacher in entry.teacher_ids:
            teachers[(*slot, teacher)].append(entry)
        if entry.room_id is not None:
            rooms[(*slot, entry.room_id)].append(entry)
        classes[(*slot, entry.class_id)].append(entry)

    found: list[Conflict] = []
    busy = [
        (teacher, a, b, window)
        for (_, _, teacher), bucket in teachers.items()
        for a, b, window in _pairs(bucket, start, end)
    ]
    teacher_names = names({t for t, *_ in busy}) if names and busy else {}
    for teacher, a, b, (lo, hi) in busy:
        who = teacher_names.get(teacher, f"№ {teacher}")
        found.append(Conflict("teacher", a, b, who, _since(lo, start), _until(hi, end)))
    for bucket in rooms.values():
        for a, b, (lo, hi) in _pairs(bucket, start, end):
            found.append(Conflict("room", a, b, a.room, _since(lo, start), _until(hi, end)))

    parallel: list[tuple[EntryRow, EntryRow, dt.date, dt.date]] = []
    for bucket in classes.values():
        for a, b, (lo, hi) in _pairs(bucket, start, end):
            if a.group_id != b.group_id and a.subgroup is not None and b.subgroup is not None:
                parallel.append((a, b, lo, hi))
            else:
                found.append(
                    Conflict("class", a, b, a.class_name, _since(lo, start), _until(hi, end))
                )
    found += _shared_student_conflicts(parallel, start, end, memberships, names)
    found.sort(key=lambda c: (c.weekday, c.number, list(KINDS).index(c.kind), c.first.label))
    return found


def _pairs(bucket: list[EntryRow], start: dt.date, end: dt.date):
    if len(bucket) < 2:
        return
    for a, b in combinations(bucket, 2):
        window = _overlap(a, b, start, end)
        if window is not None:
            yield a, b, window


def _since(lo: dt.date, start: dt.date) -> dt.date | None:
    return None if lo <= start else lo


def _until(hi: dt.date, end: dt.date) -> dt.date | None:
    return None if hi >= end else hi


def _shared_student_conflicts(
    pairs: list[tuple[EntryRow, EntryRow, dt.date, dt.date]],
    start: dt.date,
    end: dt.date,
    memberships: MembershipLoader | None,
    student_names: NameLoader | None,
) -> list[Conflict]:
    """Subgroups at one time clash only if a student is in both while both meet."""
    if not pairs or memberships is None:
        return []
    members = memberships({g for a, b, _, _ in pairs for g in (a.group_id, b.group_id)})
    clashes = []
    for a, b, lo, hi in pairs:
        shared = _shared(members.get(a.group_id, []), members.get(b.group_id, []), lo, hi)
        if shared:
            clashes.append((a, b, shared))
    ids = {s for *_, shared in clashes for s in shared}
    names = student_names(ids) if student_names and ids else {}
    found = []
    for a, b, shared in clashes:
        ordered = sorted(shared, key=lambda s: names.get(s, ""))
        listed = tuple(names.get(s, "?") for s in ordered[:3]) + (("…",) if len(shared) > 3 else ())
        lo = min(span[0] for span in shared.values())
        hi = max(span[1] for span in shared.values())
        found.append(
            Conflict("class", a, b, a.class_name, _since(lo, start), _until(hi, end), listed)
        )
    return found


def _shared(
    first: list[Membership], second: list[Membership], lo: dt.date, hi: dt.date
) -> dict[int, tuple[dt.date, dt.date]]:
    """Students in both groups on some day from ``lo`` to ``hi``, with the days they are."""
    spans: dict[int, list[tuple[dt.date, dt.date]]] = defaultdict(list)
    for student, starts, ends in first:
        a, b = max(starts, lo), min(ends or FOREVER, hi)
        if a <= b:
            spans[student].append((a, b))
    shared: dict[int, tuple[dt.date, dt.date]] = {}
    for student, starts, ends in second:
        for a, b in spans.get(student, ()):
            both = (max(a, starts), min(b, ends or FOREVER))
            if both[0] <= both[1]:
                seen = shared.get(student, both)
                shared[student] = (min(seen[0], both[0]), max(seen[1], both[1]))
    return shared


def group_memberships(group_ids: Iterable[int]) -> dict[int, list[Membership]]:
    """Students of the given groups with their dates (the loader `find_conflicts` calls)."""
    ids = sorted(set(group_ids))
    found: dict[int, list[Membership]] = defaultdict(list)
    for chunk in range(0, len(ids), 500):
        query = SubjectGroupStudent.select(
            SubjectGroupStudent.group,
            SubjectGroupStudent.student,
            SubjectGroupStudent.starts,
            SubjectGroupStudent.ends,
        ).where(SubjectGroupStudent.group.in_(ids[chunk : chunk + 500]))
        for group_id, student, starts, ends in query.tuples():
            found[group_id].append((student, starts, ends))
    return found


def year_conflicts(
    year: AcademicYear,
    start: dt.date | None = None,
    end: dt.date | None = None,
    entries: Sequence[EntryRow] | None = None,
) -> list[Conflict]:
    """Every conflict of the year's timetable from ``start`` to ``end`` (default: the year)."""
    start = max(start or year.starts, year.starts)
    end = min(end or year.ends, year.ends)
    if entries is None:
        entries = load_entries(year, start=start, end=end)
    return find_conflicts(
        entries, start=start, end=end, memberships=group_memberships, names=short_names
    )


def conflicting_entry_ids(conflicts: Iterable[Conflict]) -> set[int]:
    """The entries a grid marks red."""
    return {i for c in conflicts for i in c.entry_ids}


def class_gaps(entries: Iterable[EntryRow], day: dt.date) -> list[str]:
    """Gaps (окна) in classes' days on ``day``'s timetable: not conflicts, worth a look."""
    numbers: dict[tuple[str, int, int], set[int]] = defaultdict(set)
    for entry in entries:
        if entry.valid_on(day):
            numbers[(entry.class_name, entry.grade, entry.weekday)].add(entry.number)
    gaps = []
    order = sorted(numbers.items(), key=lambda item: (item[0][1], item[0][0], item[0][2]))
    for (class_name, _, weekday), found in order:
        missing = sorted(set(range(min(found), max(found) + 1)) - found)
        if missing:
            listed = ", ".join(str(n) for n in missing)
            gaps.append(f"{class_name}, {WEEKDAY_SHORT.get(weekday, weekday)}: окно ({listed})")
    return gaps
