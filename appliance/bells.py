"""Bell schedules: when each lesson number starts and ends.

A school may keep several schedules (the usual one, a shortened one for holidays'
eves); lesson times on the pages come from the DEFAULT schedule only, so a second
schedule is kept for reference until the timetable can pick one per day.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .db import snapshot, write
from .models import Bell, BellSchedule, User
from .years import PlanningError

TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
MAX_BELLS = 12


@dataclass(frozen=True)
class BellRow:
    number: int
    starts: dt.time
    ends: dt.time


def schedules() -> list[BellSchedule]:
    """The default schedule first, then the others by name."""
    return list(BellSchedule.select().order_by(BellSchedule.is_default.desc(), BellSchedule.name))


def bells_of(schedule: BellSchedule) -> list[Bell]:
    return list(Bell.select().where(Bell.schedule == schedule).order_by(Bell.number))


def _time(raw: str) -> dt.time | None:
    match = TIME.match(raw.strip())
    return dt.time(int(match.group(1)), int(match.group(2))) if match else None


def parse_bells(
    numbers: Sequence[str], starts: Sequence[str], ends: Sequence[str]
) -> list[BellRow]:
    """Form rows → bells in order; PlanningError lists every bad row. Blank rows are skipped.

    Lessons must come in the order of their numbers, each one ending before the next
    starts (a break may be zero minutes, an overlap may not).
    """
    problems: list[str] = []
    rows: list[BellRow] = []
    for i, (number, start, end) in enumerate(zip(numbers, starts, ends, strict=False), 1):
        if not (number.strip() or start.strip() or end.strip()):
            continue
        begin, finish = _time(start), _time(end)
        if not (number.strip().isascii() and number.strip().isdigit()):
            problems.append(f"Строка {i}: номер урока — целое число.")
        elif begin is None or finish is None:
            problems.append(f"Строка {i}: время в виде ЧЧ:ММ, например 08:30.")
        elif begin >= finish:
            problems.append(f"Урок {number.strip()}: начало должно быть раньше конца.")
        else:
            rows.append(BellRow(int(number), begin, finish))
    if problems:
        raise PlanningError(" ".join(problems))
    if not rows:
        raise PlanningError("Заполните хотя бы один урок: номер, начало и конец.")
    if len(rows) > MAX_BELLS:
        raise PlanningError(f"Не больше {MAX_BELLS} уроков в день.")
    rows.sort(key=lambda r: r.number)
    for before, after in zip(rows, rows[1:], strict=False):
        if before.number == after.number:
            problems.append(f"Урок {after.number} указан дважды.")
        elif after.starts < before.ends:
            problems.append(
                f"Урок {after.number} начинается ({after.starts:%H:%M}) раньше, "
                f"чем кончается урок {before.number} ({before.ends:%H:%M})."
            )
    if problems:
        raise PlanningError(" ".join(problems))
    return rows


def save_bells(
    schedule: BellSchedule,
    rows: list[BellRow],
    name: str | None = None,
    *,
    user: User | None = None,
    ip: str = "",
) -> None:
    """Replace the schedule's bells with ``rows`` (checked by `parse_bells`), maybe rename it."""
    with write(user=user, ip=ip) as rec:
        before = {**snapshot(schedule), "bells": [snapshot(b) for b in bells_of(schedule)]}
        if name is not None:
            schedule.name = _check_name(name, schedule.id)
            schedule.save()
        Bell.delete().where(Bell.schedule == schedule).execute()
        for row in rows:
            Bell.create(schedule=schedule, number=row.number, starts=row.starts, ends=row.ends)
        after = {**snapshot(schedule), "bells": [snapshot(b) for b in bells_of(schedule)]}
        rec.record("bells.update", schedule, before=before, after=after)


def _check_name(name: str, schedule_id: int | None = None) -> str:
    name = name.strip()
    if not name or len(name) > 60:
        raise PlanningError("Назовите расписание звонков (до 60 знаков), например «Сокращённое».")
    taken = BellSchedule.select().where(
        (BellSchedule.name == name) & (BellSchedule.id != (schedule_id or 0))
    )
    if taken.exists():
        raise PlanningError(f"Расписание звонков «{name}» уже есть.")
    return name


def create_schedule(name: str, *, user: User | None = None, ip: str = "") -> BellSchedule:
    """A new schedule, starting as a copy of the default one; default itself if it is the first."""
    with write(user=user, ip=ip) as rec:
        name = _check_name(name)
        default = BellSchedule.select().where(BellSchedule.is_default).first()
        schedule = BellSchedule.create(name=name, is_default=default is None)
        if default is not None:
            for bell in bells_of(default):
                Bell.create(
                    schedule=schedule, number=bell.number, starts=bell.starts, ends=bell.ends
                )
        rec.record("bell_schedule.create", schedule)
    return schedule


def make_default(schedule: BellSchedule, *, user: User | None = None, ip: str = "") -> None:
    """Lessons follow ``schedule`` from now on (the previous default stays as a spare)."""
    with write(user=user, ip=ip) as rec:
        for other in BellSchedule.select().where(BellSchedule.is_default):
            before = snapshot(other)
            other.is_default = False
            other.save()
            rec.record("bell_schedule.update", other, before=before)
        before = snapshot(schedule)
        schedule.is_default = True
        schedule.save()
        rec.record("bell_schedule.update", schedule, before=before)


def delete_schedule(schedule: BellSchedule, *, user: User | None = None, ip: str = "") -> None:
    if schedule.is_default:
        raise PlanningError("Основное расписание звонков удалить нельзя: сначала назначьте другое.")
    with write(user=user, ip=ip) as rec:
        before = snapshot(schedule)
        before["bells"] = [snapshot(b) for b in bells_of(schedule)]
        schedule.delete_instance(recursive=True)
        rec.record("bell_schedule.delete", schedule, before=before, op="delete")
