"""Subject groups of a year: per class, teachers, student lists, subgroups (issue 4, §7.5).

The deputy's planning page; the director and the inspector read it. Every change is
a POST with an explicit field, so an empty form never changes anything.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from .. import access, curriculum, groups, school_classes, subgroups
from ..models import Person, SchoolClass, Subject, SubjectGroup
from ..numbers import is_number
from ..years import PlanningError, planning_years, selected_year
from .forms import date_from_form, ids_from_form
from .guard import client_ip, requires

bp = Blueprint("groups", __name__, url_prefix="/planning/groups")

REGENERATE_NOTE = (
    "Уроки, уже созданные в журнале, остаются за прежним учителем, пока уроки не "
    "перестроены по расписанию."
)


def _can_write(year) -> bool:
    return access.allowed(g.role.role, "planning", "write") and not year.read_only


def _int(name: str) -> int | None:
    value = request.form.get(name, "").strip()
    return int(value) if is_number(value) else None


def _class_or_404(class_id: int) -> SchoolClass:
    school_class = SchoolClass.get_or_none(SchoolClass.id == class_id)
    if school_class is None:
        abort(404)
    return school_class


def _group_or_404(group_id: int) -> SubjectGroup:
    group = SubjectGroup.get_or_none(SubjectGroup.id == group_id)
    if group is None:
        abort(404)
    return group


def _errors(exc: PlanningError) -> None:
    flash(str(exc), "error")


# --- lists --------------------------------------------------------------------------------


@bp.route("/")
@requires("planning", "read")
def index():
    raw = request.args.get("year")
    year = selected_year(raw)
    if year is None:
        if raw:
            abort(404)
        return render_template("curriculum/no_year.html", years=planning_years(), year=None)
    return _index_page(year)


def _index_page(year, status: int = 200):
    return render_template(
        "groups/index.html",
        year=year,
        years=planning_years(),
        sections=groups.year_groups(year),
        can_write=_can_write(year),
    ), status


def _class_page(school_class: SchoolClass, status: int = 200):
    year = school_class.year
    sections = groups.year_groups(year, [school_class])
    have = {row.group.subject_id for row in sections[0].rows}
    return render_template(
        "groups/class.html",
        year=year,
        years=planning_years(),
        school_class=school_class,
        section=sections[0],
        subjects=[s for s in curriculum.subjects() if s.id not in have],
        can_write=_can_write(year),
        form=request.form,
    ), status


@bp.route("/class/<int:class_id>")
@requires("planning", "read")
def class_groups(class_id: int):
    return _class_page(_class_or_404(class_id))


@bp.route("/from-curriculum", methods=["POST"])
@requires("planning", "write")
def create():
    """Groups from the curriculum for one class (`class`) or every class (`all=1`)."""
    raw = request.form.get("year") or request.args.get("year")
    year = selected_year(raw)
    if year is None:
        abort(404)
    school_class = None
    if request.form.get("all") == "1":
        classes = school_classes.year_classes(year, include_closed=False)
    elif _int("class") is not None:
        school_class = _class_or_404(_int("class"))
        classes = [school_class]
    else:
        flash("Выберите класс или «все классы».", "error")
        return _index_page(year, 400)
    back = (
        url_for("groups.class_groups", class_id=school_class.id)
        if school_class
        else url_for("groups.index", year=year.id)
    )
    try:
        result = groups.create_from_curriculum(year, classes, user=g.user, ip=client_ip())
    except PlanningError as exc:
        _errors(exc)
        return redirect(back)
    message = f"Создано групп: {len(result.groups)}. Назначьте учителей."
    if result.no_curriculum:
        names = ", ".join(c.name for c in result.no_curriculum)
        message += f" Без учебного плана (групп нет): {names}."
    flash(message, "success")
    return redirect(back)


@bp.route("/class/<int:class_id>/add", methods=["POST"])
@requires("planning", "write")
def add(class_id: int):
    school_class = _class_or_404(class_id)
    subject = Subject.get_or_none(Subject.id == _int("subject")) if _int("subject") else None
    if subject is None:
        flash("Выберите предмет.", "error")
        return _class_page(school_class, 400)
    try:
        group = groups.add_group(school_class, subject, user=g.user, ip=client_ip())
    except PlanningError as exc:
        _errors(exc)
        return _class_page(school_class, 400)
    flash(f"Группа «{group.name}» создана.", "success")
    return redirect(url_for("groups.group", group_id=group.id))


@bp.route("/class/<int:class_id>/confirm", methods=["POST"])
@requires("planning", "write")
def confirm_class(class_id: int):
    """Confirm every draft group of the class (the rollover makes drafts)."""
    school_class = _class_or_404(class_id)
    if request.form.get("confirm") != "1":
        flash("Подтвердите черновики кнопкой на странице класса.", "error")
        return _class_page(school_class, 400)
    try:
        count = groups.confirm_groups(
            SubjectGroup.select().where(SubjectGroup.school_class == school_class),
            user=g.user,
            ip=client_ip(),
        )
    except PlanningError as exc:
        _errors(exc)
        return _class_page(school_class, 400)
    flash(f"Подтверждено групп: {count}.", "success")
    return redirect(url_for("groups.class_groups", class_id=class_id))


@bp.route("/confirm", methods=["POST"])
@requires("planning", "write")
def confirm_year():
    """Confirm every draft group of the year at once (after checking them class by class)."""
    year = selected_year(request.form.get("year") or request.args.get("year"))
    if year is None:
        abort(404)
    if request.form.get("confirm") != "1":
        flash("Подтвердите черновики кнопкой на странице групп.", "error")
        return _index_page(year, 400)
    try:
        count = groups.confirm_groups(
            SubjectGroup.select().where((SubjectGroup.year == year) & SubjectGroup.is_draft),
            user=g.user,
            ip=client_ip(),
        )
    except PlanningError as exc:
        _errors(exc)
        return _index_page(year, 400)
    flash(f"Подтверждено групп: {count}.", "success")
    lacking = groups.without_teacher(year)
    if lacking:
        flash(
            f"Групп без учителя: {lacking}. Назначьте учителей на страницах классов: "
            "до этого уроки этих групп никому не видны в «Моём дне».",
            "error",
        )
    return redirect(url_for("groups.index", year=year.id))


# --- one group ----------------------------------------------------------------------------


def _group_page(group: SubjectGroup, status: int = 200):
    on = date_from_form("date") if request.method == "POST" else None
    view = groups.group_view(group, on or curriculum.reference_date(group.year))
    return render_template(
        "groups/group.html",
        year=group.year,
        years=planning_years(),
        view=view,
        group=group,
        choices=groups.teacher_choices(),
        can_write=_can_write(group.year),
        max_parts=subgroups.MAX_SUBGROUPS,
        form=request.form,
    ), status


def _day(group: SubjectGroup):
    """The date of a change from the form (empty: the reference day of the year)."""
    day = date_from_form("date", curriculum.reference_date(group.year))
    if day is None:
        raise PlanningError("Дата указана неверно.")
    return day


def _done(group: SubjectGroup, message: str):
    flash(message, "success")
    return redirect(url_for("groups.group", group_id=group.id))


@bp.route("/<int:group_id>")
@requires("planning", "read")
def group(group_id: int):
    return _group_page(_group_or_404(group_id))


@bp.route("/<int:group_id>/teachers", methods=["POST"])
@requires("planning", "write")
def teachers(group_id: int):
    """The main teacher (`main`, may be empty to leave none) and co-teachers (`others`)."""
    group = _group_or_404(group_id)
    if "main" not in request.form:
        flash("Выберите учителя группы.", "error")
        return _group_page(group, 400)
    try:
        change = groups.set_teachers(
            group, _int("main"), ids_from_form("others"), user=g.user, ip=client_ip()
        )
    except PlanningError as exc:
        _errors(exc)
        return _group_page(group, 400)
    message = "Учителя группы сохранены."
    if change.removed:
        names = ", ".join(p.short_name for p in change.removed)
        message += f" Сняты: {names}. {REGENERATE_NOTE}"
    return _done(group, message)


@bp.route("/<int:group_id>/members", methods=["POST"])
@requires("planning", "write")
def members(group_id: int):
    """The group's student list from a date (`members=1` marks the form as sent)."""
    group = _group_or_404(group_id)
    if request.form.get("members") != "1":
        flash("Отметьте учеников группы.", "error")
        return _group_page(group, 400)
    try:
        change = subgroups.set_members(
            group, ids_from_form("student"), _day(group), user=g.user, ip=client_ip()
        )
    except PlanningError as exc:
        _errors(exc)
        return _group_page(group, 400)
    parts = [f"Добавлено: {len(change.added)}, выбыло: {len(change.removed)}."]
    if change.moved:
        parts.append(
            "Переведены из других подгрупп: "
            + ", ".join(f"{p.short_name} ({o.subgroup} подгр.)" for p, o in change.moved)
            + "."
        )
    if change.without_group:
        parts.append(
            "Не входят ни в одну подгруппу: "
            + ", ".join(p.short_name for p in change.without_group)
            + "."
        )
    return _done(group, " ".join(parts))


