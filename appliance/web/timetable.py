"""The timetable: grids, conflicts, one-off changes, print, XLSX (issue 4, §7.5).

Everyone reads the timetable that concerns them (`/timetable/`, a class's grid);
teacher and room grids, conflicts, changes, rooms and every edit are planning
pages (read: director, deputy, inspector; write: deputy). The rules live in
`appliance.timetable`; these handlers parse, call one function and render.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
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

from ..imports_columns import ImportFileError, read_table
from ..journal_control import teachers as substitute_teachers
from ..models import (
    AcademicYear,
    Person,
    Room,
    SchoolClass,
    SubjectGroup,
    TimetableChange,
    TimetableEntry,
)
from ..numbers import is_number
from ..timetable import changes, checks, editing, grid, occupancy, rooms, scope, xlsx
from ..timetable.conflicts import class_gaps, year_conflicts
from ..timetable.entries import (
    MAX_NUMBER,
    WEEKDAYS,
    default_day,
    load_entries,
    parse_day,
)
from ..years import PlanningError, planning_years, selected_year
from .forms import or_404
from .guard import client_ip, requires

bp = Blueprint("timetable", __name__, url_prefix="/timetable")


@bp.context_processor
def _names() -> dict:
    return {"WEEKDAYS": WEEKDAYS, "timedelta": dt.timedelta}


# --- reading the request ----------------------------------------------------------------


def _year() -> AcademicYear | None:
    """The year of the page (``?year=``); a bad id is 404, no year at all is None."""
    raw = request.values.get("year")
    year = selected_year(raw)
    if year is None and raw not in (None, ""):
        abort(404)
    return year


def _day(year: AcademicYear, name: str = "on") -> dt.date:
    """``?on=`` clipped to the year, else today clipped to the year."""
    day = parse_day(request.values.get(name))
    if day is None:
        return default_day(year)
    return min(max(day, year.starts), year.ends)


def _int(name: str) -> int | None:
    value = request.values.get(name, "").strip()
    return int(value) if is_number(value) else None


def _no_year():
    return render_template("timetable/no_year.html"), 200


def _context(year: AcademicYear, **extra) -> dict:
    return {
        "year": year,
        "years": planning_years(),
        "can_plan": scope.may_plan(g.role),
        "can_edit": scope.may_edit(g.role, year),
        **extra,
    }


# --- my timetable and the grids ----------------------------------------------------------


@bp.route("/")
@requires("timetable", "read")
def index():
    """«My timetable»: the own class, a child's class, the own lessons, or an index of all."""
    year = _year()
    if year is None:
        return _no_year()
    day, role = _day(year), g.role.role
    if role in scope.OFFICE:
        return render_template(
            "timetable/index.html",
            **_context(year, day=day),
            classes=grid.year_classes(year),
            teachers=grid.year_teachers(year) if scope.may_plan(g.role) else [],
            rooms=rooms.rooms() if scope.may_plan(g.role) else [],
        )
    children, child, the_grid = [], None, None
    if role == "teacher":
        the_grid = grid.teacher_grid(year, g.person, day)
        the_grid.title = "Мои уроки"
    elif role == "parent":
        children = scope.children(g.person, year)
        wanted = _int("child")
        child = next((c for c in children if wanted in (None, c.person.id)), None)
        if wanted is not None and child is None:
            abort(404)
    classes = _my_classes(year, child)
    if the_grid is None and classes:
        the_grid = grid.class_grid(classes[0], day)
    return render_template(
        "timetable/mine.html",
        **_context(year, day=day),
        grid=the_grid,
        children=children,
        child=child,
        classes=classes,
    )


def _my_classes(year: AcademicYear, child: scope.Child | None) -> list[SchoolClass]:
    if child is not None:
        return [child.school_class] if child.school_class else []
    ids = scope.visible_class_ids(g.person, g.role, year) or set()
    return list(
        SchoolClass.select()
        .where(SchoolClass.id.in_(list(ids) or [0]) & (SchoolClass.year == year))
        .order_by(SchoolClass.grade, SchoolClass.letter)
    )


def _class_in_scope(class_id: int) -> SchoolClass:
    school_class = SchoolClass.get_or_none(SchoolClass.id == class_id)
    if school_class is None or not scope.may_view_class(g.person, g.role, school_class):
        abort(404)
    return school_class


