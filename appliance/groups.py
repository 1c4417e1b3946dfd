"""Subject groups: class × subject × teachers × students, with subgroups (§7.5).

A whole-class group holds the class list; a foreign language (or technology) is split
into subgroups, each its own group with its own teacher, lessons and journal. A
student moved between subgroups keeps their marks where they were given: the journal
counts a student's marks over all groups of the same class and subject
(`same_subject_groups`), and the old subgroup still shows them on the days they were
there. Dated membership, moves, splitting and merging are in `subgroups`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from peewee import fn

from .curriculum import reference_date
from .db import Recorder, snapshot, write
from .models import (
    AcademicYear,
    Assignment,
    Attendance,
    CurriculumLine,
    Enrollment,
    Lesson,
    Mark,
    PeriodMark,
    Person,
    Plan,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    TimetableChange,
    TimetableEntry,
    User,
)
from .notices import notify
from .school_classes import year_classes
from .years import PlanningError, ensure_editable

ALPHABETICAL = (Person.last_name, Person.first_name, Person.middle_name, Person.id)


def same_subject_groups(group: SubjectGroup):
    """The ids of every group of the group's class and subject this year (subgroups too)."""
    return SubjectGroup.select(SubjectGroup.id).where(
        (SubjectGroup.year == group.year_id)
        & (SubjectGroup.school_class == group.school_class_id)
        & (SubjectGroup.subject == group.subject_id)
    )


def siblings(group: SubjectGroup) -> list[SubjectGroup]:
    """The other groups of the same class and subject, by subgroup number."""
    return list(
        SubjectGroup.select()
        .where(SubjectGroup.id.in_(same_subject_groups(group)) & (SubjectGroup.id != group.id))
        .order_by(SubjectGroup.subgroup, SubjectGroup.id)
    )


# --- reading ----------------------------------------------------------------------------


@dataclass
class GroupRow:
    group: SubjectGroup
    teachers: list[Person]  # the main teacher first
    students: int


@dataclass
class ClassGroups:
    school_class: SchoolClass
    rows: list[GroupRow] = field(default_factory=list)
    # subject name → students of the class in none of its subgroups (a newcomer, say)
    unplaced: dict[str, list[Person]] = field(default_factory=dict)

    @property
    def drafts(self) -> int:
        return sum(1 for r in self.rows if r.group.is_draft)


def _teachers_of(groups: list[SubjectGroup]) -> dict[int, list[Person]]:
    found: dict[int, list[Person]] = {g.id: [] for g in groups}
    links = (
        SubjectGroupTeacher.select(SubjectGroupTeacher, Person)
        .join(Person)
        .where(SubjectGroupTeacher.group.in_(groups))
        .order_by(SubjectGroupTeacher.is_main.desc(), Person.last_name, Person.first_name)
    )
    for link in links:
        found[link.group_id].append(link.teacher)
    return found


def _member_counts(groups: list[SubjectGroup], on: dt.date) -> dict[int, int]:
    query = (
        SubjectGroupStudent.select(SubjectGroupStudent.group, fn.COUNT(SubjectGroupStudent.id))
        .where(SubjectGroupStudent.group.in_(groups) & on_day(on))
        .group_by(SubjectGroupStudent.group)
        .tuples()
    )
    return dict(query)


def on_day(on: dt.date):
    """The condition: a membership covers the day."""
    return (SubjectGroupStudent.starts <= on) & (
        SubjectGroupStudent.ends.is_null() | (SubjectGroupStudent.ends >= on)
    )


