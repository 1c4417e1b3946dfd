"""The journal grid of a subject group and term: students × lessons (issue 3).

Cell writes (`marks_save`, `attendance_save`) are the contract the grid's script,
the lesson page, the bench and the crash test use: form fields in, a cell fragment
out (200), or a Russian message (400 bad input, 403 another teacher's lesson).
"""

from __future__ import annotations

from flask import Blueprint, abort, g, render_template, request

from .. import journal
from ..grading import GradingError
from ..models import Assignment, Lesson
from .guard import client_ip, requires

bp = Blueprint("grid", __name__, url_prefix="/journal")


def _int_field(name: str) -> int:
    value = request.form.get(name, "")
    if not value.isdigit():
        abort(400)
    return int(value)


def _refused(exc: ValueError):
    status = getattr(exc, "status", 400)
    return render_template("_partials/cell_error.html", message=str(exc)), status


@bp.route("/marks", methods=["POST"])
@requires("journal", "write")
def marks_save():
    """One mark cell: `assignment`, `student`, `value` (empty clears the mark)."""
    assignment = Assignment.get_or_none(Assignment.id == _int_field("assignment"))
    if assignment is None:
        abort(404)
    student_id = _int_field("student")
    try:
        mark = journal.set_mark(
            assignment, student_id, request.form.get("value", ""), user=g.user, ip=client_ip()
        )
    except (journal.JournalError, GradingError) as exc:
        return _refused(exc)
    return render_template(
        "_partials/mark_cell.html", mark=mark, assignment=assignment, student_id=student_id
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