def _grid_page(the_grid: grid.Grid, endpoint: str, **ids):
    return render_template(
        "timetable/grid.html",
        **_context(the_grid.year, day=the_grid.day),
        grid=the_grid,
        endpoint=endpoint,
        print_endpoint=endpoint.replace("_grid", "_print"),
        ids=ids,
    )


@bp.route("/class/<int:class_id>")
@requires("timetable", "read")
def class_grid(class_id: int):
    school_class = _class_in_scope(class_id)
    the_grid = grid.class_grid(school_class, _day(school_class.year))
    return _grid_page(the_grid, "timetable.class_grid", class_id=class_id)


@bp.route("/class/<int:class_id>/print")
@requires("timetable", "read")
def class_print(class_id: int):
    school_class = _class_in_scope(class_id)
    return _print(grid.class_grid(school_class, _day(school_class.year)))


def _print(the_grid: grid.Grid):
    return render_template("timetable/print.html", grid=the_grid)


def _teacher(staff_id: int) -> Person:
    return or_404(Person.get_or_none((Person.id == staff_id) & Person.is_staff))


def _room(room_id: int) -> Room:
    return or_404(Room.get_or_none(Room.id == room_id))


def _planning_year() -> AcademicYear:
    return or_404(_year())


def _week(build, lookup, item_id: int, endpoint: str | None = None, **args):
    """A teacher's or a room's week: the page (``endpoint``) or, without it, the print view."""
    year = _planning_year()
    the_grid = build(year, lookup(item_id), _day(year))
    return _grid_page(the_grid, endpoint, **args) if endpoint else _print(the_grid)


@bp.route("/teacher/<int:staff_id>")
@requires("planning", "read")
def teacher_grid(staff_id: int):
    return _week(grid.teacher_grid, _teacher, staff_id, "timetable.teacher_grid", staff_id=staff_id)


@bp.route("/teacher/<int:staff_id>/print")
@requires("planning", "read")
def teacher_print(staff_id: int):
    return _week(grid.teacher_grid, _teacher, staff_id)


@bp.route("/room/<int:room_id>")
@requires("planning", "read")
def room_grid(room_id: int):
    return _week(grid.room_grid, _room, room_id, "timetable.room_grid", room_id=room_id)


@bp.route("/room/<int:room_id>/print")
@requires("planning", "read")
def room_print(room_id: int):
    return _week(grid.room_grid, _room, room_id)


# --- editing entries -------------------------------------------------------------------


def _entry_fields(school_class: SchoolClass, defaults: editing.EntryFields | None = None):
    """The entry form as `EntryFields`; PlanningError names what is missing."""
    group = SubjectGroup.get_or_none(
        (SubjectGroup.id == (_int("group") or 0)) & (SubjectGroup.school_class == school_class)
    )
    if group is None:
        raise PlanningError("Выберите предмет (группу).")
    weekday, number = _int("weekday"), _int("number")
    if weekday is None or number is None:
        raise PlanningError("Выберите день недели и номер урока.")
    room = None
    if request.form.get("room"):
        room = Room.get_or_none(Room.id == (_int("room") or 0))
        if room is None:
            raise PlanningError("Такого кабинета нет.")
    valid_from = parse_day(request.form.get("valid_from"))
    if valid_from is None:
        raise PlanningError("Укажите дату «действует с» в виде ДД.ММ.ГГГГ.")
    valid_to = parse_day(request.form.get("valid_to"))
    if request.form.get("valid_to", "").strip() and valid_to is None:
        raise PlanningError("Дата «действует по» — в виде ДД.ММ.ГГГГ.")
    return editing.EntryFields(group, weekday, number, room, valid_from, valid_to)


def _entry_page(school_class: SchoolClass, entry: TimetableEntry | None, form, status=200):
    return render_template(
        "timetable/entry_form.html",
        **_context(school_class.year, day=_day(school_class.year)),
        school_class=school_class,
        entry=entry,
        form=form,
        groups=list(
            SubjectGroup.select()
            .where(SubjectGroup.school_class == school_class)
            .order_by(SubjectGroup.subject, SubjectGroup.subgroup)
        ),
        rooms=rooms.rooms(),
        weekdays=WEEKDAYS,
        numbers=range(1, MAX_NUMBER + 1),
    ), status


def _warn_conflicts(entry: TimetableEntry) -> None:
    found = editing.entry_conflicts(entry)
    if found:
        flash(
            "Сохранено, но есть накладки: " + "; ".join(c.text for c in found[:5]) + ".",
            "error",
        )


