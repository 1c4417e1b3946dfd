"""КТП: import, checks, copy, export, submit and review (issue 4; §7.4, §7.5).

Teachers (object ``ktp``) work on their own groups' plans only — another group is a
404; the deputy, the director and the inspector read every plan; the deputy reviews
(object ``ktp_review``). The pages render what `appliance.ktp` decides.
"""

from __future__ import annotations

import io
import re
import secrets

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

from .. import access
from ..imports_columns import ImportFileError
from ..ktp import queries, workflow
from ..ktp.checks import check_rows, context_for
from ..ktp.export import export_name, lesson_numbers, plan_xlsx
from ..ktp.rows import lessons_of, row_of, rows_of
from ..models import AcademicYear, Plan, SubjectGroup
from ..numbers import is_number
from ..years import PlanningError, planning_years
from .forms import or_404, year_from_args
from .guard import client_ip, requires
from .uploads import upload_dir

bp = Blueprint("ktp", __name__, url_prefix="/ktp")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MOVES = {"up": -1, "down": 1}


# --- reading the request ----------------------------------------------------------------


_year = year_from_args


def _form_id(name: str) -> int | None:
    value = request.form.get(name, "").strip()
    return int(value) if is_number(value) else None


def _readable(group_id: int) -> SubjectGroup:
    return or_404(queries.readable_group(group_id, g.person, g.role))


def _writable(group_id: int) -> SubjectGroup:
    return or_404(queries.writable_group(group_id, g.person, g.role))


def _plan_link(group: SubjectGroup) -> str:
    return url_for("ktp.plan", group_id=group.id)


def _version_note(plan: Plan, before: Plan | None) -> None:
    """Say so when a change made a new version (the approved one stays in force)."""
    if before is not None and before.id != plan.id:
        flash(
            f"Создана версия {plan.version} (черновик). Действующая КТП не меняется, "
            "пока новую версию не утвердят.",
            "info",
        )


# --- the list and one plan ------------------------------------------------------------------


@bp.route("/")
@requires("ktp", "read")
def index():
    year = _year()
    if year is None:
        return render_template("ktp/index.html", year=None, years=[], items=[])
    groups = queries.groups_of(g.person, g.role, year)
    waiting = None
    if access.allowed(g.role.role, "ktp_review", "read"):
        waiting = queries.waiting_count(year)
    return render_template(
        "ktp/index.html",
        year=year,
        years=planning_years(),
        items=queries.overview(groups),
        waiting=waiting,
        state_label=queries.state_label,
    )


def _plan_page(group: SubjectGroup, shown: Plan | None = None, status: int = 200):
    latest = queries.latest_plan(group)
    shown = shown or latest
    rows = rows_of(shown) if shown else []
    findings = check_rows(rows, context_for(group)) if shown else []
    can_write = access.can_write_group(g.person, g.role, group) and not group.year.read_only
    return render_template(
        "ktp/plan.html",
        group=group,
        shown=shown,
        latest=latest,
        in_force=queries.plan_in_force(group),
        rows=rows,
        numbers=lesson_numbers(rows),
        findings=findings,
        versions=queries.versions(group),
        teachers=queries.teacher_names([group.id]).get(group.id, ""),
        state_label=queries.state_label,
        can_write=can_write,
        can_review=access.allowed(g.role.role, "ktp_review", "write"),
    ), status


@bp.route("/<int:group_id>")
@requires("ktp", "read")
def plan(group_id: int):
    return _plan_page(_readable(group_id))


@bp.route("/<int:group_id>/versions/<int:plan_id>")
@requires("ktp", "read")
def version(group_id: int, plan_id: int):
    group = _readable(group_id)
    shown = Plan.get_or_none((Plan.id == plan_id) & (Plan.group == group))
    if shown is None:
        abort(404)
    return _plan_page(group, shown)


@bp.route("/versions/<int:plan_id>.xlsx")
@requires("ktp", "read")
def export(plan_id: int):
    shown = Plan.get_or_none(Plan.id == plan_id)
    if shown is None:
        abort(404)
    _readable(shown.group_id)
    return send_file(
        io.BytesIO(plan_xlsx(shown)),
        as_attachment=True,
        download_name=export_name(shown),
        mimetype=XLSX,
    )


