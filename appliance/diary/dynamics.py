"""The dynamics of achievement (§3.2): the cumulative weighted average per subject over time.

For each subject, the weighted average of the student's published marks from the start
of the period to the end of each week. The page draws it on the server as an SVG chart
(no JavaScript, nothing fetched) and repeats the numbers in a table under it, for
screen readers and for print. Pass/fail subjects have no average and are not drawn.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal

from ..models import Person, Subject
from ..school_calendar import current_year
from .dates import monday_of
from .marks import SubjectMark, average, student_marks

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 36, 26, 12, 40  # room for the axis labels
LOW, HIGH = Decimal(2), Decimal(5)  # the five-point scale
MAX_POINTS = 53  # a year of weeks; a longer period takes several weeks a point
MAX_X_LABELS = 10
PALETTE = 8  # diary.css colours .series-0 … .series-7; beyond that lines are dashed


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    day: dt.date
    value: Decimal


@dataclass
class Series:
    subject: Subject
    index: int
    values: list[Decimal | None]  # one per checkpoint; None before the first mark
    points: list[Point] = field(default_factory=list)

    @property
    def css_class(self) -> str:
        return f"series-{self.index % PALETTE}"

    @property
    def dashed(self) -> bool:
        return self.index >= PALETTE

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass
class Dynamics:
    starts: dt.date
    ends: dt.date
    checkpoints: list[dt.date]  # the end of each week (the period's end for the last)
    series: list[Series]
    not_drawn: list[Subject]  # subjects with marks but no average (pass/fail)
    drawable: list[Subject] = field(default_factory=list)  # all with an average, to choose from
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    right: int = WIDTH - RIGHT
    bottom: int = HEIGHT - BOTTOM
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)

    @property
    def label(self) -> str:
        names = ", ".join(s.subject.name for s in self.series) or "предметы не выбраны"
        return (
            f"Средний взвешенный балл по неделям с {self.starts:%d.%m.%Y} "
            f"по {self.ends:%d.%m.%Y}: {names}"
        )

    def rows(self) -> list[tuple[dt.date, list[Decimal | None]]]:
        """The table under the chart: each checkpoint with every subject's average."""
        return [(day, [s.values[i] for s in self.series]) for i, day in enumerate(self.checkpoints)]


def default_range(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """From the start of the current school year to today (or the year's end)."""
    today = today or dt.date.today()
    year = current_year(today)
    if year is None or today < year.starts:
        return today - dt.timedelta(days=90), today
    return year.starts, min(today, year.ends)


def checkpoints(starts: dt.date, ends: dt.date) -> list[dt.date]:
    """The end of each week of the period, or of every few weeks for a long one."""
    weeks = (monday_of(ends) - monday_of(starts)).days // 7 + 1
    step = dt.timedelta(days=7 * math.ceil(weeks / MAX_POINTS))
    found = []
    day = monday_of(starts) + dt.timedelta(days=6)
    while day < ends:
        found.append(day)
        day += step
    found.append(ends)
    return found


def cumulative(marks: list[SubjectMark], days: list[dt.date]) -> list[Decimal | None]:
    """The weighted average of the marks up to and including each day (marks by date)."""
    return [average([m for m in marks if m.date <= day]) for day in days]


def dynamics_of(
    student: Person, starts: dt.date, ends: dt.date, chosen: set[int] | None = None
) -> Dynamics:
    """The chart of the student's published marks over the period.

    `chosen`: the subject ids to draw (None: all). A subject keeps its colour whatever
    else is chosen, so a parent comparing two subjects sees the same lines as before.
    """
    marks = student_marks(student, starts, ends)
    days = checkpoints(starts, ends)
    ids = list(dict.fromkeys(m.subject_id for m in marks))
    subjects = {s.id: s for s in Subject.select().where(Subject.id.in_(ids))} if ids else {}
    ordered = sorted(subjects.values(), key=lambda s: (s.sort_order, s.name))
    series, not_drawn = [], []
    for subject in ordered:
        values = cumulative([m for m in marks if m.subject_id == subject.id], days)
        if any(v is not None for v in values):
            series.append(Series(subject, len(series), values))
        else:
            not_drawn.append(subject)
    chart = Dynamics(starts, ends, days, series, not_drawn, drawable=[s.subject for s in series])
    if chosen is not None:
        chart.series = [s for s in series if s.subject.id in chosen]
    _place(chart)
    return chart


def _place(chart: Dynamics) -> None:
    """Coordinates of every point and tick in the SVG's own units (viewBox)."""
    count = len(chart.checkpoints)
    plot_w = chart.right - chart.left
    plot_h = chart.bottom - chart.top

    def x(i: int) -> float:
        return chart.left + (plot_w / 2 if count == 1 else plot_w * i / (count - 1))

    def y(value: Decimal) -> float:
        return chart.top + float((HIGH - value) / (HIGH - LOW)) * plot_h

    chart.y_ticks = [(y(Decimal(v)), str(v)) for v in (5, 4, 3, 2)]
    every = math.ceil(count / MAX_X_LABELS)
    chart.x_ticks = [
        (x(i), f"{day:%d.%m}") for i, day in enumerate(chart.checkpoints) if i % every == 0
    ]
    for series in chart.series:
        series.points = [
            Point(x(i), y(value), chart.checkpoints[i], value)
            for i, value in enumerate(series.values)
            if value is not None
        ]
