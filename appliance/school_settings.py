"""The school's settings: names, address, letterhead, the admin's contacts, thresholds.

The thresholds are rules other modules read from the `School` row: how long a teacher
may change a past lesson (`journal`), how a period mark is suggested (`period_marks`),
when a student counts as failing or truant (notices to parents), how large a homework
file may be (`lesson_form`). They change here, in one audited transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from .db import write
from .models import School, User
from .numbers import is_number


class SettingsError(ValueError):
    """Settings refused for a reason the user can fix (message in Russian)."""


@dataclass(frozen=True)
class Text:
    label: str
    max_length: int
    required: bool = False
    multiline: bool = False  # a letterhead, a contact card keep their lines


@dataclass(frozen=True)
class Whole:
    label: str
    low: int
    high: int
    unit: str = ""


@dataclass(frozen=True)
class Fraction:
    label: str
    low: Decimal
    high: Decimal


TEXTS = {
    "name": Text("Полное название школы", 300, required=True),
    "short_name": Text("Краткое название", 60, required=True),
    "address": Text("Адрес", 500, multiline=True),
    "letterhead": Text("Бланк письма", 2000, multiline=True),
    "admin_contact": Text("Контакты администратора", 500, multiline=True),
}
WHOLES = {
    "past_edit_days": Whole("Срок правки прошедших уроков", 0, 90, "дней"),
    "min_marks_for_period": Whole("Минимум отметок для отметки за период", 1, 20),
    "absence_threshold": Whole("Порог пропусков без уважительной причины", 1, 200, "уроков"),
    "homework_file_limit_kb": Whole("Предельный размер файла к заданию", 10, 102_400, "КБ"),
}
FRACTIONS = {
    "rounding_threshold": Fraction("Порог округления", Decimal("0.50"), Decimal("0.99")),
    "failing_average_threshold": Fraction(
        "Порог неуспеваемости (средний балл)", Decimal("2.00"), Decimal("3.50")
    ),
}
FIELDS = (*TEXTS, *WHOLES, *FRACTIONS)
CENTS = Decimal("0.01")


def form_values(school: School) -> dict[str, str]:
    """The settings form's fields as stored now (fractions as «0,60», as people type them)."""
    values = {}
    for name in FIELDS:
        value = getattr(school, name)
        values[name] = _ru(_plain(value)) if name in FRACTIONS else str(value or "")
    return values


def _plain(value: object) -> object:
    """A stored value as the audit shows it: fractions with two decimals («0.60»)."""
    return str(Decimal(value).quantize(CENTS)) if isinstance(value, Decimal | float) else value


def _text(rule: Text, raw: str) -> str:
    value = (
        "\n".join(line.rstrip() for line in raw.replace("\r\n", "\n").strip().split("\n"))
        if rule.multiline
        else " ".join(raw.split())
    )
    if rule.required and not value:
        raise SettingsError(f"Заполните поле «{rule.label}».")
    if len(value) > rule.max_length:
        raise SettingsError(f"«{rule.label}»: не больше {rule.max_length} символов.")
    return value


def _whole(rule: Whole, raw: str, high: int) -> int:
    text = raw.strip()
    unit = f" {rule.unit}" if rule.unit else ""
    if not is_number(text) or not rule.low <= int(text) <= high:
        raise SettingsError(f"«{rule.label}»: целое число от {rule.low} до {high}{unit}.")
    return int(text)


def _fraction(rule: Fraction, raw: str) -> Decimal:
    text = raw.strip().replace(",", ".")
    message = (
        f"«{rule.label}»: число от {_ru(rule.low)} до {_ru(rule.high)}, "
        "не больше двух знаков после запятой."
    )
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise SettingsError(message) from None
    # The range first: quantizing 1E+999 would itself fail.
    if not value.is_finite() or not rule.low <= value <= rule.high:
        raise SettingsError(message)
    if value != value.quantize(CENTS):
        raise SettingsError(message)
    return value.quantize(CENTS)


def _ru(value: object) -> str:
    return str(value).replace(".", ",")


def clean(form: Mapping[str, str], *, upload_limit_kb: int | None = None) -> dict:
    """The settings from a posted form, or SettingsError with a Russian message."""
    data: dict = {}
    for name, rule in TEXTS.items():
        data[name] = _text(rule, form.get(name, ""))
    for name, rule in WHOLES.items():
        high = rule.high
        if name == "homework_file_limit_kb" and upload_limit_kb:
            high = min(high, upload_limit_kb)  # a larger file never reaches the box anyway
        data[name] = _whole(rule, form.get(name, ""), high)
    for name, rule in FRACTIONS.items():
        data[name] = _fraction(rule, form.get(name, ""))
    return data


def save(
    data: Mapping[str, str], user: User | None, ip: str, *, upload_limit_kb: int | None = None
) -> list[str]:
    """Store the school's settings; return the labels of what changed (nothing: no write)."""
    values = clean(data, upload_limit_kb=upload_limit_kb)
    with write(user=user, ip=ip) as rec:
        school = School.get()
        changed = [name for name, value in values.items() if getattr(school, name) != value]
        if not changed:
            return []
        before = {name: _plain(getattr(school, name)) for name in changed}
        for name in changed:
            setattr(school, name, values[name])
        school.save()
        after = {name: _plain(values[name]) for name in changed}
        rec.record("school.update", school, before=before, after=after, op="update")
    labels = {**TEXTS, **WHOLES, **FRACTIONS}
    return [labels[name].label for name in changed]
