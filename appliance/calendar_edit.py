"""The deputy's calendar edits: academic years, terms and deadlines, holidays and transfers.

Every change that moves school days (a term, a holiday, a vacation, a transferred
working day) brings the year's FUTURE lessons in line in the same transaction
(`appliance.lessons.regenerate_lessons`, nested as a savepoint): either the calendar
and its lessons change together or nothing does. Lessons from tomorrow on only; a
lesson that holds data (topic, marks …) is kept and reported, never dropped.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .calendar_template import (
    DayDraft,
    TermDraft,
    public_holidays,
    template_terms,
    template_vacations,
)
from .db import Recorder, snapshot, write
from .lessons import RegenerationReport, regenerate_lessons
from .models import (
    AcademicYear,
    CurriculumLine,
    Lesson,
    NonSchoolDay,
    PeriodMark,
    SchoolClass,
    SubjectGroup,
    Term,
    User,
)
from .years import PlanningError, ensure_editable

GRADES = range(1, 12)
TERM_KINDS = {"quarter": "четверть", "half": "полугодие", "year": "год"}
DAY_KINDS = {"holiday": "праздник", "vacation": "каникулы", "workday": "рабочий день"}
DAY_NOTES = {
    "holiday": "Праздничный день",
    "vacation": "Каникулы",
    "workday": "Перенос рабочего дня",
}
WEEKDAYS = {1: "понедельник", 2: "вторник", 3: "среда", 4: "четверг", 5: "пятница", 6: "суббота"}
MAX_DAYS = 100  # one entry of holidays or vacations: a summer is entered as no term at all
YEAR_NAME = re.compile(r"^\s*([0-9]{4})\s*/\s*([0-9]{4})\s*$")


def ru(day: dt.date) -> str:
    return day.strftime("%d.%m.%Y")


def _bounds(year: AcademicYear) -> str:
    return f"{ru(year.starts)}–{ru(year.ends)}"


@dataclass
class CalendarChange:
    """What one calendar edit did, for the page that reports it."""

    message: str
    lessons: RegenerationReport | None = None  # None: the year has no lessons yet
    warnings: list[str] = field(default_factory=list)


def grades_in_use(year: AcademicYear) -> set[int]:
    """The grades the year has classes or curriculum for (empty: not known yet)."""
    grades = {
        c.grade for c in SchoolClass.select(SchoolClass.grade).where(SchoolClass.year == year)
    }
    grades |= {
        line.grade
        for line in CurriculumLine.select(CurriculumLine.grade).where(CurriculumLine.year == year)
    }
    return {g for g in grades if g in GRADES}


def _regenerate(
    year: AcademicYear, start: dt.date, end: dt.date, user: User | None, ip: str, today
) -> RegenerationReport | None:
    """Future lessons follow the new calendar; None when the year's lessons are not made yet.

    Called inside the edit's own `write()`: the nested write is a savepoint, so a
    failure here rolls the calendar change back too.
    """
    has_lessons = Lesson.select().join(SubjectGroup).where(SubjectGroup.year == year).exists()
    if not has_lessons:
        return None
    start, end = max(start, year.starts), min(end, year.ends)
    return regenerate_lessons(year, start, end, user=user, ip=ip, today=today)


# --- academic years ---------------------------------------------------------------------


def create_year(name: str, *, user: User | None = None, ip: str = "") -> AcademicYear:
    """A new empty academic year «2027/2028», 1 September to 31 August; not current."""
    match = YEAR_NAME.match(name or "")
    if not match:
        raise PlanningError("Укажите учебный год в виде 2027/2028.")
    first, second = int(match.group(1)), int(match.group(2))
    if second != first + 1 or not 2000 <= first <= 2100:
        raise PlanningError("Учебный год — два соседних года: например, 2027/2028.")
    name = f"{first}/{second}"
    with write(user=user, ip=ip) as rec:
        if AcademicYear.select().where(AcademicYear.name == name).exists():
            raise PlanningError(f"Учебный год {name} уже есть.")
        year = AcademicYear.create(
            name=name, starts=dt.date(first, 9, 1), ends=dt.date(second, 8, 31)
        )
        rec.record("year.create", year)
    return year


# --- terms ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TermData:
    """A term as typed into the form (validated by `term_problems`)."""

    kind: str
    number: int | None
    name: str
    starts: dt.date | None
    ends: dt.date | None
    grade_from: int | None
    grade_to: int | None
    mark_deadline: dt.date | None

    @classmethod
    def of(cls, draft: TermDraft) -> TermData:
        return cls(
            draft.kind,
            draft.number,
            draft.name,
            draft.starts,
            draft.ends,
            draft.grade_from,
            draft.grade_to,
            draft.mark_deadline,
        )

    def fields(self) -> dict:
        name = self.name.strip() or default_term_name(self.kind, self.number or 1)
        return {
            "kind": self.kind,
            "number": self.number,
            "name": name,
            "starts": self.starts,
            "ends": self.ends,
            "grade_from": self.grade_from,
            "grade_to": self.grade_to,
            "mark_deadline": self.mark_deadline,
        }


def default_term_name(kind: str, number: int) -> str:
    return "Год" if kind == "year" else f"{number} {TERM_KINDS.get(kind, '')}".strip()


def _overlap(a_from, a_to, b_from, b_to) -> bool:
    return a_from <= b_to and b_from <= a_to


def term_problems(year: AcademicYear, data: TermData, term_id: int | None = None) -> list[str]:
    """Everything wrong with ``data`` as a term of ``year``, in Russian (empty: fine)."""
    problems = []
    if data.kind not in TERM_KINDS:
        problems.append("Выберите вид периода: четверть, полугодие или год.")
    if data.number is None or not 1 <= data.number <= 4:
        problems.append("Номер периода — от 1 до 4.")
    if len(data.name.strip()) > 60:
        problems.append("Название периода — не длиннее 60 знаков.")
    grades_ok = data.grade_from in GRADES and data.grade_to in GRADES
    if not grades_ok or data.grade_from > data.grade_to:
        problems.append("Классы — от 1 до 11, «с» не больше «по».")
        grades_ok = False
    if data.starts is None or data.ends is None:
        problems.append("Укажите даты начала и окончания в виде ДД.ММ.ГГГГ.")
        return problems
    if data.starts > data.ends:
        problems.append("Период начинается позже, чем заканчивается.")
    if data.starts < year.starts or data.ends > year.ends:
        problems.append(f"Период должен лежать внутри учебного года ({_bounds(year)}).")
    if data.mark_deadline is not None and not data.ends <= data.mark_deadline <= year.ends:
        problems.append(
            "Срок выставления отметок — не раньше окончания периода и не позже конца учебного года."
        )
    if problems or not grades_ok:
        return problems
    others = Term.select().where(
        (Term.year == year) & (Term.kind == data.kind) & (Term.id != (term_id or 0))
    )
    for other in others:
        if not _overlap(data.grade_from, data.grade_to, other.grade_from, other.grade_to):
            continue
        if _overlap(data.starts, data.ends, other.starts, other.ends):
            problems.append(
                f"Пересекается с периодом «{other.name}» ({other.grade_from}–{other.grade_to} кл., "
                f"{ru(other.starts)}–{ru(other.ends)})."
            )
        elif other.number == data.number:
            problems.append(
                f"Номер {data.number} уже у периода «{other.name}» для "
                f"{other.grade_from}–{other.grade_to} классов."
            )
    return problems


def _marks_count(term: Term) -> int:
    return PeriodMark.select().where(PeriodMark.term == term).count()


def save_term(
    year: AcademicYear,
    data: TermData,
    term: Term | None = None,
    *,
    user: User | None = None,
    ip: str = "",
    today: dt.date | None = None,
) -> CalendarChange:
    """Add a term (or change ``term``), then bring the year's future lessons in line."""
    with write(user=user, ip=ip) as rec:
        ensure_editable(year)
        problems = term_problems(year, data, term.id if term else None)
        if (
            term is not None
            and _marks_count(term)
            and (
                (term.kind, term.grade_from, term.grade_to)
                != (data.kind, data.grade_from, data.grade_to)
            )
        ):
            problems.append(
                "За этот период уже выставлены отметки: вид периода и классы изменить нельзя, "
                "только даты и срок."
            )
        if problems:
            raise PlanningError(" ".join(problems))
        before = snapshot(term)
        if term is None:
            term = Term.create(year=year, **data.fields())
        else:
            for name, value in data.fields().items():
                setattr(term, name, value)
            term.save()
        rec.record("term.update" if before else "term.create", term, before=before)
        lessons = _regenerate(year, year.starts, year.ends, user, ip, today)
    verb = "изменён" if before else "добавлен"
    return CalendarChange(f"Период «{term.name}» {verb}.", lessons, coverage_warnings(year))


