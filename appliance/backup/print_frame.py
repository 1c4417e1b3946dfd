"""What every printed document shares: its Jinja templates, its frame and its data files.

The worker renders documents with no Flask request around, so the templates come from
an environment of their own (the same `templates/` folder, `print/` documents).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from ..models import AcademicYear, Person, RoleGrant, School, SchoolClass, User
from ..pdf import FONT_FAMILY, DataFile
from .print_export import export_class_data


def data_files(
    school_class: SchoolClass,
    year: AcademicYear,
    folder: Path,
    kind: str,
    until: dt.date | None = None,
) -> list[DataFile]:
    """The document's data as attached files: the same span as the printed pages."""
    paths = export_class_data(school_class, year, folder, kind, until)
    what = "журнала" if kind == "journal" else "сводной ведомости"
    return [DataFile(p, f"Данные {what} {school_class.name}, {year.name}: {p.name}") for p in paths]


def document_frame(school_class: SchoolClass, year: AcademicYear, what: str) -> dict:
    """What every piece of one document shares: its title and footer, the school."""
    school = School.get_or_none()
    school_name = school.name if school else ""
    teacher = school_class.class_teacher
    return {
        "title": f"{what} {school_class.name}, {year.name}",
        "footer": f"{school_name} · {what} {school_class.name} · {year.name}",
        "school_name": school_name,
        "class_name": school_class.name,
        "year_name": year.name,
        "class_teacher": teacher.full_name if teacher else "",
        "director": holder("director"),
        "deputy": holder("deputy"),
        "font_family": FONT_FAMILY,
    }


def holder(role: str) -> str:
    """The full name of whoever holds `role` (the first granted), for a signature line."""
    person = (
        Person.select()
        .join(User)
        .join(RoleGrant)
        .where((RoleGrant.role == role) & User.is_active)
        .order_by(RoleGrant.granted_at, RoleGrant.id)
        .first()
    )
    return person.full_name if person else ""


@cache
def _templates() -> Environment:
    """Jinja outside Flask: the worker renders documents with no request around."""
    from ..web import templates_dir
    from ..web.grid import grid_cells

    env = Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=select_autoescape(["html"]),
    )
    env.filters["grid_cells"] = grid_cells
    env.filters["css_string"] = css_string
    return env


def css_string(value: str) -> str:
    """Text for a CSS string inside the document's <style> (never HTML-escaped there)."""
    cleaned = "".join(ch for ch in str(value) if ch >= " " and ch not in '"\\<>')
    return Markup(cleaned)


def render(template: str, **context) -> str:
    return _templates().get_template(template).render(**context)
