"""The curriculum as schools keep it in Excel: import with a preview, and export.

A school's учебный план is a table: «Предметные области | Учебные предметы | V | VI …»
or «Предмет | 5 класс | 6 класс …», often with a two-row merged header, title rows
above it, section rows («Обязательная часть», «Часть, формируемая участниками…»),
totals («Итого», «Максимально допустимая недельная нагрузка») and cells like «4,5»,
«0,5» or «1/34». The file is read with `imports_columns` (header by its words), then
checked against the database without writing; `apply_import` stores it in one
transaction: the lines of the file's grades become exactly the file's.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from . import curriculum
from .curriculum import CurriculumErrors, format_hours, grade_label, name_key
from .db import write
from .imports import Issue, IssueLists
from .imports_columns import (
    HEADER_SEARCH_ROWS,
    CellError,
    Column,
    LayoutError,
    find_layout,
    normalize_header,
)
from .models import AcademicYear, Subject
from .years import PlanningError, ensure_editable

ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi")
GRADE_SUFFIXES = ("", "класс", "кл", "классы", "й класс", "й", "е классы", "е", "й кл", "классов")
SUBJECT_HEADERS = (
    "Учебные предметы",
    "Предмет",
    "Предметы",
    "Учебный предмет",
    "Учебные предметы классы",
    "Учебный предмет класс",
    "Учебные предметы курсы",
    "Учебные предметы курсы модули",
    "Предмет класс",
    "Предметы классы",
    "Наименование предмета",
    "Наименование учебного предмета",
)
# A row whose name starts with one of these is a section title or a total, not a subject.
SKIPPED_ROWS = (
    "итого",
    "всего",
    "обязательная часть",
    "часть формируемая",
    "часть учебного плана",
    "вариативная часть",
    "инвариантная часть",
    "федеральный компонент",
    "региональный компонент",
    "компонент образовательного учреждения",
    "компонент образовательной организации",
    "максимально допустимая",
    "предельно допустимая",
    "допустимая недельная",
    "недельная нагрузка",
    "учебная нагрузка",
    "количество учебных недель",
    "учебные недели",
    "внеурочная деятельность",
)
FOREIGN = re.compile(r"иностран|английск|немецк|французск|испанск|китайск|итальянск")


def _roman_variants(roman: str) -> list[str]:
    # Russian documents often type the Roman X as the Cyrillic Х.
    return list(dict.fromkeys([roman, roman.replace("x", "х")]))


def _grade_column(grade: int) -> Column:
    tokens = [str(grade), *_roman_variants(ROMAN[grade - 1])]
    headers = [f"{t} {s}".strip() for t in tokens for s in GRADE_SUFFIXES]
    headers += [f"класс {t}" for t in tokens]
    return Column(f"grade{grade}", tuple(headers), grade_label(grade), str)


COLUMNS: list[Column] = [
    Column("subject", SUBJECT_HEADERS, "предмет", str, required=True),
    Column(
        "area",
        ("Предметные области", "Предметная область", "Образовательная область"),
        "предметная область",
        str,
    ),
    Column("total", ("Всего", "Итого", "Всего часов", "Итого часов", "Всего за год"), "всего", str),
    *(_grade_column(g) for g in curriculum.GRADES),
]
_SUBJECT_NAMES = {normalize_header(h) for h in SUBJECT_HEADERS}


@dataclass
class LinePlan:
    """One subject × grade of the file, as it will be stored."""

    subject: str  # as in the file (the first spelling)
    grade: int
    hours_week: int
    hours_year: int
    rows: list[int]
    existing: Subject | None = None

    @property
    def shown(self) -> str:
        week = curriculum.true_week(self.grade, self.hours_week, self.hours_year)
        return f"{format_hours(week)} ч/нед, {self.hours_year} ч/год"


@dataclass
class Change:
    subject: str
    grade: int
    old: str
    new: str


@dataclass
class CurriculumPreview(IssueLists):
    """What the import would do and why it may not; nothing is written to make it."""

    year: AcademicYear
    grades: list[int] = field(default_factory=list)
    lines: list[LinePlan] = field(default_factory=list)
    new_subjects: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    annual: bool = False  # the file gives hours a year, not a week

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.lines)

    def payload(self) -> str:
        """The checked plan for the confirm form; `apply_import` checks it again."""
        return json.dumps(
            {
                "grades": self.grades,
                "lines": [[p.subject, p.grade, p.hours_week, p.hours_year] for p in self.lines],
            },
            ensure_ascii=False,
        )


# --- reading the file -------------------------------------------------------------------


def _header_view(rows: Sequence[Sequence[str]]) -> list[list[str]]:
    """The top rows with a vertically merged cell also seen in the row below it.

    Excel keeps a merged cell's text in its top cell only: «Учебные предметы» spans two
    header rows while the grades («V», «VI» …) sit in the second. Rows without a
    subject header are blanked so that a data row full of numbers never wins.
    """
    view: list[list[str]] = []
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        above = rows[i - 1] if i else []
        width = max(len(row), len(above))
        merged = [
            (row[c] if c < len(row) and row[c] else (above[c] if c < len(above) else ""))
            for c in range(width)
        ]
        keep = any(normalize_header(cell) in _SUBJECT_NAMES for cell in merged)
        view.append(merged if keep else [])
    return view


def _cell(row: Sequence[str], position: int | None) -> str:
    if position is None or position >= len(row):
        return ""
    return row[position].strip()


def _year_columns(rows, layout, grade_positions: dict[int, int]) -> tuple[dict[int, int], int]:
    """«5 класс» over «в неделю | в год»: the year column of each grade, and the first data row."""
    below = layout.header_index + 1
    if below >= len(rows):
        return {}, below
    sub = [normalize_header(c) for c in rows[below]]
    if not any("год" in c or "недел" in c for c in sub):
        return {}, below
    header = rows[layout.header_index]
    found = {}
    for grade, p in grade_positions.items():
        nxt = p + 1
        if (
            nxt < len(sub)
            and "год" in sub[nxt]
            and not _cell(header, nxt)
            and "год" not in (sub[p] if p < len(sub) else "")
        ):
            found[grade] = nxt
    return found, below + 1


def _is_annual(rows, layout) -> bool:
    """A table of hours a year («Количество часов в год») rather than a week."""
    top = [normalize_header(c) for row in rows[: layout.header_index + 1] for c in row]
    says_year = any(re.search(r"\b(в|за) год\b|\bгодов", c) for c in top)
    says_week = any("недел" in c for c in top)
    return says_year and not says_week


def _parse_cell(raw: str, annual: bool) -> tuple[Decimal | None, int | None]:
    """«5», «4,5», «0,5», «1/34» (a week and a year), «3+1»; in an annual table «170»."""
    text = raw.strip()
    if "/" in text:
        week_text, _, year_text = text.partition("/")
        week = curriculum.parse_week(week_text)
        year = curriculum.parse_year(year_text)
        if week is not None and year is not None and year < week:
            raise CellError("через «/» пишут часы в неделю и в год, например 1/34")
        return week, year
    if annual:
        return None, curriculum.parse_year(text)
    return curriculum.parse_week(text), None


def _skipped(name: str) -> bool:
    key = normalize_header(name)
    return any(key.startswith(prefix) for prefix in SKIPPED_ROWS)


def _subject_index() -> dict[str, Subject]:
    everything = list(Subject.select())
    index = {name_key(s.short_name): s for s in everything if s.short_name}
    index.update({name_key(s.name): s for s in everything})  # a full name wins
    return index


def _find_subject(name: str, index: dict[str, Subject]) -> Subject | None:
    key = name_key(name)
    if key in index:
        return index[key]
    # «Иностранный язык (английский)» is the school's «Английский язык».
    match = re.fullmatch(r"иностранный язык \((\w+ий)( язык)?\)", key)
    if match:
        return index.get(f"{match.group(1)} язык")
    return None


def preview_import(year: AcademicYear, rows: Sequence[Sequence[str]]) -> CurriculumPreview:
    """Read a curriculum table and say what it would change; writes nothing."""
    preview = CurriculumPreview(year)
    if year.read_only:
        preview.errors.append(Issue(None, f"{year.name} учебный год закрыт для изменений."))
        return preview
    try:
        layout = find_layout(_header_view(rows), COLUMNS)
    except LayoutError as exc:
        preview.errors += [Issue(None, m) for m in exc.messages]
        return preview
    positions = {key: pos for key, (pos, _) in layout.columns.items()}
    grade_positions = {
        int(key.removeprefix("grade")): pos
        for key, pos in positions.items()
        if key.startswith("grade")
    }
    if not grade_positions:
        preview.errors.append(
            Issue(
                None,
                "В строке заголовков нет столбцов классов: подпишите их «5», «5 класс» или «V».",
            )
        )
        return preview
    year_positions, first = _year_columns(rows, layout, grade_positions)
    preview.annual = _is_annual(rows, layout) and not year_positions
    if preview.annual:
        preview.notes.append(Issue(None, "Файл читается как часы в год (так сказано в заголовке)."))
    preview.grades = sorted(grade_positions)
    found: dict[tuple[str, int], LinePlan] = {}
    skipped: list[str] = []
    index = _subject_index()
    for i in range(first, len(rows)):
        row, number = rows[i], i + 1
        name = _cell(row, positions["subject"]) or _cell(row, positions.get("area"))
        name = " ".join(name.split()).strip(" *")
        raw = {g: _cell(row, p) for g, p in grade_positions.items()}
        raw_year = {g: _cell(row, p) for g, p in year_positions.items()}
        if normalize_header(name) in _SUBJECT_NAMES:
            preview.notes.append(Issue(number, "вторая таблица в файле — читается только первая."))
            break
        if not name and not any(raw.values()) and not any(raw_year.values()):
            continue
        if name and _skipped(name):
            skipped.append(f"{number} («{name[:40]}»)")
            continue
        if not name:
            preview.warnings.append(Issue(number, "часы без названия предмета — строка пропущена."))
            continue
        hours = _row_hours(preview, number, name, raw, raw_year)
        if hours is None:
            continue
        if not hours:
            skipped.append(f"{number} («{name[:40]}»)")
            continue
        subject = _find_subject(name, index)
        key = name_key(subject.name) if subject else name_key(name)
        for grade, (week, annual) in hours.items():
            _add_line(preview, found, key, name, subject, grade, week, annual, number)
    if skipped:
        preview.notes.append(
            Issue(None, "Пропущены строки разделов и итогов: " + ", ".join(skipped) + ".")
        )
    preview.lines = sorted(found.values(), key=lambda p: (p.rows[0], p.grade))
    if not preview.lines and not preview.errors:
        preview.errors.append(Issue(None, "В файле не найдено ни одного предмета с часами."))
    preview.new_subjects = list(dict.fromkeys(p.subject for p in preview.lines if not p.existing))
    if preview.ok:
        preview.changes = _changes(year, preview)
    return preview


def _row_hours(preview, number, name, raw, raw_year) -> dict | None:
    """Each grade's (week, year) of one row; None when a cell is wrong (reported)."""
    hours: dict[int, tuple[Decimal | None, int | None]] = {}
    bad = False
    for grade in raw:
        try:
            week, annual = _parse_cell(raw[grade], preview.annual)
            if grade in raw_year and raw_year[grade]:
                annual = curriculum.parse_year(raw_year[grade])
            if week is not None or annual is not None:
                hours[grade] = (week, annual)
        except CellError as exc:
            shown = raw[grade] if grade not in raw_year else f"{raw[grade]} / {raw_year[grade]}"
            preview.errors.append(
                Issue(number, f"«{name}», {grade_label(grade)}: «{shown}» — {exc}.")
            )
            bad = True
    return None if bad else hours