def delete_term(
    term: Term, *, user: User | None = None, ip: str = "", today: dt.date | None = None
) -> CalendarChange:
    """Remove a term that holds no period marks."""
    year = term.year
    with write(user=user, ip=ip) as rec:
        ensure_editable(year)
        marks = _marks_count(term)
        if marks:
            raise PlanningError(
                f"За период «{term.name}» уже выставлено отметок: {marks}. Его нельзя удалить."
            )
        before = snapshot(term)
        term.delete_instance()
        rec.record("term.delete", term, before=before, op="delete")
        lessons = _regenerate(year, year.starts, year.ends, user, ip, today)
    return CalendarChange(f"Период «{term.name}» удалён.", lessons, coverage_warnings(year))


def coverage_warnings(year: AcademicYear) -> list[str]:
    """Grades the school has (all 1–11 when unknown) that no quarter or half-year covers."""
    wanted = grades_in_use(year) or set(GRADES)
    covered: set[int] = set()
    for term in Term.select().where((Term.year == year) & Term.kind.in_(("quarter", "half"))):
        covered.update(range(term.grade_from, term.grade_to + 1))
    missing = sorted(wanted - covered)
    if not missing:
        return []
    return [
        "Нет четвертей или полугодий для классов: "
        + ", ".join(map(str, missing))
        + ". Для них весь учебный год считается одним периодом."
    ]


