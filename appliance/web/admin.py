"""The admin's console: staff, accounts, activity, personal-data changes, the audit."""

from __future__ import annotations

import datetime as dt

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from .. import access, admin_queries, people
from ..audit import verify_chain
from ..audit_labels import action_label
from ..models import Person, User
from . import settings_of
from .credentials import render_slips
from .forms import STAFF_ASSIGNABLE, date_from_form, ids_from_form, roles_from_form
from .guard import client_ip, requires

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _staff_or_404(staff_id: int) -> Person:
    person = Person.get_or_none((Person.id == staff_id) & Person.is_staff)
    if person is None:
        abort(404)
    return person


def _staff_form(person: Person | None, form, status: int = 200):
    account = User.get_or_none(User.person == person) if person else None
    grants = list(account.grants) if account else []
    if request.method == "POST":  # re-show what was submitted
        checked = set(request.form.getlist("roles"))
        class_of = request.form.get("class_teacher_of", type=int)
    else:
        checked = {grant.role for grant in grants}
        class_of = next((gr.school_class_id for gr in grants if gr.school_class_id), None)
    return render_template(
        "admin/staff_form.html",
        form=form,
        person=person,
        account=account,
        classes=admin_queries.current_classes(),
        assignable=STAFF_ASSIGNABLE,
        checked_roles=checked,
        class_of=class_of,
    ), status


@bp.route("/staff")
@requires("staff", "read")
def staff():
    return render_template("admin/staff.html", rows=admin_queries.staff_rows())


@bp.route("/staff/new", methods=["GET"])
@requires("staff", "write")
def staff_new():
    return _staff_form(None, {})


@bp.route("/staff/new", methods=["POST"])
@requires("staff", "write")
def staff_create():
    try:
        person = people.create_staff(request.form, roles_from_form(), user=g.user, ip=client_ip())
    except people.PeopleError as exc:
        flash(str(exc), "error")
        return _staff_form(None, request.form, 400)
    flash(f"Сотрудник {person.full_name} добавлен. Выдайте ему реквизиты доступа.", "success")
    return redirect(url_for("admin.staff_edit", staff_id=person.id))


@bp.route("/staff/<int:staff_id>", methods=["GET"])
@requires("staff", "read")
def staff_edit(staff_id: int):
    person = _staff_or_404(staff_id)
    admin_queries.log_view(g.user, person, client_ip(), "карточка сотрудника")
    return _staff_form(person, person.__data__)


@bp.route("/staff/<int:staff_id>", methods=["POST"])
@requires("staff", "write")
def staff_save(staff_id: int):
    person = _staff_or_404(staff_id)
    notified_on = date_from_form("notified_on", dt.date.today())
    try:
        if notified_on is None:
            raise people.PeopleError("Дата уведомления указана неверно.")
        changed = people.save_staff(
            person,
            request.form,
            roles_from_form(),
            user=g.user,
            ip=client_ip(),
            notified_on=notified_on,
        )
    except people.PeopleError as exc:
        flash(str(exc), "error")
        return _staff_form(person, request.form, 400)
    flash("Изменения сохранены." if changed else "Роли сохранены.", "success")
    return redirect(url_for("admin.staff_edit", staff_id=person.id))


@bp.route("/credentials", methods=["POST"])
@requires("staff", "write")
def staff_credentials():
    ids = set(ids_from_form("person"))
    staff_people = list(Person.select().where(Person.id.in_(ids) & Person.is_staff))
    if not staff_people or len(staff_people) != len(ids):
        flash("Выберите сотрудников, которым нужно выдать реквизиты.", "error")
        return redirect(url_for("admin.staff"))
    issued = people.issue_credentials(
        staff_people,
        {},
        user=g.user,
        ip=client_ip(),
        profile=settings_of(current_app).password_profile,
    )
    return render_slips(issued, back=url_for("admin.staff"))


@bp.route("/accounts")
@requires("accounts", "read")
def accounts():
    query = request.args.get("q", "").strip()
    role = request.args.get("role", "")
    if role not in access.ROLES:
        role = ""
    rows = admin_queries.account_rows(query, role)
    return render_template("admin/accounts.html", rows=rows, q=query, role=role)


@bp.route("/accounts/<int:user_id>/lock", methods=["POST"])
@requires("accounts", "write")
def account_lock(user_id: int):
    return _set_lock(user_id, True)


@bp.route("/accounts/<int:user_id>/unlock", methods=["POST"])
@requires("accounts", "write")
def account_unlock(user_id: int):
    return _set_lock(user_id, False)


def _set_lock(user_id: int, locked: bool):
    account = User.get_or_none(User.id == user_id)
    if account is None:
        abort(404)
    try:
        people.set_admin_lock(account, locked, user=g.user, ip=client_ip())
    except people.PeopleError as exc:
        flash(str(exc), "error")
    else:
        state = "заблокирована" if locked else "разблокирована"
        flash(f"Учётная запись {account.username} {state}.", "success")
    return redirect(url_for("admin.accounts", q=account.username))


@bp.route("/activity")
@requires("accounts", "read")
def activity():
    days = request.args.get("days", 30, type=int)
    days = days if 0 < days <= 400 else 30
    return render_template("admin/activity.html", rows=admin_queries.activity_rows(days), days=days)


@bp.route("/activity/<int:user_id>")
@requires("accounts", "read")
def user_activity(user_id: int):
    account = User.get_or_none(User.id == user_id)
    if account is None:
        abort(404)
    return render_template(
        "admin/user_activity.html", account=account, events=admin_queries.login_events(account)
    )


def _personal_data_page(status: int = 200):
    return render_template(
        "admin/personal_data.html",
        rows=people.data_change_report(),
        labels=people.FIELD_LABELS,
        limit=people.PD_ENTRY_DAYS,
        form=request.form,
    ), status


@bp.route("/personal-data", methods=["GET"])
@requires("personal_data", "read")
def personal_data():
    return _personal_data_page()


@bp.route("/personal-data", methods=["POST"])
@requires("personal_data", "write")
def personal_data_notice():
    person = Person.get_or_none(Person.id == request.form.get("person_id", type=int))
    notified_on = date_from_form("notified_on")
    try:
        if person is None:
            raise people.PeopleError("Человек не найден.")
        if notified_on is None:
            raise people.PeopleError("Дата уведомления указана неверно.")
        people.register_data_notice(
            person,
            request.form.get("field", ""),
            request.form.get("new_value", ""),
            notified_on,
            user=g.user,
            ip=client_ip(),
        )
    except people.PeopleError as exc:
        flash(str(exc), "error")
        return _personal_data_page(400)
    flash("Уведомление зарегистрировано: внесите изменение в течение 3 дней.", "success")
    return redirect(url_for("admin.personal_data"))


@bp.route("/audit")
@requires("audit", "read")
def audit_log():
    return render_template(
        "admin/audit.html",
        audit_label=action_label,
        entries=admin_queries.audit_entries(request.args.get("before", type=int)),
        broken_at=verify_chain(),
    )
