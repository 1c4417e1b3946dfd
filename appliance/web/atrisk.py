"""Notices to parents: students at risk, one-click notices, letters, the log (issue 5).

Renders what `appliance.parent_notices` decides. Write scope (a teacher: students of
their groups; a class teacher: their class) is checked here before the domain runs:
out of scope is a 404, as everywhere.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from ..messaging import MessageError
from ..models import Notification, Person, School
from ..numbers import is_number
from ..parent_notices import notify, risk, texts
from ..parent_notices.log import LIMIT, OFFICE, LogFilter, notice_log
from ..parent_notices.parents import parent_contacts
from ..school_calendar import current_year
from ..school_classes import year_classes
from .guard import client_ip, requires

bp = Blueprint("atrisk", __name__, url_prefix="/at-risk")


def _number(raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not is_number(raw):
        abort(400)
    return int(raw)


def _class_filter() -> int | None:
    """The office narrows the school to one class; others always see their own scope."""
    return _number(request.args.get("class", "")) if g.role.role in OFFICE else None


def _classes() -> list:
    year = current_year()
    return year_classes(year) if year is not None and g.role.role in OFFICE else []


def _index_page(status: int = 200):
    class_id = _class_filter()
    rows = risk.at_risk(g.person, g.role, class_id=class_id)
    return render_template(
        "atrisk/index.html",
        rows=rows,
        contacts=parent_contacts({r.student.id for r in rows}),
        school=School.get(),
        classes=_classes(),
        class_id=class_id,
        can_write=g.role.role in notify.WRITERS,
        pending=sum(1 for r in rows if r.notified is None),
        texts=texts,
    ), status


@bp.route("/")
@requires("parent_notices", "read")
def index():
    return _index_page()


def _sent_message(sent: notify.Sent) -> str:
    text = (
        f"Уведомления отправлены: в приложении — {sent.count('app')}, "
        f"письмом — {sent.count('letter')}."
    )
    if sent.job is not None:
        text += " Письма готовятся: скачайте PDF на этой странице и распечатайте."
    if sent.without_parents:
        names = ", ".join(s.full_name for s in sent.without_parents)
        text += f" Не уведомлены (родители не записаны): {names}."
    return text


def _after_sending(sent: notify.Sent):
    flash(_sent_message(sent), "success")
    if sent.job is not None:
        return redirect(url_for("jobs.show", job_id=sent.job.id))
    return redirect(url_for("atrisk.index"))


@bp.route("/students/<int:student_id>/notify", methods=["POST"])
@requires("parent_notices", "write")
def notify_student(student_id: int):
    """One click: notify the parents of one student about one reason (kind, subject)."""
    student = Person.get_or_none(Person.id == student_id)
    if student is None or not notify.may_notify(g.person, g.role, student):
        abort(404)
    group_id = _number(request.form.get("group", ""))
    if group_id is not None and group_id not in {
        group.id for group in risk.scope_groups(g.person, g.role)
    }:
        abort(404)
    try:
        sent = notify.notify_student(
            g.person,
            g.role,
            student,
            request.form.get("kind", ""),
            group_id,
            user=g.user,
            ip=client_ip(),
        )
    except (notify.NoticeError, MessageError) as exc:
        flash(str(exc), "error")
        return _index_page(400)
    return _after_sending(sent)


@bp.route("/notify-all", methods=["POST"])
@requires("parent_notices", "write")
def notify_all():
    """The batch: everyone on the list whose parents were not told this term."""
    if request.form.get("confirm") != "1":
        flash("Подтвердите отправку: отметьте «Да, уведомить всех».", "error")
        return _index_page(400)
    try:
        sent = notify.notify_everyone_due(g.person, g.role, user=g.user, ip=client_ip())
    except (notify.NoticeError, MessageError) as exc:
        flash(str(exc), "error")
        return _index_page(400)
    return _after_sending(sent)


def _date_arg(name: str) -> dt.date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        flash("Дата указана неверно: фильтр по ней не применён.", "error")
        return None


@bp.route("/log")
@requires("parent_notices", "read")
def log():
    """Who was notified of what, when, by whom, and whether they read it."""
    flt = LogFilter(
        class_id=_class_filter(),
        date_from=_date_arg("date_from"),
        date_to=_date_arg("date_to"),
        kind=request.args.get("kind", ""),
    )
    return render_template(
        "atrisk/log.html",
        entries=notice_log(g.person, g.user, g.role, flt),
        flt=flt,
        classes=_classes(),
        kinds=[(k, texts.KIND_LABELS[k]) for k in Notification.KINDS],
        limit=LIMIT,
    )
