"""The printed class journal and the summary sheet (§9.1, §9.2) as PDF/A-3b files.

What it offers (other modules use these names):

- `journal_pdf(school_class, year, out)`: the class's journal for the year — a title
  page; per subject group its marks-and-attendance grid pages month by month, its
  topics-and-homework pages and its period marks; a closing sheet «Пронумеровано,
  прошнуровано и скреплено печатью N листов» with the director's signature line.
  Sheets are numbered straight through; N is the number of pages of the file.
- `summary_pdf(school_class, year, out)`: the сводная ведомость учёта успеваемости
  (data: `appliance.reports.summary.build`), cut into pages by width (at most
  SUMMARY_MARK_COLUMNS mark columns a page) and closed by its own closing sheet: it
  is a bound paper record too (§9.1). Its sheets read «Лист n из N».
- `export_class_data(school_class, year, out_dir, kind)`: the same data as CSV/JSON
  (`print_export`); both PDFs carry it as attached files (PDF/A-3 associated files).

The journal is never one WeasyPrint document: `journal_plan` cuts it into pieces of a
bounded size (up to 4 pages of one subject's grid, up to 100 topic rows), each
rendered by a child process (`print_render.PieceRenderer`) told its first sheet
number, then joined. Memory stays flat however big the class or the year (DESIGN §5).

Every piece is checked after layout: a table running past the page fails the print
with a Russian message (`pdf.LayoutError`) instead of a sheet cut off on paper.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from ..models import (
    ATTENDANCE_CODES,
    AcademicYear,
    SchoolClass,
    SubjectGroup,
    SubjectGroupStudent,
    WorkType,
)
from ..pdf import DataFile
from . import print_data, print_words
from .print_export import export_class_data
from .print_frame import data_files, document_frame, render
from .print_render import FIRST_PAGE_MARK, PieceRenderer

MAX_GRID_PAGES_PER_PIECE = 4  # a piece of grid pages: at most this many (estimated)
TOPIC_ROWS_PER_PIECE = 100  # lessons on the topics pages of one piece (4–6 pages)
SUMMARY_ROWS_PER_PAGE = 25
# Mark columns of a summary page: 9.2 mm each beside the number and the name fill a
# landscape A4 (measured: 30 ran 55 mm off the sheet; 24 leave 2 mm).
SUMMARY_MARK_COLUMNS = 24
SUMMARY_PAGES_PER_PIECE = 8
CLOSING_BOOKMARK = "Заверительный лист"

Progress = Callable[[int, int], None]


class PrintError(ValueError):
    """A document cannot be printed for a reason the user can act on (Russian)."""


@dataclass(frozen=True)
class Piece:
    """A bounded part of the journal, rendered on its own."""

    kind: str  # "title", "grid", "topics" (the closing sheet is rendered last, apart)
    group_id: int | None = None
    months: tuple[tuple[dt.date, dt.date], ...] = ()  # grid: the months it prints
    lessons: tuple[int, ...] = ()  # topics: the lesson ids it lists
    first_row: int = 1  # topics: the number of its first lesson in the group's year
    periods: bool = False  # topics: the group's period marks close this piece
    lessons_total: int = 0  # topics: the group's lessons in the year


# --- the plan -------------------------------------------------------------------------


def journal_plan(
    school_class: SchoolClass, year: AcademicYear, until: dt.date | None = None
) -> list[Piece]:
    """The journal's pieces in print order: title, then per group grid and topics pieces.

    A piece holds ids and dates only; its cells are read when it is rendered.
    """
    until = until or print_data.printed_until(year)
    pieces = [Piece("title")]
    for group in print_data.class_groups(school_class, year):
        pieces += _grid_pieces(group, year.starts, until)
        pieces += _topic_pieces(group, year.starts, until)
    return pieces


def _grid_pieces(group: SubjectGroup, starts: dt.date, ends: dt.date) -> Iterator[Piece]:
    """Whole months packed up to MAX_GRID_PAGES_PER_PIECE estimated pages a piece."""
    columns = print_data.lesson_months(group, starts, ends)
    row_pages = max(1, math.ceil(_group_size(group) / print_data.ROWS_PER_PAGE))
    batch: list[tuple[dt.date, dt.date]] = []
    pages = 0
    for month in print_data.months(starts, ends):
        count = columns.get(month[0].replace(day=1), 0)
        if not count:
            continue
        month_pages = math.ceil(count / print_data.COLUMNS_PER_PAGE) * row_pages
        if batch and pages + month_pages > MAX_GRID_PAGES_PER_PIECE:
            yield Piece("grid", group.id, months=tuple(batch))
            batch, pages = [], 0
        batch.append(month)
        pages += month_pages
    if batch:
        yield Piece("grid", group.id, months=tuple(batch))


def _group_size(group: SubjectGroup) -> int:
    return (
        SubjectGroupStudent.select(SubjectGroupStudent.student)
        .where(SubjectGroupStudent.group == group)
        .distinct()
        .count()
    )


def _topic_pieces(group: SubjectGroup, starts: dt.date, ends: dt.date) -> Iterator[Piece]:
    """Topic rows in chunks; the last chunk also prints the group's period marks."""
    ids = print_data.lesson_ids(group, starts, ends)
    chunks = [ids[i : i + TOPIC_ROWS_PER_PIECE] for i in range(0, len(ids), TOPIC_ROWS_PER_PIECE)]
    chunks = chunks or [[]]  # no lessons: the period marks page still prints
    for n, chunk in enumerate(chunks):
        yield Piece(
            "topics",
            group.id,
            lessons=tuple(chunk),
            first_row=1 + n * TOPIC_ROWS_PER_PIECE,
            periods=n == len(chunks) - 1,
            lessons_total=len(ids),
        )