@bp.route("/<int:group_id>/move", methods=["POST"])
@requires("planning", "write")
def move(group_id: int):
    """Move one student from this subgroup to another one (`target`) from a date."""
    group = _group_or_404(group_id)
    student = Person.get_or_none(Person.id == _int("student")) if _int("student") else None
    target = SubjectGroup.get_or_none(SubjectGroup.id == _int("target")) if _int("target") else None
    if student is None or target is None:
        flash("Выберите ученика и подгруппу, в которую он переходит.", "error")
        return _group_page(group, 400)
    try:
        day = _day(group)
        subgroups.move_student(student, group, target, day, user=g.user, ip=client_ip())
    except PlanningError as exc:
        _errors(exc)
        return _group_page(group, 400)
    return _done(
        group,
        f"{student.short_name} с {day:%d.%m.%Y} в группе «{target.name}». Отметки остались "
        "в прежней подгруппе и учитываются в новой.",
    )


@bp.route("/<int:group_id>/split", methods=["POST"])
@requires("planning", "write")
def split(group_id: int):
    group = _group_or_404(group_id)
    parts = _int("parts")
    if parts is None:
        flash("Укажите, на сколько подгрупп разделить.", "error")
        return _group_page(group, 400)
    try:
        created = subgroups.split_group(group, parts, _day(group), user=g.user, ip=client_ip())
    except PlanningError as exc:
        _errors(exc)
        return _group_page(group, 400)
    return _done(
        group,
        f"Группа разделена на {len(created) + 1} подгруппы. Эта стала 1-й и сохранила уроки, "
        "КТП и расписание; назначьте учителей новым подгруппам и добавьте их в расписание.",
    )


