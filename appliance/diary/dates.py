"""The dates a diary page is asked for (`?week=`, `?from=&to=`), read with Russian errors."""

from __future__ import annotations

import datetime as dt


class DiaryError(ValueError):
    """A diary request the reader can correct (the message is Russian and shown as is)."""


def monday_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


EARLIEST, LATEST = dt.date(1990, 1, 1), dt.date(2100, 12, 31)  # weeks around stay valid dates


def parse_date(raw: str, what: str) -> dt.date:
    text = raw.strip()
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise DiaryError(f"{what}: «{text[:20]}» — не дата, нужна дата вида ГГГГ-ММ-ДД.") from None
    if not EARLIEST <= day <= LATEST:
        raise DiaryError(f"{what}: {day:%d.%m.%Y} — слишком далёкая дата.")
    return day


def parse_week(raw: str | None, today: dt.date | None = None) -> dt.date:
    """`?week=` (any day of the week) → its Monday; empty → this week's Monday."""
    if not raw or not raw.strip():
        return monday_of(today or dt.date.today())
    return monday_of(parse_date(raw, "Неделя"))


def parse_range(
    raw_from: str | None, raw_to: str | None, default: tuple[dt.date, dt.date]
) -> tuple[dt.date, dt.date]:
    """`?from=&to=` → a period; a missing end takes the default's."""
    starts = parse_date(raw_from, "Начало периода") if raw_from and raw_from.strip() else default[0]
    ends = parse_date(raw_to, "Конец периода") if raw_to and raw_to.strip() else default[1]
    if starts > ends:
        raise DiaryError("Начало периода позже его конца.")
    return starts, ends