def year_groups(year: AcademicYear, classes: list[SchoolClass] | None = None) -> list[ClassGroups]:
    """Per class, its groups with teachers and the number of students on the reference day."""
    classes = classes if classes is not None else year_classes(year, include_closed=False)
    groups = list(
        SubjectGroup.select(SubjectGroup, Subject)
        .join(Subject)
        .where((SubjectGroup.year == year) & SubjectGroup.school_class.in_(classes))
        .order_by(Subject.sort_order, Subject.name, SubjectGroup.subgroup)
    )
    teachers = _teachers_of(groups)
    on = reference_date(year)
    counts = _member_counts(groups, on)
    sections = {c.id: ClassGroups(c) for c in classes}
    for group in groups:
        sections[group.school_class_id].rows.append(
            GroupRow(group, teachers[group.id], counts.get(group.id, 0))
        )
    _find_unplaced(sections, [g for g in groups if g.subgroup is not None], on)
    return list(sections.values())


def _find_unplaced(sections: dict[int, ClassGroups], split: list[SubjectGroup], on) -> None:
    """Students of each class who are in none of a subject's subgroups on the day."""
    if not split:
        return
    placed: dict[tuple[int, int], set[int]] = {}
    by_id = {g.id: g for g in split}
    for group_id, student_id in (
        SubjectGroupStudent.select(SubjectGroupStudent.group, SubjectGroupStudent.student)
        .where(SubjectGroupStudent.group.in_(split) & on_day(on))
        .tuples()
    ):
        group = by_id[group_id]
        placed.setdefault((group.school_class_id, group.subject_id), set()).add(student_id)
    rosters: dict[int, list[Person]] = {}
    for group in split:
        class_id = group.school_class_id
        if class_id not in rosters:
            rosters[class_id] = class_roster(sections[class_id].school_class, on)
        inside = placed.get((class_id, group.subject_id), set())
        missing = [p for p in rosters[class_id] if p.id not in inside]
        if missing:
            sections[class_id].unplaced[group.subject.name] = missing


def class_roster(school_class: SchoolClass, on: dt.date) -> list[Person]:
    """Students enrolled in the class on the day, alphabetically."""
    return list(
        Person.select()
        .join(Enrollment, on=Enrollment.student)
        .where(
            (Enrollment.school_class == school_class)
            & (Enrollment.starts <= on)
            & (Enrollment.ends.is_null() | (Enrollment.ends >= on))
        )
        .group_by(Person.id)
        .order_by(*ALPHABETICAL)
    )


def members_on(group: SubjectGroup, on: dt.date) -> list[Person]:
    return list(
        Person.select()
        .join(SubjectGroupStudent, on=SubjectGroupStudent.student)
        .where((SubjectGroupStudent.group == group) & on_day(on))
        .group_by(Person.id)
        .order_by(*ALPHABETICAL)
    )


def teachers_of(group: SubjectGroup) -> list[Person]:
    return _teachers_of([group])[group.id]


def main_teacher(group: SubjectGroup) -> Person | None:
    link = (
        SubjectGroupTeacher.select()
        .where((SubjectGroupTeacher.group == group) & SubjectGroupTeacher.is_main)
        .first()
    )
    return link.teacher if link else None


@dataclass
class RosterRow:
    student: Person
    member: bool  # in this group on the day
    elsewhere: SubjectGroup | None  # in another subgroup of the subject on the day


@dataclass
class GroupView:
    """Everything the group page shows, on one day of the year."""

    group: SubjectGroup
    on: dt.date
    siblings: list[SubjectGroup]
    teachers: list[Person]
    main_id: int | None
    roster: list[RosterRow]
    history: list[SubjectGroupStudent]  # every membership, for the dates of moves
    data: GroupData

    @property
    def members(self) -> list[Person]:
        return [r.student for r in self.roster if r.member]

    @property
    def unplaced(self) -> list[Person]:
        """With subgroups: students of the class in none of them."""
        if not self.siblings:
            return []
        return [r.student for r in self.roster if not r.member and r.elsewhere is None]