@bp.route("/<int:group_id>/merge", methods=["POST"])
@requires("planning", "write")
def merge(group_id: int):
    group = _group_or_404(group_id)
    if request.form.get("confirm") != "1":
        flash("Подтвердите объединение подгрупп.", "error")
        return _group_page(group, 400)
    try:
        keeper = subgroups.merge_groups(group, _day(group), user=g.user, ip=client_ip())
    except PlanningError as exc:
        _errors(exc)
        return _group_page(group, 400)
    return _done(keeper, "Подгруппы объединены в одну группу всего класса.")


@bp.route("/<int:group_id>/confirm", methods=["POST"])
@requires("planning", "write")
def confirm(group_id: int):
    group = _group_or_404(group_id)
    if request.form.get("confirm") != "1":
        flash("Подтвердите группу кнопкой на её странице.", "error")
        return _group_page(group, 400)
    try:
        groups.confirm_groups([group], user=g.user, ip=client_ip())
    except PlanningError as exc:
        _errors(exc)
        return _group_page(group, 400)
    return _done(group, "Группа подтверждена: по расписанию у неё будут уроки.")


@bp.route("/<int:group_id>/delete", methods=["POST"])
@requires("planning", "write")
def delete(group_id: int):
    group = _group_or_404(group_id)
    if request.form.get("confirm") != "1":
        flash("Подтвердите удаление группы.", "error")
        return _group_page(group, 400)
    school_class = group.school_class
    try:
        groups.delete_group(group, user=g.user, ip=client_ip())
    except PlanningError as exc:
        _errors(exc)
        return _group_page(group, 400)
    flash(f"Группа «{group.name}» удалена.", "success")
    return redirect(url_for("groups.class_groups", class_id=school_class.id))