# --- the journal ----------------------------------------------------------------------


def journal_pdf(
    school_class: SchoolClass,
    year: AcademicYear,
    out: Path,
    *,
    progress: Progress | None = None,
    in_process: bool = False,
    until: dt.date | None = None,
) -> int:
    """Print the class's journal for the year to `out` (PDF/A-3b); its number of pages.

    `progress(done, total)` is told after every piece; `in_process` renders without a
    child process (small documents, tests).
    """
    _check_year(school_class, year)
    until = until or print_data.printed_until(year)
    plan = journal_plan(school_class, year, until)
    groups = {g.id: g for g in print_data.class_groups(school_class, year)}
    frame = document_frame(school_class, year, "Классный журнал")
    # Work files next to the result, not in /tmp (a tmpfs on the box is memory).
    out.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(dir=out.parent, prefix=".print-") as tmp,
        PieceRenderer(in_process=in_process) as renderer,
    ):
        work = Path(tmp)
        files = data_files(school_class, year, work / "data", "journal", until)
        info = print_data.title_info(school_class, year, list(groups.values()), until)
        rendered: list[Path] = []
        bookmarks: list[tuple[int, str]] = []
        sheet = 1
        pending: Future | None = None
        for n, piece in enumerate(plan):
            # Prepared while the child still renders the piece before it.
            html = _piece_html(
                piece, groups, frame, info, files, first_page=FIRST_PAGE_MARK, year=year
            )
            if pending is not None:
                sheet += pending.result()
                if progress:
                    progress(n, len(plan) + 1)
            if piece.kind == "title":
                bookmarks.append((0, "Титульный лист"))
            elif n == 0 or plan[n - 1].group_id != piece.group_id:
                bookmarks.append((sheet - 1, print_data.group_title(groups[piece.group_id])))
            target = work / f"{n:04d}.pdf"
            attached = files if piece.kind == "title" else ()
            pending = renderer.submit(html, target, attached, first_page=sheet)
            rendered.append(target)
        if pending is not None:
            sheet += pending.result()
        closing = work / "closing.pdf"
        html = render(
            "print/closing.html",
            **frame,
            first_page=sheet,
            sheets=sheet,
            sheets_words=print_words.number_words(sheet),
            sheets_word=print_words.sheets_word(sheet),
            what="Классный журнал",
        )
        if renderer.render(html, closing) != 1:  # N counts this sheet: it must be one page
            raise RuntimeError("the closing sheet must fit one page")
        rendered.append(closing)
        bookmarks.append((sheet - 1, CLOSING_BOOKMARK))
        pages = renderer.join(rendered, out, bookmarks)
        if progress:
            progress(len(plan) + 1, len(plan) + 1)
    if pages != sheet:
        raise RuntimeError(f"joined {pages} pages, numbered {sheet}")
    return pages


def _check_year(school_class: SchoolClass, year: AcademicYear) -> None:
    if school_class.year_id != year.id:
        raise PrintError(f"Класс {school_class.name} относится к другому учебному году.")


def _piece_html(
    piece: Piece,
    groups: dict[int, SubjectGroup],
    frame: dict,
    info: print_data.TitleInfo,
    files: list[DataFile],
    *,
    first_page: int | str,
    year: AcademicYear,
) -> str:
    if piece.kind == "title":
        return render(
            "print/journal_title.html",
            **frame,
            first_page=first_page,
            unnumbered_first=True,
            info=info,
            files=[f.path.name for f in files],
        )
    group = groups[piece.group_id]
    teacher = print_data.group_teachers(group)
    if piece.kind == "grid":
        pages = [
            page
            for starts, ends in piece.months
            for page in print_data.grid_pages(group, starts, ends, teacher=teacher)
        ]
        return render(
            "print/journal_grid.html",
            **frame,
            first_page=first_page,
            pages=pages,
            legend=_legend(),
        )
    rows = print_data.topic_rows(list(piece.lessons), piece.first_row)
    return render(
        "print/journal_topics.html",
        **frame,
        first_page=first_page,
        group_name=print_data.group_title(group),
        teacher=teacher,
        rows=rows,
        continued=piece.first_row > 1,
        periods=print_data.period_table(group) if piece.periods else None,
        lessons_total=piece.lessons_total,
        # The year still runs: the count is of the lessons up to the print date.
        counted_until=info.as_of if info.as_of < year.ends else None,
    )


