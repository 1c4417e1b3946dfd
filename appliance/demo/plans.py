"""The approved КТП of every subject group, dated by the group's lessons."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from ..bulk import insert_rows, next_id
from ..models import Plan, PlanLesson
from . import curriculum as cur
from .staffing import GroupPlan
from .topics import plan_items

PlanRows = dict[int, list[tuple[int, str, str, int]]]  # group → (id, topic, homework, hours)


def write_plans(
    groups: list[GroupPlan],
    lessons: list[tuple[int, int, dt.date, int, int]],
    approved_by: int,
    year_starts: dt.date,
) -> PlanRows:
    """One approved plan per group; each row's planned date is its first lesson's date."""
    dates: dict[int, list[dt.date]] = defaultdict(list)
    for _, group_id, day, _, _ in lessons:
        dates[group_id].append(day)
    decided = dt.datetime.combine(year_starts - dt.timedelta(days=3), dt.time(14, 0))
    first_plan, next_row = next_id(Plan), next_id(PlanLesson)
    rows: list[dict] = []
    by_group: PlanRows = {}
    for i, group in enumerate(groups):
        spec = cur.SUBJECT_BY_CODE[group.subject]
        grade = group.school_class.grade
        items = plan_items(group.subject, spec.kind, grade, cur.hours_year(group.subject, grade))
        when = dates[group.id]
        mine, position = [], 0
        for n, item in enumerate(items, start=1):
            rows.append(
                {
                    "id": next_row,
                    "plan": first_plan + i,
                    "position": n,
                    "section": item.section,
                    "topic": item.topic,
                    "hours": item.hours,
                    "homework_hint": item.homework,
                    "planned_date": when[position] if position < len(when) else None,
                }
            )
            mine.append((next_row, item.topic, item.homework, item.hours))
            next_row += 1
            position += item.hours
        by_group[group.id] = mine
    insert_rows(
        Plan,
        (
            {
                "id": first_plan + i,
                "group": g.id,
                "state": "approved",
                "submitted_at": decided - dt.timedelta(days=5),
                "decided_at": decided,
                "decided_by": approved_by,
            }
            for i, g in enumerate(groups)
        ),
    )
    insert_rows(PlanLesson, rows)
    return by_group
