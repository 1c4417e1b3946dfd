"""Credential slips: one paper slip per person with login, one-time password and a QR code."""

from __future__ import annotations

import functools

import segno


@functools.lru_cache(maxsize=8)
def qr_svg(url: str) -> str:
    """The box's address as an inline SVG QR code (no image files, nothing fetched)."""
    return segno.make(url, error="m").svg_inline(scale=3, dark="#000", light="#fff")
