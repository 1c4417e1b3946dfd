"""The key sheet: the director's secret age key on paper, for the safe (`ezh keys init`).

The key as text (monospace, in groups of five for careful typing) and as a QR code,
the box's public signing key, the recipients and plain instructions for opening the
archive with stock tools. Rendered through `appliance.pdf` (no URL is ever fetched);
the file is 0600 and the console tells the user to print it and delete it.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape

from . import crypto
from .keys import InitResult, NewIdentity

TEMPLATE = "backup/key_sheet.html"
GROUP = 5  # characters per group on paper
GROUPS_PER_ROW = 5
DEFAULT_DATA_DIR = "/var/lib/ezh"  # deploy/raspi/install.sh


def secret_rows(secret: str) -> list[list[str]]:
    """The key in groups of five, five groups a row (74 characters → 3 rows)."""
    groups = [secret[i : i + GROUP] for i in range(0, len(secret), GROUP)]
    return [groups[i : i + GROUPS_PER_ROW] for i in range(0, len(groups), GROUPS_PER_ROW)]


def qr_data_url(secret: str) -> str:
    """The key as a QR code in an inline ``data:`` URL (SVG)."""
    return segno.make(secret, error="m").svg_data_uri(scale=4, dark="#000", light="#fff")


@cache
def _templates() -> Environment:
    """Jinja outside Flask: the console renders the sheet with no request around."""
    from ..web import templates_dir

    return Environment(
        loader=FileSystemLoader(str(templates_dir())), autoescape=select_autoescape(["html"])
    )


def key_sheet_html(
    identity: NewIdentity,
    result: InitResult,
    *,
    school_name: str,
    public_key_text: str,
    created: dt.datetime | None = None,
    data_dir: str = DEFAULT_DATA_DIR,
) -> str:
    from ..pdf import FONT_FAMILY

    return (
        _templates()
        .get_template(TEMPLATE)
        .render(
            identity=identity,
            rows=secret_rows(identity.secret),
            qr=qr_data_url(identity.secret),
            recipients=result.recipients,
            key_id=result.key_id,
            public_key_text=public_key_text.strip(),
            school_name=school_name,
            created=(created or dt.datetime.now()).strftime("%d.%m.%Y %H:%M"),
            font_family=FONT_FAMILY,
            data_dir=data_dir,
        )
    )


def sheet_paths(first: Path, deputy: bool) -> list[Path]:
    """The director's sheet at ``first``; the deputy's beside it (``…-deputy.pdf``)."""
    return [first] + ([first.with_name(f"{first.stem}-deputy{first.suffix}")] if deputy else [])


def write_sheets(
    result: InitResult,
    paths: list[Path],
    *,
    school_name: str,
    public_key_text: str,
    data_dir: str = DEFAULT_DATA_DIR,
) -> list[Path]:
    """Render one sheet per new identity into ``paths`` (mode 0600)."""
    from .. import pdf  # WeasyPrint loads only when a sheet is made

    for identity, path in zip(result.identities, paths, strict=True):
        html = key_sheet_html(
            identity,
            result,
            school_name=school_name,
            public_key_text=public_key_text,
            data_dir=data_dir,
        )
        rendered = pdf.render_pdf(html)
        with crypto.atomic_output(path) as tmp:  # mkstemp: 0600 from the start
            tmp.write_bytes(rendered)
    return paths
