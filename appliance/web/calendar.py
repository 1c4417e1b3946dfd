"""Calendar: academic years, terms and mark deadlines, holidays, bells (issue 4).

Every page works on `?year=` (the current year by default). Changes that move school
days report what happened to the future lessons (`calendar_edit.CalendarChange`).
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from .. import access, bells, calendar_edit, calendar_view
from ..calendar_edit import DAY_KINDS, GRADES, TERM_KINDS, WEEKDAYS, DaysData, TermData
from ..models import AcademicYear, BellSchedule, Term
from ..numbers import is_number
from ..years import PlanningError, planning_years
from .forms import or_404, year_from_args
from .guard import client_ip, requires

bp = Blueprint("calendar", __name__, url_prefix="/planning/calendar")


# --- reading the request ----------------------------------------------------------------


_year = year_from_args


def _int(name: str) -> int | None:
    value = request.form.get(name, "").strip()
    return int(value) if is_number(value, 4) else None


def _date(name: str) -> dt.date | None:
    """A date from ``<input type=date>`` (ISO) or typed as ДД.ММ.ГГГГ; None if blank or bad."""
    raw = request.form.get(name, "").strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    return None


def _bad_date(name: str) -> bool:
    return bool(request.form.get(name, "").strip()) and _date(name) is None


def _confirmed() -> None:
    if request.form.get("confirm") != "1":
        raise PlanningError("Подтвердите действие: отметьте «Да, я уверен(а)» и нажмите ещё раз.")


def _can_write(year: AcademicYear | None) -> bool:
    return access.allowed(g.role.role, "planning", "write") and not (year and year.read_only)


def _render(template: str, year: AcademicYear | None, status: int = 200, **context):
    """A calendar page; without any year (bells aside) the «no year yet» page."""
    if year is None and not context.pop("yearless", False):
        status = 200 if request.method == "GET" else 400
        return render_template("calendar/no_year.html", years=[], year=None), status
    context.setdefault("form", request.form)
    return render_template(
        template,
        year=year,
        years=planning_years(),
        can_write=_can_write(year),
        TERM_KINDS=TERM_KINDS,
        DAY_KINDS=DAY_KINDS,
        WEEKDAYS=WEEKDAYS,
        GRADES=GRADES,
        **context,
    ), status


def _done(change: calendar_edit.CalendarChange, back: str):
    """After a change: a flash and back, or the page listing lessons kept with data."""
    for warning in change.warnings:
        flash(warning, "info")
    report = change.lessons
    text = change.message
    if report is not None:
        text += (
            f" Будущие уроки (с завтрашнего дня) пересчитаны: создано {report.created}, "
            f"удалено пустых {report.deleted}, обновлено {report.updated}."
        )
    flash(text, "success")
    if report is not None and report.with_data:
        return render_template("calendar/kept.html", report=report, back=back)
    return redirect(back)


def _year_change(page, action, *, back: str, confirm: bool = False):
    """A change to the page's year: done and back to the `back` page, or `page` with the error."""
    year = _year()
    try:
        if confirm:
            _confirmed()
        if year is None:
            raise PlanningError("Сначала создайте учебный год.")
        change = action(year)
    except PlanningError as exc:
        flash(str(exc), "error")
        return page(year, 400)
    return _done(change, url_for(back, year=year.id))


# --- terms ------------------------------------------------------------------------------


def _terms_page(year: AcademicYear | None, status: int = 200):
    terms = []
    warnings = []
    if year is not None:
        terms = list(Term.select().where(Term.year == year).order_by(Term.starts, Term.grade_from))
        warnings = calendar_edit.coverage_warnings(year) if terms else []
    return _render("calendar/index.html", year, status, terms=terms, warnings=warnings)


@bp.route("/")
@requires("planning", "read")
def index():
    return _terms_page(_year())


