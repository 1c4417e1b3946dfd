"""The year rollover: prepare next year from this one, then switch the school over to it.

Step 1, `prepare_next_year` (spring or summer, while this year runs): the next year
with this year's curriculum, the usual calendar, every open class promoted (5А → 6А,
same class teacher and room), its students enrolled from 1 September and its subject
groups carried over as DRAFTS (same subject, subgroup, teachers and students). Drafts
give no lessons until the deputy confirms them, since next year's teachers often change.
Step 2, `switch_year` (late August): the next year becomes current, the old one
read-only for the archive, its graduating classes closed, and class teachers' rights
move to their promoted classes. Each step is one audited transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from peewee import fn

from .bulk import insert_rows
from .calendar_edit import write_public_holidays, write_template
from .db import Recorder, snapshot, write
from .models import (
    AcademicYear,
    CurriculumLine,
    Enrollment,
    Person,
    RoleGrant,
    SchoolClass,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    Term,
    User,
    UserNotice,
)
from .school_calendar import academic_year_bounds
from .years import PlanningError

LAST_GRADE = 11


@dataclass
class Prepared:
    """What step 1 made, for the page and the console."""

    year: AcademicYear
    promoted: list[tuple[str, str]] = field(default_factory=list)  # old name → new name
    graduating: list[str] = field(default_factory=list)
    enrolments: int = 0
    groups: int = 0
    group_students: int = 0
    curriculum: int = 0
    terms: int = 0
    days: int = 0
    dropped: list[str] = field(default_factory=list)  # «4А → 5А: Окружающий мир»
    added: int = 0  # groups of subjects new in the grade (drafts without a teacher)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        return {
            "year": self.year.name,
            "promoted": dict(self.promoted),
            "graduating": self.graduating,
            "enrolments": self.enrolments,
            "groups": self.groups,
            "group_students": self.group_students,
            "curriculum": self.curriculum,
            "terms": self.terms,
            "days": self.days,
            "dropped": self.dropped,
            "added": self.added,
        }


@dataclass
class Switched:
    """What step 2 changed."""

    year: AcademicYear
    previous: AcademicYear | None
    closed: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # «Кузнецов А. П.: 5А → 6А»
    granted: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    joined: list[str] = field(default_factory=list)  # «Морозова А. (6А)»: came after step 1
    left: list[str] = field(default_factory=list)  # left the old class after step 1


def next_year_of(year: AcademicYear) -> tuple[str, dt.date, dt.date]:
    """Name and bounds of the academic year after ``year``."""
    starts, ends = academic_year_bounds(year.ends + dt.timedelta(days=1))
    return f"{starts.year}/{ends.year}", starts, ends


def open_classes(year: AcademicYear) -> list[SchoolClass]:
    return list(
        SchoolClass.select()
        .where((SchoolClass.year == year) & ~SchoolClass.closed)
        .order_by(SchoolClass.grade, SchoolClass.letter)
    )


def default_graduating(year: AcademicYear) -> set[int]:
    """Classes that leave by default: the 11th. The deputy adds others (9th of a basic school)."""
    return {c.id for c in open_classes(year) if c.grade >= LAST_GRADE}


def _members_at(model, owner_field, owner_ids: list[int], day: dt.date) -> list:
    """Rows of ``model`` (Enrollment, SubjectGroupStudent) current on ``day`` for the owners."""
    if not owner_ids:
        return []
    return list(
        model.select().where(
            owner_field.in_(owner_ids)
            & (model.starts <= day)
            & (model.ends.is_null() | (model.ends >= day))
        )
    )


def prepare_next_year(
    source: AcademicYear,
    graduating: Iterable[int] | None = None,
    *,
    user: User | None = None,
    ip: str = "",
) -> Prepared:
    """Step 1: the next year, ready for the deputy to check (see the module docstring).

    ``graduating`` are ids of ``source``'s classes that leave the school (11th classes
    always do). Refuses when the next year already has classes, so running it twice
    changes nothing.
    """
    name, starts, ends = next_year_of(source)
    with write(user=user, ip=ip) as rec:
        if source.read_only:
            raise PlanningError(f"{source.name} учебный год уже закрыт: переводить из него нельзя.")
        classes = open_classes(source)
        leaving = set(graduating or ()) | default_graduating(source)
        if not leaving <= {c.id for c in classes}:
            raise PlanningError(
                f"Выпускные классы выбираются из открытых классов {source.name} года."
            )
        target = AcademicYear.get_or_none(AcademicYear.name == name)
        if target is not None and SchoolClass.select().where(SchoolClass.year == target).exists():
            raise PlanningError(
                f"{name} учебный год уже подготовлен: в нём есть классы. "
                "Проверяйте и правьте его на страницах плана года."
            )
        if target is not None and target.read_only:
            raise PlanningError(f"{name} учебный год закрыт.")
        if target is None:
            target = AcademicYear.create(name=name, starts=starts, ends=ends)
            rec.record("year.create", target)
        result = Prepared(target)
        result.curriculum = _copy_curriculum(source, target)
        promoted = [c for c in classes if c.id not in leaving]
        result.graduating = [c.name for c in classes if c.id in leaving]
        new_classes = _promote(promoted, target, rec)
        result.promoted = [(old.name, new_classes[old.id].name) for old in promoted]
        continuing = _enrol(source, target, promoted, new_classes, result)
        _carry_groups(source, target, promoted, new_classes, continuing, rec, result)
        result.added = _add_new_subjects(target, list(new_classes.values()), user=user, ip=ip)
        if not Term.select().where(Term.year == target).exists():
            result.terms, result.days = write_template(target, rec)
            result.days += len(write_public_holidays(target, rec))
        result.warnings = _curriculum_warnings(target, promoted)
        rec.record("year.prepare", target, after=result.summary())
    return result


def _copy_curriculum(source: AcademicYear, target: AcademicYear) -> int:
    """This year's curriculum lines for the next year, unless it has its own already."""
    if CurriculumLine.select().where(CurriculumLine.year == target).exists():
        return 0
    return insert_rows(
        CurriculumLine,
        (
            {
                "year": target.id,
                "grade": line.grade,
                "subject": line.subject_id,
                "hours_week": line.hours_week,
                "hours_year": line.hours_year,
            }
            for line in CurriculumLine.select().where(CurriculumLine.year == source)
        ),
    )


