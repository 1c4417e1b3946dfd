"""What the КТП pages read: whose groups, which versions, what waits for review, what to copy.

Scope: a teacher reads and writes the plans of their own subject groups only; the
deputy, the director and the inspector read every group's plans (the same rule as the
journal's, `appliance.access.may_read_group`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from peewee import JOIN, fn

from .. import access
from ..models import (
    AcademicYear,
    CurriculumLine,
    Person,
    Plan,
    PlanLesson,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupTeacher,
    User,
)
from ..plan_progress import PLAN_STATES, current_plans
from .checks import CheckContext, Finding, check_rows, context_for
from .rows import row_of

# --- scope ----------------------------------------------------------------------------------


def readable_group(group_id: int, person: Person, active: access.ActiveRole) -> SubjectGroup | None:
    group = SubjectGroup.get_or_none(SubjectGroup.id == group_id)
    if group is None or not access.may_read_group(person, active, group):
        return None
    return group


def writable_group(group_id: int, person: Person, active: access.ActiveRole) -> SubjectGroup | None:
    group = SubjectGroup.get_or_none(SubjectGroup.id == group_id)
    if group is None or not access.can_write_group(person, active, group):
        return None
    return group


def groups_of(person: Person, active: access.ActiveRole, year: AcademicYear) -> list[SubjectGroup]:
    """The year's groups whose plans the role sees (groups carried over as drafts included:
    next year's КТП is written in August)."""
    query = (
        SubjectGroup.select(SubjectGroup, SchoolClass, Subject)
        .join(SchoolClass)
        .switch(SubjectGroup)
        .join(Subject)
        .where(SubjectGroup.year == year)
    )
    if active.role == "teacher":
        mine = SubjectGroupTeacher.select(SubjectGroupTeacher.group).where(
            SubjectGroupTeacher.teacher == person
        )
        query = query.where(SubjectGroup.id.in_(mine))
    elif active.role not in access.JOURNAL_READ_ALL:
        return []
    order = (SchoolClass.grade, SchoolClass.letter, Subject.sort_order, Subject.name)
    return list(query.order_by(*order, SubjectGroup.subgroup))


# --- labels -----------------------------------------------------------------------------------


def state_label(plan: Plan | None) -> str:
    return "нет КТП" if plan is None else PLAN_STATES.get(plan.state, plan.state)


def teacher_names(group_ids: list[int]) -> dict[int, str]:
    """«Смирнова Е. В., Кузнецов А. П.» per group, main teachers first (one query)."""
    found: dict[int, list[str]] = defaultdict(list)
    links = (
        SubjectGroupTeacher.select(SubjectGroupTeacher, Person)
        .join(Person)
        .where(SubjectGroupTeacher.group.in_(group_ids))
        .order_by(SubjectGroupTeacher.is_main.desc(), Person.last_name)
    )
    for link in links:
        found[link.group_id].append(link.teacher.short_name)
    return {group_id: ", ".join(names) for group_id, names in found.items()}


def latest_plan(group: SubjectGroup | int) -> Plan | None:
    """The newest version of the group's plan, whatever its state (the one a teacher edits)."""
    return Plan.select().where(Plan.group == group).order_by(Plan.version.desc()).first()


def plan_in_force(group: SubjectGroup) -> Plan | None:
    """The version lessons follow: the newest approved one, else the newest (plan_progress)."""
    return current_plans([group.id]).get(group.id)


def _hours_of(plan_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(hours, rows) of each plan."""
    query = (
        PlanLesson.select(PlanLesson.plan, fn.SUM(PlanLesson.hours), fn.COUNT(PlanLesson.id))
        .where(PlanLesson.plan.in_(plan_ids))
        .group_by(PlanLesson.plan)
    )
    return {plan_id: (hours or 0, count) for plan_id, hours, count in query.tuples()}


# --- the list of groups -------------------------------------------------------------------------


@dataclass
class GroupPlans:
    group: SubjectGroup
    teachers: str
    latest: Plan | None
    in_force: Plan | None
    hours: int  # of the latest version
    curriculum_hours: int | None

    @property
    def hours_match(self) -> bool:
        return self.curriculum_hours is not None and self.hours == self.curriculum_hours


def overview(groups: list[SubjectGroup]) -> list[GroupPlans]:
    """Each group's latest and in-force versions with hours (five queries for any number)."""
    ids = [g.id for g in groups]
    if not ids:
        return []
    latest: dict[int, Plan] = {}
    for plan in Plan.select().where(Plan.group.in_(ids)).order_by(Plan.version):
        latest[plan.group_id] = plan
    in_force = current_plans(ids)
    hours = _hours_of([p.id for p in latest.values()])
    years = {g.year_id for g in groups}
    curriculum = {
        (x.year_id, x.grade, x.subject_id): x.hours_year
        for x in CurriculumLine.select().where(CurriculumLine.year.in_(years))
    }
    names = teacher_names(ids)
    return [
        GroupPlans(
            group=g,
            teachers=names.get(g.id, ""),
            latest=latest.get(g.id),
            in_force=in_force.get(g.id),
            hours=hours.get(latest[g.id].id, (0, 0))[0] if g.id in latest else 0,
            curriculum_hours=curriculum.get((g.year_id, g.school_class.grade, g.subject_id)),
        )
        for g in groups
    ]


# --- versions -----------------------------------------------------------------------------------


@dataclass
class Version:
    plan: Plan
    hours: int
    rows: int
    decided_by: str
    in_force: bool

    @property
    def state(self) -> str:
        return state_label(self.plan)


def versions(group: SubjectGroup) -> list[Version]:
    """Every version, newest first, with who decided it and which one lessons follow."""
    plans = list(
        Plan.select(Plan, User, Person)
        .join(User, on=(Plan.decided_by == User.id), join_type=JOIN.LEFT_OUTER)
        .join(Person, join_type=JOIN.LEFT_OUTER)
        .where(Plan.group == group)
        .order_by(Plan.version.desc())
    )
    in_force = plan_in_force(group)
    hours = _hours_of([p.id for p in plans])
    return [
        Version(
            plan=p,
            hours=hours.get(p.id, (0, 0))[0],
            rows=hours.get(p.id, (0, 0))[1],
            decided_by=p.decided_by.person.short_name if p.decided_by_id else "",
            in_force=in_force is not None and p.id == in_force.id,
        )
        for p in plans
    ]


# --- the review queue ------------------------------------------------------------------------


@dataclass
class ReviewItem:
    plan: Plan
    group: SubjectGroup
    teachers: str
    hours: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if not f.is_error]


