"""The list of reports and their filters, read the same way by the pages and the export job.

A page passes its query string (``year_id``, ``period``, ``month``, ``class_id`` …) to
`read_filters`; the «Скачать» button sends the same values to the background job, which
calls `document` with them. So a downloaded file always holds what the page showed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from .. import access
from ..models import AcademicYear, Person, SchoolClass
from ..school_calendar import current_year
from . import activity, control, filling, progress, summary
from .table import ReportDocument, ru_period

# Every query-string key a report page reads (and the export form sends back).
FILTER_KEYS = ("year_id", "period", "month", "class_id", "staff_id", "role", "from", "to")
MAX_ID = 2**63 - 1  # SQLite's integer: a bigger id would fail in the query, not here
FIRST_YEAR, LAST_YEAR = 2000, 2100  # dates outside are typing mistakes


class ReportError(ValueError):
    """Filters that do not make a report (Russian, shown to the user)."""


@dataclass(frozen=True)
class ReportInfo:
    name: str  # the key in URLs and job params
    title: str
    description: str
    filters: tuple[str, ...]  # which of Filters' fields the page offers
    access: str = "reports"  # the access object whose read opens the page and its files


REPORTS: dict[str, ReportInfo] = {
    r.name: r
    for r in (
        ReportInfo(
            "control",
            "Ежемесячный контроль",
            "Что требует внимания за месяц: заполнение, успеваемость, пропуски, АСУ РСО (§7.1).",
            ("year", "month"),
        ),
        ReportInfo(
            "filling",
            "Заполнение журнала",
            "По учителям и группам за месяц: уроки, темы, д/з, посещаемость, отметки, КТП (§8.2).",
            ("year", "month", "class", "teacher"),
        ),
        ReportInfo(
            "progress",
            "Успеваемость и посещаемость",
            "По классам за период или год: отличники, хорошисты, неуспевающие, качество, "
            "пропуски (§8.3).",
            ("year", "period", "class"),
        ),
        ReportInfo(
            "summary",
            "Сводная ведомость",
            "Отметки класса по всем предметам за периоды, год и итоговые (§9.1).",
            ("year", "class"),
        ),
        ReportInfo(
            "activity",
            "Активность пользователей",
            "Входы и действия каждого пользователя за период (§8.1).",
            ("year", "period", "dates", "role"),
            # personal data of students and parents: the administration only
            access="user_activity",
        ),
    )
}


@dataclass
class Filters:
    """The filters of a report page, checked: the year and what the report needs."""

    year: AcademicYear
    period: progress.ReportPeriod | None = None
    month: dt.date | None = None
    school_class: SchoolClass | None = None
    teacher: Person | None = None
    role: str = ""
    starts: dt.date | None = None  # activity: explicit dates instead of a period
    ends: dt.date | None = None

    def params(self) -> dict[str, str]:
        """Back to query-string values (for links, forms and the export job)."""
        found = {"year_id": str(self.year.id)}
        if self.period is not None:
            found["period"] = self.period.key
        if self.month is not None:
            found["month"] = f"{self.month:%Y-%m}"
        if self.school_class is not None:
            found["class_id"] = str(self.school_class.id)
        if self.teacher is not None:
            found["staff_id"] = str(self.teacher.id)
        if self.role:
            found["role"] = self.role
        if self.starts is not None and self.ends is not None:
            found["from"], found["to"] = self.starts.isoformat(), self.ends.isoformat()
        return found


def _int(raw: str | None, what: str) -> int | None:
    """An id from the query string: a positive integer SQLite can hold, else ReportError."""
    if raw is None or not str(raw).strip():
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ReportError(f"Неверно указан {what}.") from None
    if not 0 <= value <= MAX_ID:
        raise ReportError(f"Неверно указан {what}.")
    return value


def _year(raw: str | None) -> AcademicYear:
    """The named year (0 or an unknown id is an error, not the current year), else the
    current one."""
    year_id = _int(raw, "учебный год")
    if year_id is None:
        year = current_year()
        if year is None:
            raise ReportError("Учебный год не найден: сначала создайте его.")
        return year
    year = AcademicYear.get_or_none(AcademicYear.id == year_id)
    if year is None:
        raise ReportError("Нет такого учебного года.")
    return year


def default_month(year: AcademicYear, today: dt.date | None = None) -> dt.date:
    """This month within the year; before it the first month, after it the last."""
    today = today or dt.date.today()
    day = min(max(today, year.starts), year.ends)
    return day.replace(day=1)


def offered_months(year: AcademicYear, today: dt.date | None = None) -> list[dt.date]:
    """The year's months up to the current one (a year still to come: its first)."""
    this_month = (today or dt.date.today()).replace(day=1)
    months = filling.year_months(year)
    return [m for m in months if m <= this_month] or months[:1]


