"""HTML → PDF with WeasyPrint: letters to parents now, the year-end archive later.

One small door to WeasyPrint so every printed document is made the same way: the
fonts are the box's own (DejaVu, installed with the system; nothing is downloaded),
and a document can never make the box fetch a URL (DESIGN §5): neither from the
network nor a local file — only inline ``data:`` URLs are read, every other URL
(``http:``, ``https:``, ``file:``, …) is refused with an exception.
"""

from __future__ import annotations

from weasyprint import HTML
from weasyprint.urls import URLFetcher

# The families a template should name; DejaVu covers Cyrillic on every box.
FONT_FAMILY = '"DejaVu Sans", "Liberation Sans", sans-serif'
LOCAL_PROTOCOLS = frozenset({"data"})  # inline only: no network, no local files


def local_fetcher() -> URLFetcher:
    """A fetcher that reads ``data:`` URLs and raises ValueError for any other scheme."""
    return URLFetcher(allowed_protocols=LOCAL_PROTOCOLS)


def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """Render a complete HTML document (its own CSS inside) to PDF bytes."""
    document = HTML(string=html, base_url=base_url, url_fetcher=local_fetcher())
    return document.write_pdf()