def _editable_class(class_id: int) -> SchoolClass:
    school_class = SchoolClass.get_or_none(SchoolClass.id == class_id)
    if school_class is None:
        abort(404)
    return school_class


@bp.route("/class/<int:class_id>/entries", methods=["GET", "POST"])
@requires("planning", "write")
def entry_new(class_id: int):
    """Put a lesson of the class on the timetable (the «+» of a grid cell)."""
    school_class = _editable_class(class_id)
    year = school_class.year
    if request.method == "GET":
        form = {
            "weekday": request.args.get("weekday", ""),
            "number": request.args.get("number", ""),
            "valid_from": _day(year).isoformat(),
        }
        return _entry_page(school_class, None, form)
    try:
        entry = editing.add_entry(
            school_class, _entry_fields(school_class), user=g.user, ip=client_ip()
        )
    except PlanningError as exc:
        flash(str(exc), "error")
        return _entry_page(school_class, None, request.form, 400)
    flash("Урок добавлен в расписание.", "success")
    _warn_conflicts(entry)
    return _back_to_class(school_class, entry.valid_from)


def _back_to_class(school_class: SchoolClass, day: dt.date):
    return redirect(url_for("timetable.class_grid", class_id=school_class.id, on=day.isoformat()))


def _entry(entry_id: int) -> TimetableEntry:
    entry = TimetableEntry.get_or_none(TimetableEntry.id == entry_id)
    if entry is None:
        abort(404)
    return entry


def _change_from(entry: TimetableEntry) -> dt.date:
    """Default «from» date of an edit: tomorrow once the entry is in force, else its start."""
    year = entry.group.year
    today = dt.date.today()
    if entry.valid_from < today and today >= year.starts:
        return min(max(today + dt.timedelta(days=1), entry.valid_from), year.ends)
    return entry.valid_from


@bp.route("/entry/<int:entry_id>", methods=["GET", "POST"])
@requires("planning", "write")
def entry_edit(entry_id: int):
    """Change an entry's group, time, room or dates (from a date, keeping its past)."""
    entry = _entry(entry_id)
    school_class = entry.group.school_class
    if request.method == "GET":
        form = {
            "group": str(entry.group_id),
            "weekday": str(entry.weekday),
            "number": str(entry.number),
            "room": str(entry.room_id or ""),
            "valid_from": _change_from(entry).isoformat(),
            "valid_to": entry.valid_to.isoformat() if entry.valid_to else "",
        }
        return _entry_page(school_class, entry, form)
    try:
        saved = editing.update_entry(
            entry, _entry_fields(school_class), user=g.user, ip=client_ip()
        )
    except PlanningError as exc:
        flash(str(exc), "error")
        return _entry_page(school_class, entry, request.form, 400)
    if saved.id == entry.id:
        flash("Запись расписания изменена.", "success")
    else:
        flash(
            f"С {saved.valid_from:%d.%m.%Y} действует новая запись; прежняя — по "
            f"{saved.valid_from - dt.timedelta(days=1):%d.%m.%Y}.",
            "success",
        )
    _warn_conflicts(saved)
    return _back_to_class(school_class, saved.valid_from)


@bp.route("/entry/<int:entry_id>/delete", methods=["POST"])
@requires("planning", "write")
def entry_delete(entry_id: int):
    """Take a lesson off the timetable from a date; needs the explicit «confirm»."""
    entry = _entry(entry_id)
    school_class = entry.group.school_class
    day = parse_day(request.form.get("from"))
    try:
        if request.form.get("confirm") != "1" or day is None:
            raise PlanningError("Укажите дату и отметьте «Да, убрать урок из расписания».")
        outcome = editing.delete_entry(entry, day, user=g.user, ip=client_ip())
    except PlanningError as exc:
        flash(str(exc), "error")
        form = {**request.form, "group": str(entry.group_id), "weekday": str(entry.weekday)}
        return _entry_page(school_class, entry, form, 400)
    if outcome == "closed":
        flash(f"Урок убран из расписания с {day:%d.%m.%Y}; прошедшие уроки остались.", "success")
    else:
        flash("Урок убран из расписания.", "success")
    return _back_to_class(school_class, day)


# --- conflicts and the «checked» mark ------------------------------------------------------


def _conflicts_page(year: AcademicYear, status: int = 200):
    day = _day(year)
    entries = load_entries(year)
    return render_template(
        "timetable/conflicts.html",
        **_context(year, day=day),
        conflicts=year_conflicts(year, entries=entries),
        hours=checks.weekly_hours(year, day),
        gaps=class_gaps(entries, day),
        entries=len(entries),
        status=checks.check_status(year),
    ), status


