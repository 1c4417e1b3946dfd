"""Academic years and the rollover to the next year (issue 4).

The list of years, a new empty year, and the two rollover steps from the current year:
«prepare» (next year's classes, students, draft groups, curriculum and calendar) and
«switch» (the next year becomes current, this one read-only).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from .. import access, calendar_edit, rollover
from ..models import AcademicYear
from ..numbers import is_number
from ..school_calendar import current_year
from ..years import PlanningError
from .forms import ids_from_form
from .guard import client_ip, requires

bp = Blueprint("years", __name__, url_prefix="/planning/years")

# pages of the next year to check after the rollover (those that exist in this build)
NEXT_STEPS = {
    "calendar": "calendar.index",
    "curriculum": "curriculum.index",
    "groups": "groups.index",
    "timetable": "timetable.index",
    "plan": "planning.index",
}


def _page(status: int = 200, **context):
    source = current_year()
    state = rollover.rollover_state(source) if source is not None else None
    suggested = rollover.next_year_of(source)[0] if source is not None else ""
    links = {
        key: endpoint
        for key, endpoint in NEXT_STEPS.items()
        if endpoint in current_app.view_functions
    }
    return render_template(
        "years/index.html",
        links=links,
        rows=rollover.year_rows(),
        state=state,
        suggested=suggested,
        can_write=access.allowed(g.role.role, "planning", "write"),
        form=request.form,
        **context,
    ), status


def _confirmed() -> None:
    if request.form.get("confirm") != "1":
        raise PlanningError("Подтвердите действие: отметьте «Да, я уверен(а)» и нажмите ещё раз.")


@bp.route("/")
@requires("planning", "read")
def index():
    return _page()


@bp.route("/", methods=["POST"])
@requires("planning", "write")
def create():
    """A new empty academic year (its calendar is filled on the calendar pages)."""
    try:
        year = calendar_edit.create_year(request.form.get("name", ""), user=g.user, ip=client_ip())
    except PlanningError as exc:
        flash(str(exc), "error")
        return _page(400)
    flash(f"Учебный год {year.name} создан. Заполните его календарь.", "success")
    return redirect(url_for("calendar.index", year=year.id))


@bp.route("/prepare", methods=["POST"])
@requires("planning", "write")
def prepare():
    """Rollover step 1 from the current year."""
    source = current_year()
    try:
        _confirmed()
        if source is None:
            raise PlanningError("Нет текущего учебного года: переводить не из чего.")
        result = rollover.prepare_next_year(
            source, ids_from_form("graduating"), user=g.user, ip=client_ip()
        )
    except PlanningError as exc:
        flash(str(exc), "error")
        return _page(400)
    flash(f"{result.year.name} учебный год подготовлен: проверьте его.", "success")
    return _page(prepared=result)


@bp.route("/switch", methods=["POST"])
@requires("planning", "write")
def switch():
    """Rollover step 2: the chosen (next) year becomes current."""
    raw = request.form.get("target", "")
    target = AcademicYear.get_or_none(AcademicYear.id == int(raw)) if is_number(raw) else None
    try:
        _confirmed()
        if target is None:
            if raw:
                abort(404)
            raise PlanningError("Выберите учебный год, на который переходить.")
        early = request.form.get("early") == "1"
        result = rollover.switch_year(target, user=g.user, ip=client_ip(), early=early)
    except PlanningError as exc:
        flash(str(exc), "error")
        return _page(400)
    flash(f"{result.year.name} учебный год стал текущим.", "success")
    return _page(switched=result)
