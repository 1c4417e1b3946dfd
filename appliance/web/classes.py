"""A class's students and parents: roster, cards, import and credentials (§5.2, §7.3)."""

from __future__ import annotations

import datetime as dt
import io
import secrets

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

from .. import access, admin_queries, imports, people, rosters
from ..models import SchoolClass
from . import settings_of
from .credentials import render_slips
from .forms import date_from_form, ids_from_form
from .guard import client_ip, requires
from .uploads import upload_dir

bp = Blueprint("classes", __name__, url_prefix="/classes")

RELATIONS = ("мать", "отец", "опекун", "попечитель", "бабушка", "дедушка", "другое")


def _readable_class(class_id: int) -> SchoolClass:
    school_class = SchoolClass.get_or_none(SchoolClass.id == class_id)
    if school_class is None or not access.may_read_class(g.role, school_class):
        abort(404)
    return school_class


def _managed_class(class_id: int) -> SchoolClass:
    school_class = SchoolClass.get_or_none(SchoolClass.id == class_id)
    if school_class is None or not access.manages_class(g.role, school_class):
        abort(404)
    return school_class


def _student(school_class: SchoolClass, student_id: int):
    student = rosters.student_in_class(school_class, student_id)
    if student is None:
        abort(404)
    return student


@bp.route("/")
@requires("class", "read")
def index():
    if g.role.role == "class_teacher":
        return redirect(url_for("classes.roster", class_id=g.role.class_id))
    return render_template("classes/index.html", classes=admin_queries.current_classes())


@bp.route("/<int:class_id>")
@requires("class", "read")
def roster(class_id: int):
    school_class = _readable_class(class_id)
    return render_template(
        "classes/roster.html",
        school_class=school_class,
        entries=rosters.roster(school_class),
        can_write=access.manages_class(g.role, school_class),
    )


@bp.route("/<int:class_id>/students/new", methods=["GET"])
@requires("class", "write")
def student_new(class_id: int):
    return render_template(
        "classes/student_new.html", school_class=_managed_class(class_id), form={}
    )


@bp.route("/<int:class_id>/students/new", methods=["POST"])
@requires("class", "write")
def student_create(class_id: int):
    school_class = _managed_class(class_id)
    try:
        student = people.enroll_student(request.form, school_class, user=g.user, ip=client_ip())
    except people.PeopleError as exc:
        flash(str(exc), "error")
        return render_template(
            "classes/student_new.html", school_class=school_class, form=request.form
        ), 400
    flash(f"{student.full_name} зачислен(а) в {school_class.name}.", "success")
    return redirect(url_for("classes.student", class_id=class_id, student_id=student.id))


def _student_page(school_class, student, form=None, status=200):
    return render_template(
        "classes/student.html",
        school_class=school_class,
        student=student,
        guardians=rosters.guardians_of(student),
        form=form or student.__data__,
        can_write=access.manages_class(g.role, school_class),
        relations=RELATIONS,
        today=dt.date.today(),
    ), status


@bp.route("/<int:class_id>/students/<int:student_id>", methods=["GET"])
@requires("class", "read")
def student(class_id: int, student_id: int):
    school_class = _readable_class(class_id)
    student = _student(school_class, student_id)
    admin_queries.log_view(g.user, student, client_ip(), "карточка обучающегося")
    return _student_page(school_class, student)


@bp.route("/<int:class_id>/students/<int:student_id>", methods=["POST"])
@requires("class", "write")
def student_save(class_id: int, student_id: int):
    school_class = _managed_class(class_id)
    student = _student(school_class, student_id)
    try:
        _update_person(student)
    except people.PeopleError as exc:
        flash(str(exc), "error")
        return _student_page(school_class, student, request.form, 400)
    return redirect(url_for("classes.student", class_id=class_id, student_id=student_id))


def _update_person(person) -> None:
    notified_on = date_from_form("notified_on", dt.date.today())
    if notified_on is None:
        raise people.PeopleError("Дата уведомления указана неверно.")
    changed = people.update_person(
        person, request.form, user=g.user, ip=client_ip(), notified_on=notified_on
    )
    flash("Изменения сохранены." if changed else "Изменений нет.", "success")


@bp.route("/<int:class_id>/students/<int:student_id>/parents", methods=["POST"])
@requires("class", "write")
def parent_add(class_id: int, student_id: int):
    school_class = _managed_class(class_id)
    student = _student(school_class, student_id)
    relation = request.form.get("relation", "")
    try:
        if relation not in RELATIONS:
            raise people.PeopleError("Укажите, кем родитель приходится ребёнку.")
        parent = people.add_parent(student, request.form, relation, user=g.user, ip=client_ip())
    except people.PeopleError as exc:
        flash(str(exc), "error")
        return _student_page(school_class, student, student.__data__, 400)
    flash(f"Добавлен(а) {parent.full_name} ({relation}).", "success")
    return redirect(url_for("classes.student", class_id=class_id, student_id=student_id))


