"""Rendering credential slips right after issuing: passwords exist only in this response."""

from __future__ import annotations

from flask import current_app, render_template, request

from ..people import IssuedCredential
from ..slips import qr_svg
from . import settings_of


def render_slips(issued: list[IssuedCredential], back: str):
    address = settings_of(current_app).base_url or request.host_url
    return render_template(
        "credentials/slips.html", issued=issued, address=address, qr=qr_svg(address), back=back
    )
