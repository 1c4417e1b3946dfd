"""A sheet count in Russian words, as a closing sheet writes it («сто двадцать три листа»)."""

from __future__ import annotations

from ..parent_notices.texts import plural

_UNITS = (
    "",
    "один",
    "два",
    "три",
    "четыре",
    "пять",
    "шесть",
    "семь",
    "восемь",
    "девять",
    "десять",
    "одиннадцать",
    "двенадцать",
    "тринадцать",
    "четырнадцать",
    "пятнадцать",
    "шестнадцать",
    "семнадцать",
    "восемнадцать",
    "девятнадцать",
)
_TENS = (
    "",
    "",
    "двадцать",
    "тридцать",
    "сорок",
    "пятьдесят",
    "шестьдесят",
    "семьдесят",
    "восемьдесят",
    "девяносто",
)
_HUNDREDS = (
    "",
    "сто",
    "двести",
    "триста",
    "четыреста",
    "пятьсот",
    "шестьсот",
    "семьсот",
    "восемьсот",
    "девятьсот",
)
_THOUSANDS = ("тысяча", "тысячи", "тысяч")


def number_words(n: int) -> str:
    """A sheet count in words, as a closing sheet writes it: 123 → «сто двадцать три»."""
    if n == 0:
        return "ноль"
    thousands, rest = divmod(n, 1000)
    words = []
    if thousands:
        head = _below_thousand(thousands)
        # «тысяча» is feminine: одна тысяча, две тысячи.
        head[-1] = {"один": "одна", "два": "две"}.get(head[-1], head[-1])
        words += [*head, plural(thousands, *_THOUSANDS)]
    if rest:
        words += _below_thousand(rest)
    return " ".join(words)


def _below_thousand(n: int) -> list[str]:
    hundreds, rest = divmod(n, 100)
    parts = [_HUNDREDS[hundreds]]
    if rest < 20:
        parts.append(_UNITS[rest])
    else:
        parts += [_TENS[rest // 10], _UNITS[rest % 10]]
    return [p for p in parts if p]


def sheets_word(n: int) -> str:
    """«лист», «листа», «листов» for n."""
    return plural(n, "лист", "листа", "листов")