def _add_line(preview, found, key, name, subject, grade, week, annual, number) -> None:
    previous = found.get((key, grade))
    if previous is not None:
        # The part formed by the school often adds an hour to a subject listed above.
        week = (week or Decimal(0)) + curriculum.true_week(
            grade, previous.hours_week, previous.hours_year
        )
        annual = annual + previous.hours_year if annual is not None else None
        preview.warnings.append(
            Issue(
                number,
                f"«{name}» в {grade_label(grade)}е уже был в строке {previous.rows[0]} — "
                "часы сложены.",
            )
        )
    try:
        resolved = curriculum.resolve_hours(grade, week, annual)
    except CellError as exc:
        preview.errors.append(Issue(number, f"«{name}», {grade_label(grade)}: {exc}."))
        return
    if resolved is None:
        return
    rows = (previous.rows if previous else []) + [number]
    shown_name = previous.subject if previous else (subject.name if subject else name)
    found[(key, grade)] = LinePlan(shown_name, grade, *resolved, rows, subject)


def _changes(year: AcademicYear, preview: CurriculumPreview) -> list[Change]:
    """Lines added, changed and removed in the file's grades, for the preview table."""
    current = {
        (line.subject.name, line.grade): line for line in curriculum.lines_of(year, preview.grades)
    }
    changes = []
    for plan in preview.lines:
        line = current.pop((plan.subject, plan.grade), None)
        old = _shown(line) if line else "—"
        if old != plan.shown:
            changes.append(Change(plan.subject, plan.grade, old, plan.shown))
    for (name, grade), line in sorted(current.items(), key=lambda i: (i[0][1], i[0][0])):
        changes.append(Change(name, grade, _shown(line), "удаляется"))
    return changes


