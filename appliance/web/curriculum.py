"""The curriculum (учебный план), subjects and the year's classes (issue 4, §7.4–7.5).

Everything here is the deputy's planning: the director and the inspector read it.
Pages take `?year=`; a closed year shows read-only.
"""

from __future__ import annotations

import io

from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from .. import access, curriculum, curriculum_import, school_classes
from ..imports_columns import ImportFileError, read_table
from ..models import Room, SchoolClass, Subject
from ..numbers import is_number
from ..years import PlanningError, planning_years, selected_year
from .guard import client_ip, requires

bp = Blueprint("curriculum", __name__, url_prefix="/planning/curriculum")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _year():
    """The year of the page (`?year=` or a form's `year`); 404 for a bad id."""
    raw = request.args.get("year") or request.form.get("year")
    year = selected_year(raw)
    if year is None and raw:
        abort(404)
    return year


def _common(year) -> dict:
    return {
        "year": year,
        "years": planning_years(),
        "can_write": access.allowed(g.role.role, "planning", "write")
        and year is not None
        and not year.read_only,
        "form": request.form,
    }


def _no_year():
    return render_template("curriculum/no_year.html", years=planning_years(), year=None)


def _errors(exc: PlanningError) -> None:
    for message in getattr(exc, "messages", None) or [str(exc)]:
        flash(message, "error")


# --- the grid ---------------------------------------------------------------------------


def _grid_page(year, status: int = 200):
    grades = (
        list(curriculum.GRADES)
        if request.values.get("grades") == "all"
        else curriculum.year_grades(year)
    )
    if request.method == "POST":
        grades = [int(v) for v in request.form.getlist("grade") if is_number(v, 2)] or grades
    grid = curriculum.curriculum_grid(year, grades)
    return render_template(
        "curriculum/index.html",
        grid=grid,
        fmt=curriculum.format_hours,
        max_load=curriculum.MAX_WEEKLY_LOAD,
        **_common(year),
    ), status


@bp.route("/")
@requires("planning", "read")
def index():
    year = _year()
    return _grid_page(year) if year else _no_year()


@bp.route("/", methods=["POST"])
@requires("planning", "write")
def save():
    """The whole grid in one transaction, or nothing and a message per wrong cell."""
    year = _year()
    if year is None:
        abort(404)
    try:
        grades = curriculum.parse_grades(request.form.getlist("grade"))
        cells = {}
        for subject in curriculum.subjects():
            for grade in grades:
                week_key, year_key = f"w-{subject.id}-{grade}", f"y-{subject.id}-{grade}"
                if week_key in request.form or year_key in request.form:
                    cells[(subject.id, grade)] = (
                        request.form.get(week_key, ""),
                        request.form.get(year_key, ""),
                    )
        counts = curriculum.save_curriculum(year, grades, cells, user=g.user, ip=client_ip())
    except PlanningError as exc:
        _errors(exc)
        return _grid_page(year, 400)
    flash(
        f"Учебный план сохранён: добавлено строк — {counts['created']}, изменено — "
        f"{counts['changed']}, удалено — {counts['removed']}.",
        "success",
    )
    return redirect(url_for("curriculum.index", year=year.id))


@bp.route("/export.xlsx")
@requires("planning", "read")
def export():
    year = _year()
    if year is None:
        abort(404)
    return send_file(
        io.BytesIO(curriculum_import.export_xlsx(year)),
        as_attachment=True,
        download_name=f"uchebnyi-plan-{year.name.replace('/', '-')}.xlsx",
        mimetype=XLSX,
    )


# --- import -----------------------------------------------------------------------------


@bp.route("/import")
@requires("planning", "write")
def import_form():
    year = _year()
    if year is None:
        return _no_year()
    return render_template("curriculum/import.html", preview=None, **_common(year))


@bp.route("/import", methods=["POST"])
@requires("planning", "write")
def import_preview():
    """Read the file and show what would change; nothing is stored yet."""
    year = _year()
    if year is None:
        abort(404)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Выберите файл учебного плана (XLSX или CSV).", "error")
        return render_template("curriculum/import.html", preview=None, **_common(year)), 400
    try:
        rows = read_table(upload.filename, upload.read())
    except ImportFileError as exc:
        flash(str(exc), "error")
        return render_template("curriculum/import.html", preview=None, **_common(year)), 400
    preview = curriculum_import.preview_import(year, rows)
    return render_template(
        "curriculum/import.html", preview=preview, filename=upload.filename, **_common(year)
    ), 200 if preview.ok else 400


@bp.route("/import/apply", methods=["POST"])
@requires("planning", "write")
def import_apply():
    year = _year()
    if year is None:
        abort(404)
    payload = request.form.get("payload", "")
    if not payload:
        flash("Сначала загрузите файл и проверьте его.", "error")
        return render_template("curriculum/import.html", preview=None, **_common(year)), 400
    try:
        counts = curriculum_import.apply_import(year, payload, user=g.user, ip=client_ip())
    except PlanningError as exc:
        _errors(exc)
        return redirect(url_for("curriculum.import_form", year=year.id))
    flash(
        f"Учебный план загружен: новых предметов — {counts['subjects']}, строк добавлено — "
        f"{counts['created']}, изменено — {counts['changed']}, удалено — {counts['removed']}.",
        "success",
    )
    return redirect(url_for("curriculum.index", year=year.id))


# --- subjects ---------------------------------------------------------------------------


