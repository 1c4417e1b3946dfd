"""The lesson page: topic, homework, attendance and marks on one screen (issue 3).

Every field saves on its own through HTMX (`POST /lessons/<id>` with that one field,
answered with the field's fragment) and the page also works as one plain form. The
deputy gives a lesson to another teacher here and re-syncs lessons with the timetable.
"""

from __future__ import annotations

import datetime as dt
import functools

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from .. import access, journal, lesson_form, lesson_page
from ..lessons import regenerate_lessons
from ..models import Lesson
from ..numbers import is_number
from ..years import planning_years, selected_year
from . import settings_of
from .forms import date_from_form, or_404
from .guard import client_ip, is_htmx, requires

bp = Blueprint("lessons", __name__, url_prefix="/lessons")


def _lesson(lesson_id: int) -> Lesson:
    return or_404(lesson_page.readable_lesson(lesson_id, g.person, g.role))


def _page(lesson: Lesson, view: lesson_page.LessonView | None = None, status: int = 200):
    may_write = access.allowed(g.role.role, "journal", "write")
    refusal = lesson_page.write_refusal(lesson, g.person) if may_write else None
    return render_template(
        "lessons/page.html",
        view=view or lesson_page.lesson_view(lesson),
        can_write=may_write and refusal is None,
        refusal=refusal,
        may_teach=g.role.role == "class_teacher" and journal.may_write_lesson(g.person, lesson),
        can_control=access.allowed(g.role.role, "journal_control", "write"),
    ), status


@bp.route("/<int:lesson_id>")
@requires("journal", "read")
def page(lesson_id: int):
    return _page(_lesson(lesson_id))


@bp.route("/<int:lesson_id>", methods=["POST"])
@requires("journal", "write")
def save(lesson_id: int):
    """The whole form, or (HTMX) one field of it: answered with that field's fragment."""
    lesson = _lesson(lesson_id)
    changes = lesson_form.LessonChanges.from_form(request.form)
    try:
        errors = lesson_form.save_changes(lesson, changes, user=g.user, ip=client_ip())
    except journal.NotYourLesson:
        abort(403)
    view = lesson_page.lesson_view(Lesson.get_by_id(lesson.id))
    if errors:
        view.keep_typed(request.form, errors)
    if is_htmx():
        return _field(view, changes.names, errors)
    if errors:
        flash("Ничего не сохранено: исправьте отмеченные поля.", "error")
        return _page(lesson, view, 400)
    flash("Урок сохранён.", "success")
    return redirect(url_for("lessons.page", lesson_id=lesson_id))


def _field(view: lesson_page.LessonView, names: list[str], errors: dict[str, str]):
    """The one field an HTMX save sent, re-rendered with its new state."""
    if not names:
        abort(400)
    try:
        view.find(names[0])
    except KeyError:  # not a field of this page (a student from elsewhere, a tampered name)
        message = errors.get(names[0], "Такого поля на странице урока нет.")
        return render_template("_partials/cell_error.html", message=message), 400
    status = 400 if errors else 200
    return render_template("lessons/field.html", view=view, name=names[0], editable=True), status


def _back(lesson_id: int, message: str, category: str = "success"):
    flash(message, category)
    return redirect(url_for("lessons.page", lesson_id=lesson_id))


@bp.route("/<int:lesson_id>/present", methods=["POST"])
@requires("journal", "write")
def present(lesson_id: int):
    """«Все присутствуют»: the roll was called; whoever is not marked absent was there."""
    lesson = _lesson(lesson_id)
    try:
        journal.mark_attendance_taken(lesson, user=g.user, ip=client_ip())
    except journal.JournalError as exc:
        return _back(lesson_id, str(exc), "error")
    return _back(lesson_id, "Посещаемость отмечена: остальные присутствуют.")


@bp.route("/<int:lesson_id>/assignments", methods=["POST"])
@requires("journal", "write")
def add_assignment(lesson_id: int):
    lesson = _lesson(lesson_id)
    work_type, weight = request.form.get("work_type", ""), request.form.get("weight", "")
    if not is_number(work_type) or not (weight == "" or is_number(weight)):
        abort(400)
    try:
        journal.add_assignment(
            lesson,
            int(work_type),
            user=g.user,
            ip=client_ip(),
            weight=int(weight) if weight else None,
        )
    except journal.JournalError as exc:
        return _back(lesson_id, str(exc), "error")
    return _back(lesson_id, "Работа добавлена: для неё появился столбец оценок.")


