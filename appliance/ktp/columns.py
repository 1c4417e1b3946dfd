"""The words of a КТП file: header synonyms, and how lesson cells are read.

Header synonyms are declared once as `Column`s of `appliance.imports_columns` (its
`normalize_header` and `find_layout` match them); the cell readers understand hours
«1», «1 ч», «1,0», dates «01.09» without a year or «1.09-2.09», numbers «5-6», and
section titles with their hours «Натуральные числа (12 ч)».
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from ..imports_columns import CellError, Column, normalize_header, parse_date
from .rows import MAX_HOURS

# --- the columns ---------------------------------------------------------------------------

DATE_WORDS = (
    "дата",
    "даты",
    "дата проведения",
    "дата урока",
    "дата занятия",
    "сроки",
    "сроки проведения",
    "срок проведения",
)
PLAN_WORDS = ("план", "по плану", "планируемая", "плановая", "планир")
FACT_WORDS = (
    "факт",
    "по факту",
    "фактически",
    "фактическая",
    "фактич",
    "скорректированная",
    "корректировка",
)


def _date_headers(words: Sequence[str]) -> tuple[str, ...]:
    """«Дата по плану», «Плановая дата», «Дата проведения факт» … and the word alone."""
    found = [f"{d} {w}" for d in DATE_WORDS for w in words]
    found += [f"{w} {d}" for d in DATE_WORDS for w in words]
    return tuple(dict.fromkeys([*words, *found]))


def _text(raw: str) -> str:
    return raw.strip()


def parse_hours(raw: str) -> int:
    """«1», «2 ч», «1,0», «1 час» → whole hours of one row."""
    match = re.match(r"^(\d{1,3}(?:[.,]\d+)?)\s*(?:ч|час|часа|часов)?\.?$", raw.strip().lower())
    if not match:
        raise CellError("нужно число часов, например 1 или 2")
    value = float(match[1].replace(",", "."))
    if not value.is_integer():
        raise CellError("нужно целое число часов")
    if value < 1:
        raise CellError("должно быть не меньше 1")
    if value > MAX_HOURS:
        raise CellError(f"больше {MAX_HOURS} — проверьте")
    return int(value)


KTP_COLUMNS: list[Column] = [
    Column(
        "number",
        ("номер", "номер п/п", "номер урока", "номер занятия", "номер по порядку", "п/п", "n п/п"),
        "номер",
        _text,
    ),
    Column(
        "section",
        (
            "Раздел",
            "Разделы",
            "Тема раздела",
            "Название раздела",
            "Наименование раздела",
            "Раздел программы",
            "Модуль",
            "Глава",
        ),
        "раздел",
        _text,
    ),
    Column(
        "topic",
        (
            "Тема урока",
            "Тема",
            "Темы уроков",
            "Тема уроков",
            "Тема занятия",
            "Тема учебного занятия",
            "Наименование темы",
            "Название темы",
            "Наименование темы урока",
            "Название темы урока",
            "Наименование разделов и тем",
            "Раздел, тема урока",
            "Раздел, тема",
            "Разделы и темы",
            "Содержание урока",
        ),
        "тема урока",
        _text,
        required=True,
        missing="не указана тема урока",
    ),
    Column(
        "hours",
        (
            "Количество часов",
            "Кол-во часов",
            "Кол-во час",
            "Кол. часов",
            "Кол-во ч",
            "Кол. ч",
            "Количество",
            "Кол-во",
            "Всего часов",
            "Часы",
            "Часов",
            "Час",
            "Ч",
        ),
        "количество часов",
        parse_hours,
    ),
    Column("date", ("Дата", *_date_headers(PLAN_WORDS)[1:]), "дата", _text),
    Column("date_fact", _date_headers(FACT_WORDS), "дата по факту", _text),
    Column(
        "homework",
        (
            "Домашнее задание",
            "Д/з",
            "ДЗ",
            "Дом. задание",
            "Домашняя работа",
            "Задание на дом",
        ),
        "домашнее задание",
        _text,
    ),
]
KNOWN_HEADERS = {normalize_header(h): c.key for c in KTP_COLUMNS for h in c.headers}
EXPORT_HEADERS = ["№", "Раздел", "Тема урока", "Количество часов", "Дата", "Домашнее задание"]


def header_text(raw: str) -> str:
    """A header cell as `normalize_header` should see it: «№» is a word, «(план)» is kept."""
    text = raw.replace("№", " номер ")
    return re.sub(
        r"\(([^)]*)\)",
        lambda m: f" {m[1]} " if re.search(r"план|факт", m[1], re.I) else m[0],
        text,
    )


# --- cells of the lesson rows -----------------------------------------------------------------

_DAY_MONTH = re.compile(r"^(\d{1,2})[./](\d{1,2})(?:[./](\d{4}|\d{2})(?!\d))?")
_NUMBER = re.compile(r"^(\d{1,3})\s*[.)]?(?:\s*[-–—]\s*(\d{1,3})\s*[.)]?)?$")
_NUMBER_LIST = re.compile(r"^\d{1,3}(?:\s*[,;]\s*\d{1,3})+$")
_WITH_HOURS = re.compile(
    r"^(.*?)[\s\-–—:,.]*\(?\s*(\d{1,3})\s*(?:ч|час|часа|часов)\.?\s*\)?\.?$", re.I
)
SECTION_START = re.compile(
    r"^(?:раздел|глава|модуль|блок)\b|^тема\s*(?:№\s*)?(?:\d+|[IVXLC]+)\b", re.I
)
PERIOD_ROW = re.compile(
    r"^(?:[1-4]|I{1,3}|IV)\s*-?\s*(?:я\s*)?(?:четверть|полугодие|триместр)\b", re.I
)
TOTAL_WORDS = ("итого", "всего")


def parse_plan_date(raw: str, year_starts: dt.date) -> dt.date:
    """«01.09.2026», «01.09» (the year from the academic year), «1.09-2.09» (the first day)."""
    text = raw.strip()
    try:
        return parse_date(text)
    except CellError:
        pass
    match = _DAY_MONTH.match(text)
    if not match:
        raise CellError("не похоже на дату, нужно ДД.ММ или ДД.ММ.ГГГГ")
    day, month = int(match[1]), int(match[2])
    if match[3]:
        year = int(match[3]) + (2000 if len(match[3]) == 2 else 0)
    else:
        year = year_starts.year if month >= 8 else year_starts.year + 1
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise CellError("такой даты нет") from None


def lesson_span(raw: str) -> int | None:
    """How many lessons a «№» cell names: «5» one, «5-6» two, «5, 6» two; None if not a number."""
    text = raw.strip()
    if match := _NUMBER.match(text):
        first, last = int(match[1]), int(match[2] or match[1])
        return last - first + 1 if last >= first else None
    if _NUMBER_LIST.match(text):
        return len(re.findall(r"\d+", text))
    return None


def split_hours(text: str) -> tuple[str, int | None]:
    """«Натуральные числа (12 ч)» → («Натуральные числа», 12); no hours → (text, None)."""
    match = _WITH_HOURS.match(text.strip())
    if match and match[1].strip():
        return match[1].strip(), int(match[2])
    return text.strip(), None
