"""Subjects and the curriculum (учебный план): what is taught and how many hours.

The curriculum gives hours a week and a year per grade and subject (§7.4: the КТП's
total must equal the annual hours; §7.5: the timetable is checked against the weekly
hours). `CurriculumLine.hours_week` is a whole number, so a half-hour subject
(0,5 h a week = 17 h a year) keeps its truth in `hours_year`; `weekly_hours` gives
the real figure back (Decimal 0.5) and the editor shows it as «0,5».
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .db import Recorder, snapshot, write
from .imports_columns import CellError
from .models import (
    AcademicYear,
    CurriculumLine,
    SchoolClass,
    Subject,
    SubjectGroup,
)
from .numbers import is_number
from .years import PlanningError, ensure_editable

GRADES = tuple(range(1, 12))
WEEKS_A_YEAR = 34  # school weeks in grades 2–11
WEEKS_GRADE_1 = 33  # and in grade 1
MAX_WEEK = Decimal(15)  # more than this a week in one subject is a typo (or annual hours)
MAX_YEAR = 600
# The largest weekly load allowed for a five-day week (СанПиН 1.2.3685-21, table 6.6).
MAX_WEEKLY_LOAD = {1: 21, 2: 23, 3: 23, 4: 23, 5: 29, 6: 30, 7: 32, 8: 33, 9: 33, 10: 34, 11: 34}
SCALE_LABELS = {
    "five": "отметки 2–5",
    "pass_fail": "зачёт / незачёт",
    "none": "без отметок",
}


class CurriculumErrors(PlanningError):
    """Several problems at once (one per grid cell or file row), all in Russian."""

    def __init__(self, messages: list[str]):
        super().__init__(" ".join(messages))
        self.messages = messages


def weeks_in_year(grade: int) -> int:
    return WEEKS_GRADE_1 if grade == 1 else WEEKS_A_YEAR


def half_up(value: Decimal) -> int:
    """4.5 → 5, 16.5 → 17: school arithmetic, not banker's rounding."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_hours(value: Decimal | int | None) -> str:
    """«4,5», «5», "" — as the deputy writes it."""
    if value is None:
        return ""
    value = Decimal(value)
    text = f"{value.normalize():f}" if value != value.to_integral() else str(int(value))
    return text.replace(".", ",")


def reference_date(year: AcademicYear, today: dt.date | None = None) -> dt.date:
    """The day a planning page means by «now»: today inside the year, else its nearer end."""
    today = today or dt.date.today()
    return min(max(today, year.starts), year.ends)


# --- subjects -------------------------------------------------------------------------


def subjects() -> list[Subject]:
    return list(Subject.select().order_by(Subject.sort_order, Subject.name))


def name_key(text: str) -> str:
    """A subject name as people compare it: case, ё, spaces and footnote stars ignored."""
    text = text.replace("*", " ").casefold().replace("ё", "е")
    return " ".join(text.split()).strip(" .,;:")


def _clean_subject(data: Mapping, subject: Subject | None) -> dict:
    name = " ".join((data.get("name") or "").split())
    if not name:
        raise PlanningError("Укажите название предмета.")
    if len(name) > 150:
        raise PlanningError("Название предмета слишком длинное (не больше 150 символов).")
    short = " ".join((data.get("short_name") or "").split())
    if len(short) > 30:
        raise PlanningError("Сокращение слишком длинное (не больше 30 символов).")
    scale = data.get("scale") or "five"
    if scale not in Subject.SCALES:
        raise PlanningError("Выберите, как оценивается предмет.")
    order = (data.get("sort_order") or "100").strip()
    if not is_number(order, 4):
        raise PlanningError("Порядок в списке — целое число от 0 до 9999.")
    twin = next(
        (s for s in Subject.select() if name_key(s.name) == name_key(name)),
        None,
    )
    if twin is not None and (subject is None or twin.id != subject.id):
        raise PlanningError(f"Предмет «{twin.name}» уже есть.")
    return {
        "name": name,
        "short_name": short,
        "scale": scale,
        "is_foreign_language": bool(data.get("is_foreign_language")),
        "sort_order": int(order),
    }