def _subjects_page(status: int = 200, edit_id: int | None = None):
    # Subjects belong to the school, not to a year: a closed year does not lock them.
    context = _common(_year()) | {"can_write": access.allowed(g.role.role, "planning", "write")}
    return render_template(
        "curriculum/subjects.html",
        subjects=curriculum.subjects(),
        scales=curriculum.SCALE_LABELS,
        edit_id=edit_id,
        **context,
    ), status


def _subject_or_404(subject_id: int) -> Subject:
    subject = Subject.get_or_none(Subject.id == subject_id)
    if subject is None:
        abort(404)
    return subject


def _back_to_subjects():
    return redirect(url_for("curriculum.subjects", year=request.form.get("year") or None))


@bp.route("/subjects")
@requires("planning", "read")
def subjects():
    return _subjects_page()


@bp.route("/subjects", methods=["POST"])
@requires("planning", "write")
def subject_create():
    try:
        subject = curriculum.save_subject(request.form, user=g.user, ip=client_ip())
    except PlanningError as exc:
        _errors(exc)
        return _subjects_page(400)
    flash(f"Предмет «{subject.name}» добавлен.", "success")
    return _back_to_subjects()


@bp.route("/subjects/<int:subject_id>", methods=["POST"])
@requires("planning", "write")
def subject_update(subject_id: int):
    subject = _subject_or_404(subject_id)
    try:
        curriculum.save_subject(request.form, user=g.user, ip=client_ip(), subject=subject)
    except PlanningError as exc:
        _errors(exc)
        return _subjects_page(400, edit_id=subject_id)
    flash(f"Предмет «{subject.name}» сохранён.", "success")
    return _back_to_subjects()


@bp.route("/subjects/<int:subject_id>/delete", methods=["POST"])
@requires("planning", "write")
def subject_delete(subject_id: int):
    subject = _subject_or_404(subject_id)
    if request.form.get("confirm") != "1":
        flash("Подтвердите удаление предмета.", "error")
        return _subjects_page(400)
    try:
        curriculum.delete_subject(subject, user=g.user, ip=client_ip())
    except PlanningError as exc:
        _errors(exc)
        return _subjects_page(400)
    flash(f"Предмет «{subject.name}» удалён.", "success")
    return _back_to_subjects()


# --- classes of the year ----------------------------------------------------------------


def _classes_page(year, status: int = 200, edit_id: int | None = None):
    return render_template(
        "curriculum/classes.html",
        rows=school_classes.class_rows(year),
        rooms=list(Room.select().order_by(Room.name)),
        letters="АБВГДЕЖЗИКЛМНОПРСТУФХЦЧШЭЮЯ",
        grades=curriculum.GRADES,
        edit_id=edit_id,
        can_see_staff=access.allowed(g.role.role, "staff", "read"),
        **_common(year),
    ), status


def _class_or_404(class_id: int) -> SchoolClass:
    school_class = SchoolClass.get_or_none(SchoolClass.id == class_id)
    if school_class is None:
        abort(404)
    return school_class


def _back_to_classes(school_class: SchoolClass):
    return redirect(url_for("curriculum.classes", year=school_class.year_id))


@bp.route("/classes")
@requires("planning", "read")
def classes():
    year = _year()
    return _classes_page(year) if year else _no_year()


@bp.route("/classes", methods=["POST"])
@requires("planning", "write")
def class_create():
    year = _year()
    if year is None:
        abort(404)
    try:
        school_class = school_classes.save_class(year, request.form, user=g.user, ip=client_ip())
    except PlanningError as exc:
        _errors(exc)
        return _classes_page(year, 400)
    flash(f"Класс {school_class.name} добавлен.", "success")
    return _back_to_classes(school_class)


@bp.route("/classes/<int:class_id>", methods=["POST"])
@requires("planning", "write")
def class_update(class_id: int):
    school_class = _class_or_404(class_id)
    try:
        school_classes.save_class(
            school_class.year, request.form, user=g.user, ip=client_ip(), school_class=school_class
        )
    except PlanningError as exc:
        _errors(exc)
        return _classes_page(school_class.year, 400, edit_id=class_id)
    flash(f"Класс {school_class.name} сохранён.", "success")
    return _back_to_classes(school_class)


@bp.route("/classes/<int:class_id>/close", methods=["POST"])
@requires("planning", "write")
def class_close(class_id: int):
    """Close (`closed=1`) or reopen (`closed=0`) a class."""
    school_class = _class_or_404(class_id)
    closed = request.form.get("closed")
    if closed not in ("0", "1"):
        flash("Не указано, закрыть класс или открыть.", "error")
        return _classes_page(school_class.year, 400)
    try:
        school_classes.set_class_closed(school_class, closed == "1", user=g.user, ip=client_ip())
    except PlanningError as exc:
        _errors(exc)
        return _classes_page(school_class.year, 400)
    flash(f"Класс {school_class.name} {'закрыт' if closed == '1' else 'снова открыт'}.", "success")
    return _back_to_classes(school_class)


@bp.route("/classes/<int:class_id>/delete", methods=["POST"])
@requires("planning", "write")
def class_delete(class_id: int):
    school_class = _class_or_404(class_id)
    if request.form.get("confirm") != "1":
        flash("Подтвердите удаление класса.", "error")
        return _classes_page(school_class.year, 400)
    try:
        school_classes.delete_class(school_class, user=g.user, ip=client_ip())
    except PlanningError as exc:
        _errors(exc)
        return _classes_page(school_class.year, 400)
    flash(f"Класс {school_class.name} удалён.", "success")
    return _back_to_classes(school_class)
