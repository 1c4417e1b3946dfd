"""Declared import columns: header synonyms → field → cell parser (STYLE.md, «Imports»).

`read_table` reads an XLSX or CSV file into rows of strings; `find_layout`
finds the header row by its words and maps each recognised column to a `Column`;
`read_record` turns one row into a dict of parsed values and Russian problems.
The class-list columns are declared at the bottom; other imports can declare theirs.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

HEADER_SEARCH_ROWS = 10
EXCEL_EPOCH = dt.date(1899, 12, 30)


class CellError(ValueError):
    """A cell that cannot be read; the message says why, in Russian, after a dash."""


# --- reading a file into rows of text -------------------------------------------------------

MAX_ROWS = 2000  # of the file, blank ones included: far more than any class list or КТП
MAX_COLUMNS = 60
CSV_DELIMITERS = (";", "\t", ",")
CSV_SAMPLE_LINES = 30


class ImportFileError(ValueError):
    """The file cannot be read at all (message in Russian)."""


def read_table(filename: str, data: bytes, *, max_rows: int = MAX_ROWS) -> list[list[str]]:
    """The first sheet of an .xlsx or a .csv as rows of stripped strings (row i = line i+1).

    ``max_rows`` bounds what one upload may hold (blank rows count): a school's
    timetable is longer than a class list.
    """
    name = filename.lower().strip()
    if name.endswith(".xlsx"):
        rows = _read_xlsx(data, max_rows)
    elif name.endswith(".csv"):
        rows = _read_csv(data, max_rows)
    elif name.endswith(".xls"):
        raise ImportFileError(
            "Файлы .xls (Excel 97–2003) не поддерживаются: сохраните файл как .xlsx или CSV."
        )
    else:
        raise ImportFileError("Загрузите файл Excel (.xlsx) или CSV (.csv).")
    while rows and not any(rows[-1]):
        rows.pop()
    return rows


def cell_text(value: Any) -> str:
    """A cell as the user sees it: dates as ДД.ММ.ГГГГ, 89171234567.0 as 89171234567."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).replace("\xa0", " ").split())


def _trimmed(values: Sequence[Any]) -> list[str]:
    row = [cell_text(v) for v in values[:MAX_COLUMNS]]
    while row and not row[-1]:
        row.pop()
    return row


def _too_long(max_rows: int) -> ImportFileError:
    return ImportFileError(
        f"В файле больше {max_rows} строк: это больше, чем бывает в таком списке. "
        "Проверьте, тот ли файл выбран."
    )


def _read_xlsx(data: bytes, max_rows: int) -> list[list[str]]:
    from openpyxl import load_workbook

    rows: list[list[str]] = []
    try:
        with warnings.catch_warnings():
            # Files saved by other programs carry extensions openpyxl warns about.
            warnings.simplefilter("ignore")
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
            try:
                sheet = book.worksheets[0]
                sheet.reset_dimensions()  # some programs write a wrong size: read what is there
                for values in sheet.iter_rows(values_only=True):
                    if len(rows) >= max_rows:
                        raise _too_long(max_rows)
                    rows.append(_trimmed(values))
            finally:
                book.close()
    except ImportFileError:
        raise
    except Exception as exc:  # a broken zip, XML or workbook: all mean «not a good .xlsx»
        raise ImportFileError(
            "Не удалось открыть файл Excel: он повреждён или это не .xlsx."
        ) from exc
    return rows


def decode_text(data: bytes) -> str:
    """UTF-8 (BOM or not) when it decodes strictly, else Windows-1251 (Russian Excel)."""
    encodings = ["utf-8-sig", "cp1251"]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's «Unicode text»
        encodings = ["utf-16"]
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(
        "Не удалось прочитать текст файла: сохраните CSV в кодировке UTF-8 или Windows-1251."
    )


def sniff_delimiter(lines: Sequence[str]) -> str:
    """The delimiter that splits the sample into the most consistent table.

    Each candidate is scored by how many lines share its most common width (more than
    one cell), then by that width. Counting only the widest line picks «,» for a «;»
    file whose homework column is full of commas; consistency does not.
    """
    best, best_score = CSV_DELIMITERS[0], (0, 0)
    for delimiter in CSV_DELIMITERS:
        widths = Counter(len(row) for row in csv.reader(lines, delimiter=delimiter) if len(row) > 1)
        if not widths:
            continue
        width, count = max(widths.items(), key=lambda item: (item[1], item[0]))
        if (count, width) > best_score:
            best, best_score = delimiter, (count, width)
    return best


