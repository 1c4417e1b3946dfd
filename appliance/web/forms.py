"""Small helpers shared by views: the page's `?year=`, lookups that 404, and roles, dates and ids
from a POST.
"""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

from flask import abort, request

from .. import access
from ..models import AcademicYear
from ..numbers import is_number
from ..years import selected_year

STAFF_ASSIGNABLE = ("director", "deputy", "admin", "teacher", "inspector")

T = TypeVar("T")


def or_404(found: T | None) -> T:
    """What a lookup found; nothing found (or nothing this user may see) is a 404."""
    if found is None:
        abort(404)
    return found


def year_from_args() -> AcademicYear | None:
    """The year of the page (``?year=``, else the current one); a bad id is a 404."""
    year = selected_year(request.args.get("year"))
    if year is None and request.args.get("year"):
        abort(404)
    return year


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