def _term_data() -> TermData:
    problems = [
        f"{label}: дата в виде ДД.ММ.ГГГГ."
        for name, label in (("starts", "Начало"), ("ends", "Окончание"), ("mark_deadline", "Срок"))
        if _bad_date(name)
    ]
    if problems:
        raise PlanningError(" ".join(problems))
    return TermData(
        kind=request.form.get("kind", ""),
        number=_int("number"),
        name=request.form.get("name", ""),
        starts=_date("starts"),
        ends=_date("ends"),
        grade_from=_int("grade_from"),
        grade_to=_int("grade_to"),
        mark_deadline=_date("mark_deadline"),
    )


@bp.route("/terms", methods=["POST"])
@requires("planning", "write")
def term_create():
    return _year_change(
        _terms_page,
        lambda year: calendar_edit.save_term(year, _term_data(), user=g.user, ip=client_ip()),
        back="calendar.index",
    )


@bp.route("/terms/template", methods=["POST"])
@requires("planning", "write")
def term_template():
    """One button: the usual quarters, half-years and breaks of the year."""
    return _year_change(
        _terms_page,
        lambda year: calendar_edit.fill_template(year, user=g.user, ip=client_ip()),
        back="calendar.index",
        confirm=True,
    )


def _term(term_id: int) -> Term:
    return or_404(Term.get_or_none(Term.id == term_id))


@bp.route("/terms/<int:term_id>")
@requires("planning", "read")
def term_edit(term_id: int):
    term = _term(term_id)
    return _render("calendar/term.html", term.year, term=term, form=None)


@bp.route("/terms/<int:term_id>", methods=["POST"])
@requires("planning", "write")
def term_save(term_id: int):
    term = _term(term_id)
    try:
        change = calendar_edit.save_term(term.year, _term_data(), term, user=g.user, ip=client_ip())
    except PlanningError as exc:
        flash(str(exc), "error")
        return _render("calendar/term.html", term.year, 400, term=term)
    return _done(change, url_for("calendar.index", year=term.year_id))


@bp.route("/terms/<int:term_id>/delete", methods=["POST"])
@requires("planning", "write")
def term_delete(term_id: int):
    term = _term(term_id)
    try:
        _confirmed()
        change = calendar_edit.delete_term(term, user=g.user, ip=client_ip())
    except PlanningError as exc:
        flash(str(exc), "error")
        return _render("calendar/term.html", term.year, 400, term=term, form=None)
    return _done(change, url_for("calendar.index", year=term.year_id))


# --- holidays, vacations, transferred working days --------------------------------------


def _days_page(year: AcademicYear | None, status: int = 200):
    months = calendar_view.days_by_month(year) if year is not None else []
    return _render("calendar/days.html", year, status, months=months)


@bp.route("/days")
@requires("planning", "read")
def days():
    return _days_page(_year())


@bp.route("/days", methods=["POST"])
@requires("planning", "write")
def days_add():
    def add(year: AcademicYear):
        if _bad_date("first") or _bad_date("last"):
            raise PlanningError("Даты — в виде ДД.ММ.ГГГГ.")
        data = DaysData(
            kind=request.form.get("kind", ""),
            first=_date("first"),
            last=_date("last"),
            grade_from=_int("grade_from"),
            grade_to=_int("grade_to"),
            works_as_weekday=_int("works_as_weekday"),
            note=request.form.get("note", ""),
        )
        return calendar_edit.add_days(year, data, user=g.user, ip=client_ip())

    return _year_change(_days_page, add, back="calendar.days")


def _run_ids() -> list[int]:
    """The ids behind the ticked lines («12,13,14» each); tampered values are a 400."""
    ids = []
    for value in request.form.getlist("runs"):
        parts = value.split(",")
        if not all(is_number(p) for p in parts):
            abort(400)
        ids += [int(p) for p in parts]
    return ids


@bp.route("/days/delete", methods=["POST"])
@requires("planning", "write")
def days_delete():
    return _year_change(
        _days_page,
        lambda year: calendar_edit.delete_days(year, _run_ids(), user=g.user, ip=client_ip()),
        back="calendar.days",
    )


@bp.route("/days/holidays", methods=["POST"])
@requires("planning", "write")
def holidays_fill():
    return _year_change(
        _days_page,
        lambda year: calendar_edit.fill_public_holidays(year, user=g.user, ip=client_ip()),
        back="calendar.days",
        confirm=True,
    )