def _promote(
    promoted: list[SchoolClass], target: AcademicYear, rec: Recorder
) -> dict[int, SchoolClass]:
    """One class a grade up per promoted class: same letter, class teacher and room."""
    made = {}
    for old in promoted:
        new = SchoolClass.create(
            year=target,
            grade=old.grade + 1,
            letter=old.letter,
            class_teacher=old.class_teacher_id,
            room=old.room_id,
        )
        rec.record("class.create", new, after={**snapshot(new), "promoted_from": old.uuid})
        made[old.id] = new
    return made


def _enrol(
    source: AcademicYear,
    target: AcademicYear,
    promoted: list[SchoolClass],
    new_classes: dict[int, SchoolClass],
    result: Prepared,
) -> dict[int, set[int]]:
    """Enrol the promoted classes' students from the new year's start; old id → student ids.

    Their current enrolment ends with the old year (students who left earlier stay left).
    """
    rows = _members_at(Enrollment, Enrollment.school_class, [c.id for c in promoted], source.ends)
    continuing: dict[int, set[int]] = {c.id: set() for c in promoted}
    for row in rows:
        continuing[row.school_class_id].add(row.student_id)
    if rows:
        Enrollment.update(ends=source.ends).where(
            Enrollment.id.in_([r.id for r in rows])
            & (Enrollment.ends.is_null() | (Enrollment.ends > source.ends))
        ).execute()
    result.enrolments = insert_rows(
        Enrollment,
        (
            {"student": student, "school_class": new_classes[old].id, "starts": target.starts}
            for old, students in continuing.items()
            for student in sorted(students)
        ),
    )
    return continuing