def _legend() -> str:
    codes = ", ".join(f"{code} — {label}" for code, label in ATTENDANCE_CODES.items())
    works = ", ".join(
        f"{w.short_name or w.name[:3]} — {w.name.lower()}"
        for w in WorkType.select().order_by(WorkType.sort_order, WorkType.name)
    )
    legend = f"П — посещаемость: {codes}. ×2 — вес работы."
    return f"{legend} Виды работ: {works}." if works else legend


# --- the summary sheet ----------------------------------------------------------------


@dataclass(frozen=True)
class SummaryPage:
    subjects: list
    students: list  # (number, SummaryStudent)
    first: bool
    last: bool


def summary_pages(sheet) -> list[SummaryPage]:
    """The sheet cut into pages: subjects across (at most SUMMARY_MARK_COLUMNS mark
    columns, a subject never cut), students down, all subjects per student."""
    per_page = max(1, SUMMARY_MARK_COLUMNS // max(1, len(sheet.periods)))
    subject_parts = [
        sheet.subjects[i : i + per_page] for i in range(0, len(sheet.subjects), per_page)
    ] or [[]]
    numbered = list(enumerate(sheet.students, 1))
    student_parts = [
        numbered[i : i + SUMMARY_ROWS_PER_PAGE]
        for i in range(0, len(numbered), SUMMARY_ROWS_PER_PAGE)
    ] or [[]]
    total = len(subject_parts) * len(student_parts)
    pages = []
    for students in student_parts:
        for subjects in subject_parts:
            n = len(pages) + 1
            pages.append(SummaryPage(subjects, students, n == 1, n == total))
    return pages


def summary_pdf(
    school_class: SchoolClass,
    year: AcademicYear,
    out: Path,
    *,
    progress: Progress | None = None,
    in_process: bool = False,
) -> int:
    """Print the class's сводная ведомость for the year to `out` (PDF/A-3b); its pages.

    Every sheet reads «Лист n из N», N counting the closing sheet. N is taken from the
    rendered pieces: a page whose rows grew (a long name wraps) may run onto a second
    sheet, and then the pieces are rendered once more with the right N (the footer
    does not change the layout).
    """
    from ..reports.summary import build

    _check_year(school_class, year)
    sheet = build(school_class, year)
    frame = document_frame(school_class, year, "Сводная ведомость")
    pages = summary_pages(sheet)
    chunks = [
        pages[i : i + SUMMARY_PAGES_PER_PIECE]
        for i in range(0, len(pages), SUMMARY_PAGES_PER_PIECE)
    ]
    legend = "Отметки: 2–5; н/а — не аттестован; осв — освобождён; зач/незач — зачёт/незачёт."
    steps = len(chunks) + 1
    out.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(dir=out.parent, prefix=".print-") as tmp,
        PieceRenderer(in_process=in_process) as renderer,
    ):
        work = Path(tmp)
        files = data_files(school_class, year, work / "data", "summary")

        def render_chunks(total: int) -> tuple[list[Path], int]:
            rendered, sheet_no = [], 1
            for n, chunk in enumerate(chunks):
                html = render(
                    "print/summary.html",
                    **frame,
                    first_page=sheet_no,
                    sheets_total=total,
                    pages=chunk,
                    sheet=sheet,
                    periods=sheet.periods,
                    legend=legend,
                )
                target = work / f"{n:04d}.pdf"
                sheet_no += renderer.render(html, target, files if n == 0 else ())
                rendered.append(target)
                if progress:
                    progress(n + 1, steps)
            return rendered, sheet_no

        planned = len(pages) + 1
        rendered, sheets = render_chunks(planned)
        if sheets != planned:
            rendered, sheets = render_chunks(sheets)
        closing = work / "closing.pdf"
        html = render(
            "print/closing.html",
            **frame,
            first_page=sheets,
            sheets_total=sheets,
            sheets=sheets,
            sheets_words=print_words.number_words(sheets),
            sheets_word=print_words.sheets_word(sheets),
            what="Сводная ведомость учёта успеваемости",
        )
        if renderer.render(html, closing) != 1:
            raise RuntimeError("the closing sheet must fit one page")
        bookmarks = [(0, "Сводная ведомость"), (sheets - 1, CLOSING_BOOKMARK)]
        total = renderer.join([*rendered, closing], out, bookmarks)
    if total != sheets:
        raise RuntimeError(f"joined {total} pages, numbered {sheets}")
    if progress:
        progress(steps, steps)
    return total


__all__ = [
    "PrintError",
    "export_class_data",
    "journal_pdf",
    "journal_plan",
    "summary_pdf",
]
