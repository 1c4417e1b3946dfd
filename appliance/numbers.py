"""Reading numbers typed or tampered into forms and URLs."""

from __future__ import annotations

# Ids and weights are never longer; SQLite's integers overflow past 19 digits.
MAX_DIGITS = 12


def is_number(text: str, max_digits: int = MAX_DIGITS) -> bool:
    """Plain ASCII digits only: str.isdigit() also takes «²» and «٣», which int() refuses."""
    return bool(text) and text.isascii() and text.isdigit() and len(text) <= max_digits