def _carry_groups(
    source: AcademicYear,
    target: AcademicYear,
    promoted: list[SchoolClass],
    new_classes: dict[int, SchoolClass],
    continuing: dict[int, set[int]],
    rec: Recorder,
    result: Prepared,
) -> None:
    """Every confirmed group of a promoted class, as a draft of the new class.

    A subject the new grade does not study (по учебному плану следующего года: 4th
    grade's «Окружающий мир» in the 5th) is not carried over, and is listed instead.
    """
    taught = set(
        CurriculumLine.select(CurriculumLine.grade, CurriculumLine.subject)
        .where(CurriculumLine.year == target)
        .tuples()
    )
    planned_grades = {grade for grade, _ in taught}
    groups = list(
        SubjectGroup.select()
        .where(SubjectGroup.school_class.in_([c.id for c in promoted]) & ~SubjectGroup.is_draft)
        .order_by(SubjectGroup.id)
    )
    group_ids = [g.id for g in groups]
    teachers: dict[int, list[SubjectGroupTeacher]] = {}
    if group_ids:
        for link in SubjectGroupTeacher.select().where(SubjectGroupTeacher.group.in_(group_ids)):
            teachers.setdefault(link.group_id, []).append(link)
    students: dict[int, set[int]] = {}
    for link in _members_at(SubjectGroupStudent, SubjectGroupStudent.group, group_ids, source.ends):
        students.setdefault(link.group_id, set()).add(link.student_id)
    for old in groups:
        new_class = new_classes[old.school_class_id]
        if new_class.grade in planned_grades and (new_class.grade, old.subject_id) not in taught:
            subject = old.subject.name
            entry = f"{old.school_class.name} → {new_class.name}: {subject}"
            if entry not in result.dropped:
                result.dropped.append(entry)
            continue
        new = SubjectGroup.create(
            year=target,
            school_class=new_classes[old.school_class_id],
            subject=old.subject_id,
            subgroup=old.subgroup,
            is_draft=True,
        )
        for link in teachers.get(old.id, []):
            SubjectGroupTeacher.create(group=new, teacher=link.teacher_id, is_main=link.is_main)
        members = sorted(students.get(old.id, set()) & continuing[old.school_class_id])
        result.group_students += insert_rows(
            SubjectGroupStudent,
            ({"group": new.id, "student": s, "starts": target.starts} for s in members),
        )
        rec.record(
            "group.create",
            new,
            after={
                **snapshot(new),
                "carried_from": old.uuid,
                "teachers": [link.teacher_id for link in teachers.get(old.id, [])],
                "students": len(members),
            },
        )
        result.groups += 1


def _add_new_subjects(target: AcademicYear, classes: list[SchoolClass], *, user, ip: str) -> int:
    """Draft groups (no teacher yet) for subjects the new grade starts (5th: История)."""
    from .groups import create_from_curriculum  # groups builds on what the rollover makes

    try:
        created = create_from_curriculum(target, classes, user=user, ip=ip, draft=True)
    except PlanningError:  # no curriculum for these grades, or nothing new: nothing to add
        return 0
    return len(created.groups)


def _curriculum_warnings(target: AcademicYear, promoted: list[SchoolClass]) -> list[str]:
    """Grades and groups the next year's curriculum does not know (to check by hand)."""
    lines = {
        (line.grade, line.subject_id)
        for line in CurriculumLine.select().where(CurriculumLine.year == target)
    }
    grades = {grade for grade, _ in lines}
    warnings = []
    missing_grades = sorted({c.grade + 1 for c in promoted} - grades)
    if lines and missing_grades:
        warnings.append(
            "В учебном плане нет классов: "
            + ", ".join(map(str, missing_grades))
            + ". Если эти классы не будут учиться в школе, отметьте их как выпускные."
        )
    odd = (
        SubjectGroup.select(SubjectGroup, SchoolClass)
        .join(SchoolClass)
        .where(SubjectGroup.year == target)
        .order_by(SchoolClass.grade, SchoolClass.letter)
    )
    names = [
        g.name for g in odd if lines and g.school_class.grade in grades
        and (g.school_class.grade, g.subject_id) not in lines
    ]  # fmt: skip
    if names:
        warnings.append(
            "Этих предметов нет в учебном плане нового класса (проверьте группы): "
            + "; ".join(names[:20])
            + ("…" if len(names) > 20 else "")
        )
    return warnings