def _read_csv(data: bytes, max_rows: int) -> list[list[str]]:
    text = decode_text(data)
    if "\x00" in text:
        raise ImportFileError("Это не текстовый CSV-файл.")
    delimiter = sniff_delimiter(text.splitlines()[:CSV_SAMPLE_LINES])
    rows = []
    try:
        for record in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            if len(rows) >= max_rows:
                raise _too_long(max_rows)
            rows.append(_trimmed(record))
    except csv.Error as exc:
        raise ImportFileError(f"CSV-файл испорчен: {exc}.") from exc
    return rows


# --- cell parsers: str → value, or CellError -------------------------------------------

_DMY = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?$")
_SERIAL = re.compile(r"^\d{5}(?:\.0+)?$")


def parse_date(raw: str) -> dt.date:
    """dd.mm.yyyy, d.m.yy (20yy: students are born this century), yyyy-mm-dd, Excel serial."""
    text = re.sub(r"\s*г\.?$", "", raw.strip())
    if match := _DMY.match(text):
        day, month, year = int(match[1]), int(match[3]), int(match[4])
        if len(match[4]) == 2:
            year += 2000
    elif match := _ISO.match(text):
        year, month, day = (int(g) for g in match.groups())
    elif _SERIAL.match(text):
        # A date cell Excel kept as a bare number (the column lost its date format).
        return EXCEL_EPOCH + dt.timedelta(days=int(float(text)))
    else:
        raise CellError("не похоже на дату, нужно ДД.ММ.ГГГГ")
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise CellError("такой даты нет") from None


_GENDERS = {
    "м": "м",
    "муж": "м",
    "мужской": "м",
    "мальчик": "м",
    "m": "м",
    "ж": "ж",
    "жен": "ж",
    "женский": "ж",
    "девочка": "ж",
    "f": "ж",
}


def parse_gender(raw: str) -> str:
    value = _GENDERS.get(raw.strip().lower().rstrip("."))
    if value is None:
        raise CellError("не понятно, укажите «м» или «ж»")
    return value


def parse_phone(raw: str) -> str:
    """A Russian number as +7XXXXXXXXXX; letters, extra digits or two numbers are refused."""
    text = raw.strip()
    if re.search(r"[^\d\s()+\-.]", text) or "+" in text[1:]:
        raise CellError("не похоже на номер телефона")
    digits = re.sub(r"\D", "", text)
    if len(digits) == 11 and digits[0] in "78" and not text.startswith("+8"):
        digits = digits[1:]
    elif len(digits) != 10 or text.startswith("+"):
        raise CellError("нужен номер из 11 цифр, например +7 917 123-45-67")
    if digits[0] in "012":
        raise CellError("такого кода в России нет")
    return "+7" + digits


_EMAIL = re.compile(r"^[^\s@,;<>()\[\]\"]+@([^\s@,;<>()\[\]\".]+\.)+[^\s@,;<>()\[\]\".]{2,}$")


def parse_email(raw: str) -> str:
    text = raw.strip()
    if not _EMAIL.match(text) or ".." in text or text.startswith("."):
        raise CellError("не похоже на адрес электронной почты")
    local, domain = text.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def parse_name_part(raw: str) -> str:
    """One part of a name: letters, hyphens, apostrophes and spaces; spaces collapsed."""
    text = " ".join(raw.split())
    if re.search(r"\d", text):
        raise CellError("содержит цифры")
    if re.search(r"[^\w\s\-'’]", text) or "_" in text or not re.search(r"[^\W\d_]", text):
        raise CellError("содержит недопустимые символы")
    return text


def parse_full_name(raw: str) -> tuple[str, str, str]:
    """«Фамилия Имя Отчество» in one cell → (last, first, middle); «оглы» stays in middle."""
    text = " ".join(raw.split())
    if re.search(r"\b[^\W\d_]\.", text):
        raise CellError("нужны полные имя и отчество, а не инициалы")
    words = parse_name_part(text).split(" ")
    if len(words) < 2:
        raise CellError("нужны фамилия и имя (и отчество, если есть)")
    return words[0], words[1], " ".join(words[2:])


RELATIONS = {
    "мать": "мать",
    "мама": "мать",
    "отец": "отец",
    "папа": "отец",
    "опекун": "опекун",
    "опекунша": "опекун",
    "попечитель": "попечитель",
    "приемная мать": "приёмная мать",
    "приемный отец": "приёмный отец",
    "мачеха": "мачеха",
    "отчим": "отчим",
    "бабушка": "бабушка",
    "дедушка": "дедушка",
    "тетя": "тётя",
    "дядя": "дядя",
    "брат": "брат",
    "сестра": "сестра",
    "законный представитель": "законный представитель",
    "иной законный представитель": "законный представитель",
}