def insert_subject(rec: Recorder, cleaned: dict) -> Subject:
    """Inside a write: a new subject, audited (the import creates them this way too)."""
    subject = Subject.create(**cleaned)
    rec.record("subject.create", subject, sync=True)
    return subject


def save_subject(data: Mapping, *, user, ip: str, subject: Subject | None = None) -> Subject:
    """Add a subject, or change one (name, short name, scale, foreign language, order)."""
    cleaned = _clean_subject(data, subject)
    with write(user=user, ip=ip) as rec:
        if subject is None:
            return insert_subject(rec, cleaned)
        before = snapshot(subject)
        for key, value in cleaned.items():
            setattr(subject, key, value)
        subject.save()
        rec.record("subject.update", subject, before=before, sync=True)
    return subject


def delete_subject(subject: Subject, *, user, ip: str) -> None:
    """Remove a subject nobody studies: one with groups keeps its journal history."""
    groups = SubjectGroup.select().where(SubjectGroup.subject == subject).count()
    if groups:
        raise PlanningError(
            f"Предмет «{subject.name}» удалить нельзя: по нему есть группы ({groups}) "
            "с журналом. Можно просто не включать его в учебный план."
        )
    with write(user=user, ip=ip) as rec:
        before = snapshot(subject)
        for line in CurriculumLine.select().where(CurriculumLine.subject == subject):
            _delete_line(rec, line)
        subject.delete_instance()
        rec.record("subject.delete", subject, before=before, sync=True, op="delete")


# --- hours ----------------------------------------------------------------------------

_EMPTY = {"", "-", "–", "—", "0"}


def _number(raw: str) -> Decimal:
    text = raw.strip().replace(",", ".").replace(" ", "")
    if not re.fullmatch(r"\d{1,4}(\.\d{1,3})?|\.\d{1,3}", text):
        raise CellError("не число")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise CellError("не число") from None


def parse_week(raw: str) -> Decimal | None:
    """Hours a week: «5», «4,5», «0.5»; empty, «-» or 0 for none. Halves only."""
    text = raw.strip().rstrip("*").removesuffix("ч.").removesuffix("ч").strip()
    if text in _EMPTY:
        return None
    value = sum((_number(part) for part in text.split("+")), Decimal(0))
    if value * 2 != (value * 2).to_integral():
        raise CellError("часы в неделю — целое число или с половиной: 1; 1,5; 0,5")
    return value or None


def parse_year(raw: str) -> int | None:
    """Hours a year: a whole number; empty, «-» or 0 for none."""
    text = raw.strip().rstrip("*").removesuffix("ч.").removesuffix("ч").strip()
    if text in _EMPTY:
        return None
    value = _number(text)
    if value != value.to_integral():
        raise CellError("часы в год — целое число")
    return int(value) or None


def resolve_hours(grade: int, week: Decimal | None, year: int | None) -> tuple[int, int] | None:
    """(hours_week, hours_year) to store, or None for «not taught».

    An empty year means week × 34 (× 33 in grade 1); a year alone (a half-hour or
    short course) gives the week it rounds to. Raises CellError on nonsense.
    """
    if week is None and year is None:
        return None
    if week is not None and week > MAX_WEEK:
        raise CellError(
            f"{format_hours(week)} ч в неделю — слишком много; часы в год пишите отдельно "
            "или через дробь: «5/170»"
        )
    if year is not None and year > MAX_YEAR:
        raise CellError(f"{year} ч в год — слишком много")
    weeks = weeks_in_year(grade)
    if year is None:
        year = half_up(week * weeks)
    if week is None:
        week = Decimal(year) / weeks
    return half_up(week), year