def _parent(school_class, parent_id):
    parent = rosters.parent_in_class(school_class, parent_id)
    if parent is None:
        abort(404)
    return parent


@bp.route("/<int:class_id>/parents/<int:parent_id>", methods=["GET"])
@requires("class", "read")
def parent(class_id: int, parent_id: int):
    school_class = _readable_class(class_id)
    parent = _parent(school_class, parent_id)
    admin_queries.log_view(g.user, parent, client_ip(), "карточка родителя")
    return render_template(
        "classes/parent.html",
        school_class=school_class,
        parent=parent,
        children=rosters.children_in_class(parent, school_class),
        form=parent.__data__,
        can_write=access.manages_class(g.role, school_class),
        today=dt.date.today(),
    )


@bp.route("/<int:class_id>/parents/<int:parent_id>", methods=["POST"])
@requires("class", "write")
def parent_save(class_id: int, parent_id: int):
    school_class = _managed_class(class_id)
    parent = _parent(school_class, parent_id)
    try:
        _update_person(parent)
    except people.PeopleError as exc:
        flash(str(exc), "error")
    return redirect(url_for("classes.parent", class_id=class_id, parent_id=parent_id))


@bp.route("/<int:class_id>/credentials", methods=["POST"])
@requires("class_credentials", "write")
def credentials(class_id: int):
    school_class = _managed_class(class_id)
    wanted = set(ids_from_form("person"))
    selected, role_for = rosters.people_of_class(school_class, wanted)
    if not selected:
        flash("Отметьте учеников и родителей, которым нужно выдать реквизиты.", "error")
        return redirect(url_for("classes.roster", class_id=class_id))
    try:
        issued = people.issue_credentials(
            selected,
            role_for,
            user=g.user,
            ip=client_ip(),
            profile=settings_of(current_app).password_profile,
            only_roles=frozenset({"student", "parent"}),
        )
    except people.PeopleError as exc:
        flash(str(exc), "error")
        return redirect(url_for("classes.roster", class_id=class_id))
    return render_slips(issued, back=url_for("classes.roster", class_id=class_id))


# --- import of a class list (students and parents in one file) ---------------------


@bp.route("/<int:class_id>/import", methods=["GET"])
@requires("class", "write")
def import_form(class_id: int):
    return render_template("classes/import.html", school_class=_managed_class(class_id))


@bp.route("/<int:class_id>/import/template.xlsx")
@requires("class", "write")
def import_template(class_id: int):
    school_class = _managed_class(class_id)
    return send_file(
        io.BytesIO(imports.template_xlsx()),
        as_attachment=True,
        download_name=f"spisok-{school_class.grade}{school_class.letter}.xlsx",
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def _preview(school_class, filename: str, data: bytes):
    rows = imports.read_table(filename, data)
    return imports.preview_class_list(school_class, rows, dt.date.today())


@bp.route("/<int:class_id>/import", methods=["POST"])
@requires("class", "write")
def import_preview(class_id: int):
    school_class = _managed_class(class_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Выберите файл со списком класса (XLSX или CSV).", "error")
        return render_template("classes/import.html", school_class=school_class), 400
    data = upload.read()
    try:
        preview = _preview(school_class, upload.filename, data)
    except imports.ImportFileError as exc:
        flash(str(exc), "error")
        return render_template("classes/import.html", school_class=school_class), 400
    token = ""
    if preview.ok:
        token = secrets.token_hex(16)
        suffix = ".xlsx" if upload.filename.lower().endswith(".xlsx") else ".csv"
        (upload_dir() / f"{token}{suffix}").write_bytes(data)
    return render_template(
        "classes/import.html", school_class=school_class, preview=preview, token=token
    ), 200 if preview.ok else 400


@bp.route("/<int:class_id>/import/confirm", methods=["POST"])
@requires("class", "write")
def import_apply(class_id: int):
    school_class = _managed_class(class_id)
    token = request.form.get("token", "")
    if not token.isalnum():
        abort(400)
    found = [p for p in upload_dir().glob(f"{token}.*")]
    if not found:
        flash("Файл предпросмотра устарел. Загрузите список ещё раз.", "error")
        return redirect(url_for("classes.import_form", class_id=class_id))
    path = found[0]
    try:
        preview = _preview(school_class, path.name, path.read_bytes())
        result = imports.apply_class_list(
            preview, user=g.user, ip=client_ip(), today=dt.date.today()
        )
    except (imports.ImportFileError, imports.ImportRejected) as exc:
        flash(str(exc), "error")
        return redirect(url_for("classes.import_form", class_id=class_id))
    finally:
        path.unlink(missing_ok=True)
    flash(f"{result.summary} Теперь выдайте им реквизиты доступа.", "success")
    return redirect(url_for("classes.roster", class_id=class_id))
