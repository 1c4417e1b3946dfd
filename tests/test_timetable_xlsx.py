"""The timetable in XLSX: export, the same file back in, and messy files explained per row."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook

from appliance.imports_columns import CellError, read_table
from appliance.models import (
    AcademicYear,
    AuditEntry,
    Person,
    Room,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupTeacher,
    TimetableChange,
    TimetableEntry,
)
from appliance.timetable.entries import load_entries
from appliance.timetable.xlsx import (
    apply_import,
    export_xlsx,
    parse_class_name,
    parse_number,
    parse_subgroup,
    parse_weekday,
    preview_import,
)
from appliance.years import PlanningError

D = dt.date
SUMMER = D(2026, 8, 20)  # "today" before the year starts: any date of the year may be chosen
AUTUMN = D(2026, 11, 2)  # "today" in the year: from tomorrow on


@pytest.fixture
def school(db):
    """5А: maths (Смирнова Е. В.), English in two subgroups; 5Б: maths; rooms 204, 305."""
    year = AcademicYear.create(name="2026/2027", starts=D(2026, 9, 1), ends=D(2027, 8, 31))
    smirnova = Person.create(last_name="Смирнова", first_name="Елена", middle_name="Викторовна")
    lee = Person.create(last_name="Ли", first_name="Ирина")
    brown = Person.create(last_name="Браун", first_name="Ольга", middle_name="Петровна")
    a = SchoolClass.create(year=year, grade=5, letter="А")
    b = SchoolClass.create(year=year, grade=5, letter="Б")
    maths = Subject.create(name="Математика", short_name="Матем")
    english = Subject.create(name="Английский язык", short_name="Англ")
    groups = {
        "maths_a": SubjectGroup.create(year=year, school_class=a, subject=maths),
        "maths_b": SubjectGroup.create(year=year, school_class=b, subject=maths),
        "eng1": SubjectGroup.create(year=year, school_class=a, subject=english, subgroup=1),
        "eng2": SubjectGroup.create(year=year, school_class=a, subject=english, subgroup=2),
    }
    for key, teacher in (
        ("maths_a", smirnova),
        ("maths_b", smirnova),
        ("eng1", lee),
        ("eng2", brown),
    ):
        SubjectGroupTeacher.create(group=groups[key], teacher=teacher)
    rooms = {name: Room.create(name=name) for name in ("204", "305")}
    return {"year": year, "rooms": rooms, **groups}


def timetable(school) -> None:
    r204, r305 = school["rooms"]["204"], school["rooms"]["305"]
    for group, weekday, number, room, since in (
        ("maths_a", 1, 1, r204, D(2026, 9, 1)),
        ("maths_a", 3, 2, r204, D(2026, 9, 1)),
        ("maths_b", 1, 2, r204, D(2026, 9, 1)),
        ("eng1", 2, 3, r305, D(2026, 9, 1)),
        ("eng2", 2, 3, None, D(2026, 10, 1)),
    ):
        TimetableEntry.create(
            group=school[group], weekday=weekday, number=number, room=room, valid_from=since
        )


def snapshot(year) -> set[tuple]:
    return {
        (e.group_id, e.weekday, e.number, e.room_id, e.valid_from, e.valid_to)
        for e in load_entries(year)
    }


def test_export_then_import_gives_the_same_timetable(school):
    year = school["year"]
    timetable(school)
    before = snapshot(year)
    data = export_xlsx(year, D(2026, 10, 5))
    table = read_table("raspisanie.xlsx", data)
    assert table[0] == ["Класс", "День", "Урок", "Предмет", "Подгруппа", "Учитель", "Кабинет",
                        "Действует с"]  # fmt: skip
    assert ["5А", "Понедельник", "1", "Математика", "", "Смирнова Елена Викторовна", "204",
            "01.09.2026"] in table  # fmt: skip
    preview = preview_import(year, table, year.starts, today=SUMMER)
    assert preview.ok, preview.errors
    assert (preview.to_close, preview.to_delete) == (0, 5)
    result = apply_import(preview, user=None, today=SUMMER)
    assert (result.created, result.deleted, result.closed) == (5, 5, 0)
    assert snapshot(year) == {(g, w, n, r, f, None) for g, w, n, r, f, _ in before}
    assert AuditEntry.select().where(AuditEntry.action == "timetable.import").count() == 1


def test_import_from_a_date_closes_the_old_entries_and_carries_changes(school):
    year = school["year"]
    timetable(school)
    monday = TimetableEntry.get(
        (TimetableEntry.group == school["maths_a"]) & (TimetableEntry.weekday == 1)
    )
    wednesday = TimetableEntry.get(
        (TimetableEntry.group == school["maths_a"]) & (TimetableEntry.weekday == 3)
    )
    kept = TimetableChange.create(date=D(2026, 12, 7), entry=monday, kind="cancelled")
    gone = TimetableChange.create(date=D(2026, 12, 9), entry=wednesday, kind="cancelled")
    table = [
        ["Класс", "День", "Урок", "Предмет", "Кабинет"],
        ["5А", "Пн", "1", "Математика", "305"],
        ["5Б", "Пн", "2", "Математика", "204"],
    ]
    preview = preview_import(year, table, D(2026, 12, 1), today=AUTUMN)
    assert preview.ok, preview.errors
    result = apply_import(preview, user=None, today=AUTUMN)
    assert (result.created, result.closed, result.changes_moved, result.changes_dropped) == (
        2,
        5,
        1,
        1,
    )
    assert TimetableEntry.get_by_id(monday.id).valid_to == D(2026, 11, 30)
    assert TimetableChange.get_by_id(kept.id).entry.room.name == "305"
    assert TimetableChange.get_or_none(TimetableChange.id == gone.id) is None
    on_december = {
        (e.class_name, e.weekday, e.room)
        for e in load_entries(year, start=D(2026, 12, 2), end=D(2026, 12, 2))
    }
    assert on_december == {("5А", 1, "305"), ("5Б", 1, "204")}


def test_a_past_date_is_refused_once_the_year_has_started_and_history_stays(school):
    year = school["year"]
    timetable(school)
    table = read_table("r.xlsx", export_xlsx(year, D(2026, 10, 5)))
    for past in (year.starts, D(2026, 10, 1), AUTUMN):
        preview = preview_import(year, table, past, today=AUTUMN)
        assert not preview.ok
        assert preview.errors == [
            "Новое расписание может действовать не раньше 03.11.2026: "
            "прошедшие и сегодняшние уроки остаются по прежнему расписанию."
        ]
    with pytest.raises(PlanningError, match="не раньше 03.11.2026"):
        apply_import(
            preview_import(year, table, year.starts, today=SUMMER), user=None, today=AUTUMN
        )
    result = apply_import(preview_import(year, table, D(2026, 11, 3), today=AUTUMN), user=None,
                          today=AUTUMN)  # fmt: skip
    assert (result.created, result.closed, result.deleted) == (5, 5, 0)
    old = TimetableEntry.select().where(TimetableEntry.valid_from < D(2026, 11, 3))
    assert [e.valid_to for e in old] == [D(2026, 11, 2)] * 5  # every old entry kept its past


def messy_csv() -> bytes:
    """The way a deputy's own spreadsheet really looks: a title, blank lines, loose spelling."""
    lines = [
        "Расписание уроков на 2026/2027 учебный год;;;;;;;",
        ";;;;;;;",
        "Класс;День недели;№ урока;Предмет;Подгр.;Преподаватель;Каб.;С даты",
        "5 а;Пн;1;математика;;Смирнова Е.В.;204;",
        "5-А;понедельник;2-й урок;Англ;1 подгр;Ли И.;305;01.09.2026",
        "5A;1;2;Английский язык;2;Браун О. П.;;",
        ";;;;;;;",
        "5Б;Вт;1;Математика;;Е. В. Смирнова;204;",
        "5Д;Ср;1;Математика;;;;",
        "5Б;Чт;9;Физика;;;;",
        "5А;Пт;1;Английский язык;;;;",
        "5Б;Пт;2;Математика;;Браун;204;",
        "5Б;Сб;1;Математика;;;101;",
        "5Б;Воскресенье;1;Математика;;;;",
        "5А;Пн;1;Математика;;;;",
        "5Б;Пт;3;Математика;3;;;",
        "5Б;Пт;4;Математика;;;;01.09.2027",
    ]
    return "\n".join(lines).encode("cp1251")