def write_template(year: AcademicYear, rec: Recorder) -> tuple[int, int]:
    """Store the usual terms and breaks of ``year`` (inside a write); (terms, days) added.

    Shared by the calendar page and the rollover. Refuses a year that has terms.
    """
    if Term.select().where(Term.year == year).exists():
        raise PlanningError(
            "Учебные периоды этого года уже заданы. Изменяйте их по одному или удалите все, "
            "чтобы заполнить по образцу."
        )
    grades = grades_in_use(year)
    terms = template_terms(year.starts.year, grades)
    for draft in terms:
        term = Term.create(year=year, **TermData.of(draft).fields())
        rec.record("term.create", term)
    added = _add_drafts(year, template_vacations(year.starts.year, grades), rec)
    return len(terms), added


def fill_template(
    year: AcademicYear, *, user: User | None = None, ip: str = "", today: dt.date | None = None
) -> CalendarChange:
    """Fill an empty year with the usual quarters, half-years, the year term and breaks."""
    with write(user=user, ip=ip) as rec:
        ensure_editable(year)
        terms, days = write_template(year, rec)
        lessons = _regenerate(year, year.starts, year.ends, user, ip, today)
    return CalendarChange(
        f"Добавлено периодов: {terms}, дней каникул: {days}. Проверьте даты по приказу школы.",
        lessons,
        coverage_warnings(year),
    )


# --- holidays, vacations and transferred working days -----------------------------------


@dataclass(frozen=True)
class DaysData:
    """Days off (or a working day) as typed into the form."""

    kind: str
    first: dt.date | None
    last: dt.date | None
    grade_from: int | None
    grade_to: int | None
    works_as_weekday: int | None = None
    note: str = ""

    def drafts(self) -> list[DayDraft]:
        """One row a day (call after `days_problems` found nothing)."""
        assert self.first is not None and self.grade_from and self.grade_to
        first, last = self.first, self.last or self.first
        note = self.note.strip() or DAY_NOTES[self.kind]
        weekday = self.works_as_weekday if self.kind == "workday" else None
        days = (first + n * dt.timedelta(days=1) for n in range((last - first).days + 1))
        return [
            DayDraft(day, self.kind, note, self.grade_from, self.grade_to, weekday) for day in days
        ]


def days_problems(year: AcademicYear, data: DaysData) -> list[str]:
    """What is wrong with the form itself (clashes with stored days are checked on saving)."""
    problems = []
    if data.kind not in DAY_KINDS:
        problems.append("Выберите, что это за день: праздник, каникулы или рабочий день.")
    if (
        data.grade_from not in GRADES
        or data.grade_to not in GRADES
        or (data.grade_from > data.grade_to)
    ):
        problems.append("Классы — от 1 до 11, «с» не больше «по».")
    if len(data.note.strip()) > 120:
        problems.append("Примечание — не длиннее 120 знаков.")
    if data.first is None:
        problems.append("Укажите дату в виде ДД.ММ.ГГГГ.")
        return problems
    last = data.last or data.first
    if last < data.first:
        problems.append("Последний день раньше первого.")
    elif (last - data.first).days >= MAX_DAYS:
        problems.append(f"Не больше {MAX_DAYS} дней за один раз.")
    if data.first < year.starts or last > year.ends:
        problems.append(f"Даты должны лежать внутри учебного года ({_bounds(year)}).")
    if data.kind == "workday":
        if last != data.first:
            problems.append("Рабочий день переносится по одному дню.")
        if data.works_as_weekday not in WEEKDAYS:
            problems.append("Укажите, по расписанию какого дня недели работают.")
        elif data.first.isoweekday() == data.works_as_weekday <= 5:
            problems.append(f"{ru(data.first)} и так {WEEKDAYS[data.works_as_weekday]}.")
    return problems


def _clash(draft: DayDraft, row: NonSchoolDay) -> bool:
    """A working day and a day off for the same grades on one date contradict each other."""
    if not _overlap(draft.grade_from, draft.grade_to, row.grade_from, row.grade_to):
        return False
    return "workday" in (draft.kind, row.kind)