@bp.route("/<int:lesson_id>/homework-file", methods=["POST"])
@requires("journal", "write")
def upload_homework_file(lesson_id: int):
    """Attach a homework file (replacing the one before), or with `remove` unlink it."""
    lesson = _lesson(lesson_id)
    upload = request.files.get("file")
    try:
        if request.form.get("remove"):
            lesson_form.remove_homework_file(lesson, user=g.user, ip=client_ip())
            return _back(lesson_id, "Файл откреплён от домашнего задания.")
        if upload is None or not upload.filename:
            return _back(lesson_id, "Выберите файл.", "error")
        lesson_form.attach_homework_file(
            lesson,
            upload.stream,
            upload.filename,
            settings_of(current_app).files_dir,
            user=g.user,
            ip=client_ip(),
        )
    except journal.JournalError as exc:
        return _back(lesson_id, str(exc), "error")
    return _back(lesson_id, "Файл прикреплён к домашнему заданию.")


@bp.route("/<int:lesson_id>/homework-file")
@requires("journal", "read")
def homework_file(lesson_id: int):
    found = lesson_form.homework_file(_lesson(lesson_id), settings_of(current_app).files_dir)
    if found is None:
        return _back(lesson_id, "К этому уроку файл не прикреплён.", "info")
    path, attachment = found
    return send_file(
        path,
        mimetype=attachment.content_type,
        as_attachment=True,  # never rendered in the page's origin, whatever it holds
        download_name=attachment.filename,
    )


@bp.route("/<int:lesson_id>/substitute")
@requires("journal_control", "write")
def substitute_form(lesson_id: int):
    lesson = _lesson(lesson_id)
    return _substitute_page(lesson, {})


def _substitute_page(lesson: Lesson, form, status: int = 200):
    return render_template(
        "lessons/substitute.html",
        lesson=lesson,
        teachers=lesson_page.substitute_candidates(lesson),
        form=form,
    ), status


@bp.route("/<int:lesson_id>/substitute", methods=["POST"])
@requires("journal_control", "write")
def substitute(lesson_id: int):
    """Give the lesson to another teacher (§ issue 3, item 1): it moves to their day."""
    lesson = _lesson(lesson_id)
    chosen = request.form.get("teacher", "")
    teacher = next(
        (t for t in lesson_page.substitute_candidates(lesson) if str(t.id) == chosen), None
    )
    try:
        if teacher is None:
            raise journal.JournalError("Выберите учителя из списка.")
        journal.substitute(
            lesson, teacher, request.form.get("reason", ""), user=g.user, ip=client_ip()
        )
    except journal.JournalError as exc:
        flash(str(exc), "error")
        return _substitute_page(lesson, request.form, 400)
    return _back(lesson_id, f"Урок передан: {teacher.full_name}.")


@bp.route("/regenerate", methods=["GET", "POST"])
@requires("journal_control", "write")
def regenerate():
    """Re-sync future lessons with the timetable: «Проверить» previews, «Применить» applies.

    Works on the year of ``?year=`` (the timetable pages link here after editing),
    else the current one; a closed year cannot change.
    """
    raw_year = request.values.get("year")
    year = selected_year(raw_year)
    if year is None:
        abort(404)
    page = functools.partial(
        render_template, "lessons/regenerate.html", year=year, years=planning_years()
    )
    if request.method == "GET":
        return page(report=None, until=None)
    action = request.form.get("action")
    until = date_from_form("until", year.ends)
    if action not in ("preview", "apply") or until is None:
        flash("Укажите дату в виде ДД.ММ.ГГГГ и нажмите «Проверить» или «Применить».", "error")
        return page(report=None, until=None), 400
    if action == "apply" and year.read_only:
        flash(f"{year.name} учебный год закрыт: уроки в нём не меняются.", "error")
        return page(report=None, until=None), 400
    report = regenerate_lessons(
        year,
        dt.date.today(),
        min(until, year.ends),
        user=g.user,
        ip=client_ip(),
        dry_run=action == "preview",
    )
    if action == "apply":
        flash("Уроки сверены с расписанием.", "success")
    return page(report=report, until=until, applied=action == "apply")