def group_view(group: SubjectGroup, on: dt.date) -> GroupView:
    others = siblings(group)
    where = {}
    for link in SubjectGroupStudent.select().where(
        SubjectGroupStudent.group.in_([g.id for g in [group, *others]]) & on_day(on)
    ):
        where[link.student_id] = link.group_id
    by_id = {g.id: g for g in others}
    roster = [
        RosterRow(p, where.get(p.id) == group.id, by_id.get(where.get(p.id)))
        for p in class_roster(group.school_class, on)
    ]
    # A member who left the class list still shows (the deputy can take them out).
    listed = {r.student.id for r in roster}
    roster += [RosterRow(p, True, None) for p in members_on(group, on) if p.id not in listed]
    history = list(
        SubjectGroupStudent.select(SubjectGroupStudent, Person)
        .join(Person)
        .where(SubjectGroupStudent.group == group)
        .order_by(*ALPHABETICAL, SubjectGroupStudent.starts)
    )
    main = main_teacher(group)
    return GroupView(
        group,
        on,
        others,
        teachers_of(group),
        main.id if main else None,
        roster,
        history,
        group_data(group),
    )


@dataclass
class GroupData:
    """What a group holds that deleting it would lose."""

    marks: int
    attendance: int
    period_marks: int
    plans: int
    lessons: int
    filled_lessons: int  # with a topic or homework

    @property
    def blocking(self) -> list[str]:
        parts = []
        for count, what in (
            (self.marks, "отметки"),
            (self.attendance, "отметки посещаемости"),
            (self.period_marks, "отметки за период"),
            (self.plans, "КТП"),
            (self.filled_lessons, "уроки с темой, заданием, заменой или отметкой о проведении"),
        ):
            if count:
                parts.append(f"{what} ({count})")
        return parts


def group_data(group: SubjectGroup) -> GroupData:
    # what a person entered in a lesson: the same rule as the regeneration's (lessons.py)
    from .lessons import lesson_data  # lessons → journal → … → groups: import late

    lessons = list(Lesson.select().where(Lesson.group == group))
    return GroupData(
        marks=Mark.select().join(Assignment).join(Lesson).where(Lesson.group == group).count(),
        attendance=Attendance.select().join(Lesson).where(Lesson.group == group).count(),
        period_marks=PeriodMark.select().where(PeriodMark.group == group).count(),
        plans=Plan.select().where(Plan.group == group).count(),
        lessons=len(lessons),
        filled_lessons=len(lesson_data(lessons)),
    )


def remove_group(rec: Recorder, group: SubjectGroup) -> None:
    """Inside a write: a group holding nothing, with its empty lessons, its timetable
    entries and their one-off changes, each removal audited (nothing goes silently
    through the database's cascade)."""
    entries = list(TimetableEntry.select().where(TimetableEntry.group == group))
    for change in TimetableChange.select().where(
        TimetableChange.entry.in_([e.id for e in entries])
    ):
        before = snapshot(change)
        change.delete_instance()
        rec.record("timetable.change.delete", change, before=before, op="delete")
    for lesson in Lesson.select().where(Lesson.group == group):
        before = snapshot(lesson)
        lesson.delete_instance()
        rec.record("lesson.delete", lesson, before=before, sync=True, op="delete")
    for entry in entries:
        before = snapshot(entry)
        entry.delete_instance()
        rec.record("timetable.entry.delete", entry, before=before, op="delete")
    before = snapshot(group)
    group.delete_instance()
    rec.record("group.delete", group, before=before, sync=True, op="delete")


# --- creating and deleting ----------------------------------------------------------------


def alphabetical_runs(students: list[Person], parts: int) -> list[list[Person]]:
    """The class list split alphabetically into `parts` nearly equal runs (larger first)."""
    size, extra = divmod(len(students), parts)
    out, start = [], 0
    for n in range(parts):
        end = start + size + (1 if n < extra else 0)
        out.append(students[start:end])
        start = end
    return out


