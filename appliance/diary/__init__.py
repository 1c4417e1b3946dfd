"""The electronic diary (ЭД) of a student, as the student and their parents read it.

What it offers (the web layer renders these; nothing here writes):

- `diary_children`, `diary_student` — whose diary a viewer may open (scope);
- `week` — a week of lessons with times, rooms, topics, homework, marks, attendance;
- `term_marks`, `year_overview` — marks by subject for a term, the year at a glance;
- `dynamics_of` — the cumulative weighted average per subject over any period, as an SVG chart;
- `homework_lesson` — a lesson of the student's groups whose homework file may be fetched;
- `data_as_of` — «данные на …», the newest published change.

Everything shown passes the publishing rule (`appliance.publishing.visible`).
"""

from __future__ import annotations

from .dates import DiaryError, parse_range, parse_week
from .dynamics import default_range, dynamics_of
from .marks import term_marks, year_overview
from .students import data_as_of, diary_children, diary_student, memberships
from .week import homework_lesson, week

__all__ = [
    "DiaryError",
    "data_as_of",
    "default_range",
    "diary_children",
    "diary_student",
    "dynamics_of",
    "homework_lesson",
    "memberships",
    "parse_range",
    "parse_week",
    "term_marks",
    "week",
    "year_overview",
]
