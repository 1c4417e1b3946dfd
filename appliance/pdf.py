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


def write_pdfa(html: str, target: Path, *, attachments: Sequence[DataFile] = ()) -> int:
    """Render to a PDF/A-3b file, fonts embedded, `attachments` associated; its page count.

    The attached files are read by the caller's code from disk, never through a URL:
    the document itself still fetches nothing.
    """
    from weasyprint import HTML, Attachment

    document = HTML(string=html, url_fetcher=local_fetcher()).render()
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
