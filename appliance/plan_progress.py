"""КТП progress (§4.6: «контроль выполнения общеобразовательных программ»).

Per subject group: the hours the plan (КТП) expects by today against the lessons
actually conducted. Planned hours come from the plan rows dated up to today; a plan
without dates is spread evenly over the grade's school days. A lesson counts as
conducted once it was held (attendance taken) or has its topic, up to today.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from peewee import Tuple, fn

from .models import CurriculumLine, Lesson, Plan, PlanLesson, SubjectGroup
from .school_calendar import SchoolCalendar

PLAN_STATES = {
    "approved": "утверждено",
    "submitted": "на проверке",
    "draft": "черновик",
    "returned": "возвращено",
}


@dataclass
class Progress:
    group: SubjectGroup
    plan: Plan | None
    plan_hours: int  # the whole plan
    curriculum_hours: int | None  # учебный план, hours a year
    planned: int | None  # by today; None without a plan
    conducted: int

    @property
    def delta(self) -> int | None:
        return None if self.planned is None else self.conducted - self.planned

    @property
    def status(self) -> str:
        """behind / ahead / on_track / no_plan."""
        if self.delta is None:
            return "no_plan"
        if self.delta < 0:
            return "behind"
        return "ahead" if self.delta > 0 else "on_track"


def current_plans(group_ids: list[int]) -> dict[int, Plan]:
    """Each group's approved plan of the highest version, else its latest plan."""
    found: dict[int, Plan] = {}
    plans = Plan.select().where(Plan.group.in_(group_ids)).order_by(Plan.version)
    for plan in plans:
        held = found.get(plan.group_id)
        if held is None or plan.state == "approved" or held.state != "approved":
            found[plan.group_id] = plan
    return found


def share_to_date(total: int, elapsed: int, days: int) -> int:
    """``total`` hours spread over ``days`` school days: how many fall in the first ``elapsed``."""
    if days <= 0:
        return 0
    return (total * min(elapsed, days) * 2 + days) // (2 * days)  # rounded half up


@dataclass
class PlanHours:
    """A plan's hours as `progress` needs them (see `planned_by_dates`)."""

    total: int = 0
    dated: bool = False
    begun: int = 0  # hours of the rows dated up to today
    last_hours: int = 0  # the last of those rows (by position): its hours and date
    last_date: dt.date | None = None


def planned_by_dates(hours: PlanHours, meetings_since_last: int) -> int:
    """Hours a dated plan expects by today.

    Rows begun by today count whole, except the last one begun: a row of several hours
    is dated by its first lesson, so it counts the group's meetings since then (at
    least one, at most its hours).
    """
    if hours.last_date is None:
        return 0
    return hours.begun - hours.last_hours + min(hours.last_hours, max(meetings_since_last, 1))


def plan_hours(plan_ids: list[int], today: dt.date) -> dict[int, PlanHours]:
    """Totals, hours begun and the last row begun of each plan, in three queries."""
    found: dict[int, PlanHours] = defaultdict(PlanHours)
    of_plans = PlanLesson.plan.in_(plan_ids)
    totals = PlanLesson.select(
        PlanLesson.plan, fn.SUM(PlanLesson.hours), fn.COUNT(PlanLesson.planned_date)
    ).where(of_plans)
    for plan_id, total, dated in totals.group_by(PlanLesson.plan).tuples():
        found[plan_id].total, found[plan_id].dated = total, dated > 0
    begun = PlanLesson.select(
        PlanLesson.plan, fn.SUM(PlanLesson.hours), fn.MAX(PlanLesson.position)
    ).where(of_plans & (PlanLesson.planned_date <= today))
    last = []
    for plan_id, hours, position in begun.group_by(PlanLesson.plan).tuples():
        found[plan_id].begun = hours
        last.append((plan_id, position))
    if last:
        rows = PlanLesson.select(PlanLesson.plan, PlanLesson.hours, PlanLesson.planned_date).where(
            Tuple(PlanLesson.plan, PlanLesson.position).in_(last)
        )
        for plan_id, hours, day in rows.tuples():
            found[plan_id].last_hours, found[plan_id].last_date = hours, day
    return found


def progress(groups: list[SubjectGroup], today: dt.date | None = None) -> list[Progress]:
    """Planned hours to date vs lessons conducted, for each group (a handful of queries)."""
    today = today or dt.date.today()
    ids = [g.id for g in groups]
    if not ids:
        return []
    plans = current_plans(ids)
    hours = plan_hours([p.id for p in plans.values()], today)
    met = Lesson.group.in_(ids) & (Lesson.date <= today) & (Lesson.state != "cancelled")
    conducted = dict(
        Lesson.select(Lesson.group, fn.COUNT(Lesson.id))
        .where(met & ((Lesson.state == "held") | (Lesson.topic != "")))
        .group_by(Lesson.group)
        .tuples()
    )
    # Meetings count only since each plan's last row begun: fetch from the earliest.
    since = [h.last_date for h in hours.values() if h.last_date is not None]
    meetings: dict[int, list[dt.date]] = defaultdict(list)
    if since:
        recent = Lesson.select(Lesson.group, Lesson.date).where(met & (Lesson.date >= min(since)))
        for group_id, day in recent.tuples():
            meetings[group_id].append(day)
    undated = _UndatedShare(today)
    curriculum = _curriculum_hours(groups)

    result = []
    for group in groups:
        plan = plans.get(group.id)
        h = hours[plan.id] if plan else PlanHours()
        if not h.total:
            planned = None
        elif h.dated:
            since_last = [d for d in meetings[group.id] if h.last_date and d >= h.last_date]
            planned = planned_by_dates(h, len(since_last))
        else:
            planned = undated.share(group, h.total)
        result.append(
            Progress(
                group,
                plan,
                h.total,
                curriculum.get((group.year_id, group.school_class.grade, group.subject_id)),
                planned,
                conducted.get(group.id, 0),
            )
        )
    return result


def _curriculum_hours(groups: list[SubjectGroup]) -> dict[tuple[int, int, int], int]:
    """Hours a year by (year, grade, subject) from the учебный план."""
    lines = CurriculumLine.select().where(CurriculumLine.year.in_({g.year_id for g in groups}))
    return {(x.year_id, x.grade, x.subject_id): x.hours_year for x in lines}


class _UndatedShare:
    """A plan without dates, spread over the grade's school days (one calendar per year)."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.calendars: dict[int, SchoolCalendar] = {}
        self.days: dict[tuple[int, int], tuple[int, int]] = {}

    def share(self, group: SubjectGroup, total: int) -> int:
        grade = group.school_class.grade
        key = (group.year_id, grade)
        if key not in self.days:
            if group.year_id not in self.calendars:
                self.calendars[group.year_id] = SchoolCalendar.load(group.year)
            cal = self.calendars[group.year_id]
            days = cal.school_days(cal.starts, cal.ends, grade)
            self.days[key] = (sum(1 for d in days if d <= self.today), len(days))
        elapsed, count = self.days[key]
        return share_to_date(total, elapsed, count)
