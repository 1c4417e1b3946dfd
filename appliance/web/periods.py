"""Period marks, the class teacher's overview and excuses, КТП progress (issue 3)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from .. import access, attendance, class_overview, journal, period_marks, plan_progress, terms
from ..admin_queries import current_classes
from ..journal import JournalError
from ..models import SchoolClass, SubjectGroup
from ..numbers import is_number
from .forms import date_from_form
from .guard import client_ip, is_htmx, requires

bp = Blueprint("periods", __name__, url_prefix="/periods")


def _group(group_id: int) -> SubjectGroup:
    group = SubjectGroup.get_or_none(SubjectGroup.id == group_id)
    if group is None:
        abort(404)
    return group


def _readable_group(group_id: int) -> SubjectGroup:
    group = _group(group_id)
    if not access.may_read_group(g.person, g.role, group):
        abort(404)  # out of scope looks like missing (docs/access.md)
    return group


def _period(group: SubjectGroup, values) -> terms.Period:
    """The period named by `kind` and `term` (query string or form); today's by default."""
    kind, term = values.get("kind", ""), values.get("term", "")
    if not kind and not term:
        return terms.default_period(group, dt.date.today())
    term_id = int(term) if is_number(term) else None
    return terms.period_of(group, kind or "term", term_id)


def _period_args(period: terms.Period) -> dict:
    return {"term": period.term_id} if period.term else {"kind": period.kind}


def _sheet_page(group, period, status=200, typed=None):
    return render_template(
        "periods/sheet.html",
        sheet=period_marks.period_sheet(group, period),
        periods=terms.periods_of(group),
        can_write=g.role.role == "teacher" and journal.teaches(g.person, group),
        can_unlock=access.allowed(g.role.role, "journal_control", "write"),
        typed=typed or {},
    ), status


@bp.route("/")
@requires("journal", "read")
def index():
    class_id = request.args.get("class_id", type=int)
    groups = access.groups_in_scope(g.person, g.role, class_id)
    office = g.role.role in {"director", "deputy", "inspector"}
    return render_template(
        "periods/index.html",
        groups=groups,
        classes=current_classes() if office else [],
        class_id=class_id,
    )


@bp.route("/<int:group_id>")
@requires("journal", "read")
def sheet(group_id: int):
    group = _readable_group(group_id)
    try:
        period = _period(group, request.args)
    except JournalError:
        abort(404)
    return _sheet_page(group, period)


def _marks_from_form() -> dict[int, str]:
    return {
        int(key[5:]): value
        for key, value in request.form.items()
        if key.startswith("mark_") and is_number(key[5:])
    }


@bp.route("/<int:group_id>", methods=["POST"])
@requires("journal", "write")
def save(group_id: int):
    """Marks as `mark_<student id>` fields (one via HTMX, all from the form), or `accept`."""
    group = _group(group_id)
    if not journal.teaches(g.person, group):
        abort(404)  # another teacher's group: show nothing of it
    values = _marks_from_form()
    period = None
    try:
        period = _period(group, request.form)
        if request.form.get("accept"):
            changed = period_marks.accept_suggestions(group, period, user=g.user, ip=client_ip())
        elif values:
            changed = period_marks.save_period_marks(
                group, period, values, user=g.user, ip=client_ip()
            )
        else:
            raise JournalError("Нечего сохранять: отметки не введены.")
    except JournalError as exc:
        if is_htmx() and period is not None and len(values) == 1:
            return _row(group, period, values, str(exc)), exc.status
        flash(str(exc), "error")
        shown = period or terms.default_period(group, dt.date.today())
        return _sheet_page(group, shown, exc.status, typed=values)
    if is_htmx() and len(values) == 1:
        return _row(group, period, values, saved=True)
    flash(f"Сохранено отметок: {changed}." if changed else "Изменений нет.", "success")
    return redirect(url_for("periods.sheet", group_id=group.id, **_period_args(period)))


def _row(group, period, values: dict[int, str], error: str = "", saved: bool = False):
    """The one sheet row an HTMX save answers with (with the refusal, when refused)."""
    student_id = next(iter(values))
    sheet = period_marks.period_sheet(group, period)
    row = next((r for r in sheet.rows if r.student.id == student_id), None)
    if row is None:
        abort(404)
    return render_template(
        "periods/_row.html",
        sheet=sheet,
        row=row,
        can_write=True,
        error=error,
        saved=saved,
        typed=values if error else {},
    )


# --- the class teacher ----------------------------------------------------------------


def _viewable_class(class_id: int) -> SchoolClass:
    school_class = SchoolClass.get_or_none(SchoolClass.id == class_id)
    if school_class is None:
        abort(404)
    if not class_overview.may_view(g.person, g.role, school_class):
        abort(404)
    return school_class


def _class_page(school_class, form=None, status=200):
    groups = class_overview.class_groups(g.person, g.role, school_class)
    return render_template(
        "periods/class.html",
        view=class_overview.class_overview(school_class, groups),
        can_excuse=g.role.role == "class_teacher" and g.role.class_id == school_class.id,
        codes=attendance.EXCUSE_CODES,
        form=form or {},
    ), status


@bp.route("/class/<int:class_id>")
@requires("journal", "read")
def class_view(class_id: int):
    return _class_page(_viewable_class(class_id))


@bp.route("/class/<int:class_id>/excuse", methods=["POST"])
@requires("excuse", "write")
def excuse(class_id: int):
    school_class = _viewable_class(class_id)
    if g.role.class_id != school_class.id:
        abort(404)
    student = request.form.get("student", "")
    date_from, date_to = date_from_form("date_from"), date_from_form("date_to")
    try:
        if not is_number(student) or date_from is None or date_to is None:
            raise JournalError("Выберите ученика и укажите даты начала и окончания.")
        excuse = attendance.Excuse(
            int(student),
            date_from,
            date_to,
            request.form.get("code", ""),
            request.form.get("reason", ""),
            request.form.get("document", ""),
        )
        changed = attendance.excuse_absences(school_class, excuse, user=g.user, ip=client_ip())
    except JournalError as exc:
        flash(str(exc), "error")
        return _class_page(school_class, request.form, exc.status)
    if changed:
        flash(f"Пропуски оправданы: изменено отметок «Н» — {changed}.", "success")
    else:
        flash("В эти дни у ученика нет пропусков «Н»: ничего не изменено.", "info")
    return redirect(url_for("periods.class_view", class_id=class_id))


# --- КТП progress ----------------------------------------------------------------------


@bp.route("/progress")
@requires("journal", "read")
def progress():
    class_id = request.args.get("class_id", type=int)
    groups = access.groups_in_scope(g.person, g.role, class_id)
    office = g.role.role in {"director", "deputy", "inspector"}
    return render_template(
        "periods/progress.html",
        rows=plan_progress.progress(groups),
        states=plan_progress.PLAN_STATES,
        classes=current_classes() if office else [],
        class_id=class_id,
    )