def test_a_messy_file_is_explained_row_by_row_and_nothing_is_stored(school):
    year = school["year"]
    preview = preview_import(year, read_table("5a.csv", messy_csv()), year.starts, today=SUMMER)
    assert not preview.ok
    assert len(preview.rows) == 4  # the four good rows, nothing stored yet
    errors = "\n".join(preview.errors)
    for expected in (
        "Строка 9: класса 5Д в 2026/2027 учебном году нет",
        "Строка 10: предмета «Физика» нет в справочнике",
        "Строка 11: в 5А «Английский язык» идёт по подгруппам (1, 2) — укажите подгруппу",
        "Строка 12: учитель «Браун» не ведёт Математика в 5Б (ведёт: Смирнова Е.В.)",
        "Строка 13: кабинета «101» нет в списке кабинетов",
        "Строка 14: день «Воскресенье» — нужен день недели",
        "Строка 15: повторяет строку 4",
        "Строка 16: у 5Б по предмету «Математика» нет 3-й подгруппы",
        "Строка 17: дата «действует с» 01.09.2027 — после конца учебного года",
    ):
        assert expected in errors
    assert len(preview.errors) == 9
    with pytest.raises(PlanningError):
        apply_import(preview, user=None)
    assert TimetableEntry.select().count() == 0


