"""Which academic year a planning page works on, and whether it may still change.

The deputy plans next year while this one runs (curriculum, groups, КТП, timetable
are made in August), so every planning page takes an optional ``?year=<id>`` and
falls back to the current year. A year closed by the rollover is read-only: it is
kept for reports and the archive, and nothing in it changes any more.
"""

from __future__ import annotations

from .models import AcademicYear
from .school_calendar import current_year


class PlanningError(ValueError):
    """A planning change refused for a reason the user can fix (message in Russian)."""


def planning_years() -> list[AcademicYear]:
    """Every year, newest first (the year picker on planning pages)."""
    return list(AcademicYear.select().order_by(AcademicYear.starts.desc()))


def selected_year(year_id: int | str | None) -> AcademicYear | None:
    """The year a planning page asked for (``?year=``), else the current one.

    An id that names no year gives None, as does a school with no year at all; the
    page then says so (or answers 404 for a bad id).
    """
    if year_id not in (None, ""):
        try:
            return AcademicYear.get_or_none(AcademicYear.id == int(year_id))
        except (TypeError, ValueError):
            return None
    return current_year()


def ensure_editable(year: AcademicYear) -> None:
    """Refuse any planning change in a year closed by the rollover."""
    if year.read_only:
        raise PlanningError(
            f"{year.name} учебный год закрыт: его данные только для чтения и для архива."
        )
