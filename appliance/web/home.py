"""Each role's first page."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, url_for

from .. import access, announcements, dashboard, notices
from ..models import SchoolClass
from ..numbers import is_number
from . import settings_of
from .guard import client_ip, requires

bp = Blueprint("home", __name__)


@bp.route("/")
@requires("own", "read")
def index():
    role = g.role.role
    context: dict = {}
    if role == "teacher":
        context["day"], context["lessons"] = dashboard.teacher_day(g.person)
    elif role == "class_teacher":
        school_class = SchoolClass.get_or_none(SchoolClass.id == g.role.class_id)
        if school_class is None:
            abort(404)
        context["school_class"] = school_class
        context["summary"] = dashboard.class_summary(school_class)
        context["day"], context["lessons"] = dashboard.teacher_day(g.person)
    elif role == "student":
        context["children"] = [_child_day(g.person)]
    elif role == "parent":
        context["children"] = [_child_day(child) for child in access.children_of(g.person)]
    elif role == "admin":
        context["overview"] = dashboard.admin_overview(settings_of(current_app).data_dir)
    else:  # director, deputy, inspector
        context["overview"] = dashboard.school_overview()
    context["notices"] = notices.unread(g.user)
    context["home_announcements"], context["more_announcements"] = announcements.on_home(
        g.user, g.role
    )
    return render_template(f"home/{role}.html", **context)


@bp.route("/notices/read", methods=["POST"])
@requires("own", "write")
def notices_read():
    """Mark one notice read (``notice``), or all of the user's notices."""
    raw = request.form.get("notice", "").strip()
    if raw and not is_number(raw):
        abort(400)
    notices.mark_read(g.user, int(raw) if raw else None, ip=client_ip())
    return redirect(url_for("home.index"))


def _child_day(student):
    day, lessons = dashboard.student_day(student)
    return {
        "student": student,
        "school_class": access.current_class_of(student),
        "day": day,
        "lessons": lessons,
    }