# --- editing rows ---------------------------------------------------------------------------


def _edit_page(group: SubjectGroup, status: int = 200, form=None):
    latest = queries.latest_plan(group)
    lessons = lessons_of(latest) if latest else []
    rows = [row_of(x) for x in lessons]
    return render_template(
        "ktp/edit.html",
        group=group,
        latest=latest,
        in_force=queries.plan_in_force(group),
        items=list(zip([x.id for x in lessons], rows, strict=True)),
        numbers=lesson_numbers(rows),
        findings=check_rows(rows, context_for(group)) if latest else [],
        state_label=queries.state_label,
        form=form or {},
    ), status


@bp.route("/<int:group_id>/edit")
@requires("ktp", "write")
def edit(group_id: int):
    return _edit_page(_writable(group_id))


@bp.route("/<int:group_id>/rows", methods=["POST"])
@requires("ktp", "write")
def rows(group_id: int):
    """One row action: save, add (after a row or at the end), delete, up, down."""
    group = _writable(group_id)
    action = request.form.get("action", "")
    lesson_id = _form_id("lesson")
    before = queries.latest_plan(group)
    who = {"user": g.user, "ip": client_ip()}
    try:
        if action == "save" and lesson_id is not None:
            row = workflow.row_from_form(request.form, group)
            changed = workflow.save_row(group, lesson_id, row, **who)
            flash("Строка сохранена." if changed else "Изменений нет.", "success")
        elif action == "add":
            row = workflow.row_from_form(request.form, group)
            changed = workflow.add_row(group, lesson_id, row, **who)
            flash("Строка добавлена.", "success")
        elif action == "delete" and lesson_id is not None:
            changed = workflow.delete_row(group, lesson_id, **who)
            flash("Строка удалена.", "success")
        elif action in MOVES and lesson_id is not None:
            changed = workflow.move_row(group, lesson_id, MOVES[action], **who)
        else:
            flash("Не понятно, что сделать со строкой.", "error")
            return _edit_page(group, 400)
    except PlanningError as exc:
        flash(str(exc), "error")
        return _edit_page(group, 400, form=request.form)
    if changed is not None:
        _version_note(changed, before)
    anchor = f"row-{lesson_id}" if lesson_id and action != "delete" else "add"
    return redirect(url_for("ktp.edit", group_id=group.id) + f"#{anchor}")


# --- import --------------------------------------------------------------------------------

SAFE_NAME = re.compile(r"[\x00-\x1f\\/]+")


