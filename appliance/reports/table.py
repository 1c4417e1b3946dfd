"""The one shape every report hands to its page, to XLSX and to PDF: titled tables.

A report module computes its own dataclass (numbers, people, links for the page) and
says how it reads as plain tables (`Table`): Russian headers and rows of strings and
numbers. The HTML page, the XLSX workbook and the PDF all print those same tables, so
the three never disagree on a header or a figure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

# Text a spreadsheet would run as a formula (CSV/formula injection): a last name
# «=HYPERLINK(…)» typed into the box must stay text in the director's Excel. Here, not in
# `export`, so that CSV writers need not load openpyxl.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | Decimal | None


@dataclass
class Table:
    """One table of a report: a title (a worksheet's name), headers and rows."""

    title: str
    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)  # characters per column, for XLSX
    note: str = ""  # a line under the title (what the figures mean)
    # A header row above the headers: (label, columns it spans), e.g. a subject over its
    # periods. Wide tables are split for print between groups, repeating the first
    # ``fixed`` columns (№, ФИО) on every piece.
    groups: list[tuple[str, int]] = field(default_factory=list)
    fixed: int = 0

    def group_starts(self) -> set[int]:
        """Column indexes (0-based) where a header group other than the first begins."""
        found, column = set(), 0
        for _label, span in self.groups:
            if column:
                found.add(column)
            column += span
        return found

    def column_widths(self) -> list[int]:
        """Given widths, else the longest header or value of each column (8–60 chars)."""
        if self.widths:
            return self.widths
        found = [len(h) for h in self.headers]
        for row in self.rows[:200]:  # a sample is enough for a width
            for i, value in enumerate(row[: len(found)]):
                found[i] = max(found[i], len(text(value)))
        return [min(max(w + 2, 8), 60) for w in found]


@dataclass
class ReportDocument:
    """What an export prints: a title, a subtitle (period, scope) and the tables."""

    title: str
    subtitle: str
    tables: list[Table]


def text(value: Cell) -> str:
    """A cell as the page prints it: dates dd.mm.yyyy, decimals with a comma."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return f"{value:%d.%m.%Y}"
    if isinstance(value, Decimal):  # already quantized by the report: 66.7, 4.25
        return str(value).replace(".", ",")
    if isinstance(value, float):
        return f"{value:.2f}".replace(".", ",")
    return str(value)


def rounded(value: Decimal, places: int) -> Decimal:
    """``value`` to ``places`` decimals, a half rounded up as at school: 31,25 → 31,3.

    Decimal's own default (to the even digit) would print 31,2 — not what a teacher
    counting by hand gets.
    """
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def percent(part: int, whole: int) -> Decimal | None:
    """``part`` of ``whole`` in per cent with one decimal; None when ``whole`` is 0."""
    if not whole:
        return None
    return rounded(Decimal(part) * 100 / whole, 1)


def mean(values: list[int]) -> Decimal | None:
    """The average of marks with two decimals (half up); None when there are none."""
    if not values:
        return None
    return rounded(Decimal(sum(values)) / len(values), 2)


def ru_period(starts: dt.date, ends: dt.date) -> str:
    return f"{starts:%d.%m.%Y} — {ends:%d.%m.%Y}"