def _month(raw: str | None, year: AcademicYear, today: dt.date | None = None) -> dt.date:
    if not raw:
        return default_month(year, today)
    try:
        month = dt.datetime.strptime(raw.strip(), "%Y-%m").date()
    except ValueError:
        raise ReportError("Укажите месяц (например, 2026-11).") from None
    if month not in filling.year_months(year):
        raise ReportError(f"Этот месяц не входит в {year.name} учебный год.")
    if month > (today or dt.date.today()).replace(day=1):
        raise ReportError(
            f"{filling.month_label(month).capitalize()} ещё не наступил: выберите текущий "
            "или прошедший месяц."
        )
    return month


def _date(raw: str | None) -> dt.date | None:
    if not raw or not raw.strip():
        return None
    text = raw.strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            day = dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise ReportError(
                f"«{text}» — проверьте год: он должен быть от {FIRST_YEAR} до {LAST_YEAR}."
            )
        return day
    raise ReportError(f"«{text[:40]}» — не дата: укажите дд.мм.гггг.")


def _class(raw: str | None, year: AcademicYear) -> SchoolClass | None:
    class_id = _int(raw, "класс")
    if class_id is None:
        return None
    found = SchoolClass.get_or_none((SchoolClass.id == class_id) & (SchoolClass.year == year))
    if found is None:
        raise ReportError("Такого класса в этом учебном году нет.")
    return found


def _teacher(raw: str | None) -> Person | None:
    staff_id = _int(raw, "учитель")
    if staff_id is None:
        return None
    found = Person.get_or_none((Person.id == staff_id) & Person.is_staff)
    if found is None:
        raise ReportError("Такого учителя нет.")
    return found


def read_filters(name: str, args: Mapping[str, str], today: dt.date | None = None) -> Filters:
    """The report's filters from a query string or job params; ReportError when wrong."""
    info = REPORTS.get(name)
    if info is None:
        raise ReportError("Такого отчёта нет.")
    year_id = args.get("year_id")
    class_id = _int(args.get("class_id"), "класс")
    if not year_id and class_id is not None:  # a link to a class names its year
        chosen = SchoolClass.get_or_none(SchoolClass.id == class_id)
        year_id = str(chosen.year_id) if chosen else None
    year = _year(year_id)
    found = Filters(year)
    if "period" in info.filters:
        key = args.get("period") or ""
        try:
            found.period = progress.find_period(year, key) if key else progress.default_period(year)
        except progress.ReportPeriodError as exc:
            raise ReportError(str(exc)) from None
    if "month" in info.filters:
        found.month = _month(args.get("month"), year, today)
    if "class" in info.filters:
        found.school_class = _class(args.get("class_id"), year)
    if "teacher" in info.filters:
        found.teacher = _teacher(args.get("staff_id"))
    if "role" in info.filters:
        role = args.get("role") or ""
        if role and role not in access.ROLES:
            raise ReportError("Такой роли нет.")
        found.role = role
    if "dates" in info.filters:
        starts, ends = _date(args.get("from")), _date(args.get("to"))
        if (starts is None) != (ends is None):
            raise ReportError("Укажите обе даты: начало и конец периода.")
        if starts is not None and ends is not None and starts > ends:
            raise ReportError("Начало периода позже его конца.")
        found.starts, found.ends = starts, ends
    return found


def check(name: str, args: Mapping[str, str]) -> Filters:
    """Everything `build` will need, checked up front: the filters and what the report
    cannot do without (the summary's class). The export calls it before queuing a job,
    so bad input is a message on the page, never a failure later in the worker."""
    filters = read_filters(name, args)
    if name == "summary" and filters.school_class is None:
        raise ReportError("Выберите класс.")
    return filters


def activity_bounds(filters: Filters) -> tuple[dt.date, dt.date, str]:
    """Explicit dates if given, else the chosen period's (a term, or the year)."""
    if filters.starts is not None and filters.ends is not None:
        return filters.starts, filters.ends, ru_period(filters.starts, filters.ends)
    period = filters.period
    assert period is not None
    return period.starts, period.ends, f"{period.label}, {ru_period(period.starts, period.ends)}"


def build(name: str, filters: Filters):
    """The report's own dataclass (the page renders it; `document` turns it into tables)."""
    cls = filters.school_class
    if name == "activity":
        starts, ends, label = activity_bounds(filters)
        return activity.build(starts, ends, label, filters.role)
    if name == "filling":
        return filling.build(
            filters.year,
            filters.month,
            class_id=cls.id if cls else None,
            teacher_id=filters.teacher.id if filters.teacher else None,
        )
    if name == "progress":
        return progress.build(filters.year, filters.period, class_id=cls.id if cls else None)
    if name == "summary":
        if cls is None:
            raise ReportError("Выберите класс.")
        return summary.build(cls, filters.year)
    if name == "control":
        return control.build(filters.year, filters.month)
    raise ReportError("Такого отчёта нет.")


DOCUMENTS = {
    "activity": activity.document,
    "filling": filling.document,
    "progress": progress.document,
    "summary": summary.document,
    "control": control.document,
}


def document(name: str, args: Mapping[str, str]) -> ReportDocument:
    """The report as tables, from the same values the page's query string had."""
    filters = read_filters(name, args)
    return DOCUMENTS[name](build(name, filters))
