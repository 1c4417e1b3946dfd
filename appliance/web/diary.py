"""The diary (ЭД) pages: a student's week, term marks, the year, the dynamics; read-only.

A student opens only their own diary, a parent only their children's: any other
student id, like a missing one, is a 404 (`diary.diary_student`). Nothing here writes.
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
    send_file,
    url_for,
)

from .. import access, diary, lesson_form, publishing
from ..models import Person
from ..numbers import is_number
from . import settings_of
from .guard import requires

bp = Blueprint("diary", __name__, url_prefix="/diary")


def _student(student_id: int) -> tuple[Person, list[Person]]:
    student, children = diary.diary_student(g.person, g.role, student_id)
    if student is None:
        abort(404)
    return student, children


def _page(template: str, student: Person, children: list[Person], status: int = 200, **context):
    """Every diary page: the child's heading, the switch between children, «данные на …»."""
    return render_template(
        template,
        student=student,
        children=children,
        school_class=context.pop("school_class", None) or access.current_class_of(student),
        as_of=diary.data_as_of(student),
        upstream=publishing.upstream_configured(),
        switch_args=context.pop("switch_args", {}),
        **context,
    ), status


@bp.route("/")
@requires("diary", "read")
def index():
    """A student's own diary; a parent's only child, or the choice between children."""
    children = diary.diary_children(g.person, g.role)
    if len(children) == 1:
        return redirect(url_for("diary.child", student_id=children[0].id))
    return render_template("diary/index.html", children=children)


@bp.route("/<int:student_id>")
@requires("diary", "read")
def child(student_id: int):
    """The week: lessons with times and rooms, topics, homework, marks, attendance."""
    student, children = _student(student_id)
    status = 200
    try:
        monday = diary.parse_week(request.args.get("week"))
    except diary.DiaryError as exc:
        flash(str(exc), "error")
        monday, status = diary.parse_week(None), 400
    school_class = access.current_class_of(student)
    week = diary.week(student, monday, school_class.grade if school_class else None)
    return _page(
        "diary/week.html",
        student,
        children,
        status,
        week=week,
        school_class=school_class,
        switch_args={"week": monday.isoformat()} if request.args.get("week") else {},
    )


@bp.route("/<int:student_id>/marks")
@requires("diary", "read")
def marks(student_id: int):
    """Marks by subject for a term (`?term=`, the current one by default)."""
    student, children = _student(student_id)
    school_class = access.current_class_of(student)
    raw = request.args.get("term", "").strip()
    if raw and not is_number(raw):
        abort(404)
    found = None
    if school_class is not None:
        try:
            found = diary.term_marks(student, school_class, int(raw) if raw else None)
        except LookupError:
            abort(404)  # a term of another grade or none at all, like a missing id
    return _page("diary/marks.html", student, children, school_class=school_class, marks=found)


@bp.route("/<int:student_id>/year")
@requires("diary", "read")
def year(student_id: int):
    """The year at a glance: subjects × terms, period, year and final marks."""
    student, children = _student(student_id)
    school_class = access.current_class_of(student)
    overview = diary.year_overview(student, school_class) if school_class else None
    return _page("diary/year.html", student, children, school_class=school_class, overview=overview)


@bp.route("/<int:student_id>/dynamics")
@requires("diary", "read")
def dynamics(student_id: int):
    """The cumulative weighted average per subject, week by week (`?from=&to=&subject=`)."""
    student, children = _student(student_id)
    default = diary.default_range()
    status = 200
    try:
        starts, ends = diary.parse_range(request.args.get("from"), request.args.get("to"), default)
    except diary.DiaryError as exc:
        flash(str(exc), "error")
        (starts, ends), status = default, 400
    picked = request.args.getlist("subject")
    chosen = {int(raw) for raw in picked if is_number(raw)} if picked else None
    chart = diary.dynamics_of(student, starts, ends, chosen)
    return _page(
        "diary/dynamics.html",
        student,
        children,
        status,
        chart=chart,
        form={"from": request.args.get("from", ""), "to": request.args.get("to", "")},
        default=default,
    )


@bp.route("/<int:student_id>/lessons/<int:lesson_id>/file")
@requires("diary", "read")
def lesson_file(student_id: int, lesson_id: int):
    """The homework file of a lesson of the student's groups, once the homework is published."""
    student, _children = _student(student_id)
    lesson = diary.homework_lesson(student, lesson_id)
    if lesson is None:
        abort(404)
    found = (
        lesson_form.homework_file(lesson, settings_of(current_app).files_dir)
        if lesson.shown
        else None
    )
    if found is None:
        flash("К этому уроку файл не прикреплён.", "info")
        return redirect(url_for("diary.child", student_id=student.id, week=lesson.date.isoformat()))
    path, attachment = found
    return send_file(
        path,
        mimetype=attachment.content_type,
        as_attachment=True,  # never rendered in the page's origin, whatever it holds
        download_name=attachment.filename,
    )
