"""The timetable as one flat XLSX sheet: export, and import with a per-row preview.

Columns: «Класс», «День», «Урок», «Предмет», «Подгруппа», «Учитель», «Кабинет»,
«Действует с». The importer finds the header by its words (`imports_columns`),
accepts days as «Пн», «Понедельник» or «1» and teachers as a full name or a surname
with initials, and explains every row it cannot use in Russian. Applying replaces
the entries in force from a date, in one transaction: entries that began earlier
end the day before (their past lessons keep them), later ones are removed.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field

from ..db import Recorder, snapshot, write
from ..imports_columns import (
    CellError,
    Column,
    LayoutError,
    find_layout,
    parse_date,
    read_record,
)
from ..models import (
    AcademicYear,
    Person,
    Room,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupTeacher,
    TimetableChange,
    TimetableEntry,
    User,
)
from ..years import PlanningError, ensure_editable
from .entries import MAX_NUMBER, WEEKDAYS, load_entries

HEADERS = ["Класс", "День", "Урок", "Предмет", "Подгруппа", "Учитель", "Кабинет", "Действует с"]
# A 120-class school has about 4 000 lines in a week; the class-list limit is far lower.
MAX_IMPORT_ROWS = 10_000
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# --- export ---------------------------------------------------------------------------------


def export_xlsx(year: AcademicYear, day: dt.date) -> bytes:
    """The timetable valid on ``day`` as one sheet, class by class, day by day."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    entries = sorted(
        load_entries(year, start=day, end=day),
        key=lambda e: (e.grade, e.class_name, e.weekday, e.number, e.subject, e.subgroup or 0),
    )
    names = _full_names({e.teacher_ids[0] for e in entries if e.teacher_ids})
    book = Workbook()
    sheet = book.active
    sheet.title = "Расписание"
    sheet.append(HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for e in entries:
        sheet.append(
            [
                e.class_name,
                WEEKDAYS[e.weekday],
                e.number,
                e.subject,
                e.subgroup,
                names.get(e.teacher_ids[0], "") if e.teacher_ids else "",
                e.room or None,
                e.valid_from,
            ]
        )
        sheet.cell(sheet.max_row, 8).number_format = "DD.MM.YYYY"
    for letter, width in zip("ABCDEFGH", (8, 14, 7, 28, 11, 34, 10, 13), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _full_names(ids: set[int]) -> dict[int, str]:
    return {p.id: p.full_name for p in Person.select().where(Person.id.in_(list(ids) or [0]))}


# --- cell parsers ---------------------------------------------------------------------------

_LATIN = str.maketrans("ABEKMHOPCTXY", "АВЕКМНОРСТХУ")
_DAYS = {
    **{name.lower(): n for n, name in WEEKDAYS.items()},
    **{short: n for short, n in (("пн", 1), ("вт", 2), ("ср", 3), ("чт", 4), ("пт", 5), ("сб", 6))},
    **{str(n): n for n in WEEKDAYS},
}


def parse_class_name(raw: str) -> str:
    """«5 а», «5-А», «5A» (latin) → «5А»."""
    text = re.sub(r"[\s\-«»\"']", "", raw).upper().translate(_LATIN)
    if not re.fullmatch(r"(1[01]|[1-9])[А-Я]", text):
        raise CellError("нужен класс вида «5А»")
    return text


def parse_weekday(raw: str) -> int:
    day = _DAYS.get(raw.strip().lower().rstrip("."))
    if day is None:
        raise CellError("нужен день недели: Пн, Понедельник или 1")
    return day


def parse_number(raw: str) -> int:
    text = raw.strip().rstrip(".")
    text = re.sub(r"\s*-?\s*(й|ый|ой|ий)?\s*(урок)?$", "", text)
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_NUMBER:
        raise CellError(f"нужен номер урока от 1 до {MAX_NUMBER}")
    return int(text)


def parse_subgroup(raw: str) -> int | None:
    """«1», «1 подгр.», «2 группа»; «весь класс», «-» and «0» mean no subgroup."""
    text = raw.strip().lower()
    if text in ("", "-", "—", "0", "весь класс", "класс", "нет"):
        return None
    match = re.fullmatch(r"(\d{1,2})\s*(-?я)?\s*(подгр\w*\.?|гр\w*\.?|п/г)?", text)
    if match is None:
        raise CellError("нужен номер подгруппы: 1, 2 …")
    return int(match.group(1))


def _text(raw: str) -> str:
    return " ".join(raw.split())


COLUMNS: list[Column] = [
    Column("class_name", ("Класс",), "класс", parse_class_name, True, "не указан класс"),
    Column(
        "weekday",
        ("День", "День недели"),
        "день",
        parse_weekday,
        True,
        "не указан день недели",
    ),
    Column(
        "number",
        ("Урок", "№ урока", "Номер урока", "Урок №"),
        "урок",
        parse_number,
        True,
        "не указан номер урока",
    ),
    Column("subject", ("Предмет", "Дисциплина"), "предмет", _text, True, "не указан предмет"),
    Column("subgroup", ("Подгруппа", "Подгр", "Группа"), "подгруппа", parse_subgroup),
    Column("teacher", ("Учитель", "Преподаватель", "ФИО учителя"), "учитель", _text),
    Column("room", ("Кабинет", "Каб", "Аудитория", "Кабинет №"), "кабинет", _text),
    Column(
        "valid_from",
        ("Действует с", "Дата начала", "С даты", "Начало"),
        "дата «действует с»",
        parse_date,
    ),
]


# --- preview --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRow:
    line: int
    group: SubjectGroup
    weekday: int
    number: int
    room: Room | None
    valid_from: dt.date

    @property
    def label(self) -> str:
        g = self.group
        sub = f", {g.subgroup} подгр." if g.subgroup else ""
        return f"{g.school_class.name} {g.subject.name}{sub}"


@dataclass
class ImportPreview:
    year: AcademicYear
    effective: dt.date
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    to_close: int = 0  # entries that began before the date and end the day before
    to_delete: int = 0  # entries from the date on, replaced

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not self.errors

    @property
    def classes(self) -> int:
        return len({r.group.school_class_id for r in self.rows})


class _Catalogue:
    """The year's classes, subjects, groups, rooms and teachers, read once per preview."""

    def __init__(self, year: AcademicYear) -> None:
        self.classes = {
            c.name: c
            for c in SchoolClass.select().where((SchoolClass.year == year) & ~SchoolClass.closed)
        }
        self.subjects: dict[str, Subject] = {}
        for subject in Subject.select():
            for name in (subject.name, subject.short_name):
                if name:
                    self.subjects.setdefault(_fold(name), subject)
        self.groups: dict[tuple[int, int], list[SubjectGroup]] = defaultdict(list)
        for group in (
            SubjectGroup.select(SubjectGroup, SchoolClass, Subject)
            .join(SchoolClass)
            .switch(SubjectGroup)
            .join(Subject)
            .where(SubjectGroup.year == year)
        ):
            self.groups[(group.school_class_id, group.subject_id)].append(group)
        self.rooms = {_fold(r.name): r for r in Room.select()}
        self.teachers: dict[int, list[Person]] = defaultdict(list)
        for link in (
            SubjectGroupTeacher.select(SubjectGroupTeacher, Person)
            .join(Person)
            .switch(SubjectGroupTeacher)
            .join(SubjectGroup)
            .where(SubjectGroup.year == year)
        ):
            self.teachers[link.group_id].append(link.teacher)


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold().replace("ё", "е")


def _teacher_matches(written: str, person: Person) -> bool:
    """«Смирнова Елена Викторовна», «Смирнова Е.В.», «Е. В. Смирнова» or «Смирнова»."""
    words = _fold(written).replace(".", " ").split()
    if len(words) > 1 and words[-1] == _fold(person.last_name) and len(words[0]) == 1:
        words = words[-1:] + words[:-1]  # initials first
    if not words or words[0] != _fold(person.last_name):
        return False
    given = [_fold(p) for p in (person.first_name, person.middle_name) if p]
    rest = words[1:]
    if not rest:
        return True
    if len(rest) > len(given):
        return False
    return all(
        w == g or (len(w) == 1 and g.startswith(w))
        for w, g in zip(rest, given[: len(rest)], strict=True)
    )


def earliest_effective(year: AcademicYear, today: dt.date | None = None) -> dt.date:
    """The first date a new timetable may take effect: the year's start, once it began tomorrow.

    From an earlier date an import would remove entries lessons were already held by.
    """
    today = today or dt.date.today()
    return today + dt.timedelta(days=1) if today >= year.starts else year.starts


def preview_import(
    year: AcademicYear,
    table: list[list[str]],
    effective: dt.date,
    *,
    today: dt.date | None = None,
) -> ImportPreview:
    """Read the rows of an uploaded timetable and say, row by row, what is wrong."""
    preview = ImportPreview(year, effective)
    earliest = earliest_effective(year, today)
    if not year.starts <= effective <= year.ends:
        preview.errors.append(
            f"Дата, с которой действует расписание, — в пределах {year.name} учебного года."
        )
        return preview
    if effective < earliest:
        preview.errors.append(
            f"Новое расписание может действовать не раньше {earliest:%d.%m.%Y}: "
            "прошедшие и сегодняшние уроки остаются по прежнему расписанию."
        )
        return preview
    try:
        layout = find_layout(table, COLUMNS)
    except LayoutError as exc:
        preview.errors.extend(exc.messages)
        return preview
    catalogue = _Catalogue(year)
    seen: dict[tuple[int, int, int], int] = {}
    for offset, cells in enumerate(table[layout.header_index + 1 :]):
        line = layout.header_index + offset + 2
        if not any(cells):
            continue
        values, problems = read_record(layout, cells)
        for key, (_, column) in layout.columns.items():
            if column.required and values.get(key) is None and key not in problems:
                problems[key] = column.missing
        row = None if problems else _resolve(catalogue, values, line, problems, preview)
        if row is not None:
            key = (row.group.id, row.weekday, row.number)
            if key in seen:
                problems["dup"] = f"повторяет строку {seen[key]}"
            else:
                seen[key] = line
                preview.rows.append(row)
        if problems:
            preview.errors.append(f"Строка {line}: " + "; ".join(problems.values()) + ".")
    if not preview.rows and not preview.errors:
        preview.errors.append("В файле нет ни одной строки расписания.")
    preview.to_close, preview.to_delete = _replaced(year, effective)
    return preview


def _resolve(catalogue: _Catalogue, values, line: int, problems, preview) -> ImportRow | None:
    """One row's class, subject, group, teacher and room; problems in Russian."""
    class_name = values["class_name"]
    school_class = catalogue.classes.get(class_name)
    if school_class is None:
        problems["class_name"] = f"класса {class_name} в {preview.year.name} учебном году нет"
        return None
    subject = catalogue.subjects.get(_fold(values["subject"]))
    if subject is None:
        problems["subject"] = f"предмета «{values['subject']}» нет в справочнике"
        return None
    groups = catalogue.groups.get((school_class.id, subject.id), [])
    subgroup = values.get("subgroup")
    group = next((g for g in groups if g.subgroup == subgroup), None)
    if group is None:
        problems["group"] = _group_problem(class_name, subject, subgroup, groups)
        return None
    teacher = values.get("teacher")
    teachers = catalogue.teachers.get(group.id, [])
    if teacher and not any(_teacher_matches(teacher, p) for p in teachers):
        who = ", ".join(p.short_name for p in teachers) or "никто не назначен"
        problems["teacher"] = (
            f"учитель «{teacher}» не ведёт {group_name(group)} в {class_name} (ведёт: {who})"
        )
    room = None
    if values.get("room"):
        room = catalogue.rooms.get(_fold(values["room"]))
        if room is None:
            problems["room"] = (
                f"кабинета «{values['room']}» нет в списке кабинетов — добавьте его или исправьте"
            )
    effective = preview.effective
    since = values.get("valid_from") or effective
    if not since <= preview.year.ends:
        problems["valid_from"] = f"дата «действует с» {since:%d.%m.%Y} — после конца учебного года"
    if problems:
        return None
    if since < effective:
        since = effective
    return ImportRow(line, group, values["weekday"], values["number"], room, since)


def group_name(group: SubjectGroup) -> str:
    return group.subject.name + (f", {group.subgroup} подгр." if group.subgroup else "")


def _group_problem(class_name: str, subject: Subject, subgroup, groups) -> str:
    if not groups:
        return f"у {class_name} нет группы по предмету «{subject.name}»"
    if subgroup is None:
        numbers = ", ".join(str(g.subgroup) for g in groups if g.subgroup)
        return f"в {class_name} «{subject.name}» идёт по подгруппам ({numbers}) — укажите подгруппу"
    return f"у {class_name} по предмету «{subject.name}» нет {subgroup}-й подгруппы"


def _replaced(year: AcademicYear, effective: dt.date) -> tuple[int, int]:
    """How many entries in force from ``effective`` would end the day before / be removed."""
    close = delete = 0
    for entry in load_entries(year, start=effective):
        if entry.valid_from < effective:
            close += 1
        else:
            delete += 1
    return close, delete


# --- applying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    created: int
    closed: int
    deleted: int
    changes_moved: int  # one-off changes carried over to the new entries
    changes_dropped: int  # one-off changes of lessons the new timetable no longer has

    @property
    def summary(self) -> str:
        return (
            f"Загружено записей расписания: {self.created}. Прежних закрыто: {self.closed}, "
            f"удалено: {self.deleted}."
            + (
                f" Разовых изменений перенесено: {self.changes_moved}."
                if self.changes_moved
                else ""
            )
            + (
                f" Удалено разовых изменений уроков, которых больше нет: {self.changes_dropped}."
                if self.changes_dropped
                else ""
            )
        )


def apply_import(
    preview: ImportPreview, *, user: User | None, ip: str = "", today: dt.date | None = None
) -> ImportResult:
    """Replace the timetable from ``preview.effective`` on with the previewed rows (atomic)."""
    if not preview.ok:
        raise PlanningError("В файле есть ошибки: исправьте их и загрузите файл снова.")
    year, day = preview.year, preview.effective
    ensure_editable(year)
    earliest = earliest_effective(year, today)
    if day < earliest:  # the preview may be from yesterday
        raise PlanningError(f"Новое расписание может действовать не раньше {earliest:%d.%m.%Y}.")
    with write(user=user, ip=ip) as rec:
        old = list(
            TimetableEntry.select()
            .join(SubjectGroup)
            .where(
                (SubjectGroup.year == year)
                & (TimetableEntry.valid_to.is_null() | (TimetableEntry.valid_to >= day))
            )
        )
        new: dict[tuple[int, int, int], TimetableEntry] = {}
        for row in preview.rows:
            entry = TimetableEntry.create(
                group=row.group,
                weekday=row.weekday,
                number=row.number,
                room=row.room,
                valid_from=row.valid_from,
            )
            rec.record("timetable.entry.create", entry, op="create")
            new[(row.group.id, row.weekday, row.number)] = entry
        moved, dropped = _carry_changes(old, new, day, rec)
        closed = deleted = 0
        for entry in old:
            before = snapshot(entry)
            if entry.valid_from < day:
                entry.valid_to = day - dt.timedelta(days=1)
                entry.save()
                rec.record("timetable.entry.close", entry, before=before, op="update")
                closed += 1
            else:
                entry.delete_instance()
                rec.record("timetable.entry.delete", entry, before=before, op="delete")
                deleted += 1
        result = ImportResult(len(new), closed, deleted, moved, dropped)
        rec.record("timetable.import", year, after={**result.__dict__, "from": day.isoformat()})
    return result


def _carry_changes(old, new, day: dt.date, rec: Recorder) -> tuple[int, int]:
    """One-off changes from ``day`` on follow their meeting to the new entry, or go."""
    ids = [e.id for e in old]
    moved = dropped = 0
    by_id = {e.id: e for e in old}
    for chunk in range(0, len(ids), 500):
        query = TimetableChange.select().where(
            TimetableChange.entry.in_(ids[chunk : chunk + 500]) & (TimetableChange.date >= day)
        )
        for change in query:
            entry = by_id[change.entry_id]
            target = new.get((entry.group_id, entry.weekday, entry.number))
            before = snapshot(change)
            if target is not None and target.valid_from <= change.date:
                change.entry = target
                change.save()
                rec.record("timetable.change.update", change, before=before, op="update")
                moved += 1
            else:
                change.delete_instance()
                rec.record("timetable.change.delete", change, before=before, op="delete")
                dropped += 1
    return moved, dropped
