"""HTML → PDF: Cyrillic text in an embedded font, nothing fetched from the network.

pypdf is not a dependency, so `pdf_text` reads WeasyPrint's output itself: it inflates
the streams, reads the fonts' ToUnicode maps and decodes the text runs — enough to
check what a page says.
"""

from __future__ import annotations

import re
import zlib

import pytest

from appliance.pdf import FONT_FAMILY, local_fetcher, render_pdf

STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
PAIR = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>")
RANGE = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]+)>")
RUN = re.compile(rb"\[(.*?)\]\s*TJ|<([0-9a-fA-F]+)>\s*Tj", re.S)
HEX = re.compile(rb"<([0-9a-fA-F]+)>")


def pdf_streams(data: bytes) -> list[bytes]:
    found = []
    for match in STREAM.finditer(data):
        try:
            found.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return found


def _cmaps(streams: list[bytes]) -> list[dict[str, str]]:
    """Each font's glyph code → text map (its ToUnicode CMap)."""
    maps = []
    for stream in streams:
        if b"begincmap" not in stream:
            continue
        mapping: dict[str, str] = {}
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", stream, re.S):
            for code, text in PAIR.findall(block):
                mapping[code.decode().lower()] = bytes.fromhex(text.decode()).decode("utf-16-be")
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", stream, re.S):
            for low, high, first in RANGE.findall(block):
                start = int(first, 16)
                width = len(low)
                for offset, code in enumerate(range(int(low, 16), int(high, 16) + 1)):
                    mapping[f"{code:0{width}x}"] = chr(start + offset)
        maps.append(mapping)
    return maps


def pdf_text(data: bytes) -> str:
    """The text of a WeasyPrint PDF, runs joined by spaces (2-byte glyph codes)."""
    streams = pdf_streams(data)
    cmaps = _cmaps(streams)
    runs = []
    for stream in streams:
        for array, single in RUN.findall(stream):
            hexes = HEX.findall(array) if array else [single]
            codes = [h.decode().lower() for h in hexes]
            codes = [c[i : i + 4] for c in codes for i in range(0, len(c), 4)]
            # The font of a run is the one whose map knows all its glyphs.
            cmap = next((m for m in cmaps if all(c in m for c in codes)), None)
            runs.append("".join(cmap[c] for c in codes) if cmap else "?")
    return " ".join(" ".join(runs).split())


def pdf_pages(data: bytes) -> int:
    for stream in pdf_streams(data) + [data]:
        match = re.search(rb"/Type /Pages/Kids \[[^\]]*\]/Count (\d+)", stream)
        if match:
            return int(match.group(1))
    raise AssertionError("no page tree in the PDF")


def page(body: str, title: str = "Проба") -> str:
    return (
        f'<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>body {{ font-family: {FONT_FAMILY}; }}</style></head><body>{body}</body></html>"
    )


def test_cyrillic_text_renders_in_an_embedded_dejavu_font():
    phrase = "Съешь же ещё этих мягких французских булок, да выпей чаю"
    data = render_pdf(page(f"<p>{phrase}</p><p><b>Жирный шрифт</b></p>"))
    assert data.startswith(b"%PDF-")
    inflated = b"".join(pdf_streams(data))
    assert b"/FontFile2" in inflated  # the font travels inside the file
    assert re.search(rb"/BaseFont /[A-Z]{6}\+DejaVu-Sans", inflated)
    text = pdf_text(data)
    assert phrase in text and "Жирный шрифт" in text
    assert pdf_pages(data) == 1


def test_title_goes_into_the_metadata_and_page_breaks_make_pages():
    data = render_pdf(
        page('<p>Один</p><p style="page-break-before: always">Два</p>', "Письмо: Иванов")
    )
    title = "Письмо: Иванов".encode("utf-16-be").hex().encode()
    assert b"feff" + title in b"".join(pdf_streams(data))
    assert pdf_pages(data) == 2


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/x.png", "https://example.org/a.css"])
def test_the_fetcher_refuses_network_urls(url):
    with pytest.raises(ValueError, match="disallowed protocol"):
        local_fetcher()(url)


def test_a_document_asking_for_the_network_still_renders_without_it():
    html = page(
        '<link rel="stylesheet" href="http://127.0.0.1:9/style.css">'
        '<img src="https://example.org/logo.png" alt=""><p>Без сети</p>'
    )
    data = render_pdf(html)
    assert "Без сети" in pdf_text(data)


def test_local_data_urls_are_allowed():
    pixel = (
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
        "YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    )
    data = render_pdf(page(f'<img src="{pixel}" alt=""><p>Картинка</p>'))
    assert b"/Subtype /Image" in b"".join(pdf_streams(data)) + data


def test_the_fetcher_refuses_local_files_too(tmp_path):
    target = tmp_path / "secret.txt"
    target.write_text("секрет", encoding="utf-8")
    with pytest.raises(ValueError, match="disallowed protocol"):
        local_fetcher()(target.as_uri())


def test_a_document_fetches_neither_a_file_nor_an_http_url(tmp_path):
    """Letters need no files and no network: a file: stylesheet is not read, an http:
    one is not requested (a server on this box counts the requests it gets)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    css = 'body::after { content: "УТЕЧКА"; }'
    local = tmp_path / "leak.css"
    local.write_text(css, encoding="utf-8")
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the http.server name)
            requests.append(self.path)
            body = css.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/css; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        html = page(
            f'<link rel="stylesheet" href="{local.as_uri()}">'
            f'<link rel="stylesheet" href="http://127.0.0.1:{port}/leak.css">'
            f'<img src="http://127.0.0.1:{port}/logo.png" alt=""><p>Письмо</p>'
        )
        text = pdf_text(render_pdf(html, base_url=str(tmp_path) + "/"))
    finally:
        server.shutdown()
        server.server_close()
    assert "Письмо" in text
    assert "УТЕЧКА" not in text  # neither stylesheet was applied
    assert requests == []  # nothing asked of the network