def insert_group(
    rec: Recorder,
    school_class: SchoolClass,
    subject: Subject,
    subgroup: int | None,
    members: dict[int, dt.date],
    draft: bool = False,
) -> SubjectGroup:
    """Inside a write: a new group with its students (id → first day), one audit entry."""
    group = SubjectGroup.create(
        year=school_class.year_id,
        school_class=school_class,
        subject=subject,
        subgroup=subgroup,
        is_draft=draft,
    )
    if members:
        SubjectGroupStudent.insert_many(
            [{"group": group.id, "student": sid, "starts": day} for sid, day in members.items()]
        ).execute()
    after = snapshot(group) | {
        "students": {str(sid): day.isoformat() for sid, day in members.items()}
    }
    # a draft goes to АСУ РСО when confirmed (`confirm_groups`), not before
    rec.record("group.create", group, after=after, sync=not draft)
    return group


def _enrol_from(school_class: SchoolClass, on: dt.date) -> dict[int, dt.date]:
    """When each student of the list joins a new group: the later of `on` and enrolment."""
    starts = {}
    for e in Enrollment.select().where(
        (Enrollment.school_class == school_class)
        & (Enrollment.starts <= on)
        & (Enrollment.ends.is_null() | (Enrollment.ends >= on))
    ):
        starts[e.student_id] = max(e.starts, school_class.year.starts)
    return starts


@dataclass
class Created:
    groups: list[SubjectGroup] = field(default_factory=list)
    no_curriculum: list[SchoolClass] = field(default_factory=list)


def create_from_curriculum(
    year: AcademicYear, classes: list[SchoolClass], *, user, ip: str, draft: bool = False
) -> Created:
    """One group per curriculum subject of each class's grade that has none yet.

    A foreign language gets two subgroups, the class list split alphabetically in
    half (the deputy corrects the lists afterwards). ``draft``: the rollover's new
    subjects, confirmed later with the groups carried over.
    """
    ensure_editable(year)
    on = reference_date(year)
    result = Created()
    with write(user=user, ip=ip) as rec:
        for school_class in classes:
            if school_class.year_id != year.id or school_class.closed:
                continue
            lines = list(
                CurriculumLine.select(CurriculumLine, Subject)
                .join(Subject)
                .where((CurriculumLine.year == year) & (CurriculumLine.grade == school_class.grade))
                .order_by(Subject.sort_order, Subject.name)
            )
            if not lines:
                result.no_curriculum.append(school_class)
                continue
            have = {
                g.subject_id
                for g in SubjectGroup.select(SubjectGroup.subject).where(
                    SubjectGroup.school_class == school_class
                )
            }
            roster = class_roster(school_class, on)
            starts = _enrol_from(school_class, on)
            for line in lines:
                if line.subject_id in have:
                    continue
                # Even an empty class gets both subgroups: its list comes later.
                split = line.subject.is_foreign_language
                runs = alphabetical_runs(roster, 2) if split else [roster]
                for number, run in enumerate(runs, 1):
                    members = {p.id: starts.get(p.id, on) for p in run}
                    group = insert_group(
                        rec, school_class, line.subject, number if split else None, members, draft
                    )
                    result.groups.append(group)
    if not result.groups:
        if result.no_curriculum and len(result.no_curriculum) == len(classes):
            grades = sorted({c.grade for c in result.no_curriculum})
            raise PlanningError(
                "Нет учебного плана для параллелей: "
                + ", ".join(map(str, grades))
                + ". Сначала заполните учебный план."
            )
        raise PlanningError("Новых групп нет: у каждого предмета учебного плана группа уже есть.")
    return result


def add_group(school_class: SchoolClass, subject: Subject, *, user, ip: str) -> SubjectGroup:
    """A whole-class group for one subject (an elective, a subject outside the plan)."""
    ensure_editable(school_class.year)
    if school_class.closed:
        raise PlanningError(f"Класс {school_class.name} закрыт.")
    exists = (
        SubjectGroup.select()
        .where((SubjectGroup.school_class == school_class) & (SubjectGroup.subject == subject))
        .exists()
    )
    if exists:
        raise PlanningError(
            f"У {school_class.name} уже есть группа по предмету «{subject.name}»: "
            "чтобы сделать подгруппы, разделите её."
        )
    on = reference_date(school_class.year)
    starts = _enrol_from(school_class, on)
    members = {p.id: starts.get(p.id, on) for p in class_roster(school_class, on)}
    with write(user=user, ip=ip) as rec:
        return insert_group(rec, school_class, subject, None, members)


