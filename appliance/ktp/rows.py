"""One row of a КТП as plain data: what the importer reads, the checks judge and a plan stores.

A `PlanRow` is the same whether it came from a teacher's file (``line`` is its row in
the file) or from a stored version (``position`` is its place in the plan), so the
checks and the export never care where a plan came from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from ..models import Plan, PlanLesson

MAX_SECTION = 255
MAX_TOPIC = 1000
MAX_HOMEWORK = 2000
MAX_HOURS = 99


@dataclass
class PlanRow:
    topic: str
    hours: int = 1
    section: str = ""
    homework_hint: str = ""
    planned_date: dt.date | None = None
    line: int | None = None  # row number in the imported file
    position: int | None = None  # place in a stored plan

    @property
    def ref(self) -> str:
        """How a message points at this row: «Строка 12» of a file, «№ 12» of a plan."""
        if self.line is not None:
            return f"Строка {self.line}"
        return f"№ {self.position}" if self.position is not None else ""

    def fields(self) -> dict[str, object]:
        """The stored columns of a `PlanLesson` (without plan and position)."""
        return {
            "section": self.section,
            "topic": self.topic,
            "hours": self.hours,
            "homework_hint": self.homework_hint,
            "planned_date": self.planned_date,
        }


def row_of(lesson: PlanLesson) -> PlanRow:
    return PlanRow(
        topic=lesson.topic,
        hours=lesson.hours,
        section=lesson.section,
        homework_hint=lesson.homework_hint,
        planned_date=lesson.planned_date,
        position=lesson.position,
    )


def lessons_of(plan: Plan) -> list[PlanLesson]:
    return list(PlanLesson.select().where(PlanLesson.plan == plan).order_by(PlanLesson.position))


def rows_of(plan: Plan) -> list[PlanRow]:
    """A stored version's rows in order."""
    return [row_of(lesson) for lesson in lessons_of(plan)]


def total_hours(rows: Iterable[PlanRow]) -> int:
    return sum(row.hours for row in rows)
