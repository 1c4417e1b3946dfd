"""Subgroups and dated membership: who is in which group from which day (§7.5).

A student moved between subgroups on a date leaves the old one the day before and
joins the new one that day; their marks stay where they were given and still count in
the new subgroup (`journal.marks_in_period` reads every group of the class and subject).
A whole-class group splits into subgroups and merges back only while nothing of its
journal would be lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from peewee import fn

from .db import Recorder, snapshot, write
from .groups import (
    alphabetical_runs,
    class_roster,
    group_data,
    insert_group,
    members_on,
    on_day,
    remove_group,
    siblings,
)
from .models import (
    AcademicYear,
    Assignment,
    Attendance,
    Lesson,
    Mark,
    Person,
    SubjectGroup,
    SubjectGroupStudent,
)
from .years import PlanningError, ensure_editable

MAX_SUBGROUPS = 5


def _check_day(year: AcademicYear, on: dt.date) -> None:
    if not (year.starts <= on <= year.ends):
        raise PlanningError(
            f"Дата {on:%d.%m.%Y} вне {year.name} учебного года "
            f"({year.starts:%d.%m.%Y}–{year.ends:%d.%m.%Y})."
        )


def _later_work(group: SubjectGroup, student: Person, on: dt.date) -> dt.date | None:
    """The first day from `on` with a mark or attendance of the student in the group."""
    days = [
        query.scalar()
        for query in (
            Mark.select(fn.MIN(Lesson.date))
            .join(Assignment)
            .join(Lesson)
            .where((Lesson.group == group) & (Lesson.date >= on) & (Mark.student == student)),
            Lesson.select(fn.MIN(Lesson.date))
            .join(Attendance)
            .where((Lesson.group == group) & (Lesson.date >= on) & (Attendance.student == student)),
        )
    ]
    found = [d if isinstance(d, dt.date) else dt.date.fromisoformat(d) for d in days if d]
    return min(found) if found else None


def _end_membership(
    rec: Recorder, group: SubjectGroup, student: Person, on: dt.date, *, check: bool = True
) -> None:
    """The student leaves the group from `on`: links end the day before (or go, if not begun).

    Refused (`check`) when they have marks or attendance there from that day: those
    would hang on days the student was no longer in the group.
    """
    later = _later_work(group, student, on) if check else None
    if later is not None:
        raise PlanningError(
            f"{student.short_name}: в группе «{group.name}» у ученика есть отметки "
            f"или посещаемость за {later:%d.%m.%Y} — перевести можно не раньше "
            f"{later + dt.timedelta(days=1):%d.%m.%Y}."
        )
    links = SubjectGroupStudent.select().where(
        (SubjectGroupStudent.group == group)
        & (SubjectGroupStudent.student == student)
        & (SubjectGroupStudent.ends.is_null() | (SubjectGroupStudent.ends >= on))
    )
    for link in links:
        before = snapshot(link)
        if link.starts >= on:
            link.delete_instance()
            rec.record("group_student.delete", link, before=before, op="delete")
        else:
            link.ends = on - dt.timedelta(days=1)
            link.save()
            rec.record("group_student.end", link, before=before, op="update")


def _start_membership(rec: Recorder, group: SubjectGroup, student: Person, on: dt.date) -> None:
    """The student joins the group from `on` (a link that ended the day before goes on).

    Call only for a student not in the group on `on`; links starting later are dropped.
    """
    _end_membership(rec, group, student, on, check=False)
    previous = SubjectGroupStudent.get_or_none(
        (SubjectGroupStudent.group == group)
        & (SubjectGroupStudent.student == student)
        & (SubjectGroupStudent.ends == on - dt.timedelta(days=1))
    )
    if previous is not None:
        before = snapshot(previous)
        previous.ends = None
        previous.save()
        rec.record("group_student.extend", previous, before=before, op="update")
        return
    link = SubjectGroupStudent.create(group=group, student=student, starts=on)
    rec.record("group_student.start", link, op="create")


def _is_member(group: SubjectGroup, student: Person, on: dt.date) -> bool:
    return (
        SubjectGroupStudent.select()
        .where(
            (SubjectGroupStudent.group == group)
            & (SubjectGroupStudent.student == student)
            & on_day(on)
        )
        .exists()
    )


def _editable(group: SubjectGroup, on: dt.date | None = None) -> None:
    ensure_editable(group.year)
    if on is not None:
        _check_day(group.year, on)


def move_student(
    student: Person, source: SubjectGroup, target: SubjectGroup, on: dt.date, *, user, ip: str
) -> None:
    """Move a student to another subgroup of the same class and subject from `on`.

    Their marks stay in the old subgroup (it still shows them for the days they were
    there) and count towards their average and period mark in the new one.
    """
    _editable(source, on)
    if target.id == source.id or target.id not in {g.id for g in siblings(source)}:
        raise PlanningError("Перевести можно только в другую подгруппу того же класса и предмета.")
    if not _is_member(source, student, on):
        raise PlanningError(
            f"{student.short_name} не учится в группе «{source.name}» на {on:%d.%m.%Y}."
        )
    if _is_member(target, student, on):
        raise PlanningError(f"{student.short_name} уже в группе «{target.name}».")
    with write(user=user, ip=ip) as rec:
        _end_membership(rec, source, student, on)
        _start_membership(rec, target, student, on)
        rec.record(
            "group.move",
            student,
            after={"from": source.id, "to": target.id, "on": on.isoformat()},
        )


@dataclass
class MembersChange:
    added: list[Person] = field(default_factory=list)
    removed: list[Person] = field(default_factory=list)
    moved: list[tuple[Person, SubjectGroup]] = field(default_factory=list)  # from which group
    without_group: list[Person] = field(default_factory=list)


def set_members(
    group: SubjectGroup, student_ids: Iterable[int], on: dt.date, *, user, ip: str
) -> MembersChange:
    """Make the group's list from `on` exactly these students of the class.

    A student taken from another subgroup of the same subject moves from it on that
    day; one removed and in no other subgroup is reported so the deputy can place them.
    """
    _editable(group, on)
    roster = {p.id: p for p in class_roster(group.school_class, on)}
    wanted = set(student_ids)
    current = {p.id: p for p in members_on(group, on)}
    # A member who has left the class may stay ticked; nobody else from outside may come.
    if wanted - set(roster) - set(current):
        raise PlanningError("В списке есть ученики не из этого класса (на эту дату).")
    others = siblings(group)
    change = MembersChange()
    with write(user=user, ip=ip) as rec:
        for sid in sorted(wanted - set(current), key=lambda i: _order(roster[i])):
            student = roster[sid]
            for other in others:
                if _is_member(other, student, on):
                    _end_membership(rec, other, student, on)
                    change.moved.append((student, other))
            _start_membership(rec, group, student, on)
            change.added.append(student)
        for sid in set(current) - wanted:
            student = current[sid]
            _end_membership(rec, group, student, on)
            change.removed.append(student)
            if others and not any(_is_member(o, student, on) for o in others):
                change.without_group.append(student)
        if change.added or change.removed:
            rec.record(
                "group.members",
                group,
                after={
                    "on": on.isoformat(),
                    "added": [p.id for p in change.added],
                    "removed": [p.id for p in change.removed],
                },
            )
    return change


def _order(person: Person) -> tuple:
    return (person.last_name, person.first_name, person.middle_name, person.id)


# --- splitting and merging ------------------------------------------------------------


def split_group(
    group: SubjectGroup, parts: int, on: dt.date, *, user, ip: str
) -> list[SubjectGroup]:
    """Split a whole-class group into `parts` subgroups from `on`.

    The group itself becomes subgroup 1 and keeps its lessons, marks, КТП and
    timetable; the class list is split alphabetically and the others move to the new
    subgroups (their earlier marks stay in subgroup 1 and still count for them).
    """
    _editable(group, on)
    if group.subgroup is not None or siblings(group):
        raise PlanningError("Эта группа уже разделена на подгруппы.")
    if not 2 <= parts <= MAX_SUBGROUPS:
        raise PlanningError(f"Подгрупп может быть от 2 до {MAX_SUBGROUPS}.")
    members = members_on(group, on)
    if len(members) < parts:
        raise PlanningError(
            f"В группе учеников: {len(members)} — этого мало для подгрупп: {parts}."
        )
    runs = alphabetical_runs(members, parts)
    created = []
    with write(user=user, ip=ip) as rec:
        before = snapshot(group)
        group.subgroup = 1
        group.save()
        rec.record("group.split", group, before=before, sync=True)
        for number, run in enumerate(runs[1:], 2):
            for student in run:
                _end_membership(rec, group, student, on)
            members = {p.id: on for p in run}
            new = insert_group(
                rec, group.school_class, group.subject, number, members, group.is_draft
            )
            created.append(new)
    return created


def merge_groups(group: SubjectGroup, on: dt.date, *, user, ip: str) -> SubjectGroup:
    """Make the subgroups of a subject one whole-class group again, from `on`.

    Subgroup 1 (the lowest) stays; the others are removed, so this is refused while
    any of them holds marks, attendance, period marks, a КТП or filled lessons — they
    would be lost. Their empty lessons and timetable rows go with them.
    """
    _editable(group, on)
    family = sorted([group, *siblings(group)], key=lambda g: (g.subgroup or 0, g.id))
    if len(family) < 2:
        raise PlanningError("Эта группа не разделена на подгруппы — объединять нечего.")
    keeper, others = family[0], family[1:]
    problems = []
    for other in others:
        blocking = group_data(other).blocking
        if blocking:
            problems.append(f"в группе «{other.name}» есть: " + ", ".join(blocking))
    if problems:
        raise PlanningError(
            "Объединить нельзя: "
            + "; ".join(problems)
            + ". Эти данные пропали бы вместе с подгруппой. Переведите учеников по одному "
            "(их отметки сохранятся) или оставьте подгруппы до конца года."
        )
    movers = {p.id: p for other in others for p in members_on(other, on)}
    with write(user=user, ip=ip) as rec:
        for other in others:
            remove_group(rec, other)
        for student in sorted(movers.values(), key=_order):
            if not _is_member(keeper, student, on):
                _start_membership(rec, keeper, student, on)
        before = snapshot(keeper)
        keeper.subgroup = None
        keeper.save()
        rec.record("group.merge", keeper, before=before, sync=True)
    return keeper