# --- the year on one page ---------------------------------------------------------------


@bp.route("/year")
@requires("planning", "read")
def year_view():
    year = _year()
    if year is None:
        return _render("calendar/year.html", None)
    grades = sorted(calendar_edit.grades_in_use(year)) or list(GRADES)
    chosen = request.args.get("grade", "")
    grade = int(chosen) if is_number(chosen, 2) and int(chosen) in GRADES else grades[0]
    months, terms = calendar_view.year_grid(year, grade)
    return _render(
        "calendar/year.html", year, grade=grade, grades=grades, months=months, term_days=terms
    )


# --- bells ------------------------------------------------------------------------------


def _bells_page(status: int = 200):
    found = [(s, bells.bells_of(s)) for s in bells.schedules()]
    return _render("calendar/bells.html", _year(), status, schedules=found, yearless=True)


@bp.route("/bells")
@requires("planning", "read")
def bell_list():
    return _bells_page()


@bp.route("/bells", methods=["POST"])
@requires("planning", "write")
def schedule_create():
    try:
        schedule = bells.create_schedule(request.form.get("name", ""), user=g.user, ip=client_ip())
    except PlanningError as exc:
        flash(str(exc), "error")
        return _bells_page(400)
    flash(f"Расписание звонков «{schedule.name}» создано: поправьте время уроков.", "success")
    return redirect(url_for("calendar.schedule_edit", schedule_id=schedule.id))


def _schedule(schedule_id: int) -> BellSchedule:
    return or_404(BellSchedule.get_or_none(BellSchedule.id == schedule_id))


def _schedule_page(schedule: BellSchedule, status: int = 200, rows=None):
    if rows is None:
        stored = bells.bells_of(schedule)
        rows = [(b.number, f"{b.starts:%H:%M}", f"{b.ends:%H:%M}") for b in stored]
    rows = list(rows) + [("", "", "")] * 3
    return _render(
        "calendar/schedule.html", _year(), status, schedule=schedule, rows=rows, yearless=True
    )


@bp.route("/bells/<int:schedule_id>")
@requires("planning", "read")
def schedule_edit(schedule_id: int):
    return _schedule_page(_schedule(schedule_id))


@bp.route("/bells/<int:schedule_id>", methods=["POST"])
@requires("planning", "write")
def schedule_save(schedule_id: int):
    schedule = _schedule(schedule_id)
    numbers, starts, ends = (request.form.getlist(k) for k in ("number", "starts", "ends"))
    try:
        rows = bells.parse_bells(numbers, starts, ends)
        bells.save_bells(schedule, rows, request.form.get("name"), user=g.user, ip=client_ip())
    except PlanningError as exc:
        flash(str(exc), "error")
        typed = [r for r in zip(numbers, starts, ends, strict=False) if any(v.strip() for v in r)]
        return _schedule_page(schedule, 400, typed)
    flash(f"Звонки «{schedule.name}» сохранены.", "success")
    return redirect(url_for("calendar.bell_list"))


def _schedule_change(schedule_id: int, action, message: str):
    """A confirmed change to one bell schedule; `message` is formatted with its name."""
    schedule = _schedule(schedule_id)
    try:
        _confirmed()
        action(schedule, user=g.user, ip=client_ip())
    except PlanningError as exc:
        flash(str(exc), "error")
        return _schedule_page(schedule, 400)
    flash(message.format(name=schedule.name), "success")
    return redirect(url_for("calendar.bell_list"))


@bp.route("/bells/<int:schedule_id>/default", methods=["POST"])
@requires("planning", "write")
def schedule_default(schedule_id: int):
    return _schedule_change(
        schedule_id, bells.make_default, "Теперь уроки идут по звонкам «{name}»."
    )


@bp.route("/bells/<int:schedule_id>/delete", methods=["POST"])
@requires("planning", "write")
def schedule_delete(schedule_id: int):
    return _schedule_change(
        schedule_id, bells.delete_schedule, "Расписание звонков «{name}» удалено."
    )