def waiting_count(year: AcademicYear) -> int:
    """Submitted plans of the year (the deputy's «на проверке»)."""
    return (
        Plan.select()
        .join(SubjectGroup)
        .where((Plan.state == "submitted") & (SubjectGroup.year == year))
        .count()
    )


def review_queue(year: AcademicYear) -> list[ReviewItem]:
    """Submitted plans of the year, oldest first, each with its check results."""
    plans = list(
        Plan.select(Plan, SubjectGroup, SchoolClass, Subject)
        .join(SubjectGroup)
        .join(SchoolClass)
        .switch(SubjectGroup)
        .join(Subject)
        .where((Plan.state == "submitted") & (SubjectGroup.year == year))
        .order_by(Plan.submitted_at, Plan.id)
    )
    rows: dict[int, list] = defaultdict(list)
    lessons = PlanLesson.select().where(PlanLesson.plan.in_([p.id for p in plans]))
    for lesson in lessons.order_by(PlanLesson.plan, PlanLesson.position):
        rows[lesson.plan_id].append(row_of(lesson))
    names = teacher_names([p.group_id for p in plans])
    contexts: dict[tuple[int, int], CheckContext] = {}  # one per grade and subject
    items = []
    for plan in plans:
        key = (plan.group.school_class.grade, plan.group.subject_id)
        if key not in contexts:
            contexts[key] = context_for(plan.group)
        ctx = contexts[key]
        items.append(
            ReviewItem(
                plan=plan,
                group=plan.group,
                teachers=names.get(plan.group_id, ""),
                hours=sum(r.hours for r in rows[plan.id]),
                findings=check_rows(rows[plan.id], ctx),
            )
        )
    return items


# --- what a plan can be copied from ---------------------------------------------------------


@dataclass
class CopySource:
    plan: Plan
    group: SubjectGroup
    kind: str  # last_year / parallel
    teachers: str
    hours: int

    @property
    def label(self) -> str:
        who = f" ({self.teachers})" if self.teachers else ""
        return (
            f"{self.group.name}{who}, {self.group.year.name}, версия {self.plan.version} "
            f"— {state_label(self.plan)}, {self.hours} ч"
        )


def previous_year(year: AcademicYear) -> AcademicYear | None:
    return (
        AcademicYear.select()
        .where(AcademicYear.starts < year.starts)
        .order_by(AcademicYear.starts.desc())
        .first()
    )


def copy_sources(group: SubjectGroup, person: Person | None = None) -> list[CopySource]:
    """Plans of the same subject and grade: last year's groups (any class), then this
    year's parallel groups; each group's version in force.

    A colleague's plan is offered only once approved: a draft is their unfinished work,
    which they alone may read (`person`'s own groups offer whatever version is in force).
    """
    grade = group.school_class.grade
    years = [group.year]
    last = previous_year(group.year)
    if last is not None:
        years.insert(0, last)
    candidates = list(
        SubjectGroup.select(SubjectGroup, SchoolClass, Subject, AcademicYear)
        .join(SchoolClass)
        .switch(SubjectGroup)
        .join(Subject)
        .switch(SubjectGroup)
        .join(AcademicYear)
        .where(
            SubjectGroup.year.in_(years)
            & (SubjectGroup.subject == group.subject_id)
            & (SchoolClass.grade == grade)
            & (SubjectGroup.id != group.id)
        )
        .order_by(AcademicYear.starts, SchoolClass.letter, SubjectGroup.subgroup)
    )
    ids = [g.id for g in candidates]
    own = (
        set()
        if person is None
        else {
            link.group_id
            for link in SubjectGroupTeacher.select(SubjectGroupTeacher.group).where(
                (SubjectGroupTeacher.teacher == person) & SubjectGroupTeacher.group.in_(ids)
            )
        }
    )
    plans = {
        group_id: plan
        for group_id, plan in current_plans(ids).items()
        if plan.state == "approved" or group_id in own
    }
    hours = _hours_of([p.id for p in plans.values()])
    names = teacher_names(ids)
    return [
        CopySource(
            plan=plans[g.id],
            group=g,
            kind="parallel" if g.year_id == group.year_id else "last_year",
            teachers=names.get(g.id, ""),
            hours=hours.get(plans[g.id].id, (0, 0))[0],
        )
        for g in candidates
        if g.id in plans
    ]
