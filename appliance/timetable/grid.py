"""The timetable as a grid (weekday × lesson number) for a class, a teacher or a room.

A grid shows the entries valid on one day and, over them, the one-off changes of
that day's week (a cancelled lesson, a substitute, a move, another room), plus the
lessons the week brings in (a lesson moved here, a substitution given to this
teacher). Conflicts are computed over the whole school for that day, so a clash with
another class's lesson shows on both grids.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..models import AcademicYear, Person, Room, SchoolClass, SubjectGroup, SubjectGroupTeacher
from .changes import changes_between
from .conflicts import Conflict, conflicting_entry_ids, year_conflicts
from .entries import EntryRow, bell_times, load_entries, room_label, short_names, week_of

FIVE_DAYS = [1, 2, 3, 4, 5]
MIN_NUMBERS = 6


@dataclass
class CellItem:
    """One lesson in a cell: what it is, who and where, and this week's changes to it."""

    title: str
    details: list[str]
    entry: EntryRow | None = None
    conflict: bool = False
    notes: list[str] = field(default_factory=list)
    extra: bool = False  # brought in this week by a one-off change


@dataclass
class Grid:
    kind: str  # class / teacher / room
    title: str
    year: AcademicYear
    day: dt.date
    weekdays: list[int]
    numbers: list[int]
    cells: dict[tuple[int, int], list[CellItem]]
    bells: dict[int, str]
    conflicts: list[Conflict]
    valid_since: dt.date | None

    @property
    def week(self) -> list[dt.date]:
        return week_of(self.day)

    def at(self, weekday: int, number: int) -> list[CellItem]:
        return self.cells.get((weekday, number), [])

    def date_of(self, weekday: int) -> dt.date:
        return self.week[weekday - 1]

    @property
    def empty(self) -> bool:
        return not self.cells


def class_grid(school_class: SchoolClass, day: dt.date) -> Grid:
    return _grid(
        "class",
        f"Класс {school_class.name}",
        school_class.year,
        day,
        lambda e: e.class_id == school_class.id,
        class_ids=[school_class.id],
    )


def teacher_grid(year: AcademicYear, teacher: Person, day: dt.date) -> Grid:
    return _grid(
        "teacher", teacher.full_name, year, day, lambda e: teacher.id in e.teacher_ids, teacher
    )


def room_grid(year: AcademicYear, room: Room, day: dt.date) -> Grid:
    return _grid(
        "room", f"Кабинет {room.name}", year, day, lambda e: e.room_id == room.id, room=room
    )


def _grid(
    kind,
    title,
    year,
    day,
    selects,
    teacher: Person | None = None,
    room: Room | None = None,
    class_ids: list[int] | None = None,
) -> Grid:
    everyone = load_entries(year, start=day, end=day)
    conflicts = year_conflicts(year, day, day, entries=everyone)
    clashing = conflicting_entry_ids(conflicts)
    mine = [e for e in everyone if selects(e)]
    names = short_names(t for e in mine for t in e.teacher_ids)
    cells: dict[tuple[int, int], list[CellItem]] = {}
    for entry in mine:
        item = CellItem(
            _title(kind, entry),
            _details(kind, entry, names),
            entry,
            conflict=entry.id in clashing,
        )
        cells.setdefault((entry.weekday, entry.number), []).append(item)
    _overlay_changes(kind, year, day, mine, cells, teacher, room, class_ids)
    weekdays = FIVE_DAYS + ([6] if any(w == 6 for w, _ in cells) else [])
    bells = bell_times()
    last = max([MIN_NUMBERS, *bells, *(n for _, n in cells)])
    mine_ids = {e.id for e in mine}
    return Grid(
        kind,
        title,
        year,
        day,
        weekdays,
        list(range(1, last + 1)),
        cells,
        bells,
        [c for c in conflicts if mine_ids & set(c.entry_ids)],
        max((e.valid_from for e in mine), default=None),
    )


def _title(kind: str, entry: EntryRow) -> str:
    return entry.group_label if kind == "class" else entry.label


def _details(kind: str, entry: EntryRow, names: dict[int, str]) -> list[str]:
    details = []
    if kind != "teacher":
        details += [names.get(t, "") for t in entry.teacher_ids]
    if kind != "room" and entry.room:
        details.append(entry.room_label)
    return [d for d in details if d]


def _overlay_changes(
    kind, year, day, mine, cells, teacher: Person | None, room: Room | None, class_ids
):
    """Mark this week's one-off changes on the lessons they touch.

    A class grid reads its own class's changes only (``class_ids``): every student's
    and parent's «my timetable» draws one, so it must not read the whole school's.
    """
    week = week_of(day)
    by_id = {e.id: e for e in mine}
    for row in changes_between(year, week[0], week[-1], class_ids):
        change = row.change
        entry = by_id.get(change.entry_id)
        if entry is not None and week[0] <= change.date <= week[-1]:
            for item in cells.get((entry.weekday, entry.number), []):
                if item.entry is entry:
                    item.notes.append(f"{change.date:%d.%m}: {_short(change)}")
        moved_here = (
            change.kind == "moved"
            and change.new_date
            and week[0] <= change.new_date <= week[-1]
            and _lands_here(change, entry, room)
        )
        if moved_here:
            group = change.entry.group
            cells.setdefault((change.new_date.isoweekday(), change.new_number), []).append(
                CellItem(
                    _group_title(kind, group),
                    [],
                    notes=[f"{change.new_date:%d.%m}: перенесён с {change.date:%d.%m}"],
                    extra=True,
                )
            )
        if (
            teacher is not None
            and change.kind == "substitution"
            and change.teacher_id == teacher.id
            and entry is None
            and week[0] <= change.date <= week[-1]
        ):
            group, number = change.entry.group, change.entry.number
            cells.setdefault((change.entry.weekday, number), []).append(
                CellItem(
                    _group_title("teacher", group),
                    [],
                    notes=[f"{change.date:%d.%m}: замена"],
                    extra=True,
                )
            )


def _lands_here(change, entry: EntryRow | None, room: Room | None) -> bool:
    """Whether a moved lesson comes to this grid: its own, or into this room."""
    if room is None:
        return entry is not None
    return (change.room_id or (entry.room_id if entry else None)) == room.id


def _group_title(kind: str, group: SubjectGroup) -> str:
    label = group.subject.name + (f", {group.subgroup} подгр." if group.subgroup else "")
    return label if kind == "class" else f"{group.school_class.name} {label}"


def _short(change) -> str:
    if change.kind == "cancelled":
        return "отменён"
    if change.kind == "substitution":
        return f"замена: {change.teacher.short_name}" if change.teacher_id else "замена"
    if change.kind == "moved":
        return f"перенесён на {change.new_date:%d.%m}, {change.new_number}-й урок"
    return room_label(change.room.name) if change.room_id else "другой кабинет"


# --- who and what to list -------------------------------------------------------------------


def year_classes(year: AcademicYear) -> list[SchoolClass]:
    return list(
        SchoolClass.select()
        .where((SchoolClass.year == year) & ~SchoolClass.closed)
        .order_by(SchoolClass.grade, SchoolClass.letter)
    )


def year_teachers(year: AcademicYear) -> list[Person]:
    """Everyone who teaches a group this year, alphabetically."""
    return list(
        Person.select()
        .join(SubjectGroupTeacher, on=SubjectGroupTeacher.teacher)
        .join(SubjectGroup)
        .where(SubjectGroup.year == year)
        .group_by(Person.id)
        .order_by(Person.last_name, Person.first_name, Person.middle_name)
    )