def test_an_xlsx_with_its_header_lower_down_is_read(school):
    book = Workbook()
    sheet = book.active
    sheet.append(["Расписание 5-х классов"])
    sheet.append([])
    sheet.append(["Класс", "День", "Урок", "Предмет", "Подгруппа", "Учитель", "Кабинет"])
    sheet.append(["5А", "Среда", 4, "Математика", None, "Смирнова Елена Викторовна", 204])
    out = io.BytesIO()
    book.save(out)
    preview = preview_import(
        school["year"], read_table("r.xlsx", out.getvalue()), school["year"].starts, today=SUMMER
    )
    assert preview.ok, preview.errors
    (row,) = preview.rows
    assert (row.line, row.weekday, row.number, row.room.name) == (4, 3, 4, "204")


def test_a_file_without_the_header_says_which_columns_are_needed(school):
    preview = preview_import(
        school["year"], [["a", "b"], ["1", "2"]], school["year"].starts, today=SUMMER
    )
    assert not preview.ok and "«Класс»" in preview.errors[0]


@pytest.mark.parametrize(
    ("parse", "raw", "value"),
    [
        (parse_class_name, "10 б", "10Б"),
        (parse_class_name, "11-a", "11А"),
        (parse_weekday, "ЧТ.", 4),
        (parse_weekday, "6", 6),
        (parse_number, "3-й урок", 3),
        (parse_number, "7", 7),
        (parse_subgroup, "2 гр.", 2),
        (parse_subgroup, "весь класс", None),
    ],
)
def test_cells_are_read_the_way_people_write_them(parse, raw, value):
    assert parse(raw) == value


@pytest.mark.parametrize(
    ("parse", "raw"),
    [(parse_class_name, "5"), (parse_class_name, "12А"), (parse_weekday, "вс"),
     (parse_number, "0"), (parse_number, "11"), (parse_subgroup, "первая")],
)  # fmt: skip
def test_unreadable_cells_are_refused(parse, raw):
    with pytest.raises(CellError):
        parse(raw)
