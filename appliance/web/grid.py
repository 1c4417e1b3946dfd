"""The journal grid of a subject group and term: students × lessons (issue 3).

Cell writes (`marks_save`, `attendance_save`) are the contract the grid's script,
the lesson page, the bench and the crash test use: form fields in, a cell fragment
out (200), or a Russian message (400 bad input, 403 another teacher's lesson).
`appliance.grid` reads and arranges; `appliance.journal` decides every write.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from markupsafe import Markup, escape

from .. import grid, journal
from ..grading import GradingError
from ..models import Assignment, Lesson, SubjectGroup
from ..numbers import is_number
from .guard import client_ip, is_htmx, requires

bp = Blueprint("grid", __name__, url_prefix="/journal")


@bp.app_template_filter("grid_cells")
def grid_cells(values: list[str | None]) -> Markup:
    """One grid row's cells as <td>s in one go (a term's grid has thousands of them).

    None is a day the student was not in the group: a disabled cell. A row holds a
    handful of distinct values, so each is escaped once.
    """
    cells: dict[str | None, str] = {None: '<td class="x" aria-disabled="true"></td>'}
    for value in values:
        if value not in cells:
            cells[value] = f"<td>{escape(value)}</td>"
    return Markup("".join([cells[value] for value in values]))


def _int_field(name: str) -> int:
    value = request.form.get(name, "")
    if not is_number(value):
        abort(400)
    return int(value)


def _optional_int(value: str | None) -> int | None:
    return int(value) if value and is_number(value) else None


def _refused(exc: ValueError):
    status = getattr(exc, "status", 400)
    return render_template("_partials/cell_error.html", message=str(exc)), status


def _readable_group(group_id: int) -> SubjectGroup:
    group = grid.readable_group(group_id, g.person, g.role)
    if group is None:
        abort(404)
    return group


@bp.route("/")
@requires("journal", "read")
def index():
    """The groups the role may open: a teacher's own, a class teacher's class, or all."""
    return render_template("grid/index.html", sections=grid.readable_groups(g.person, g.role))


@bp.route("/<int:group_id>")
@requires("journal", "read")
def show(group_id: int):
    """The grid of one group and term (`?term=`; by default the term containing today)."""
    group = _readable_group(group_id)
    writer = g.person if g.role.role == "teacher" else None
    data = grid.load_grid(group, request.args.get("term", type=int), writer=writer)
    if data is None:
        abort(404)
    return render_template("grid/show.html", grid=data)


@bp.route("/<int:group_id>/assignments", methods=["POST"])
@requires("journal", "write")
def add_assignment(group_id: int):
    """A new assignment column on a lesson: `lesson`, `work_type`, `weight` (empty: default)."""
    group = _readable_group(group_id)
    lesson = Lesson.get_or_none((Lesson.id == _int_field("lesson")) & (Lesson.group == group))
    if lesson is None:
        abort(404)
    work_type_id = _int_field("work_type")
    weight = request.form.get("weight", "").strip()
    back = url_for("grid.show", group_id=group.id, term=_optional_int(request.form.get("term")))
    try:
        if weight and not is_number(weight):
            raise journal.JournalError("Вес работы — целое число от 1 до 10.")
        assignment = journal.add_assignment(
            lesson, work_type_id, user=g.user, ip=client_ip(), weight=_optional_int(weight)
        )
    except journal.JournalError as exc:
        flash(str(exc), "error")
        return redirect(back, 303)
    flash(
        f"Добавлена работа «{assignment.work_type.name}» (вес {assignment.weight}) "
        f"на урок {lesson.date:%d.%m.%Y}.",
        "success",
    )
    return redirect(back, 303)


@bp.route("/history")
@requires("journal", "read")
def history():
    """One cell's history: `kind` mark|attendance, `row` assignment|lesson id, `student`."""
    kind = request.args.get("kind", "")
    row = request.args.get("row", type=int)
    student = request.args.get("student", type=int)
    if kind not in ("mark", "attendance") or row is None or student is None:
        abort(400)
    cell = grid.cell_history(kind, row, student, g.person, g.role)
    if cell is None:
        abort(404)
    return render_template("grid/_history.html" if is_htmx() else "grid/history.html", cell=cell)


@bp.route("/marks", methods=["POST"])
@requires("journal", "write")
def marks_save():
    """One mark cell: `assignment`, `student`, `value` (empty clears the mark).

    Instead of `assignment`, `lesson`: the lesson's first assignment, made with the
    default work type for the first mark. With `term` (a term id; 0 is the whole
    year) the row's new average and marks count come back too, out of band.
    """
    assignment = lesson = None
    if "assignment" in request.form or "lesson" not in request.form:
        assignment = Assignment.get_or_none(Assignment.id == _int_field("assignment"))
        if assignment is None:
            abort(404)
    else:
        lesson = Lesson.get_or_none(Lesson.id == _int_field("lesson"))
        if lesson is None:
            abort(404)
    student_id = _int_field("student")
    try:
        saved = grid.save_mark(
            student_id,
            request.form.get("value", ""),
            user=g.user,
            ip=client_ip(),
            assignment=assignment,
            lesson=lesson,
            period_id=_optional_int(request.form.get("term")),
        )
    except (journal.JournalError, GradingError) as exc:
        return _refused(exc)
    return render_template(
        "_partials/mark_cell.html",
        mark=saved.mark,
        assignment=saved.assignment,
        student_id=student_id,
        summary=saved.summary,
    )


@bp.route("/attendance", methods=["POST"])
@requires("journal", "write")
def attendance_save():
    """One attendance cell: `lesson`, `student`, `value` (н, б, уп, оп, осв; empty clears)."""
    lesson = Lesson.get_or_none(Lesson.id == _int_field("lesson"))
    if lesson is None:
        abort(404)
    student_id = _int_field("student")
    try:
        row = journal.set_attendance(
            lesson, student_id, request.form.get("value", ""), user=g.user, ip=client_ip()
        )
    except (journal.JournalError, GradingError) as exc:
        return _refused(exc)
    return render_template(
        "_partials/attendance_cell.html", row=row, lesson=lesson, student_id=student_id
    )
