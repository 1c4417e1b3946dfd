"""The deputy's journal control: unlocks, substitutions, work types (issue 3)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from .. import access, journal_control, terms, work_types
from ..journal import JournalError
from ..models import School, SubjectGroup, WorkType
from ..numbers import is_number
from .forms import date_from_form
from .guard import client_ip, requires

bp = Blueprint("control", __name__, url_prefix="/control")


def _int(name: str) -> int | None:
    value = request.form.get(name, "").strip()
    return int(value) if is_number(value) else None


def _index_page(status: int = 200):
    return render_template(
        "control/index.html",
        school=School.get(),
        deadlines=journal_control.mark_deadlines(),
        unlocks=journal_control.recent_unlocks(),
        groups=access.groups_in_scope(g.person, g.role),
        teachers=journal_control.teachers(),
        form=request.form,
    ), status


@bp.route("/")
@requires("journal_control", "read")
def index():
    return _index_page()


def _lesson_from_form():
    day = date_from_form("date")
    if day is None and request.form.get("date"):
        raise JournalError("Дата урока указана неверно.")
    return journal_control.find_lesson(_int("group"), day, _int("number"))


@bp.route("/unlock/lesson", methods=["POST"])
@requires("journal_control", "write")
def unlock_lesson():
    """Let the teacher change one lesson older than the past-edit window."""
    try:
        lesson = _lesson_from_form()
        journal_control.unlock_lesson(
            lesson, request.form.get("reason", ""), user=g.user, ip=client_ip()
        )
    except JournalError as exc:
        flash(str(exc), "error")
        return _index_page(exc.status)
    flash(f"Изменение урока {lesson.date:%d.%m.%Y} ({lesson.group.name}) разрешено.", "success")
    return redirect(url_for("control.index"))


@bp.route("/unlock/period-mark", methods=["POST"])
@requires("journal_control", "write")
def unlock_period_mark():
    """Let the teacher change ONE period mark after the deadline (from the period sheet)."""
    group = SubjectGroup.get_or_none(SubjectGroup.id == _int("group"))
    if group is None:
        flash("Выберите группу и ученика на странице отметок за период.", "error")
        return _index_page(400)
    try:
        period = terms.period_of(group, request.form.get("kind", ""), _int("term"))
        journal_control.unlock_period_mark(
            group,
            period,
            _int("student") or 0,
            request.form.get("reason", ""),
            user=g.user,
            ip=client_ip(),
        )
    except JournalError as exc:
        flash(str(exc), "error")
    else:
        flash("Учитель может изменить эту отметку один раз в течение суток.", "success")
    args = {key: request.form[key] for key in ("kind", "term") if request.form.get(key)}
    return redirect(url_for("periods.sheet", group_id=group.id, **args))


@bp.route("/substitute", methods=["POST"])
@requires("journal_control", "write")
def substitute():
    """Give one lesson to another teacher, with a reason."""
    try:
        lesson = _lesson_from_form()
        journal_control.substitute_lesson(
            lesson, _int("teacher"), request.form.get("reason", ""), user=g.user, ip=client_ip()
        )
    except JournalError as exc:
        flash(str(exc), "error")
        return _index_page(exc.status)
    flash(f"Урок {lesson.date:%d.%m.%Y} передан: {lesson.teacher.short_name}.", "success")
    return redirect(url_for("control.index"))


# --- work types -------------------------------------------------------------------------


@bp.route("/work-types")
@requires("journal_control", "read")
def work_type_list():
    return render_template("control/work_types.html", work_types=work_types.work_types(), form={})


@bp.route("/work-types", methods=["POST"])
@requires("journal_control", "write")
def work_type_save():
    """Add a work type, or (with `id`) change one."""
    existing = None
    if request.form.get("id"):
        existing = WorkType.get_or_none(WorkType.id == _int("id"))
        if existing is None:
            abort(404)
    try:
        row = work_types.save_work_type(
            request.form, user=g.user, ip=client_ip(), work_type=existing
        )
    except JournalError as exc:
        flash(str(exc), "error")
        return render_template(
            "control/work_types.html", work_types=work_types.work_types(), form=request.form
        ), exc.status
    flash(f"Вид работы «{row.name}» сохранён (вес {row.weight}).", "success")
    return redirect(url_for("control.work_type_list"))
