"""Small helpers shared by form views: reading roles, dates and ids from a POST."""

from __future__ import annotations

import datetime as dt

from flask import abort, request

from .. import access
from ..numbers import is_number

STAFF_ASSIGNABLE = ("director", "deputy", "admin", "teacher", "inspector")


def roles_from_form() -> list[tuple[str, int | None]]:
    roles: list[tuple[str, int | None]] = [
        (r, None) for r in request.form.getlist("roles") if r in STAFF_ASSIGNABLE
    ]
    class_id = request.form.get("class_teacher_of", "")
    if class_id:
        if not is_number(class_id):
            abort(400)
        roles.append(("class_teacher", int(class_id)))
        if ("teacher", None) not in roles:
            roles.append(("teacher", None))
    unknown = set(request.form.getlist("roles")) - set(access.ROLES)
    if unknown:
        abort(400)
    return roles


def date_from_form(name: str, default: dt.date | None = None) -> dt.date | None:
    raw = request.form.get(name, "").strip()
    if not raw:
        return default
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None


def ids_from_form(name: str) -> list[int]:
    values = request.form.getlist(name)
    if not all(is_number(v) for v in values):
        abort(400)
    return [int(v) for v in values]
