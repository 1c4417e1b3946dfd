"""Marking rules as plain functions: scales, attendance codes, weighted averages, suggestions.

Nothing here touches the database; `appliance.journal` applies these rules to rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_DOWN, ROUND_FLOOR, Decimal

from .models import ATTENDANCE_CODES

FIVE_POINT = ("2", "3", "4", "5")
PASS_FAIL = ("зач", "незач")
NOT_ASSESSED = "н/а"
EXEMPT = "осв"

# What a teacher types → the code stored (§7.3: Н, Б, УП, ОП, ОСВ).
ATTENDANCE_INPUT = {
    "н": "Н",
    "нб": "Н",
    "б": "Б",
    "уп": "УП",
    "оп": "ОП",
    "осв": "ОСВ",
}
# Absences a class teacher may turn an «Н» into (§7.3).
EXCUSE_CODES = ("УП", "Б")


class GradingError(ValueError):
    """Input that breaks a marking rule; the message is Russian and shown as is."""


def scale_of(subject_scale: str, graded_class: bool) -> str:
    """The scale in force: grade 1 has no marks at all (безотметочное обучение)."""
    return subject_scale if graded_class else "none"


def mark_values(scale: str) -> tuple[str, ...]:
    return {"five": FIVE_POINT, "pass_fail": PASS_FAIL}.get(scale, ())


def parse_mark(raw: str, scale: str) -> str:
    """A typed mark → the stored value, or a Russian reason why not."""
    text = raw.strip().lower().replace("ё", "е")
    if scale == "none":
        raise GradingError("В этом классе оценки не ставятся (безотметочное обучение).")
    if scale == "pass_fail":
        aliases = {"зач": "зач", "зачет": "зач", "з": "зач", "незач": "незач", "незачет": "незач"}
        if text in aliases:
            return aliases[text]
        raise GradingError(f"«{raw.strip()}» — не отметка: по этому предмету «зач» или «незач».")
    if text in FIVE_POINT:
        return text
    raise GradingError(f"«{raw.strip()}» — не оценка: допустимы 2, 3, 4, 5.")


def parse_attendance(raw: str) -> str:
    text = raw.strip().lower()
    if text.upper() in ATTENDANCE_CODES:
        return text.upper()
    if text in ATTENDANCE_INPUT:
        return ATTENDANCE_INPUT[text]
    raise GradingError(f"«{raw.strip()}» — нет такой отметки посещаемости: н, б, уп, оп или осв.")


def weighted_average(marks: Iterable[tuple[str, int]]) -> Decimal | None:
    """Σ(mark·weight)/Σweight over five-point marks, cut to two decimals for display.

    Cut, not rounded: 3.595… shows as 3.59, so a teacher never sees 3.60 next to a
    suggested «3» when the school's threshold is 0.60.
    """
    exact = exact_average(marks)
    return None if exact is None else exact.quantize(Decimal("0.01"), rounding=ROUND_DOWN)


def exact_average(marks: Iterable[tuple[str, int]]) -> Decimal | None:
    """The unrounded weighted average (pass/fail marks do not count)."""
    total = Decimal(0)
    weights = 0
    for value, weight in marks:
        if value in FIVE_POINT and weight > 0:
            total += Decimal(value) * weight
            weights += weight
    return total / weights if weights else None


def round_mark(average: Decimal, threshold: Decimal) -> int:
    """Round by the school's threshold: with 0.60, 3.59 → 3 and 3.60 → 4."""
    whole = int(average.to_integral_value(rounding=ROUND_FLOOR))
    return min(5, max(2, whole + (1 if average - whole >= threshold else 0)))


def suggest_period_mark(
    marks: list[tuple[str, int]], scale: str, threshold: Decimal, min_marks: int
) -> str:
    """The period mark the averages suggest: a number, «зач»/«незач», or «н/а»."""
    if scale == "none":
        return ""
    if scale == "pass_fail":
        values = [value for value, _ in marks if value in PASS_FAIL]
        if len(values) < min_marks:
            return NOT_ASSESSED
        return "зач" if values.count("зач") >= values.count("незач") else "незач"
    counted = [(value, weight) for value, weight in marks if value in FIVE_POINT]
    # Round the exact average: 151/42 = 3.595… is shown as 3.60 but is below 3.60.
    average = exact_average(counted)
    if average is None or len(counted) < min_marks:
        return NOT_ASSESSED
    return str(round_mark(average, threshold))


def parse_period_mark(raw: str, scale: str) -> str:
    text = raw.strip().lower().replace("ё", "е")
    if text in (NOT_ASSESSED, "на", "н\\а"):
        return NOT_ASSESSED
    if text in (EXEMPT, "освобожден"):
        return EXEMPT
    return parse_mark(raw, scale)
