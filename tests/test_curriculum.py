"""The curriculum (§7.4): subjects, classes, the hours grid, and the import of messy files."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from openpyxl import Workbook

from appliance import curriculum, curriculum_import, school_classes
from appliance.imports_columns import read_table
from appliance.models import (
    AuditEntry,
    CurriculumLine,
    Enrollment,
    SchoolClass,
    Subject,
)
from appliance.years import PlanningError


@pytest.fixture
def plan(school):
    """The school's subjects for the curriculum tests (Математика exists already)."""
    names = ("Русский язык", "Литература", "Английский язык", "Алгебра", "Физическая культура")
    subjects = {s.name: s for s in Subject.select()}
    for n, name in enumerate(names):
        subjects[name] = Subject.create(
            name=name, sort_order=10 + n, is_foreign_language=name.startswith("Англ")
        )
    return {"school": school, "year": school.year, "deputy": school.users["deputy"], **subjects}


def save(plan, grades, cells):
    return curriculum.save_curriculum(
        plan["year"],
        grades,
        {(plan[name].id, grade): value for (name, grade), value in cells.items()},
        user=plan["deputy"],
        ip="10.0.0.5",
    )


def line(plan, name, grade):
    return CurriculumLine.get_or_none(
        (CurriculumLine.year == plan["year"])
        & (CurriculumLine.subject == plan[name])
        & (CurriculumLine.grade == grade)
    )


# --- hours ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "grade, week, year, expected",
    [
        (5, "5", "", (5, 170)),
        (1, "4", "", (4, 132)),  # 33 weeks in grade 1
        (5, "4,5", "", (5, 153)),
        (5, "0,5", "", (1, 17)),
        (1, "0.5", "", (1, 17)),
        (5, "", "17", (1, 17)),
        (5, "5", "175", (5, 175)),
        (5, "", "", None),
        (5, "0", "—", None),
    ],
)
def test_hours_a_year_default_to_weeks_of_the_grade(grade, week, year, expected):
    resolved = curriculum.resolve_hours(
        grade, curriculum.parse_week(week), curriculum.parse_year(year)
    )
    assert resolved == expected


def test_half_hour_subject_keeps_its_truth_in_the_year_figure(plan):
    save(plan, [5, 6], {("Русский язык", 5): ("", "17"), ("Математика", 5): ("4,5", "")})
    assert (line(plan, "Русский язык", 5).hours_week, line(plan, "Русский язык", 5).hours_year) == (
        1,
        17,
    )
    year = plan["year"]
    assert curriculum.annual_hours(year, 5, plan["Русский язык"]) == 17
    assert curriculum.weekly_hours(year, 5, plan["Русский язык"]) == Decimal("0.5")
    assert curriculum.weekly_hours(year, 5, plan["Математика"]) == Decimal("4.5")
    assert curriculum.annual_hours(year, 5, plan["Математика"]) == 153
    assert curriculum.annual_hours(year, 6, plan["Математика"]) is None
    grid = curriculum.curriculum_grid(year, [5])
    cell = next(r for r in grid.rows if r.subject.name == "Русский язык").cells[5]
    assert (cell.week, cell.year, cell.default_year) == ("0,5", "", 17)
    assert grid.week_totals[5] == Decimal("5")


def test_grid_saves_creates_changes_and_removes_in_one_go(plan):
    save(plan, [5], {("Математика", 5): ("5", ""), ("Литература", 5): ("3", "")})
    counts = save(
        plan,
        [5],
        {
            ("Математика", 5): ("6", ""),
            ("Литература", 5): ("", ""),
            ("Русский язык", 5): ("5", "175"),
        },
    )
    assert counts == {"created": 1, "changed": 1, "removed": 1}
    assert line(plan, "Литература", 5) is None
    assert line(plan, "Математика", 5).hours_year == 204
    assert line(plan, "Русский язык", 5).hours_year == 175
    actions = [a.action for a in AuditEntry.select().where(AuditEntry.action % "curriculum.*")]
    assert actions.count("curriculum.delete") == 1 and actions.count("curriculum.update") == 1


def test_grid_errors_are_per_cell_and_nothing_is_saved(plan):
    save(plan, [5], {("Математика", 5): ("5", "")})
    with pytest.raises(curriculum.CurriculumErrors) as caught:
        save(
            plan,
            [5, 6],
            {
                ("Математика", 5): ("4", ""),
                ("Русский язык", 5): ("пять", ""),
                ("Литература", 6): ("4,3", ""),
                ("Алгебра", 6): ("170", ""),
            },
        )
    messages = caught.value.messages
    assert len(messages) == 3
    assert any("Русский язык, 5 класс" in m and "«пять»" in m for m in messages)
    assert any("Литература, 6 класс" in m and "с половиной" in m for m in messages)
    assert any("Алгебра, 6 класс" in m and "слишком много" in m for m in messages)
    assert line(plan, "Математика", 5).hours_week == 5  # the good cell was not saved either


