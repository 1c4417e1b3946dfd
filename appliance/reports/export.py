"""A report's tables to XLSX (openpyxl, write-only) and to PDF (landscape A4, WeasyPrint).

Both print the `ReportDocument` the page shows: the same titles, Russian headers and
figures. Run by the background job (`reports.tasks`), never in a request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from .table import FORMULA_START, ReportDocument, Table, text

PRINT_TEMPLATE = "reports/print.html"
MAX_PRINT_COLUMNS = 34  # more and a landscape A4 page cannot hold a column of marks
SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")

Progress = Callable[[int, int], None]  # (tables done, tables in all)


def _sheet_name(title: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique in the book."""
    base = SHEET_NAME_BAD.sub(" ", title).strip()[:31] or "Лист"
    name, n = base, 2
    while name.lower() in taken:
        suffix = f" ({n})"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(name.lower())
    return name


def _as_text(cell: WriteOnlyCell) -> WriteOnlyCell:
    """A string that looks like a formula written as a string, shown with Excel's «'»."""
    if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def _safe(sheet, value):
    """A data cell: numbers and plain text as they are, formula-like text as text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return _as_text(WriteOnlyCell(sheet, value=value))
    return value


def _styled(sheet, value, *, bold: bool = False, size: int | None = None):
    cell = _as_text(WriteOnlyCell(sheet, value=value))
    if bold or size:
        cell.font = Font(bold=bold, size=size)
    if bold:
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    return cell


def _write_table(book: Workbook, doc: ReportDocument, table: Table, taken: set[str]) -> None:
    sheet = book.create_sheet(_sheet_name(table.title, taken))
    for i, width in enumerate(table.column_widths(), 1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    head = [
        [_styled(sheet, doc.title, bold=True, size=13)],
        [_styled(sheet, doc.subtitle)],
        [_styled(sheet, table.title, bold=True)],
    ]
    if table.note:
        head.append([_styled(sheet, table.note)])
    head.append([])
    if table.groups:
        row = []
        for label, span in table.groups:
            row += [_styled(sheet, label or None, bold=True)] + [None] * (span - 1)
        head.append(row)
    head.append([_styled(sheet, h, bold=True) for h in table.headers])
    first_data = len(head) + 1
    sheet.freeze_panes = f"{get_column_letter(table.fixed + 1)}{first_data}"
    for row in head:
        sheet.append(row)
    for row in table.rows:
        sheet.append([_safe(sheet, value) for value in row])


def to_xlsx(doc: ReportDocument, path: Path, progress: Progress | None = None) -> Path:
    """One worksheet per table, streamed (write-only): the header frozen, widths set."""
    book = Workbook(write_only=True)
    taken: set[str] = set()
    for n, table in enumerate(doc.tables, 1):
        _write_table(book, doc, table, taken)
        if progress:
            progress(n, len(doc.tables))
    book.save(path)
    return path


# --- PDF -----------------------------------------------------------------------------------


def print_pieces(table: Table, limit: int = MAX_PRINT_COLUMNS) -> list[Table]:
    """A wide table cut between its header groups, the fixed columns repeated on each."""
    if len(table.headers) <= limit or not table.groups:
        return [table]
    fixed, groups = table.fixed, table.groups
    start = groups[0][1] if groups and not groups[0][0] else 0
    groups = groups[1:] if start else groups
    pieces, current, first = [], [], start
    for label, span in groups:
        if current and fixed + sum(s for _l, s in current) + span > limit:
            pieces.append((first, current))
            first += sum(s for _l, s in current)
            current = []
        current.append((label, span))
    if current:
        pieces.append((first, current))
    found = []
    for first, chosen in pieces:
        width = sum(s for _l, s in chosen)
        columns = list(range(fixed)) + list(range(first, first + width))
        found.append(
            Table(
                table.title,
                [table.headers[i] for i in columns],
                [[row[i] if i < len(row) else "" for i in columns] for row in table.rows],
                groups=[("", fixed), *chosen] if fixed else chosen,
                fixed=fixed,
                note=table.note,
            )
        )
    return found


@cache
def _templates() -> Environment:
    """Jinja outside Flask: the worker renders with no request around."""
    from ..web import templates_dir

    env = Environment(
        loader=FileSystemLoader(str(templates_dir())), autoescape=select_autoescape(["html"])
    )
    env.filters["cell"] = text
    return env


def report_html(doc: ReportDocument) -> str:
    from ..models import School
    from ..pdf import FONT_FAMILY

    pieces = [piece for table in doc.tables for piece in print_pieces(table)]
    return (
        _templates()
        .get_template(PRINT_TEMPLATE)
        .render(doc=doc, tables=pieces, school=School.get(), font_family=FONT_FAMILY)
    )


def to_pdf(doc: ReportDocument) -> bytes:
    """The report on landscape A4 pages, numbered, the header row repeated on each page."""
    from ..pdf import render_pdf  # WeasyPrint loads in the worker only, when needed

    return render_pdf(report_html(doc))