# --- step 2 -----------------------------------------------------------------------------


def _year_before(target: AcademicYear) -> AcademicYear | None:
    """The current year (the marked one, else the latest open year before ``target``)."""
    marked = AcademicYear.select().where(AcademicYear.is_current).first()
    if marked is not None:
        return marked
    return (
        AcademicYear.select()
        .where((AcademicYear.starts < target.starts) & ~AcademicYear.read_only)
        .order_by(AcademicYear.starts.desc())
        .first()
    )


def still_running(year: AcademicYear, today: dt.date | None = None) -> dt.date | None:
    """The end of the year's last marking period if it has not passed yet, else None."""
    today = today or dt.date.today()
    last = Term.select(fn.MAX(Term.ends)).where(Term.year == year).scalar()
    return last if last is not None and last >= today else None


def switch_year(
    target: AcademicYear,
    *,
    user: User | None = None,
    ip: str = "",
    early: bool = False,
    today: dt.date | None = None,
) -> Switched:
    """Step 2: ``target`` becomes current; the year before it is closed (see the module doc).

    While the year before still runs (its last marking period has not ended), closing
    it would stop the journal mid-year: that needs ``early`` — said on purpose.
    """
    with write(user=user, ip=ip) as rec:
        if target.is_current:
            raise PlanningError(f"{target.name} учебный год уже текущий.")
        if target.read_only:
            raise PlanningError(f"{target.name} учебный год закрыт: сделать его текущим нельзя.")
        if not Term.select().where(Term.year == target).exists():
            raise PlanningError(
                f"В {target.name} учебном году нет учебных периодов: сначала заполните календарь."
            )
        previous = _year_before(target)
        if previous is not None and target.starts <= previous.starts:
            raise PlanningError("Перейти можно только на следующий учебный год.")
        running = still_running(previous, today) if previous is not None else None
        if running and not early:
            raise PlanningError(
                f"{previous.name} учебный год ещё идёт: последний учебный период заканчивается "
                f"{running:%d.%m.%Y}. После перехода его журнал закроется. Если переход нужен "
                "именно сейчас, отметьте «Перейти досрочно»."
            )
        result = Switched(target, previous)
        if previous is not None:
            _close_year(previous, target, rec, result)
        before = snapshot(target)
        target.is_current = True
        target.save()
        rec.record("year.switch", target, before=before)
    return result


def _close_year(
    previous: AcademicYear, target: AcademicYear, rec: Recorder, result: Switched
) -> None:
    before = snapshot(previous)
    previous.is_current = False
    previous.read_only = True
    previous.save()
    rec.record("year.close", previous, before=before)
    following = {
        (c.grade, c.letter): c for c in SchoolClass.select().where(SchoolClass.year == target)
    }
    successor: dict[int, SchoolClass] = {}
    for old in open_classes(previous):
        new = following.get((old.grade + 1, old.letter))
        if new is not None:
            successor[old.id] = new
            continue
        snap = snapshot(old)
        old.closed = True
        old.save()
        rec.record("class.close", old, before=snap)
        Enrollment.update(ends=previous.ends).where(
            (Enrollment.school_class == old)
            & (Enrollment.ends.is_null() | (Enrollment.ends > previous.ends))
        ).execute()
        result.closed.append(old.name)
    _reconcile_class_lists(previous, target, successor, rec, result)
    _move_class_teachers(previous, target, successor, rec, result)