def true_week(grade: int, hours_week: int, hours_year: int) -> Decimal:
    """The real hours a week: 0.5 for a 17-hour subject, else the stored whole number."""
    weeks = weeks_in_year(grade)
    halves = half_up(Decimal(hours_year) * 2 / weeks)
    candidate = Decimal(halves) / 2
    if (
        halves % 2 == 1
        and half_up(candidate * weeks) == hours_year
        and half_up(candidate) == hours_week
    ):
        return candidate
    return Decimal(hours_week)


def _line(year: AcademicYear | int, grade: int, subject: Subject | int) -> CurriculumLine | None:
    return CurriculumLine.get_or_none(
        (CurriculumLine.year == year)
        & (CurriculumLine.grade == grade)
        & (CurriculumLine.subject == subject)
    )


def annual_hours(year: AcademicYear | int, grade: int, subject: Subject | int) -> int | None:
    """Hours a year for a grade and subject (what the КТП must add up to, §7.4)."""
    line = _line(year, grade, subject)
    return line.hours_year if line else None


def weekly_hours(year: AcademicYear | int, grade: int, subject: Subject | int) -> Decimal | None:
    """Hours a week (Decimal: 0.5 for a half-hour subject) for the timetable check (§7.5)."""
    line = _line(year, grade, subject)
    return true_week(grade, line.hours_week, line.hours_year) if line else None


# --- the grid: subjects × grades --------------------------------------------------------


@dataclass
class Cell:
    line: CurriculumLine | None
    week: str = ""  # as shown: «4,5»
    year: str = ""  # shown only when it is not week × weeks
    default_year: int | None = None  # the placeholder: week × weeks

    @property
    def hours_year(self) -> int | None:
        return self.line.hours_year if self.line else None


@dataclass
class GridRow:
    subject: Subject
    cells: dict[int, Cell]


@dataclass
class CurriculumGrid:
    year: AcademicYear
    grades: list[int]
    rows: list[GridRow]
    week_totals: dict[int, Decimal] = field(default_factory=dict)
    year_totals: dict[int, int] = field(default_factory=dict)

    def overloaded(self, grade: int) -> bool:
        return self.week_totals.get(grade, 0) > MAX_WEEKLY_LOAD[grade]


def year_grades(year: AcademicYear) -> list[int]:
    """Grades the grid shows: those with open classes or curriculum lines (else all)."""
    found = {
        c.grade
        for c in SchoolClass.select(SchoolClass.grade).where(
            (SchoolClass.year == year) & ~SchoolClass.closed
        )
    }
    found |= {
        line.grade
        for line in CurriculumLine.select(CurriculumLine.grade)
        .where(CurriculumLine.year == year)
        .distinct()
    }
    return sorted(found) or list(GRADES)


def lines_of(year: AcademicYear, grades: Iterable[int] | None = None) -> list[CurriculumLine]:
    query = CurriculumLine.select().where(CurriculumLine.year == year)
    if grades is not None:
        query = query.where(CurriculumLine.grade.in_(list(grades)))
    return list(query)


def cell_of(line: CurriculumLine) -> Cell:
    week = true_week(line.grade, line.hours_week, line.hours_year)
    default = half_up(week * weeks_in_year(line.grade))
    return Cell(
        line,
        format_hours(week) if line.hours_week or week else "",
        "" if default == line.hours_year and week else str(line.hours_year),
        default,
    )


def curriculum_grid(year: AcademicYear, grades: list[int]) -> CurriculumGrid:
    by_key = {(line.subject_id, line.grade): line for line in lines_of(year, grades)}
    grid = CurriculumGrid(year, grades, [])
    for grade in grades:
        grid.week_totals[grade] = Decimal(0)
        grid.year_totals[grade] = 0
    for subject in subjects():
        cells = {}
        for grade in grades:
            line = by_key.get((subject.id, grade))
            cells[grade] = cell_of(line) if line else Cell(None)
            if line:
                grid.week_totals[grade] += true_week(grade, line.hours_week, line.hours_year)
                grid.year_totals[grade] += line.hours_year
        grid.rows.append(GridRow(subject, cells))
    return grid