def _add_drafts(year: AcademicYear, drafts: Iterable[DayDraft], rec: Recorder) -> int:
    """Store the days that are new; refuse a contradiction, skip exact repeats."""
    drafts = list(drafts)
    if not drafts:
        return 0
    dates = [d.date for d in drafts]
    stored: dict[dt.date, list[NonSchoolDay]] = {}
    query = NonSchoolDay.select().where(
        (NonSchoolDay.year == year) & NonSchoolDay.date.between(min(dates), max(dates))
    )
    for row in query:
        stored.setdefault(row.date, []).append(row)
    added = 0
    for draft in drafts:
        rows = stored.get(draft.date, [])
        clash = next((r for r in rows if _clash(draft, r)), None)
        if clash is not None:
            raise PlanningError(
                f"На {ru(draft.date)} для {clash.grade_from}–{clash.grade_to} кл. уже записано: "
                f"{DAY_KINDS[clash.kind]} ({clash.note}). Сначала удалите эту запись."
            )
        if any(
            (r.kind, r.grade_from, r.grade_to) == (draft.kind, draft.grade_from, draft.grade_to)
            for r in rows
        ):
            continue
        row = NonSchoolDay.create(
            year=year,
            date=draft.date,
            kind=draft.kind,
            works_as_weekday=draft.works_as_weekday,
            grade_from=draft.grade_from,
            grade_to=draft.grade_to,
            note=draft.note,
        )
        stored.setdefault(draft.date, []).append(row)
        rec.record("calendar_day.create", row)
        added += 1
    return added


def add_days(
    year: AcademicYear,
    data: DaysData,
    *,
    user: User | None = None,
    ip: str = "",
    today: dt.date | None = None,
) -> CalendarChange:
    """Add holidays or vacations (a date range: one row a day) or one transferred working day."""
    with write(user=user, ip=ip) as rec:
        ensure_editable(year)
        problems = days_problems(year, data)
        if problems:
            raise PlanningError(" ".join(problems))
        drafts = data.drafts()
        added = _add_drafts(year, drafts, rec)
        lessons = _regenerate(year, drafts[0].date, drafts[-1].date, user, ip, today)
    if not added:
        return CalendarChange("Такие дни уже записаны: ничего не изменилось.", lessons)
    return CalendarChange(f"Записано дней: {added} ({DAY_KINDS[data.kind]}).", lessons)


def delete_days(
    year: AcademicYear,
    ids: Iterable[int],
    *,
    user: User | None = None,
    ip: str = "",
    today: dt.date | None = None,
) -> CalendarChange:
    """Remove the chosen days of ``year`` (ids of other years are refused)."""
    ids = set(ids)
    with write(user=user, ip=ip) as rec:
        ensure_editable(year)
        rows = list(
            NonSchoolDay.select().where((NonSchoolDay.year == year) & NonSchoolDay.id.in_(ids))
        )
        if not ids or len(rows) != len(ids):
            raise PlanningError("Отметьте дни этого учебного года, которые нужно удалить.")
        for row in rows:
            before = snapshot(row)
            row.delete_instance()
            rec.record("calendar_day.delete", row, before=before, op="delete")
        dates = [r.date for r in rows]
        lessons = _regenerate(year, min(dates), max(dates), user, ip, today)
    return CalendarChange(f"Удалено дней: {len(rows)}.", lessons)


def write_public_holidays(year: AcademicYear, rec: Recorder) -> list[DayDraft]:
    """Store the public holidays inside ``year`` (all grades) within a write; the ones added.

    A date that already has a holiday or a transferred working day is left as it is.
    """
    taken = {
        row.date
        for row in NonSchoolDay.select(NonSchoolDay.date).where(
            (NonSchoolDay.year == year) & NonSchoolDay.kind.in_(("holiday", "workday"))
        )
    }
    drafts = [d for d in public_holidays(year.starts, year.ends) if d.date not in taken]
    _add_drafts(year, drafts, rec)
    return drafts


def fill_public_holidays(
    year: AcademicYear, *, user: User | None = None, ip: str = "", today: dt.date | None = None
) -> CalendarChange:
    """Add the public holidays of the year's dates; the deputy then edits them."""
    with write(user=user, ip=ip) as rec:
        ensure_editable(year)
        added = write_public_holidays(year, rec)
        lessons = None
        if added:
            lessons = _regenerate(year, added[0].date, added[-1].date, user, ip, today)
    message = f"Добавлено праздничных дней: {len(added)}."
    if not added:
        message = "Праздничные дни уже внесены: ничего не изменилось."
    return CalendarChange(
        message + " Переносы выходных по постановлению Правительства внесите сами.", lessons
    )