def _clean_name(raw: str) -> str:
    name = SAFE_NAME.sub(" ", raw.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip()
    return name[:120]


def _stash_path(group: SubjectGroup, token: str):
    if not token.isalnum() or not token.isascii():
        abort(400)
    found = sorted(upload_dir().glob(f"ktp{group.id}x{token}.*"))
    return found[0] if found else None


def _import_page(group: SubjectGroup, status: int = 200, **context):
    return render_template("ktp/import.html", group=group, **context), status


@bp.route("/<int:group_id>/import")
@requires("ktp", "write")
def import_form(group_id: int):
    return _import_page(_writable(group_id))


@bp.route("/<int:group_id>/import", methods=["POST"])
@requires("ktp", "write")
def import_preview(group_id: int):
    group = _writable(group_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Выберите файл КТП (XLSX или CSV).", "error")
        return _import_page(group, 400)
    filename, data = _clean_name(upload.filename) or "файл", upload.read()
    try:
        preview = workflow.preview_import(group, filename, data)
    except ImportFileError as exc:
        flash(str(exc), "error")
        return _import_page(group, 400)
    token = ""
    if preview.ok:
        token = secrets.token_hex(16)
        suffix = ".xlsx" if filename.lower().endswith(".xlsx") else ".csv"
        (upload_dir() / f"ktp{group.id}x{token}{suffix}").write_bytes(data)
    return _import_page(
        group,
        200 if preview.ok else 400,
        preview=preview,
        token=token,
        filename=filename,
        numbers=lesson_numbers(preview.rows),
    )


@bp.route("/<int:group_id>/import/confirm", methods=["POST"])
@requires("ktp", "write")
def import_confirm(group_id: int):
    group = _writable(group_id)
    path = _stash_path(group, request.form.get("token", ""))
    if path is None:
        flash("Файл предпросмотра устарел или не выбран. Загрузите КТП ещё раз.", "error")
        return _import_page(group, 400)
    try:
        preview = workflow.preview_import(group, path.name, path.read_bytes())
        preview.filename = _clean_name(request.form.get("filename", "")) or f"файл{path.suffix}"
        created = workflow.import_plan(group, preview, user=g.user, ip=client_ip())
    except (ImportFileError, PlanningError) as exc:
        flash(str(exc), "error")
        return _import_page(group, 400)
    finally:
        path.unlink(missing_ok=True)
    flash(
        f"КТП загружена: версия {created.version}, уроков — {len(preview.rows)}, "
        f"часов — {preview.hours}. Проверьте её и отправьте на утверждение.",
        "success",
    )
    return redirect(_plan_link(group))


# --- copy ----------------------------------------------------------------------------------


def _copy_page(group: SubjectGroup, status: int = 200):
    sources = queries.copy_sources(group, g.person)
    return render_template(
        "ktp/copy.html",
        group=group,
        last_year=[s for s in sources if s.kind == "last_year"],
        parallel=[s for s in sources if s.kind == "parallel"],
    ), status


@bp.route("/<int:group_id>/copy")
@requires("ktp", "write")
def copy_form(group_id: int):
    return _copy_page(_writable(group_id))


@bp.route("/<int:group_id>/copy", methods=["POST"])
@requires("ktp", "write")
def copy(group_id: int):
    group = _writable(group_id)
    source = _form_id("source")
    if source is None:
        flash("Выберите, откуда скопировать КТП.", "error")
        return _copy_page(group, 400)
    try:
        created = workflow.copy_plan(group, source, user=g.user, ip=client_ip())
    except PlanningError as exc:
        flash(str(exc), "error")
        return _copy_page(group, 400)
    flash(f"КТП скопирована: версия {created.version} (черновик). {created.source}.", "success")
    return redirect(_plan_link(group))


# --- submit and review ---------------------------------------------------------------------


@bp.route("/<int:group_id>/submit", methods=["POST"])
@requires("ktp", "write")
def submit(group_id: int):
    group = _writable(group_id)
    plan_id = _form_id("plan")
    if plan_id is None:
        flash("Не указано, какую версию отправить.", "error")
        return _plan_page(group, status=400)
    try:
        sent = workflow.submit(
            group, plan_id, user=g.user, ip=client_ip(), link=url_for("ktp.review")
        )
    except PlanningError as exc:
        flash(str(exc), "error")
        return _plan_page(group, status=400)
    flash(f"Версия {sent.version} отправлена заместителю директора на проверку.", "success")
    return redirect(_plan_link(group))


def _review_page(year: AcademicYear | None, status: int = 200, form=None):
    return render_template(
        "ktp/review.html",
        year=year,
        years=planning_years() if year else [],
        items=queries.review_queue(year) if year else [],
        can_review=access.allowed(g.role.role, "ktp_review", "write"),
        form=form or {},
    ), status


@bp.route("/review")
@requires("ktp_review", "read")
def review():
    return _review_page(_year())


@bp.route("/review/<int:plan_id>", methods=["POST"])
@requires("ktp_review", "write")
def decide(plan_id: int):
    """Approve or return one submitted version (from the queue or the plan page)."""
    shown = Plan.get_or_none(Plan.id == plan_id)
    if shown is None:
        abort(404)
    decision = request.form.get("decision", "")
    comment = request.form.get("comment", "")
    link = _plan_link(shown.group)
    who = {"user": g.user, "ip": client_ip(), "link": link}
    try:
        if decision == "approve":
            workflow.approve(plan_id, comment=comment, **who)
            flash(f"КТП утверждена: {shown.group.name}, версия {shown.version}.", "success")
        elif decision == "return":
            workflow.return_plan(plan_id, comment, **who)
            flash(f"КТП возвращена учителю: {shown.group.name}.", "success")
        else:
            raise PlanningError("Выберите: утвердить или вернуть на доработку.")
    except PlanningError as exc:
        flash(str(exc), "error")
        return _review_page(shown.group.year, 400, form=request.form)
    if request.form.get("back") == "plan":
        return redirect(link)
    return redirect(url_for("ktp.review", year=shown.group.year_id))