def _reconcile_class_lists(
    previous: AcademicYear,
    target: AcademicYear,
    successor: dict[int, SchoolClass],
    rec: Recorder,
    result: Switched,
) -> None:
    """Class lists changed between step 1 and step 2 reach the new year.

    A student who joined an old class after step 1 is enrolled in its successor (and
    its whole-class groups; subgroups are the deputy's choice, the groups page flags
    them); a student who left it loses the new class's enrolment and groups made by
    step 1. Every old enrolment ends with the old year.
    """
    old_ids = list(successor)
    if not old_ids:
        return
    staying: dict[int, set[int]] = {i: set() for i in old_ids}
    for row in _members_at(Enrollment, Enrollment.school_class, old_ids, previous.ends):
        staying[row.school_class_id].add(row.student_id)
    Enrollment.update(ends=previous.ends).where(
        Enrollment.school_class.in_(old_ids)
        & (Enrollment.ends.is_null() | (Enrollment.ends > previous.ends))
    ).execute()
    for old_id, new in successor.items():
        made = {
            row.student_id: row
            for row in Enrollment.select().where(
                (Enrollment.school_class == new) & (Enrollment.starts == target.starts)
            )
        }
        joined = sorted(staying[old_id] - set(made))
        left = sorted(set(made) - staying[old_id])
        if not joined and not left:
            continue
        whole = [
            g.id
            for g in SubjectGroup.select(SubjectGroup.id).where(
                (SubjectGroup.school_class == new) & SubjectGroup.subgroup.is_null()
            )
        ]
        for student in joined:
            Enrollment.create(student=student, school_class=new, starts=target.starts)
            insert_rows(
                SubjectGroupStudent,
                ({"group": g, "student": student, "starts": target.starts} for g in whole),
            )
            result.joined.append(f"{Person.get_by_id(student).short_name} ({new.name})")
        if left:
            Enrollment.delete().where(
                Enrollment.id.in_([made[student].id for student in left])
            ).execute()
            SubjectGroupStudent.delete().where(
                SubjectGroupStudent.student.in_(left)
                & SubjectGroupStudent.group.in_(
                    SubjectGroup.select(SubjectGroup.id).where(SubjectGroup.school_class == new)
                )
                & (SubjectGroupStudent.starts == target.starts)
            ).execute()
            result.left += [f"{Person.get_by_id(s_).short_name} ({new.name})" for s_ in left]
        rec.record(
            "class.reconcile",
            new,
            after={"joined": joined, "left": left},
        )


def _move_class_teachers(
    previous: AcademicYear,
    target: AcademicYear,
    successor: dict[int, SchoolClass],
    rec: Recorder,
    result: Switched,
) -> None:
    """Class-teacher rights follow the new year's classes.

    A grant on a promoted class moves with it (and names its teacher on the new class
    if nobody is named yet); grants on closed classes lapse; a teacher named on a new
    class (a new 1st class) gets the right to it.
    """
    changes: dict[int, tuple[set, set]] = {}  # user id → (before, after) grants

    def note(grant_user: int, before: tuple, after: tuple | None) -> None:
        roles = changes.setdefault(grant_user, (set(), set()))
        roles[0].add(before)
        if after is not None:
            roles[1].add(after)

    grants = list(
        RoleGrant.select(RoleGrant, User, SchoolClass)
        .join(User)
        .switch(RoleGrant)
        .join(SchoolClass)
        .where((RoleGrant.role == "class_teacher") & (SchoolClass.year == previous))
    )  # read in full first: the loop moves the rows it reads
    for grant in grants:
        old, new = grant.school_class, successor.get(grant.school_class_id)
        person = grant.user.person
        duplicate = new is not None and (
            RoleGrant.select()
            .where(
                (RoleGrant.user == grant.user_id)
                & (RoleGrant.role == "class_teacher")
                & (RoleGrant.school_class == new)
            )
            .exists()
        )
        if new is not None and new.class_teacher_id in (None, person.id) and not duplicate:
            if new.class_teacher_id is None:
                new.class_teacher = person
                new.save()
            grant.school_class = new
            grant.save()
            note(grant.user_id, ("class_teacher", old.id), ("class_teacher", new.id))
            _tell(grant.user_id, target, new)
            result.moved.append(f"{person.short_name}: {old.name} → {new.name}")
        else:
            grant.delete_instance()
            note(grant.user_id, ("class_teacher", old.id), None)
            UserNotice.create(
                user=grant.user_id,
                text=f"Класс {old.name} ({previous.name} уч. год) выпущен или передан: "
                "права классного руководителя по нему сняты.",
            )
            result.revoked.append(f"{person.short_name}: {old.name}")
    for cls in SchoolClass.select().where(
        (SchoolClass.year == target) & SchoolClass.class_teacher.is_null(False)
    ):
        account = User.get_or_none(User.person == cls.class_teacher_id)
        if account is None:
            continue
        exists = RoleGrant.select().where(
            (RoleGrant.user == account)
            & (RoleGrant.role == "class_teacher")
            & (RoleGrant.school_class == cls)
        )
        if not exists.exists():
            RoleGrant.create(user=account, role="class_teacher", school_class=cls)
            changes.setdefault(account.id, (set(), set()))[1].add(("class_teacher", cls.id))
            _tell(account.id, target, cls)
            result.granted.append(f"{account.person.short_name}: {cls.name}")
    for user_id, (before, after) in changes.items():
        rec.record(
            "user.roles",
            User.get_by_id(user_id),
            before={"roles": sorted(before, key=str)},
            after={"roles": sorted(after, key=str)},
        )


