"""Work types (виды работ) and their default weights, set by the deputy (§7.5).

A new assignment takes its work type's weight; changing a weight later does not touch
assignments already given (their marks were earned at the old weight).
"""

from __future__ import annotations

from collections.abc import Mapping

from peewee import fn

from .db import snapshot, write
from .journal import JournalError
from .models import WorkType, now
from .numbers import is_number

MIN_WEIGHT, MAX_WEIGHT = 1, 10


def work_types() -> list[WorkType]:
    return list(WorkType.select().order_by(WorkType.sort_order, WorkType.name))


def _clean(form: Mapping[str, str]) -> dict:
    name = " ".join(form.get("name", "").split())
    if not name:
        raise JournalError("Укажите название вида работы.")
    if len(name) > 100:
        raise JournalError("Название вида работы слишком длинное (не больше 100 символов).")
    short_name = " ".join(form.get("short_name", "").split())
    if len(short_name) > 10:
        raise JournalError("Сокращение — не больше 10 символов.")
    raw_weight = form.get("weight", "").strip()
    if not is_number(raw_weight) or not MIN_WEIGHT <= int(raw_weight) <= MAX_WEIGHT:
        raise JournalError(f"Вес — целое число от {MIN_WEIGHT} до {MAX_WEIGHT}.")
    raw_order = form.get("sort_order", "").strip() or "100"
    if not is_number(raw_order) or int(raw_order) > 1000:
        raise JournalError("Порядок — целое число от 0 до 1000.")
    return {
        "name": name,
        "short_name": short_name,
        "weight": int(raw_weight),
        "is_default": form.get("is_default") in ("1", "on", "true"),
        "sort_order": int(raw_order),
    }


def save_work_type(
    form: Mapping[str, str], *, user, ip: str, work_type: WorkType | None = None
) -> WorkType:
    """Add a work type, or change one (name, short name, weight, order, default flag)."""
    data = _clean(form)
    clash = WorkType.select().where(fn.casefold(WorkType.name) == data["name"].casefold())
    if work_type is not None:
        clash = clash.where(WorkType.id != work_type.id)
    if clash.exists():
        raise JournalError(f"Вид работы «{data['name']}» уже есть.")
    with write(user=user, ip=ip) as rec:
        if data["is_default"]:
            # One default work type: the lesson page starts with it.
            others = WorkType.select().where(WorkType.is_default)
            for other in others:
                if work_type is None or other.id != work_type.id:
                    before = snapshot(other)
                    other.is_default = False
                    other.updated_at = now()
                    other.save()
                    rec.record("work_type.update", other, before=before, sync=True)
        before = snapshot(work_type)
        row = work_type or WorkType()
        for key, value in data.items():
            setattr(row, key, value)
        row.updated_at = now()
        row.save()
        rec.record(
            "work_type.update" if before else "work_type.create", row, before=before, sync=True
        )
    return row
