"""Reading a КТП from the file a teacher already keeps (XLSX or CSV), however it is laid out.

Teachers' plans are not templates: a title block sits above the header, the header
spans two rows under merged cells («Дата» over «План»/«Факт»), sections are rows of
their own («Раздел 1. Натуральные числа (12 ч)», merged across the row), lessons are
numbered with gaps and ranges («5-6» is one topic of two hours), hours are «1», «1 ч»
or «1,0», dates «01.09» without a year, and «Итого»/«Резерв» rows close the list.

`read_plan_file` turns such a file into `PlanRow`s and per-row messages in Russian
without touching the database. The words it knows are in `columns`, the reading of
sheets, merged cells and the header row in `sheets`; here: which row is what.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..imports import Issue, IssueLists
from ..imports_columns import CellError, ImportFileError, LayoutError, normalize_header
from .checks import Finding
from .columns import (
    EXPORT_HEADERS,
    PERIOD_ROW,
    SECTION_START,
    TOTAL_WORDS,
    lesson_span,
    parse_hours,
    parse_plan_date,
    split_hours,
)
from .rows import MAX_HOMEWORK, MAX_SECTION, MAX_TOPIC, PlanRow, total_hours
from .sheets import Sheet, find_header, layout_of, read_sheets

__all__ = ["ImportFileError", "KtpPreview", "read_plan_file"]

MAX_LESSON_ROWS = 400  # 6 hours a week × 34 weeks is 204: more is not one subject's plan


# --- the preview ---------------------------------------------------------------------------


@dataclass
class KtpPreview(IssueLists):
    """What an import would create, and why it may not; nothing is written to make it."""

    filename: str
    rows: list[PlanRow] = field(default_factory=list)
    sheet: str = ""
    header_row: int | None = None  # in the file, 1-based
    columns: dict[str, str] = field(default_factory=dict)  # key → header as written
    findings: list[Finding] = field(default_factory=list)  # the plan checks, for a group

    @property
    def hours(self) -> int:
        return total_hours(self.rows)


def read_plan_file(filename: str, data: bytes, year_starts: dt.date) -> KtpPreview:
    """Read a teacher's КТП file into rows and Russian messages; write nothing.

    ``year_starts`` is the academic year's first day: dates written without a year
    («01.09») take it from there. Raises `ImportFileError` for a file that cannot be
    read at all; everything else is a message in the preview.
    """
    preview = KtpPreview(filename=filename)
    sheets = read_sheets(filename, data)
    found = [(s, h) for s in sheets if (h := find_header(s)) is not None]
    if not found:
        preview.errors.append(Issue(None, _no_header_message(sheets)))
        return preview
    sheet, header = found[0]
    preview.notes += [Issue(None, n) for n in sheet.notes]
    if len(sheets) > 1:
        preview.notes.append(Issue(None, f"Прочитан лист «{sheet.name}»."))
    try:
        layout = layout_of(header)
    except LayoutError as exc:
        preview.errors += [Issue(None, m) for m in exc.messages]
        return preview
    preview.sheet, preview.header_row = sheet.name, header.start + 1
    positions = {key: position for key, (position, _) in layout.columns.items()}
    preview.columns = {key: header.texts[p] for key, p in positions.items()}
    for position, text in enumerate(header.texts):
        if text and position not in positions.values():
            preview.notes.append(Issue(None, f"Столбец «{text}» не используется."))
    if "date_fact" in positions:
        preview.notes.append(
            Issue(
                None,
                f"Столбец «{preview.columns['date_fact']}» не загружается: "
                "проведённые уроки видны в журнале.",
            )
        )
    _RowReader(preview, sheet, positions, year_starts).read(header.end + 1)
    if not preview.rows and not preview.errors:
        preview.errors.append(Issue(None, "Под строкой заголовков не найдено ни одного урока."))
    if len(preview.rows) > MAX_LESSON_ROWS:
        preview.errors.append(
            Issue(None, f"В файле {len(preview.rows)} уроков — это не КТП одного предмета.")
        )
    for issues in (preview.errors, preview.warnings, preview.notes):
        issues.sort(key=lambda i: i.row or 0)
    return preview


def _no_header_message(sheets: list[Sheet]) -> str:
    wanted = ", ".join(f"«{h}»" for h in EXPORT_HEADERS)
    for sheet in sheets:
        header = find_header(sheet, need_topic=False)
        if header is not None:
            return (
                f"В строке заголовков (строка {header.start + 1}) нет столбца «Тема урока» — "
                "без тем КТП не загрузить. Назовите столбец с темами «Тема урока»."
            )
    return (
        "Не найдена строка заголовков: в КТП нужна строка с названиями столбцов, "
        f"например: {wanted}."
    )


@dataclass
class _Section:
    line: int
    title: str
    stated: int | None
    hours: int = 0


class _RowReader:
    """Walks the rows under the header: sections, lessons, totals, and what is wrong."""

    def __init__(
        self,
        preview: KtpPreview,
        sheet: Sheet,
        positions: dict[str, int],
        year_starts: dt.date,
    ):
        self.preview, self.sheet, self.positions = preview, sheet, positions
        self.year_starts = year_starts
        self.section: _Section | None = None
        self.total: tuple[int, int | None, int] | None = None  # line, stated, lessons before

    def read(self, first: int) -> None:
        for r in range(first, len(self.sheet.rows)):
            self._row(r)
        self._close_section()
        if self.total is not None:
            line, stated, before = self.total
            hours = self.preview.hours
            if stated is not None and before == len(self.preview.rows) and stated != hours:
                self.warn(line, f"в строке итога указано {stated} ч, а по урокам — {hours} ч")

    # messages
    def error(self, line: int, text: str) -> None:
        self.preview.errors.append(Issue(line, text))

    def warn(self, line: int, text: str) -> None:
        self.preview.warnings.append(Issue(line, text))

    def note(self, line: int, text: str) -> None:
        self.preview.notes.append(Issue(line, text))

    def cell(self, r: int, key: str) -> str:
        position = self.positions.get(key)
        return "" if position is None else self.sheet.raw(r, position)

    # one row
    def _row(self, r: int) -> None:
        line = r + 1
        texts = [(c, v) for c, v in enumerate(self.sheet.rows[r]) if v]
        topic_at = self.positions["topic"]
        if not texts or self.sheet.merged_from_above(r, topic_at):
            return  # blank, or the second row of a lesson whose topic is merged over two
        first = texts[0][1]
        head = normalize_header(first)
        if head.startswith(TOTAL_WORDS):
            self._total(line, r, first)
            return
        if PERIOD_ROW.match(first):
            self.note(line, f"строка «{first}» пропущена")
            return
        number = self.cell(r, "number")
        numbered = bool(number) and lesson_span(number) is not None
        if not numbered and head.startswith("резерв"):
            self._reserve(line, r, first)
            return
        keys = {k for k, p in self.positions.items() for c, _ in texts if c == p}
        if not numbered and self._is_section(r, texts, keys):
            self._section_row(line, r, texts)
            return
        if not keys & {"number", "topic", "section"}:
            self.note(line, "строка без темы и номера пропущена (похоже на продолжение урока)")
            return
        self._lesson(line, r, number)

    def _section_row(self, line: int, r: int, texts: list[tuple[int, str]]) -> None:
        """«Раздел 1. Числа (12 ч)», or the title in one cell and its hours in «Часы»."""
        text = texts[0][1]
        if len(texts) > 1:
            text = self.cell(r, "section") or self.cell(r, "topic") or text
        title, stated = split_hours(text)
        raw = self.cell(r, "hours")
        if stated is None and raw:
            try:
                stated = parse_hours(raw)
            except CellError:
                self.warn(line, f"часы раздела «{raw}» не поняты")
        self._open_section(line, title, stated)

    def _is_section(self, r: int, texts: list[tuple[int, str]], keys: set[str]) -> bool:
        """A row naming a section (called only for rows without a lesson number).

        Its only text; or «Раздел 1. …»; or, in a numbered plan, a title without a
        number, maybe with the section's hours — but never a row with a date or homework.
        """
        dated = keys & {"date", "date_fact", "homework"}
        if "section" in keys and "topic" not in keys:
            return not dated
        text = self.cell(r, "topic") or (texts[0][1] if len(texts) == 1 else "")
        if text and SECTION_START.match(text):
            return not dated
        if dated:
            return False
        if "number" in self.positions and "topic" in keys:
            return True
        if len(texts) != 1 or "hours" in keys:
            return False
        column = texts[0][0]
        if column != self.positions["topic"]:
            return True  # a title merged across the row sits in its first cell
        return self.sheet.merged_across(r, column)

    def _open_section(self, line: int, title: str, stated: int | None) -> None:
        self._close_section()
        if len(title) > MAX_SECTION:
            self.error(line, f"название раздела длиннее {MAX_SECTION} знаков")
            title = title[:MAX_SECTION]
        self.section = _Section(line, title, stated)

    def _close_section(self) -> None:
        s = self.section
        if s is not None and s.stated is not None and s.stated != s.hours:
            self.warn(
                s.line,
                f"в заголовке раздела «{s.title}» указано {s.stated} ч, а по урокам — {s.hours} ч",
            )

    def _total(self, line: int, r: int, first: str) -> None:
        stated = None
        raw_hours = self.cell(r, "hours")
        if raw_hours:
            try:
                stated = parse_hours(raw_hours)
            except CellError:
                stated = None
        if stated is None:
            _, stated = split_hours(" ".join(self.sheet.rows[r]).strip())
        self.total = (line, stated, len(self.preview.rows))
        self.note(line, f"строка итога «{first}» пропущена")

    def _reserve(self, line: int, r: int, first: str) -> None:
        text = self.cell(r, "topic") or first
        title, stated = split_hours(text)
        raw = self.cell(r, "hours")
        hours = stated
        if raw:
            try:
                hours = parse_hours(raw)
            except CellError as exc:
                self.error(line, f"количество часов «{raw}» — {exc}")
                return
        if hours is None:
            self.note(line, f"строка «{first}» без часов пропущена")
            return
        self._close_section()  # reserve hours belong to no section
        self.section = None
        self._add(line, r, PlanRow(topic=title, hours=hours))
        self.note(line, f"«{title}»: {hours} ч резерва загружены отдельной строкой")

    def _lesson(self, line: int, r: int, number: str) -> None:
        span = lesson_span(number) if number else None
        if number and span is None:
            self.warn(line, f"номер «{number}» не понятен — пропущен")
        topic = self.cell(r, "topic")
        if not topic:
            self.error(line, "не указана тема урока")
            return
        if len(topic) > MAX_TOPIC:
            self.error(line, f"тема урока длиннее {MAX_TOPIC} знаков")
            return
        hours = self._hours(line, r, span)
        if hours is None:
            return
        homework = self.cell(r, "homework")
        if len(homework) > MAX_HOMEWORK:
            self.error(line, f"домашнее задание длиннее {MAX_HOMEWORK} знаков")
            return
        self._add(line, r, PlanRow(topic=topic, hours=hours, homework_hint=homework))

    def _hours(self, line: int, r: int, span: int | None) -> int | None:
        raw = self.cell(r, "hours")
        if not raw:
            if "hours" in self.positions:
                self.warn(line, f"не указано количество часов — считаем {span or 1}")
            return span or 1
        try:
            hours = parse_hours(raw)
        except CellError as exc:
            self.error(line, f"количество часов «{raw}» — {exc}")
            return None
        if span is not None and span > 1 and span != hours:
            number = self.cell(r, "number")
            self.warn(line, f"номер «{number}» — это {span} ур., а часов указано {hours}")
        return hours

    def _add(self, line: int, r: int, row: PlanRow) -> None:
        position = self.positions.get("section")
        if position is not None:
            written = self.sheet.filled(r, position)  # merged down over its lessons
            title, stated = split_hours(written)
            if written and (self.section is None or title != self.section.title):
                self._open_section(line, title, stated)
        if self.section is not None:
            row.section = self.section.title
            self.section.hours += row.hours
        raw = self.cell(r, "date")
        if raw:
            try:
                row.planned_date = parse_plan_date(raw, self.year_starts)
            except CellError as exc:
                self.warn(line, f"дата «{raw}» — {exc}; оставлена пустой")
        row.line = line
        self.preview.rows.append(row)
