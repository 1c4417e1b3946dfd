"""A КТП upload as sheets of text with their merged cells, and the header row found by its words.

`openpyxl` in full mode (only it knows merged ranges) for XLSX, every sheet; for CSV
the delimiter under which the header is found (topics and homework are full of
commas, so counting delimiters alone picks the wrong one).
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..imports_columns import (
    CSV_DELIMITERS,
    MAX_COLUMNS,
    MAX_ROWS,
    ImportFileError,
    Layout,
    cell_text,
    decode_text,  # one decoder for every upload (UTF-8 with or without BOM, else cp1251)
    find_layout,
    normalize_header,
)
from .columns import KNOWN_HEADERS, KTP_COLUMNS, header_text

HEADER_ROWS_SEARCHED = 30  # title blocks («УТВЕРЖДАЮ», school, teacher, year) run long


Span = tuple[int, int, int, int]  # first row, first column, last row, last column (0-based)


@dataclass
class Sheet:
    """One sheet as text, with its merged ranges (a CSV has none)."""

    name: str
    rows: list[list[str]]
    merges: dict[tuple[int, int], Span] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def raw(self, r: int, c: int) -> str:
        row = self.rows[r] if r < len(self.rows) else []
        return row[c] if c < len(row) else ""

    def filled(self, r: int, c: int) -> str:
        """The cell as the eye reads it: a merged range shows its first cell everywhere."""
        span = self.merges.get((r, c))
        return self.raw(span[0], span[1]) if span else self.raw(r, c)

    def merged_from_above(self, r: int, c: int) -> bool:
        span = self.merges.get((r, c))
        return span is not None and span[0] < r

    def merged_across(self, r: int, c: int) -> bool:
        span = self.merges.get((r, c))
        return span is not None and span[3] > span[1]

    def width(self, *indexes: int) -> int:
        return max((len(self.rows[i]) for i in indexes if i < len(self.rows)), default=0)


def read_sheets(filename: str, data: bytes) -> list[Sheet]:
    """Every sheet of an .xlsx (merges kept), or the one table of a .csv."""
    name = filename.lower().strip()
    if name.endswith(".xlsx"):
        return _xlsx_sheets(data)
    if name.endswith(".csv"):
        return [_csv_sheet(data)]
    if name.endswith(".xls"):
        raise ImportFileError(
            "Файлы .xls (Excel 97–2003) не поддерживаются: сохраните файл как .xlsx или CSV."
        )
    raise ImportFileError("Загрузите файл Excel (.xlsx) или CSV (.csv).")


def _xlsx_sheets(data: bytes) -> list[Sheet]:
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # extensions of other programs
            # Not read-only: only a full load knows the merged ranges.
            book = load_workbook(io.BytesIO(data), data_only=True)
    except Exception as exc:  # a broken zip, XML or workbook: all mean «not a good .xlsx»
        raise ImportFileError(
            "Не удалось открыть файл Excel: он повреждён или это не .xlsx."
        ) from exc
    sheets = []
    for ws in book.worksheets:
        sheet = Sheet(ws.title, [])
        last_row = min(ws.max_row, MAX_ROWS)
        if ws.max_row > MAX_ROWS:
            sheet.notes.append(f"На листе «{ws.title}» больше {MAX_ROWS} строк: прочитаны первые.")
        for values in ws.iter_rows(
            max_row=last_row, max_col=min(ws.max_column, MAX_COLUMNS), values_only=True
        ):
            row = [cell_text(v) for v in values]
            while row and not row[-1]:
                row.pop()
            sheet.rows.append(row)
        for merged in ws.merged_cells.ranges:
            span = (merged.min_row - 1, merged.min_col - 1, merged.max_row - 1, merged.max_col - 1)
            for r in range(span[0], min(span[2], last_row - 1) + 1):
                for c in range(span[1], min(span[3], MAX_COLUMNS - 1) + 1):
                    sheet.merges[(r, c)] = span
        sheets.append(sheet)
    return sheets


def _csv_sheet(data: bytes) -> Sheet:
    """The delimiter is the one under which the header is found (topics are full of commas)."""
    text = decode_text(data)
    if "\x00" in text:
        raise ImportFileError("Это не текстовый CSV-файл.")
    best: Sheet | None = None
    best_score = -1
    for delimiter in CSV_DELIMITERS:
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error as exc:
            raise ImportFileError(f"CSV-файл испорчен: {exc}.") from exc
        if len(rows) > MAX_ROWS:
            raise ImportFileError(f"В файле больше {MAX_ROWS} строк — это не КТП.")
        sheet = Sheet("CSV", [[cell_text(v) for v in row[:MAX_COLUMNS]] for row in rows])
        header = find_header(sheet)
        score = header.score if header else 0
        if score > best_score:
            best, best_score = sheet, score
    assert best is not None
    return best


# --- the header ----------------------------------------------------------------------------


@dataclass
class Header:
    start: int  # first header row (0-based)
    end: int  # last header row: one or two rows
    texts: list[str]  # each column's header as the teacher wrote it (two rows joined)
    score: int  # distinct columns recognised


def _joined(upper: str, lower: str) -> str:
    if not lower or lower == upper:
        return upper
    return f"{upper} {lower}" if upper else lower


def _score(texts: Sequence[str]) -> tuple[int, bool]:
    keys = {KNOWN_HEADERS.get(normalize_header(header_text(t))) for t in texts if t}
    keys.discard(None)
    return len(keys), "topic" in keys


def find_header(sheet: Sheet, need_topic: bool = True) -> Header | None:
    """The one or two rows among the first ones whose words name the most columns.

    Merged header cells read as their first cell, so «Дата» merged over «План» and
    «Факт» reads «Дата План», «Дата Факт»; a two-row header wins only when the second
    row adds columns (a first lesson row under a one-row header adds none).
    """
    best: Header | None = None
    for i in range(min(len(sheet.rows), HEADER_ROWS_SEARCHED)):
        for depth in (1, 2):
            if i + depth > len(sheet.rows) or not all(map(any, sheet.rows[i : i + depth])):
                continue  # past the end, or a blank row that adds nothing
            width = sheet.width(i, i + depth - 1)
            texts = [sheet.filled(i, c) for c in range(width)]
            if depth == 2:
                texts = [_joined(t, sheet.filled(i + 1, c)) for c, t in enumerate(texts)]
            score, has_topic = _score(texts)
            if (
                (has_topic or not need_topic)
                and score >= 2
                and (best is None or score > best.score)
            ):
                best = Header(i, i + depth - 1, texts, score)
    return best


def layout_of(header: Header) -> Layout:
    return find_layout([[header_text(t) for t in header.texts]], KTP_COLUMNS)
