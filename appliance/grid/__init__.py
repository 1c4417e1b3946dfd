"""The journal grid of a subject group and a term: students × lessons × assignments.

What it offers:

- scope: `may_read_group`, `readable_group`, `readable_groups` (the journal's list);
- periods: `periods_of`, `default_period` (the term containing today);
- `load_grid`: one whole grid — students, lessons, assignment columns, marks,
  attendance and each student's weighted average — in a constant number of queries
  whatever its size, so a full term stays fast on a Raspberry Pi;
- one cell: `save_mark` (also into a lesson that has no assignment yet),
  `student_summary` (a row's new average), `cell_history` (who, when, before → after).

Every write is decided by `appliance.journal`; this package only reads and arranges.
"""

from __future__ import annotations

from .cells import CellHistory, Change, MarkSaved, Summary, cell_history, save_mark, student_summary
from .scope import (
    YEAR_PERIOD_ID,
    ClassGroups,
    Period,
    default_period,
    may_read_group,
    periods_of,
    pick_period,
    readable_group,
    readable_groups,
)
from .table import Column, Grid, LessonHead, Row, load_grid

__all__ = [
    "YEAR_PERIOD_ID",
    "CellHistory",
    "Change",
    "ClassGroups",
    "Column",
    "Grid",
    "LessonHead",
    "MarkSaved",
    "Period",
    "Row",
    "Summary",
    "cell_history",
    "default_period",
    "load_grid",
    "may_read_group",
    "periods_of",
    "pick_period",
    "readable_group",
    "readable_groups",
    "save_mark",
    "student_summary",
]
