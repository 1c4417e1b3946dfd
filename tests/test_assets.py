"""The box never loads anything from the internet: every asset is local."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTERNAL = re.compile(r"""(?:src|href|action|url)\s*[=(]\s*["']?\s*(?:https?:)?//""", re.I)


def asset_files():
    for folder in (ROOT / "templates", ROOT / "appliance" / "web" / "static"):
        yield from (p for p in folder.rglob("*") if p.is_file())


def test_no_template_or_static_file_refers_to_an_external_url():
    offenders = []
    for path in asset_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.name.startswith("htmx-"):
            continue  # vendored library: checked below for loading code
        offenders += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in EXTERNAL.finditer(text)]
        offenders += [
            f"{path.relative_to(ROOT)}: {url}"
            for url in re.findall(r"https?://[^\s\"'<>)]+", text)
            if "w3.org" not in url
        ]
    assert not offenders, offenders


def test_htmx_is_vendored_as_a_versioned_file_and_used(client, school):
    vendored = list((ROOT / "appliance" / "web" / "static").glob("htmx-*.min.js"))
    assert len(vendored) == 1 and re.match(r"htmx-\d+\.\d+\.\d+\.min\.js", vendored[0].name)
    page = client.get("/login").get_data(as_text=True)
    assert f"/static/{vendored[0].name}" in page
    response = client.get(f"/static/{vendored[0].name}")
    assert response.status_code == 200 and b"htmx" in response.data[:200]
    response.close()


def test_pages_forbid_loading_from_other_origins(client, school):
    policy = client.get("/login").headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