def _tell(user_id: int, year: AcademicYear, school_class: SchoolClass) -> None:
    """A notice on the class teacher's first page: which class is theirs now."""
    UserNotice.create(
        user=user_id,
        text=f"С {year.name} учебного года вы — классный руководитель {school_class.name}.",
        link=f"/classes/{school_class.id}",
    )


def year_by_name(name: str) -> AcademicYear:
    """For the console: the year called ``name`` or a PlanningError."""
    year = AcademicYear.get_or_none(AcademicYear.name == name.strip())
    if year is None:
        raise PlanningError(f"Учебного года {name} нет.")
    return year


# --- what the years page shows ------------------------------------------------------------


@dataclass(frozen=True)
class YearRow:
    year: AcademicYear
    classes: int
    terms: int
    draft_groups: int

    @property
    def state(self) -> str:
        if self.year.is_current:
            return "текущий"
        if self.year.read_only:
            return "закрыт"
        return "готовится"


def year_rows() -> list[YearRow]:
    """Every year, newest first, with what it holds (four queries)."""

    def counts(query) -> dict[int, int]:
        return dict(query.tuples())

    classes = counts(
        SchoolClass.select(SchoolClass.year, fn.COUNT(SchoolClass.id)).group_by(SchoolClass.year)
    )
    terms = counts(Term.select(Term.year, fn.COUNT(Term.id)).group_by(Term.year))
    drafts = counts(
        SubjectGroup.select(SubjectGroup.year, fn.COUNT(SubjectGroup.id))
        .where(SubjectGroup.is_draft)
        .group_by(SubjectGroup.year)
    )
    return [
        YearRow(y, classes.get(y.id, 0), terms.get(y.id, 0), drafts.get(y.id, 0))
        for y in AcademicYear.select().order_by(AcademicYear.starts.desc())
    ]


@dataclass(frozen=True)
class ClassChoice:
    """A class of the current year on the rollover form."""

    school_class: SchoolClass
    always_leaves: bool  # the 11th
    next_grade_unplanned: bool  # the curriculum has no grade above: maybe a leaving 9th


@dataclass(frozen=True)
class RolloverState:
    source: AcademicYear
    next_name: str
    target: AcademicYear | None  # the next year, if it exists
    prepared: bool  # the next year has classes
    choices: list[ClassChoice]
    running: dt.date | None = None  # the source year's last period ends then (not yet over)


def rollover_state(source: AcademicYear) -> RolloverState:
    name, _, _ = next_year_of(source)
    target = AcademicYear.get_or_none(AcademicYear.name == name)
    prepared = target is not None and (
        SchoolClass.select().where(SchoolClass.year == target).exists()
    )
    grades = {
        line.grade
        for line in CurriculumLine.select(CurriculumLine.grade).where(CurriculumLine.year == source)
    }
    choices = [
        ClassChoice(c, c.grade >= LAST_GRADE, bool(grades) and c.grade + 1 not in grades)
        for c in open_classes(source)
    ]
    return RolloverState(source, name, target, prepared, choices, still_running(source))