def test_other_grades_and_subjects_outside_the_form_stay(plan):
    save(plan, [5, 6], {("Математика", 5): ("5", ""), ("Математика", 6): ("5", "")})
    save(plan, [5], {("Литература", 5): ("3", "")})
    assert line(plan, "Математика", 5) is not None  # not in the form: untouched
    assert line(plan, "Математика", 6) is not None


def test_closed_year_refuses_curriculum_changes(plan):
    plan["year"].read_only = True
    plan["year"].save()
    with pytest.raises(PlanningError, match="закрыт"):
        save(plan, [5], {("Математика", 5): ("5", "")})


# --- subjects and classes ---------------------------------------------------------------


def test_subject_names_are_unique_whatever_the_case(plan):
    deputy = plan["deputy"]
    with pytest.raises(PlanningError, match="уже есть"):
        curriculum.save_subject({"name": "  математика "}, user=deputy, ip="")
    subject = curriculum.save_subject(
        {"name": "Немецкий язык", "scale": "five", "is_foreign_language": "1", "sort_order": "7"},
        user=deputy,
        ip="",
    )
    assert subject.is_foreign_language and subject.sort_order == 7
    with pytest.raises(PlanningError, match="оценивается"):
        curriculum.save_subject({"name": "Музыка", "scale": "ten"}, user=deputy, ip="")


def test_subject_with_groups_cannot_be_deleted_one_without_can(plan):
    deputy = plan["deputy"]
    with pytest.raises(PlanningError, match="есть группы"):
        curriculum.delete_subject(plan["Математика"], user=deputy, ip="")
    save(plan, [5], {("Литература", 5): ("3", "")})
    curriculum.delete_subject(plan["Литература"], user=deputy, ip="")
    assert not Subject.select().where(Subject.name == "Литература").exists()
    assert not CurriculumLine.select().where(CurriculumLine.subject == plan["Литература"]).exists()
    assert AuditEntry.select().where(AuditEntry.action == "subject.delete").exists()


def test_classes_are_added_checked_closed_and_reopened(plan):
    year, deputy = plan["year"], plan["deputy"]
    six_b = school_classes.save_class(year, {"grade": "6", "letter": "б"}, user=deputy, ip="")
    assert six_b.name == "6Б"
    latin = school_classes.save_class(year, {"grade": "6", "letter": "A"}, user=deputy, ip="")
    assert latin.letter == "А"  # typed on the Latin layout
    for data, message in (
        ({"grade": "12", "letter": "А"}, "от 1 до 11"),
        ({"grade": "5", "letter": "Z"}, "русская буква"),
        ({"grade": "5", "letter": "А"}, "уже есть"),
        ({"grade": "5", "letter": "Г", "room": "999"}, "кабинета нет"),
    ):
        with pytest.raises(PlanningError, match=message):
            school_classes.save_class(year, data, user=deputy, ip="")
    school_classes.set_class_closed(six_b, True, user=deputy, ip="")
    assert SchoolClass.get_by_id(six_b.id).closed
    school_classes.set_class_closed(six_b, False, user=deputy, ip="")
    assert not SchoolClass.get_by_id(six_b.id).closed
    school_classes.delete_class(six_b, user=deputy, ip="")
    assert SchoolClass.get_or_none(SchoolClass.id == six_b.id) is None


def test_a_class_with_lessons_keeps_its_grade_and_one_with_students_stays(plan):
    five_a, deputy = plan["school"].classes["5А"], plan["deputy"]
    with pytest.raises(PlanningError, match="уже есть уроки"):
        school_classes.save_class(
            five_a.year, {"grade": "6", "letter": "А"}, user=deputy, ip="", school_class=five_a
        )
    with pytest.raises(PlanningError, match="есть ученики"):
        school_classes.delete_class(five_a, user=deputy, ip="")
    rows = {r.school_class.name: r for r in school_classes.class_rows(plan["year"])}
    enrolled = Enrollment.select().where(Enrollment.school_class == five_a).count()
    assert rows["5А"].students == enrolled and rows["5А"].groups == 1


# --- the import: messy files the way schools keep them -------------------------------------


