"""The school's rooms (кабинеты): the list the timetable and one-off changes choose from."""

from __future__ import annotations

from dataclasses import dataclass

from peewee import fn

from ..db import snapshot, write
from ..models import Room, User
from ..years import PlanningError

MAX_CAPACITY = 500


@dataclass(frozen=True)
class RoomFields:
    name: str
    capacity: str = ""  # as typed: empty means unknown
    note: str = ""


def rooms() -> list[Room]:
    """Every room, by number where the name is one («4» before «12»), then by name."""
    found = list(Room.select())
    return sorted(found, key=room_order)


def room_order(room: Room) -> tuple:
    digits = "".join(ch for ch in room.name if ch.isdigit())
    return (0, int(digits), room.name) if digits and digits.isascii() else (1, 0, room.name)


def _clean(fields: RoomFields, skip: int | None = None) -> tuple[str, int | None, str]:
    name = " ".join(fields.name.split())
    if not name:
        raise PlanningError("Укажите номер или название кабинета.")
    if len(name) > 40:
        raise PlanningError("Название кабинета слишком длинное (не больше 40 символов).")
    twin = Room.get_or_none((fn.casefold(Room.name) == name.casefold()) & (Room.id != (skip or 0)))
    if twin is not None:
        raise PlanningError(f"Кабинет «{twin.name}» уже есть.")
    capacity = fields.capacity.strip()
    if capacity and not (capacity.isascii() and capacity.isdigit()):
        raise PlanningError("Вместимость — целое число мест.")
    places = int(capacity) if capacity else None
    if places is not None and not 1 <= places <= MAX_CAPACITY:
        raise PlanningError(f"Вместимость — от 1 до {MAX_CAPACITY} мест.")
    return name, places, " ".join(fields.note.split())[:200]


def add_room(fields: RoomFields, *, user: User | None, ip: str = "") -> Room:
    name, capacity, note = _clean(fields)
    with write(user=user, ip=ip) as rec:
        room = Room.create(name=name, capacity=capacity, note=note)
        rec.record("room.create", room, op="create")
    return room


def update_room(room: Room, fields: RoomFields, *, user: User | None, ip: str = "") -> Room:
    name, capacity, note = _clean(fields, skip=room.id)
    with write(user=user, ip=ip) as rec:
        before = snapshot(room)
        room.name, room.capacity, room.note = name, capacity, note
        room.save()
        rec.record("room.update", room, before=before, op="update")
    return room