def delete_group(group: SubjectGroup, *, user, ip: str) -> None:
    """Remove a group made by mistake: only one with nothing in its journal."""
    ensure_editable(group.year)
    blocking = group_data(group).blocking
    if blocking:
        raise PlanningError(
            f"Группу «{group.name}» удалить нельзя: в ней есть " + ", ".join(blocking) + "."
        )
    with write(user=user, ip=ip) as rec:
        remove_group(rec, group)


# --- teachers and drafts ------------------------------------------------------------------


def teacher_choices() -> list[Person]:
    """Staff holding the teacher role (as for substitutions)."""
    # journal_control imports the journal, which imports this module: import late.
    from .journal_control import teachers

    return teachers()


@dataclass
class TeachersChange:
    added: list[Person] = field(default_factory=list)
    removed: list[Person] = field(default_factory=list)


def set_teachers(
    group: SubjectGroup, main_id: int | None, other_ids: Iterable[int], *, user, ip: str
) -> TeachersChange:
    """The group's main teacher and co-teachers; new ones get a notice.

    Lessons already in the journal keep the teacher they were made with
    (`Lesson.teacher`) until lessons are regenerated from the timetable.
    """
    ensure_editable(group.year)
    allowed = {p.id: p for p in teacher_choices()}
    others = [i for i in dict.fromkeys(other_ids) if i != main_id]
    if main_id is None and others:
        raise PlanningError("Выберите основного учителя группы.")
    unknown = [i for i in [main_id, *others] if i is not None and i not in allowed]
    if unknown:
        raise PlanningError("Учителем группы может быть только сотрудник с ролью «Учитель».")
    wanted = {i: (i == main_id) for i in [main_id, *others] if i is not None}
    links = {link.teacher_id: link for link in group.teacher_links}
    change = TeachersChange()
    with write(user=user, ip=ip) as rec:
        for teacher_id, link in links.items():
            if teacher_id not in wanted:
                before = snapshot(link)
                link.delete_instance()
                rec.record("group.teacher_remove", link, before=before, op="delete")
                change.removed.append(link.teacher)
        for teacher_id, is_main in wanted.items():
            link = links.get(teacher_id)
            if link is None:
                link = SubjectGroupTeacher.create(group=group, teacher=teacher_id, is_main=is_main)
                rec.record("group.teacher_add", link, op="create")
                change.added.append(allowed[teacher_id])
            elif link.is_main != is_main:
                before = snapshot(link)
                link.is_main = is_main
                link.save()
                rec.record("group.teacher_update", link, before=before, op="update")
        accounts = User.select().where(User.person.in_([p.id for p in change.added]))
        notify(
            accounts,
            "system",
            f"Вам назначена группа: {group.name} ({group.year.name}).",
        )
    return change


def without_teacher(year: AcademicYear) -> int:
    """Groups of the year nobody teaches yet."""
    taught = SubjectGroupTeacher.select(SubjectGroupTeacher.group)
    return (
        SubjectGroup.select()
        .where((SubjectGroup.year == year) & SubjectGroup.id.not_in(taught))
        .count()
    )


def confirm_groups(groups: Iterable[SubjectGroup], *, user, ip: str) -> int:
    """Draft groups (carried over by the rollover) become real: they get lessons."""
    drafts = [g for g in groups if g.is_draft]
    for group in drafts:
        ensure_editable(group.year)
    with write(user=user, ip=ip) as rec:
        for group in drafts:
            before = snapshot(group)
            group.is_draft = False
            group.save()
            rec.record("group.confirm", group, before=before, sync=True)
    return len(drafts)
