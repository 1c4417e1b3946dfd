"""The КТП importer on files saved the way teachers really save them (tests/fixtures/ktp)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from openpyxl import Workbook

from appliance.imports_columns import CellError, ImportFileError
from appliance.ktp.columns import lesson_span, parse_hours, parse_plan_date, split_hours
from appliance.ktp.export import lesson_numbers, plan_xlsx
from appliance.ktp.importer import read_plan_file
from appliance.ktp.rows import PlanRow, rows_of
from appliance.ktp.workflow import import_plan, preview_import

FIXTURES = Path(__file__).parent / "fixtures" / "ktp"
SEPT_2026 = dt.date(2026, 9, 1)


def read(name: str):
    return read_plan_file(name, (FIXTURES / name).read_bytes(), SEPT_2026)


def topics(preview) -> list[str]:
    return [row.topic for row in preview.rows]


def texts(issues) -> str:
    return "\n".join(str(i) for i in issues)


# --- cells ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "hours"), [("1", 1), ("1 ч", 1), ("2ч.", 2), ("1,0", 1), ("2.0", 2), ("3 часа", 3)]
)
def test_hours_are_read_as_teachers_write_them(raw, hours):
    assert parse_hours(raw) == hours


@pytest.mark.parametrize(
    ("raw", "why"),
    [("два", "нужно число"), ("0,5", "целое"), ("0", "не меньше 1"), ("150", "больше")],
)
def test_unreadable_hours_say_why(raw, why):
    with pytest.raises(CellError, match=why):
        parse_hours(raw)


@pytest.mark.parametrize(
    ("raw", "day"),
    [
        ("01.09.2026", dt.date(2026, 9, 1)),
        ("01.09", dt.date(2026, 9, 1)),
        ("15.01", dt.date(2027, 1, 15)),  # spring dates belong to the second calendar year
        ("1.09-2.09", dt.date(2026, 9, 1)),
        ("03.09, 05.09", dt.date(2026, 9, 3)),
        ("2.09.26", dt.date(2026, 9, 2)),
        ("46266", dt.date(2026, 9, 1)),  # a date cell Excel kept as a serial number
    ],
)
def test_plan_dates_with_or_without_a_year(raw, day):
    assert parse_plan_date(raw, SEPT_2026) == day


@pytest.mark.parametrize("raw", ["32.13", "сентябрь", "1 неделя"])
def test_unreadable_dates_are_refused(raw):
    with pytest.raises(CellError):
        parse_plan_date(raw, SEPT_2026)


def test_a_range_number_is_one_topic_of_several_lessons():
    assert lesson_span("5") == 1
    assert lesson_span("5-6") == 2
    assert lesson_span("5 – 7.") == 3
    assert lesson_span("5, 6") == 2
    assert lesson_span("Раздел 1") is None


def test_hours_are_cut_off_a_section_title():
    assert split_hours("Раздел 1. Натуральные числа (12 ч)") == ("Раздел 1. Натуральные числа", 12)
    assert split_hours("Повторение — 5 часов") == ("Повторение", 5)
    assert split_hours("Числа и величины") == ("Числа и величины", None)


# --- layouts ---------------------------------------------------------------------------------


def test_clean_file_reads_every_row_with_sections_carried_down():
    preview = read("clean.xlsx")
    assert preview.ok and not preview.warnings
    assert len(preview.rows) == 8 and preview.hours == 8
    first, fifth = preview.rows[0], preview.rows[4]
    assert first == PlanRow(
        topic="Обозначение натуральных чисел",
        hours=1,
        section="Натуральные числа",
        homework_hint="п. 1, № 5",
        planned_date=dt.date(2026, 9, 1),
        line=2,
    )
    assert preview.rows[3].section == "Натуральные числа"  # written once, on the first lesson
    assert fifth.section == "Сложение и вычитание"


def test_title_block_and_a_header_merged_over_two_rows():
    preview = read("title_merged_header.xlsx")
    assert preview.ok, texts(preview.errors)
    assert preview.header_row == 10
    assert preview.columns["date"] == "Дата проведения по плану"
    assert preview.columns["date_fact"] == "Дата проведения по факту"
    assert [r.line for r in preview.rows] == [12, 13, 14, 15, 16, 17]
    # the plan date is read, not the fact date next to it (lesson 3: plan 03.09, fact 04.09)
    assert preview.rows[2].planned_date == dt.date(2026, 9, 3)
    assert "по факту" in texts(preview.notes)


def test_merged_section_rows_gaps_ranges_reserve_and_totals():
    preview = read("sections_gaps.xlsx")
    assert preview.ok, texts(preview.errors)
    assert preview.sheet == "КТП"  # the explanatory sheet before it is passed over
    assert topics(preview) == [
        "Ряд натуральных чисел",
        "Цифры. Десятичная запись",
        "Отрезок",
        "Сравнение натуральных чисел",
        "Сложение натуральных чисел",
        "Вычитание",
        "Контрольная работа № 1 «Сложение и вычитание»",
        "Резерв",
    ]
    assert [r.hours for r in preview.rows] == [1, 1, 1, 2, 2, 1, 1, 1]
    sections = [r.section for r in preview.rows]
    assert sections[:4] == ["Раздел 1. Натуральные числа"] * 4
    assert sections[4:7] == ["Раздел 2. Сложение и вычитание"] * 3
    assert sections[7] == ""  # reserve hours belong to no section
    # the topic merged down over two dated rows is one lesson dated by its first row
    assert preview.rows[4].planned_date == dt.date(2026, 10, 1)
    assert preview.hours == 10
    assert not preview.warnings, texts(preview.warnings)  # sections and «Итого» add up
    assert "Строка 15: строка итога" in texts(preview.notes)


def test_windows_1251_semicolon_csv_with_title_lines():
    preview = read("excel_cp1251.csv")
    assert preview.ok and preview.header_row == 4
    assert [r.section for r in preview.rows][:3] == ["Язык и общение"] * 3
    assert preview.rows[3].section == "Вспоминаем, повторяем, изучаем"
    assert preview.rows[3].hours == 2 and preview.rows[3].planned_date == dt.date(2026, 9, 7)
    assert "словарный диктант" in preview.rows[5].topic  # a «;» inside quotes stays in the topic
    assert preview.hours == 8 and not preview.warnings


def test_utf8_bom_csv_with_comma_decimals_and_commas_in_text():
    preview = read("bom_comma_decimals.csv")
    assert preview.ok, texts(preview.errors)
    assert [r.hours for r in preview.rows] == [1, 1, 1, 2, 1]
    assert preview.rows[0].topic == "Что изучает биология, как она связана с жизнью"
    assert preview.rows[4].homework_hint == "§ 6, 7, вопросы 1, 2, 3, 4, 5, 6, 7, 8, 9"
    assert preview.rows[3].section == "Клеточное строение организмов"


def test_plan_and_fact_sub_columns_under_a_merged_date():
    preview = read("plan_fact.xlsx")
    assert preview.ok
    assert preview.header_row == 1 and preview.columns["date"] == "Дата План"
    assert [r.planned_date for r in preview.rows][:3] == [
        dt.date(2026, 9, 1),
        dt.date(2026, 9, 3),
        dt.date(2026, 9, 8),
    ]
    assert preview.rows[0].hours == 2
    assert preview.hours == 6 and not preview.warnings  # «Всего: 6 ч» agrees


def test_unnumbered_rows_with_hours_are_sections_of_a_numbered_plan():
    preview = read("sections_with_hours.xlsx")
    assert preview.ok and not preview.warnings, texts(preview.warnings)
    assert [(r.section, r.hours) for r in preview.rows] == [
        ("Натуральные числа", 1),
        ("Натуральные числа", 1),
        ("Натуральные числа", 2),
        ("Сложение и вычитание", 1),
        ("Сложение и вычитание", 1),
        ("Сложение и вычитание", 1),
    ]
    assert "Столбец «Примечание» не используется." in texts(preview.notes)


def test_broken_rows_are_reported_by_their_row_in_the_file():
    preview = read("broken_rows.xlsx")
    assert not preview.ok
    assert preview.error_texts == [
        "Строка 3: не указана тема урока",
        "Строка 4: количество часов «два» — нужно число часов, например 1 или 2",
        "Строка 5: количество часов «0,5» — нужно целое число часов",
    ]
    assert preview.warning_texts == ["Строка 6: дата «32.13» — такой даты нет; оставлена пустой"]


def test_a_file_without_a_topic_column_is_refused_with_the_reason():
    preview = read("broken_no_topic.csv")
    assert not preview.ok and not preview.rows
    assert "нет столбца «Тема урока»" in preview.error_texts[0]


def test_totals_that_do_not_add_up_and_mismatched_sections_are_warned():
    text = (
        "№;Тема урока;Часы\nРаздел 1. Числа (3 ч);;\n1;Сложение;1\n2-3;Вычитание;1\nВсего: 5 ч;;\n"
    )
    preview = read_plan_file("ktp.csv", text.encode("utf-8"), SEPT_2026)
    assert preview.ok
    assert preview.warning_texts == [
        "Строка 2: в заголовке раздела «Раздел 1. Числа» указано 3 ч, а по урокам — 2 ч",
        "Строка 4: номер «2-3» — это 2 ур., а часов указано 1",
        "Строка 5: в строке итога указано 5 ч, а по урокам — 2 ч",
    ]


def test_files_that_are_not_a_plan_are_refused():
    with pytest.raises(ImportFileError, match=".xls"):
        read_plan_file("ktp.xls", b"\xd0\xcf\x11\xe0", SEPT_2026)
    with pytest.raises(ImportFileError, match="повреждён"):
        read_plan_file("ktp.xlsx", b"not a zip", SEPT_2026)
    with pytest.raises(ImportFileError):
        read_plan_file("ktp.pdf", b"%PDF", SEPT_2026)
    preview = read_plan_file("ktp.csv", "Фамилия;Имя\nИванов;Пётр\n".encode(), SEPT_2026)
    assert not preview.ok and "строка заголовков" in preview.error_texts[0]


def test_header_only_file_has_no_lessons():
    preview = read_plan_file("ktp.csv", "№;Тема урока;Часы\n".encode(), SEPT_2026)
    assert preview.error_texts == ["Под строкой заголовков не найдено ни одного урока."]


# --- export and round trip --------------------------------------------------------------------


def test_lesson_numbers_run_over_multi_hour_rows():
    rows = [PlanRow("a"), PlanRow("b", hours=2), PlanRow("c"), PlanRow("d", hours=3)]
    assert lesson_numbers(rows) == ["1", "2-3", "4", "5-7"]


def test_an_exported_plan_imports_back_unchanged(school):
    group = school.group
    preview = read("sections_gaps.xlsx")
    preview.rows[-1].section = "Повторение"  # the round trip cannot say «no section» after one
    plan = import_plan(group, preview, user=school.users["teacher"], ip="127.0.0.1")
    data = plan_xlsx(plan)
    again = read_plan_file("export.xlsx", data, group.year.starts)
    assert again.ok and not again.warnings, texts(again.warnings)
    strip = [(r.section, r.topic, r.hours, r.homework_hint, r.planned_date) for r in again.rows]
    stored = [(r.section, r.topic, r.hours, r.homework_hint, r.planned_date) for r in rows_of(plan)]
    assert strip == stored


def test_preview_for_a_group_adds_the_plan_checks(school):
    school.add_planning()  # curriculum: 170 h of maths in grade 5
    preview = preview_import(school.group, "clean.xlsx", (FIXTURES / "clean.xlsx").read_bytes())
    assert preview.ok
    assert [f.level for f in preview.findings][:1] == ["error"]
    assert "Всего в КТП 8 ч" in str(preview.findings[0])


def test_a_large_xlsx_with_formatting_far_below_is_read(school):
    book = Workbook()
    sheet = book.active
    sheet.append(["№", "Тема урока", "Часы"])
    sheet.append([1, "Сложение", 1])
    sheet.cell(row=3000, column=1).number_format = "0"  # styled, empty, far below
    out = io.BytesIO()
    book.save(out)
    preview = read_plan_file("big.xlsx", out.getvalue(), SEPT_2026)
    assert preview.ok and topics(preview) == ["Сложение"]