def parse_relation(raw: str) -> str:
    value = RELATIONS.get(normalize_header(raw))
    if value is None:
        raise CellError("не понятно, укажите: мать, отец, опекун, попечитель, бабушка, дедушка…")
    return value


# --- columns and the header row ----------------------------------------------------------


def normalize_header(text: str) -> str:
    """Case, ё, punctuation, «(подсказки)» and spacing do not matter in a header."""
    text = re.sub(r"\([^)]*\)", " ", text.lower().replace("ё", "е"))
    text = re.sub(r"[^\w]+|_", " ", text)
    text = re.sub(r"(?<=[^\W\d])(?=\d)|(?<=\d)(?=[^\W\d])", " ", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class Column:
    """One column a file may have: its synonyms, whether it must be there, its parser.

    ``missing`` is the row message when a needed cell is empty; ``replaces`` names
    required columns this one stands in for (one «ФИО» instead of «Фамилия» + «Имя»);
    ``defaults`` are values for other fields when this column is used (a «Телефон
    матери» column says who the parent is).
    """

    key: str
    headers: tuple[str, ...]
    label: str
    parser: Callable[[str], Any] = parse_name_part
    required: bool = False
    missing: str = ""
    replaces: tuple[str, ...] = ()
    defaults: tuple[tuple[str, str], ...] = ()

    @property
    def title(self) -> str:
        return self.headers[0]


@dataclass
class Layout:
    """Where the header is and which column of the file feeds which field."""

    header_index: int  # 0-based position of the header row in the table
    columns: dict[str, tuple[int, Column]]
    defaults: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class LayoutError(ValueError):
    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


def _synonym_index(columns: Sequence[Column]) -> dict[str, Column]:
    index: dict[str, Column] = {}
    for column in columns:
        for header in column.headers:
            key = normalize_header(header)
            if key in index and index[key] is not column:
                raise ValueError(f"header {header!r} declared twice")
            index[key] = column
    return index


def find_layout(rows: Sequence[Sequence[str]], columns: Sequence[Column]) -> Layout:
    """Pick the header row among the first rows by its words; check required columns."""
    index = _synonym_index(columns)
    best, best_score = -1, 0
    for i, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        names = {normalize_header(cell) for cell in row}
        score = sum(1 for name in names if name and name in index)
        if score > best_score:
            best, best_score = i, score
    required = [c for c in columns if c.required]
    if best_score < 2:
        wanted = ", ".join(f"«{c.title}»" for c in required)
        raise LayoutError(
            [
                f"Не найдена строка заголовков: в первых {HEADER_SEARCH_ROWS} строках "
                f"нет столбцов {wanted}. Скачайте шаблон и заполните его."
            ]
        )
    layout = Layout(header_index=best, columns={})
    errors = []
    for position, cell in enumerate(rows[best]):
        name = normalize_header(cell)
        if not name:
            continue
        column = index.get(name)
        if column is None:
            layout.unknown.append(cell.strip())
            continue
        if column.key in layout.columns:
            first = rows[best][layout.columns[column.key][0]].strip()
            errors.append(
                f"Столбцы «{first}» и «{cell.strip()}» означают одно и то же — оставьте один."
            )
            continue
        layout.columns[column.key] = (position, column)
        layout.defaults.update(column.defaults)
    present = set(layout.columns)
    for column in columns:
        if column.key in present and any(k in present for k in column.replaces):
            del layout.columns[column.key]
            present.discard(column.key)
            layout.notes.append(
                f"Столбец «{column.title}» пропущен: есть отдельные столбцы "
                + ", ".join(
                    f"«{c.title}»" for _, c in layout.columns.values() if c.key in column.replaces
                )
                + "."
            )
    covered = present | {k for c in columns if c.key in present for k in c.replaces}
    for column in required:
        if column.key not in covered:
            errors.append(f"В файле нет обязательного столбца «{column.title}».")
    if errors:
        raise LayoutError(errors)
    return layout


def read_record(layout: Layout, cells: Sequence[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse one row: values by key (None when empty) and problems in Russian by key."""
    values: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for key, (position, column) in layout.columns.items():
        raw = cells[position].strip() if position < len(cells) else ""
        values[key] = None
        if raw:
            try:
                values[key] = column.parser(raw)
            except CellError as exc:
                problems[key] = f"{column.label} «{raw}» — {exc}"
    return values, problems


# --- the class list (§5.2, §7.3) ---------------------------------------------------------


def _parent_headers(who: Sequence[str], whose: Sequence[str], fields: Sequence[str]) -> list[str]:
    """«Родитель 1 телефон», «телефон родителя 1», «телефон родитель 1» and so on."""
    out = []
    for f in fields:
        for w in who:
            out += [f"{w} {f}".strip(), f"{f} {w}".strip()]
        out += [f"{f} {w}" for w in whose]
    return list(dict.fromkeys(out))


_NAME = ("фио", "ф и о", "")
_RELATION = ("кем приходится", "степень родства", "родство")
_PHONE = ("телефон", "тел", "мобильный телефон", "номер телефона", "контактный телефон")
_EMAIL_F = ("e-mail", "email", "эл почта", "электронная почта", "почта", "эл адрес")


def _parent_columns(number: int) -> list[Column]:
    who = [f"родитель {number}", f"законный представитель {number}"]
    whose = [f"родителя {number}", f"законного представителя {number}"]
    if number == 1:
        who += ["родитель", "законный представитель"]
        whose += ["родителя", "законного представителя"]
    kin, kin_whose = (("мать", "мама"), ("матери", "мамы"))
    if number == 2:
        kin, kin_whose = (("отец", "папа"), ("отца", "папы"))
    kin_label = kin_whose[0]
    p = f"parent{number}"
    relation = ((f"{p}.relation", kin[0]),)
    return [
        Column(
            f"{p}.name",
            tuple(_parent_headers(who, whose, _NAME)),
            f"ФИО родителя {number}",
            parse_full_name,
        ),
        Column(
            f"{p}.relation",
            tuple(_parent_headers(who, whose, _RELATION)),
            f"кем приходится родитель {number}",
            parse_relation,
        ),
        Column(
            f"{p}.phone",
            tuple(_parent_headers(who, whose, _PHONE)),
            f"телефон родителя {number}",
            parse_phone,
        ),
        Column(
            f"{p}.email",
            tuple(_parent_headers(who, whose, _EMAIL_F)),
            f"e-mail родителя {number}",
            parse_email,
        ),
        # «ФИО матери», «Телефон отца»: the same slot, and the header says who it is.
        Column(
            f"{p}.name",
            tuple(_parent_headers(kin, kin_whose, _NAME)),
            f"ФИО {kin_label}",
            parse_full_name,
            defaults=relation,
        ),
        Column(
            f"{p}.phone",
            tuple(_parent_headers(kin, kin_whose, _PHONE)),
            f"телефон {kin_label}",
            parse_phone,
            defaults=relation,
        ),
        Column(
            f"{p}.email",
            tuple(_parent_headers(kin, kin_whose, _EMAIL_F)),
            f"e-mail {kin_label}",
            parse_email,
            defaults=relation,
        ),
    ]


CLASS_LIST_COLUMNS: list[Column] = [
    Column("row_number", ("№ п/п", "номер", "n", "нп"), "номер", str),
    Column(
        "last_name",
        ("Фамилия", "фамилия ученика", "фамилия обучающегося"),
        "фамилия",
        required=True,
        missing="не указана фамилия",
    ),
    Column(
        "first_name",
        ("Имя", "имя ученика", "имя обучающегося"),
        "имя",
        required=True,
        missing="не указано имя",
    ),
    Column(
        "middle_name",
        ("Отчество", "отчество ученика", "отчество обучающегося"),
        "отчество",
    ),
    Column(
        "full_name",
        ("ФИО ученика", "фио", "ф и о", "фио обучающегося", "ученик", "обучающийся"),
        "ФИО ученика",
        parse_full_name,
        replaces=("last_name", "first_name", "middle_name"),
    ),
    Column(
        "birth_date",
        ("Дата рождения", "дата рожд", "д р", "др", "день рождения"),
        "дата рождения",
        parse_date,
        required=True,
        missing="не указана дата рождения",
    ),
    Column("gender", ("Пол",), "пол", parse_gender),
    *_parent_columns(1),
    *_parent_columns(2),
]

TEMPLATE_HEADERS: list[str] = [
    "Фамилия",
    "Имя",
    "Отчество",
    "Дата рождения",
    "Пол",
    *(f"Родитель {n} {f}" for n in (1, 2) for f in ("ФИО", "кем приходится", "телефон", "e-mail")),
]
