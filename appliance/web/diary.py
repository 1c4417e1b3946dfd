"""A student's diary as the student and their parents see it (grows in the diary issue)."""

from __future__ import annotations

from flask import Blueprint, abort, g, render_template

from .. import access, dashboard
from ..models import Person
from .guard import requires

bp = Blueprint("diary", __name__, url_prefix="/diary")


@bp.route("/<int:student_id>")
@requires("diary", "read")
def child(student_id: int):
    student = Person.get_or_none(Person.id == student_id)
    # Another family's child looks exactly like a missing one: no hint it exists.
    if student is None or not access.can_see_student(g.person, g.role, student):
        abort(404)
    day, lessons = dashboard.student_day(student)
    child = {
        "student": student,
        "school_class": access.current_class_of(student),
        "day": day,
        "lessons": lessons,
    }
    return render_template("diary/child.html", child=child)