@bp.route("/conflicts")
@requires("planning", "read")
def conflicts():
    """Every conflict of the year, weekly hours against the curriculum, the «checked» mark."""
    return _conflicts_page(_planning_year())


@bp.route("/conflicts", methods=["POST"])
@requires("planning", "write")
def mark_checked():
    year = _planning_year()
    try:
        if request.form.get("check") != "1":
            raise PlanningError("Нажмите «Отметить расписание проверенным».")
        count = checks.mark_checked(year, user=g.user, ip=client_ip())
    except PlanningError as exc:
        flash(str(exc), "error")
        return _conflicts_page(year, 400)
    flash(f"Расписание проверено: накладок нет (записей: {count}).", "success")
    return redirect(url_for("timetable.conflicts", year=year.id))


# --- one-off changes ------------------------------------------------------------------------


@bp.route("/changes")
@requires("planning", "read")
def change_list():
    year = _planning_year()
    start = _day(year, "from")
    if not request.args.get("from"):
        start = start - dt.timedelta(days=start.weekday())
    end = parse_day(request.args.get("to")) or start + dt.timedelta(days=13)
    return render_template(
        "timetable/changes.html",
        **_context(year, day=start),
        rows=changes.changes_between(year, start, max(end, start)),
        start=start,
        end=max(end, start),
    )


def _change_form(year: AcademicYear, status: int = 200):
    day = _day(year, "date")
    school_class = SchoolClass.get_or_none(
        (SchoolClass.id == (_int("class") or 0)) & (SchoolClass.year == year)
    )
    meetings = occupancy.meetings_on(school_class, day) if school_class else []
    return render_template(
        "timetable/change_form.html",
        **_context(year, day=day),
        classes=grid.year_classes(year),
        school_class=school_class,
        meetings=meetings,
        teachers=substitute_teachers(),
        rooms=rooms.rooms(),
        kinds=changes.KIND_LABELS,
        numbers=range(1, MAX_NUMBER + 1),
        form=request.values,
    ), status


@bp.route("/changes/new", methods=["GET", "POST"])
@requires("planning", "write")
def change_new():
    """Substitute, move, cancel or re-room one lesson of a day; the people concerned are told."""
    year = _planning_year()
    if request.method == "GET":
        return _change_form(year)
    try:
        entry = TimetableEntry.get_or_none(TimetableEntry.id == (_int("entry") or 0))
        day = parse_day(request.form.get("date"))
        if entry is None or day is None or entry.group.year_id != year.id:
            raise PlanningError("Выберите дату, класс и урок.")
        change = changes.make_change(entry, day, _change_request(), user=g.user, ip=client_ip())
    except PlanningError as exc:
        flash(str(exc), "error")
        return _change_form(year, 400)
    flash(f"Сохранено, ученики, родители и учителя извещены: {changes.describe(change)}", "success")
    return redirect(url_for("timetable.change_list", year=year.id, **{"from": day.isoformat()}))


def _change_request() -> changes.ChangeRequest:
    teacher = Person.get_or_none((Person.id == (_int("teacher") or 0)) & Person.is_staff)
    room = Room.get_or_none(Room.id == (_int("room") or 0))
    new_date = parse_day(request.form.get("new_date"))
    if request.form.get("new_date", "").strip() and new_date is None:
        raise PlanningError("Новая дата — в виде ДД.ММ.ГГГГ.")
    return changes.ChangeRequest(
        kind=request.form.get("kind", ""),
        teacher=teacher,
        new_date=new_date,
        new_number=_int("new_number"),
        room=room,
        reason=request.form.get("reason", ""),
    )


@bp.route("/changes/<int:change_id>/undo", methods=["POST"])
@requires("planning", "write")
def change_undo(change_id: int):
    change = TimetableChange.get_or_none(TimetableChange.id == change_id)
    if change is None:
        abort(404)
    year = change.entry.group.year
    back = url_for("timetable.change_list", year=year.id, **{"from": change.date.isoformat()})
    if request.form.get("confirm") != "1":  # an empty POST changes nothing
        flash("Отметьте «Да, отменить изменение».", "error")
        return redirect(back)
    try:
        text = changes.describe(change)
        outcome = changes.undo_change(change, user=g.user, ip=client_ip())
    except PlanningError as exc:
        flash(str(exc), "error")
        return redirect(back)
    flash(f"Изменение отменено: {text} {outcome}", "success")
    return redirect(back)


