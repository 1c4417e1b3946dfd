"""A КТП version as an XLSX file in the columns the importer reads (a download round-trips).

Above the header: what plan this is (subject, class, year, version and its state), as a
teacher's own file has; below the rows an «Итого» line the importer checks the sum with.
"""

from __future__ import annotations

import io

from ..models import Plan
from .columns import EXPORT_HEADERS
from .queries import state_label, teacher_names
from .rows import PlanRow, rows_of, total_hours

WIDTHS = (8, 30, 60, 10, 12, 40)


def lesson_numbers(rows: list[PlanRow]) -> list[str]:
    """Running lesson numbers: a row of two hours after lesson 4 is «5-6»."""
    numbers, first = [], 1
    for row in rows:
        last = first + row.hours - 1
        numbers.append(str(first) if last == first else f"{first}-{last}")
        first = last + 1
    return numbers


def plan_xlsx(plan: Plan) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    group = plan.group
    rows = rows_of(plan)
    book = Workbook()
    sheet = book.active
    sheet.title = "КТП"
    teachers = teacher_names([group.id]).get(group.id, "")
    sheet.append(["Календарно-тематическое планирование"])
    sheet.append([f"{group.name}, {group.year.name} учебный год"])
    if teachers:
        sheet.append([f"Учитель: {teachers}"])
    sheet.append([f"Версия {plan.version} — {state_label(plan)}"])
    sheet.append([])
    sheet.append(EXPORT_HEADERS)
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    sheet["A1"].font = Font(bold=True, size=13)
    for number, row in zip(lesson_numbers(rows), rows, strict=True):
        sheet.append(
            [number, row.section, row.topic, row.hours, row.planned_date, row.homework_hint]
        )
        if row.planned_date is not None:
            sheet.cell(row=sheet.max_row, column=5).number_format = "DD.MM.YYYY"
        for column in (2, 3, 6):
            sheet.cell(row=sheet.max_row, column=column).alignment = Alignment(wrap_text=True)
    sheet.append(["Итого", "", "", total_hours(rows)])
    sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True)
    for position, width in enumerate(WIDTHS, 1):
        sheet.column_dimensions[get_column_letter(position)].width = width
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def export_name(plan: Plan) -> str:
    """«КТП Математика 5А, версия 3.xlsx» (Flask sends it with an ASCII fallback)."""
    group = plan.group
    subgroup = f" {group.subgroup} подгр." if group.subgroup else ""
    name = f"КТП {group.subject.name} {group.school_class.name}{subgroup}, версия {plan.version}"
    return "".join(ch for ch in name if ch not in '\\/:*?"<>|') + ".xlsx"
