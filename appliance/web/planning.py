"""The deputy's plan of the year: one page that says what is done and what is next."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for

from .. import planning_status
from ..years import planning_years, selected_year
from .guard import may_open, requires

bp = Blueprint("planning", __name__, url_prefix="/planning")

# checklist step → the page where it is done (endpoint, or None while it has no page)
STEP_PAGES = {
    "calendar": "calendar.index",
    "curriculum": "curriculum.index",
    "classes": "curriculum.classes",
    "groups": "groups.index",
    "timetable": "timetable.conflicts",
    "lessons": "lessons.regenerate",
    "years": "years.index",
    "ktp": "ktp.review",
}


@bp.route("/")
@requires("planning", "read")
def index():
    year = selected_year(request.args.get("year"))
    if year is None and request.args.get("year"):
        abort(404)
    steps = planning_status.year_status(year) if year else []
    links = {
        key: url_for(endpoint, year=year.id)
        for key, endpoint in STEP_PAGES.items()
        if year is not None and may_open(endpoint)
    }
    if year is None:
        links["years"] = url_for("years.index")
    return render_template(
        "planning/index.html", year=year, years=planning_years(), steps=steps, links=links
    )