# --- rooms ------------------------------------------------------------------------------------


def _rooms_page(form=None, status: int = 200):
    return render_template(
        "timetable/rooms.html",
        rooms=rooms.rooms(),
        form=form or {},
        can_edit=scope.may_edit(g.role),
    ), status


@bp.route("/rooms")
@requires("planning", "read")
def room_list():
    return _rooms_page()


def _room_fields() -> rooms.RoomFields:
    return rooms.RoomFields(
        request.form.get("name", ""), request.form.get("capacity", ""), request.form.get("note", "")
    )


@bp.route("/rooms", methods=["POST"])
@requires("planning", "write")
def room_add():
    try:
        room = rooms.add_room(_room_fields(), user=g.user, ip=client_ip())
    except PlanningError as exc:
        flash(str(exc), "error")
        return _rooms_page(request.form, 400)
    flash(f"Кабинет {room.name} добавлен.", "success")
    return redirect(url_for("timetable.room_list"))


@bp.route("/rooms/<int:room_id>", methods=["GET", "POST"])
@requires("planning", "write")
def room_edit(room_id: int):
    room = _room(room_id)
    if request.method == "POST":
        try:
            rooms.update_room(room, _room_fields(), user=g.user, ip=client_ip())
        except PlanningError as exc:
            flash(str(exc), "error")
            return render_template("timetable/room_form.html", room=room, form=request.form), 400
        flash(f"Кабинет {room.name} сохранён.", "success")
        return redirect(url_for("timetable.room_list"))
    form = {"name": room.name, "capacity": room.capacity or "", "note": room.note}
    return render_template("timetable/room_form.html", room=room, form=form)


# --- XLSX ---------------------------------------------------------------------------------


@bp.route("/export.xlsx")
@requires("planning", "read")
def export():
    year = _planning_year()
    day = _day(year)
    return send_file(
        io.BytesIO(xlsx.export_xlsx(year, day)),
        as_attachment=True,
        download_name=f"raspisanie-{year.starts.year}-{day:%Y%m%d}.xlsx",
        mimetype=xlsx.XLSX_MIME,
    )


def _import_page(year: AcademicYear, status: int = 200, **extra):
    earliest = xlsx.earliest_effective(year)
    start = min(earliest, year.ends)
    return render_template(
        "timetable/import.html",
        **_context(year, day=start),
        effective=start,
        earliest=earliest,
        **extra,
    ), status


@bp.route("/import")
@requires("planning", "write")
def import_form():
    return _import_page(_planning_year())


def _preview(year: AcademicYear, filename: str, data: bytes) -> xlsx.ImportPreview:
    effective = parse_day(request.form.get("effective"))
    if effective is None:
        raise PlanningError("Укажите, с какой даты действует новое расписание.")
    rows = read_table(filename, data, max_rows=xlsx.MAX_IMPORT_ROWS)
    return xlsx.preview_import(year, rows, effective)


@bp.route("/import", methods=["POST"])
@requires("planning", "write")
def import_preview():
    """Read the file and show, row by row, what is wrong; nothing is stored yet."""
    year = _planning_year()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash("Выберите файл расписания (XLSX или CSV).", "error")
        return _import_page(year, 400)
    data = upload.read()
    try:
        preview = _preview(year, upload.filename, data)
    except (ImportFileError, PlanningError) as exc:
        flash(str(exc), "error")
        return _import_page(year, 400)
    return _import_page(
        year,
        200 if preview.ok else 400,
        preview=preview,
        filename=upload.filename,
        payload=base64.b64encode(data).decode() if preview.ok else "",
    )


@bp.route("/import/confirm", methods=["POST"])
@requires("planning", "write")
def import_apply():
    """Replace the timetable from the date with the previewed file (all or nothing)."""
    year = _planning_year()
    try:
        data = base64.b64decode(request.form.get("payload", ""), validate=True)
        if not data:
            raise PlanningError("Сначала загрузите файл и проверьте его.")
        preview = _preview(year, request.form.get("filename", ""), data)
        result = xlsx.apply_import(preview, user=g.user, ip=client_ip())
    except binascii.Error:
        abort(400)
    except (ImportFileError, PlanningError) as exc:
        flash(str(exc), "error")
        return _import_page(year, 400)
    flash(result.summary + " Теперь сверьте уроки с расписанием.", "success")
    return redirect(url_for("timetable.conflicts", year=year.id))