def _shown(line) -> str:
    week = curriculum.true_week(line.grade, line.hours_week, line.hours_year)
    return f"{format_hours(week)} ч/нед, {line.hours_year} ч/год"


# --- applying -----------------------------------------------------------------------------


def apply_import(year: AcademicYear, payload: str, *, user, ip: str) -> dict[str, int]:
    """Store a previewed curriculum in one transaction (new subjects first); all or nothing."""
    ensure_editable(year)
    try:
        data = json.loads(payload)
        grades = curriculum.parse_grades(str(g) for g in data["grades"])
        lines = [(str(n), int(g), int(w), int(y)) for n, g, w, y in data["lines"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise PlanningError("Данные предпросмотра испорчены: загрузите файл ещё раз.") from exc
    errors = []
    for name, grade, week, annual in lines:
        if grade not in grades or not name.strip() or not (0 <= week <= curriculum.MAX_WEEK):
            errors.append(f"«{name}», {grade_label(grade)}: неверные данные.")
        elif not (0 < annual <= curriculum.MAX_YEAR):
            errors.append(f"«{name}», {grade_label(grade)}: неверное число часов в год.")
    if errors:
        raise CurriculumErrors(errors)
    counts = {"subjects": 0}
    with write(user=user, ip=ip) as rec:
        index = _subject_index()
        wanted: dict[tuple[int, int], tuple[int, int]] = {}
        order = max((s.sort_order for s in Subject.select()), default=0)
        for name, grade, week, annual in lines:
            subject = _find_subject(name, index)
            if subject is None:
                order += 10
                subject = curriculum.insert_subject(
                    rec,
                    {
                        "name": " ".join(name.split())[:150],
                        "short_name": "",
                        "scale": "five",
                        "is_foreign_language": bool(FOREIGN.search(name.lower())),
                        "sort_order": order,
                    },
                )
                index[name_key(subject.name)] = subject
                counts["subjects"] += 1
            wanted[(subject.id, grade)] = (week, annual)
        counts.update(curriculum.replace_lines(rec, year, grades, wanted))
    return counts


# --- export -------------------------------------------------------------------------------


def export_xlsx(year: AcademicYear) -> bytes:
    """The year's curriculum as the deputy prints it; the importer reads it back unchanged."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    lines = curriculum.lines_of(year)
    grades = sorted({line.grade for line in lines}) or curriculum.year_grades(year)
    by_key = {(line.subject_id, line.grade): line for line in lines}
    book = Workbook()
    sheet = book.active
    sheet.title = "Учебный план"
    sheet.append([f"Учебный план на {year.name} учебный год (часов в неделю; «ч/нед / ч/год»)"])
    sheet["A1"].font = Font(bold=True)
    sheet.append([])
    sheet.append(["Учебные предметы", *(grade_label(g) for g in grades)])
    for cell in sheet[3]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center")
    totals = {g: Decimal(0) for g in grades}
    for subject in curriculum.subjects():
        row: list[object] = [subject.name]
        if not any((subject.id, g) in by_key for g in grades):
            continue
        for grade in grades:
            line = by_key.get((subject.id, grade))
            row.append(_export_cell(line) if line else None)
            if line:
                totals[grade] += curriculum.true_week(grade, line.hours_week, line.hours_year)
        sheet.append(row)
    sheet.append(["Итого", *(_number_or_text(totals[g]) for g in grades)])
    sheet.column_dimensions["A"].width = 48
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _number_or_text(value: Decimal) -> object:
    return int(value) if value == value.to_integral() else format_hours(value)


def _export_cell(line) -> object:
    week = curriculum.true_week(line.grade, line.hours_week, line.hours_year)
    default = curriculum.half_up(week * curriculum.weeks_in_year(line.grade))
    if week and default == line.hours_year:
        return _number_or_text(week)
    return f"{format_hours(week) if week else 0}/{line.hours_year}"
