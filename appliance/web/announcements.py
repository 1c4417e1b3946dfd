"""The announcements board: posting for an audience, publish and expiry dates (issue 5)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from .. import announcements
from ..announcements import AnnouncementError
from ..models import Announcement
from .guard import client_ip, requires

bp = Blueprint("announcements", __name__, url_prefix="/announcements")


def _announcement_or_404(announcement_id: int) -> Announcement:
    found = Announcement.get_or_none(Announcement.id == announcement_id)
    if found is None:
        abort(404)
    return found


def _form_page(form: dict, announcement: Announcement | None = None, status: int = 200):
    return render_template(
        "announcements/form.html",
        form=form,
        announcement=announcement,
        classes=announcements.class_choices(announcement.school_class if announcement else None),
        audiences=announcements.AUDIENCE_CHOICES,
        members=announcements.CLASS_MEMBERS,
        state=announcements.state(announcement) if announcement else None,
    ), status


@bp.route("/")
@requires("announcements", "read")
def index():
    """Writers see the whole board (scheduled and archived too); readers what is for them."""
    writer = announcements.may_write(g.role)
    return render_template(
        "announcements/index.html",
        writer=writer,
        board=announcements.board() if writer else None,
        shown=None if writer else announcements.for_viewer(g.user, g.role),
        audience_label=announcements.audience_label,
    )


@bp.route("/new", methods=["GET", "POST"])
@requires("announcements", "write")
def new():
    if request.method == "GET":
        return _form_page({"audience": "all", "members": "both"})
    try:
        posted = announcements.post(request.form, user=g.user, ip=client_ip())
    except AnnouncementError as exc:
        flash(str(exc), "error")
        return _form_page(request.form, status=400)
    when = announcements.state(posted)
    done = "запланировано" if when == "scheduled" else "опубликовано"
    flash(f"Объявление «{posted.title}» {done}.", "success")
    return redirect(url_for("announcements.index"))


@bp.route("/<int:announcement_id>")
@requires("announcements", "read")
def show(announcement_id: int):
    """A writer gets the edit form; a reader the announcement, if it is meant for them now."""
    announcement = _announcement_or_404(announcement_id)
    if announcements.may_write(g.role):
        return _form_page(announcements.form_values(announcement), announcement)
    if not announcements.visible_to(announcement, g.user, g.role):
        abort(404)
    return render_template("announcements/show.html", announcement=announcement)


@bp.route("/<int:announcement_id>", methods=["POST"])
@requires("announcements", "write")
def save(announcement_id: int):
    announcement = _announcement_or_404(announcement_id)
    try:
        announcements.update(announcement, request.form, user=g.user, ip=client_ip())
    except AnnouncementError as exc:
        flash(str(exc), "error")
        return _form_page(request.form, announcement, status=400)
    flash(f"Объявление «{announcement.title}» сохранено.", "success")
    return redirect(url_for("announcements.index"))


@bp.route("/<int:announcement_id>/delete", methods=["POST"])
@requires("announcements", "write")
def delete(announcement_id: int):
    announcement = _announcement_or_404(announcement_id)
    title = announcement.title
    try:
        announcements.delete(
            announcement,
            confirmed=request.form.get("confirm") == "1",
            user=g.user,
            ip=client_ip(),
        )
    except AnnouncementError as exc:
        flash(str(exc), "error")
        return _form_page(announcements.form_values(announcement), announcement, status=400)
    flash(f"Объявление «{title}» удалено.", "success")
    return redirect(url_for("announcements.index"))
