"""HTML → PDF with WeasyPrint: letters to parents, printed journals for the archive.

One small door to WeasyPrint so every printed document is made the same way: the
fonts are the box's own (DejaVu, installed with the system; nothing is downloaded),
and a document can never make the box fetch a URL (DESIGN §5): neither from the
network nor a local file — only inline ``data:`` URLs are read, every other URL
(``http:``, ``https:``, ``file:``, …) is refused with an exception.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # WeasyPrint is imported when a document is rendered, not before
    from weasyprint.document import Document
    from weasyprint.urls import URLFetcher

# The families a template should name; DejaVu covers Cyrillic on every box.
FONT_FAMILY = '"DejaVu Sans", "Liberation Sans", sans-serif'
LOCAL_PROTOCOLS = frozenset({"data"})  # inline only: no network, no local files
ARCHIVE_VARIANT = "pdf/a-3b"  # archival PDF that may carry its data as attached files


def local_fetcher() -> URLFetcher:
    """A fetcher that reads ``data:`` URLs and raises ValueError for any other scheme."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols=LOCAL_PROTOCOLS)


def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """Render a complete HTML document (its own CSS inside) to PDF bytes."""
    from weasyprint import HTML

    document = HTML(string=html, base_url=base_url, url_fetcher=local_fetcher())
    return document.write_pdf()


@dataclass(frozen=True)
class DataFile:
    """A file to embed in a PDF/A-3 as an associated file (the document's own data)."""

    path: Path
    description: str
    relationship: str = "Data"  # ISO 19005-3 AFRelationship: Data, Source, Alternative …


class LayoutError(ValueError):
    """A table does not fit the page: printed, it would be cut off (message in Russian)."""


# Rounding in WeasyPrint's layout: a cell may end this far past the edge (CSS px).
_FIT_TOLERANCE = 0.5
_PX_PER_MM = 96 / 25.4


def cells_past_the_edge(document: Document) -> list[tuple[int, float]]:
    """(page number, mm past the edge) of every table cell that ends beyond its page's
    content box: on paper such a cell is cut off, or off the sheet altogether."""
    found = []
    for number, page in enumerate(document.pages, 1):
        box = page._page_box
        right = box.content_box_x() + box.width
        for cell in _table_cells(box):
            end = cell.border_box_x() + cell.border_width()
            if end > right + _FIT_TOLERANCE:
                found.append((number, (end - right) / _PX_PER_MM))
    return found


def _table_cells(box):
    """Every table cell box under `box` (a page's layout tree, depth first)."""
    from weasyprint.formatting_structure.boxes import TableCellBox

    stack = [box]
    while stack:
        current = stack.pop()
        if isinstance(current, TableCellBox):
            yield current
        stack.extend(getattr(current, "children", ()) or ())


def check_fits(document: Document) -> None:
    """Refuse a document whose tables run past the page (LayoutError, in Russian)."""
    past = cells_past_the_edge(document)
    if past:
        page, overflow = max(past, key=lambda item: item[1])
        raise LayoutError(
            f"Таблица не помещается на страницу (стр. {page} документа, "
            f"шире на {overflow:.0f} мм): такой лист напечатался бы обрезанным. "
            "Сообщите администратору."
        )


def write_pdfa(
    html: str, target: Path, *, attachments: Sequence[DataFile] = (), check_fit: bool = False
) -> int:
    """Render to a PDF/A-3b file, fonts embedded, `attachments` associated; its page count.

    The attached files are read by the caller's code from disk, never through a URL:
    the document itself still fetches nothing. With `check_fit` a table running past
    the page raises LayoutError before anything is written (a bound record must not
    be printed cut off).
    """
    from weasyprint import HTML, Attachment

    document = HTML(string=html, url_fetcher=local_fetcher()).render()
    if check_fit:
        check_fits(document)
    files = [
        Attachment(
            string=item.path.read_bytes(),
            name=item.path.name,
            description=item.description,
            relationship=item.relationship,
        )
        for item in attachments
    ]
    with warnings.catch_warnings():
        # WeasyPrint 70 opens its sRGB profile for the OutputIntent and never closes it.
        warnings.simplefilter("ignore", ResourceWarning)
        document.write_pdf(str(target), pdf_variant=ARCHIVE_VARIANT, attachments=files)
    return len(document.pages)