def parse_grades(values: Iterable[str]) -> list[int]:
    grades = []
    for value in values:
        if not is_number(value, 2) or int(value) not in GRADES:
            raise PlanningError("Параллели указаны неверно.")
        grades.append(int(value))
    if not grades:
        raise PlanningError("Нет ни одной параллели для сохранения.")
    return sorted(set(grades))


def grade_label(grade: int) -> str:
    return f"{grade} класс"


def save_curriculum(
    year: AcademicYear,
    grades: list[int],
    cells: Mapping[tuple[int, int], tuple[str, str]],
    *,
    user,
    ip: str,
) -> dict[str, int]:
    """Save the whole grid of `grades` at once: (subject id, grade) → (week, year) as typed.

    Every cell is checked first and every problem reported; then one transaction
    creates, changes and removes lines. A grade not in `grades` is not touched.
    """
    ensure_editable(year)
    by_id = {s.id: s for s in subjects()}
    wanted: dict[tuple[int, int], tuple[int, int]] = {}
    errors = []
    for (subject_id, grade), (raw_week, raw_year) in sorted(cells.items()):
        subject = by_id.get(subject_id)
        if subject is None or grade not in grades:
            raise PlanningError("В таблице есть неизвестный предмет или параллель.")
        where = f"{subject.name}, {grade_label(grade)}"
        try:
            week = _parse_part(parse_week, raw_week, "в неделю")
            annual = _parse_part(parse_year, raw_year, "в год")
            hours = resolve_hours(grade, week, annual)
        except CellError as exc:
            errors.append(f"{where}: {exc}.")
            continue
        if hours is not None:
            wanted[(subject_id, grade)] = hours
    if errors:
        raise CurriculumErrors(errors)
    with write(user=user, ip=ip) as rec:
        # A subject added since the page was opened has no cells: its lines stay.
        shown = {subject_id for subject_id, _ in cells}
        return replace_lines(rec, year, grades, wanted, subject_ids=shown)


def _parse_part(parser, raw: str, what: str):
    try:
        return parser(raw or "")
    except CellError as exc:
        raise CellError(f"«{raw.strip()}» {what} — {exc}") from None


def replace_lines(
    rec: Recorder,
    year: AcademicYear,
    grades: Iterable[int],
    wanted: Mapping[tuple[int, int], tuple[int, int]],
    *,
    subject_ids: set[int] | None = None,
) -> dict[str, int]:
    """Inside a write: make the lines of `grades` exactly `wanted`; counts of what changed.

    With `subject_ids`, lines of other subjects are left alone.
    """
    counts = {"created": 0, "changed": 0, "removed": 0}
    existing = {
        (line.subject_id, line.grade): line
        for line in lines_of(year, grades)
        if subject_ids is None or line.subject_id in subject_ids
    }
    for key, (hours_week, hours_year) in wanted.items():
        line = existing.pop(key, None)
        if line is None:
            line = CurriculumLine.create(
                year=year,
                subject=key[0],
                grade=key[1],
                hours_week=hours_week,
                hours_year=hours_year,
            )
            rec.record("curriculum.create", line, sync=True)
            counts["created"] += 1
        elif (line.hours_week, line.hours_year) != (hours_week, hours_year):
            before = snapshot(line)
            line.hours_week, line.hours_year = hours_week, hours_year
            line.save()
            rec.record("curriculum.update", line, before=before, sync=True)
            counts["changed"] += 1
    for line in existing.values():
        _delete_line(rec, line)
        counts["removed"] += 1
    return counts


def _delete_line(rec: Recorder, line: CurriculumLine) -> None:
    before = snapshot(line)
    line.delete_instance()
    rec.record("curriculum.delete", line, before=before, sync=True, op="delete")