def xlsx(rows, merges=()) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    for cells in merges:
        sheet.merge_cells(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def fgos_file() -> bytes:
    """ФГОС layout: two-row merged header, Roman numerals, areas, sections, totals."""
    return xlsx(
        [
            ["Учебный план основного общего образования МБОУ СОШ № 1 на 2026/2027 учебный год"],
            ["(пятидневная учебная неделя)"],
            [
                "Предметные области",
                "Учебные предметы",
                "Количество часов в неделю",
                None,
                None,
                None,
                None,
                "Всего",
            ],
            [None, None, "V", "VI", "VII", "VIII", "IX"],
            ["Обязательная часть"],
            ["Русский язык и литература", "Русский язык", 5, 6, 4, 3, 3, 21],
            [None, "Литература", 3, 3, 2, 2, 3, 13],
            ["Иностранные языки", "Иностранный язык (английский)", 3, 3, 3, 3, 3, 15],
            ["Математика и информатика", "Математика", 5, 5, None, None, None, 10],
            [None, "Алгебра", None, None, 3, 3, 3, 9],
            [None, "Вероятность и статистика", None, None, 1, 1, 1, 3],
            ["Основы духовно-нравственной культуры народов России", None, 1, 1],
            ["Итого", None, 22, 23, 17, 16, 17],
            [],
            ["Часть, формируемая участниками образовательных отношений"],
            [None, "Финансовая грамотность", 0.5, "0,5"],
            [None, "Русский язык", None, None, 1],
            [None, "Проектная деятельность*", None, None, None, "1/34"],
            ["Максимально допустимая недельная нагрузка", None, 29, 30, 32, 33, 33],
        ],
        merges=("A1:H1", "A3:A4", "B3:B4", "C3:G3", "H3:H4", "A5:H5", "A12:B12", "A15:H15"),
    )


def preview_of(plan, filename, data):
    return curriculum_import.preview_import(plan["year"], read_table(filename, data))


def planned(preview):
    return {(p.subject, p.grade): (p.hours_week, p.hours_year) for p in preview.lines}


def test_fgos_file_with_merged_header_and_roman_grades(plan):
    preview = preview_of(plan, "uchplan.xlsx", fgos_file())
    assert preview.ok, preview.error_texts
    assert preview.grades == [5, 6, 7, 8, 9]
    got = planned(preview)
    assert got[("Русский язык", 5)] == (5, 170)
    assert got[("Русский язык", 7)] == (5, 170)  # 4 + 1 from the school's part
    assert got[("Английский язык", 9)] == (3, 102)  # «Иностранный язык (английский)»
    assert got[("Основы духовно-нравственной культуры народов России", 6)] == (1, 34)
    assert got[("Финансовая грамотность", 5)] == (1, 17)  # half an hour a week
    assert got[("Проектная деятельность", 8)] == (1, 34)
    assert ("Итого", 5) not in got
    assert preview.new_subjects == [
        "Вероятность и статистика",
        "Основы духовно-нравственной культуры народов России",
        "Финансовая грамотность",
        "Проектная деятельность",
    ]
    assert any("часы сложены" in w for w in preview.warning_texts)
    assert any("Итого" in n and "Максимально" in n for n in preview.note_texts)
    assert not CurriculumLine.select().where(CurriculumLine.grade == 7).exists()  # preview only


def test_windows_1251_csv_with_class_headers_and_decimal_commas(plan):
    text = (
        "Учебный план на 2026/2027 учебный год;;;;\n"
        ";;;;\n"
        "Предмет;5 класс;6 класс;7 кл.;Всего\n"
        "Русский язык;5;6;4;15\n"
        "Математика;5;5;;10\n"
        ";;;;\n"
        "Физическая культура;2,5;2,5;2;7\n"
        "Информатика;1;;1/35;\n"
        "ИТОГО:;13,5;13,5;7;\n"
    )
    preview = preview_of(plan, "plan.csv", text.encode("cp1251"))
    assert preview.ok, preview.error_texts
    assert preview.grades == [5, 6, 7]
    got = planned(preview)
    assert got[("Физическая культура", 5)] == (3, 85)
    assert got[("Информатика", 7)] == (1, 35)
    assert got[("Математика", 6)] == (5, 170)
    assert ("Математика", 7) not in got
    assert preview.new_subjects == ["Информатика"]


def test_senior_file_with_week_and_year_subcolumns_and_cyrillic_x(plan):
    data = xlsx(
        [
            ["Учебные предметы", "Х класс", None, "ХI класс"],
            [None, "в неделю", "в год", "в неделю", "в год"],
            ["Русский язык", 2, 68, 2, 68],
            ["Индивидуальный проект", 1, 34],
            ["Астрономия", None, None, "0,5", 17],
            ["Итого", 3, 102, 2.5, 85],
        ],
        merges=("A1:A2", "B1:C1", "D1:E1"),
    )
    preview = preview_of(plan, "10-11.xlsx", data)
    assert preview.ok, preview.error_texts
    assert preview.grades == [10, 11]
    got = planned(preview)
    assert got[("Русский язык", 10)] == (2, 68)
    assert got[("Астрономия", 11)] == (1, 17)
    assert got[("Индивидуальный проект", 10)] == (1, 34)


def test_a_table_of_annual_hours_is_read_as_a_year(plan):
    text = "Количество часов в год\nПредмет,1 кл,2 кл\nМузыка,33,34\n"
    preview = preview_of(plan, "god.csv", text.encode("utf-8"))
    assert preview.ok and preview.annual
    assert planned(preview)[("Музыка", 1)] == (1, 33)
    assert planned(preview)[("Музыка", 2)] == (1, 34)


def test_a_bad_file_is_refused_with_a_message_per_row(plan):
    text = "Предмет;5;6\nМатематика;пять;5\nРусский язык;4,3;\nЛитература;3;170\nАлгебра;2/1;\n"
    lines_before = CurriculumLine.select().count()
    preview = preview_of(plan, "bad.csv", text.encode("cp1251"))
    assert not preview.ok
    errors = preview.error_texts
    assert any(e.startswith("Строка 2:") and "«пять»" in e and "5 класс" in e for e in errors)
    assert any(e.startswith("Строка 3:") and "с половиной" in e for e in errors)
    assert any(
        e.startswith("Строка 4:") and "6 класс" in e and "слишком много" in e for e in errors
    )
    assert any(e.startswith("Строка 5:") and "1/34" in e for e in errors)
    assert CurriculumLine.select().count() == lines_before


def test_a_file_without_a_header_says_so(plan):
    preview = preview_of(plan, "x.csv", "Математика;5;5\nРусский язык;4;4\n".encode())
    assert not preview.ok
    assert "строка заголовков" in preview.error_texts[0].lower()
    preview = preview_of(plan, "y.csv", "Предмет;Часы\nМатематика;5\n".encode())
    assert not preview.ok


def test_apply_replaces_the_file_grades_only_and_creates_subjects(plan):
    save(plan, [5, 1], {("Литература", 5): ("2", ""), ("Русский язык", 1): ("5", "")})
    preview = preview_of(plan, "uchplan.xlsx", fgos_file())
    changes = {(c.subject, c.grade): c for c in preview.changes}
    assert changes[("Литература", 5)].old.startswith("2 ч/нед")
    counts = curriculum_import.apply_import(
        plan["year"], preview.payload(), user=plan["deputy"], ip=""
    )
    assert counts["subjects"] == 4
    assert line(plan, "Литература", 5).hours_week == 3
    assert line(plan, "Русский язык", 1) is not None  # grade 1 is not in the file
    new = Subject.get(Subject.name == "Финансовая грамотность")
    assert curriculum.annual_hours(plan["year"], 5, new) == 17
    assert AuditEntry.select().where(AuditEntry.action == "subject.create").count() == 4
    # the same file again changes nothing
    again = preview_of(plan, "uchplan.xlsx", fgos_file())
    assert again.ok and again.changes == [] and again.new_subjects == []


def test_apply_refuses_tampered_data_and_writes_nothing(plan):
    before = CurriculumLine.select().count()
    with pytest.raises(PlanningError, match="испорчены"):
        curriculum_import.apply_import(plan["year"], "{not json", user=plan["deputy"], ip="")
    payload = '{"grades": [5], "lines": [["Математика", 5, 5, 170], ["Физика", 5, 99, 9999]]}'
    with pytest.raises(curriculum.CurriculumErrors):
        curriculum_import.apply_import(plan["year"], payload, user=plan["deputy"], ip="")
    assert CurriculumLine.select().count() == before
    assert not Subject.select().where(Subject.name == "Физика").exists()


def test_export_reads_back_unchanged(plan):
    save(
        plan,
        [1, 5],
        {
            ("Математика", 5): ("4,5", ""),
            ("Русский язык", 5): ("5", "175"),
            ("Литература", 5): ("", "8"),
            ("Русский язык", 1): ("5", ""),
        },
    )
    data = curriculum_import.export_xlsx(plan["year"])
    preview = preview_of(plan, "export.xlsx", data)
    assert preview.ok, preview.error_texts
    assert preview.changes == []
    assert planned(preview)[("Литература", 5)] == (0, 8)
