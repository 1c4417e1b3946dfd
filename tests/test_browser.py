"""The real thing in a real browser: waitress serving the app, headless system Chromium.

Playwright drives the Debian `chromium` package; it never downloads a browser
(`playwright install` is not part of this project).
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from waitress import create_server, wasyncore

from .factories import PASSWORD

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
HOST = "127.0.0.1"
TIMEOUT_MS = 5_000  # a local page that needs longer than this is a failure anyway


def system_chromium() -> str | None:
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@contextmanager
def served(app) -> Iterator[str]:
    """Serve `app` with waitress on a free local port; yield its base URL."""
    server = create_server(app, host=HOST, port=0, threads=2)
    loop = threading.Thread(target=server.run, name="waitress-loop", daemon=True)
    loop.start()
    try:
        yield f"http://{HOST}:{server.effective_port}"
    finally:
        # Close the listening socket (server.close()) and every open connection from
        # inside the loop's own thread, so select() never sees a closed descriptor;
        # the loop then ends because its map is empty.
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        loop.join(timeout=5)
        server.task_dispatcher.shutdown()
        assert not loop.is_alive(), "waitress did not stop"


@pytest.fixture
def chromium_path() -> str:
    path = system_chromium()
    if path is None:
        pytest.skip("no system Chromium: install the Debian package chromium (.ci/run does)")
    return path


@pytest.fixture
def base_url(app, school) -> Iterator[str]:
    with served(app) as url:
        yield url


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Логин").fill(username)
    page.get_by_label("Пароль").fill(PASSWORD)
    page.get_by_role("button", name="Войти").click()


@pytest.mark.browser
def test_teacher_logs_in_sees_day_and_logs_out(chromium_path, base_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="ru-RU")
            context.set_default_timeout(TIMEOUT_MS)
            context.on("request", lambda request: requested.append(request.url))
            page = context.new_page()

            log_in(page, base_url, "smirnova.ev")
            expect(page.get_by_role("heading", name="Мой день")).to_be_visible()
            lessons = page.locator("#day-lessons")
            expect(lessons).to_contain_text("Математика")
            expect(lessons).to_contain_text("5А")

            shot = tmp_path / "teacher-day.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 0
            assert shot.read_bytes().startswith(b"\x89PNG")

            page.get_by_role("button", name="Выйти").click()
            expect(page).to_have_url(re.compile(r"/login(\?.*)?$"))
            expect(page.locator("#messages")).to_contain_text("Вы вышли из системы")
            context.close()

            # A phone: the menu and the day's lessons fit and show without zooming.
            phone = browser.new_context(
                viewport={"width": 375, "height": 700}, is_mobile=True, has_touch=True
            )
            phone.set_default_timeout(TIMEOUT_MS)
            phone.on("request", lambda request: requested.append(request.url))
            page = phone.new_page()
            log_in(page, base_url, "smirnova.ev")
            expect(page.get_by_role("navigation", name="Разделы")).to_be_visible()
            expect(page.locator("#day-lessons")).to_be_visible()
            expect(page.locator("#day-lessons")).to_contain_text("Математика")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"page is {overflow}px wider than a 375px phone screen"
            phone.close()
        finally:
            browser.close()

    assert requested, "the browser made no requests at all"
    foreign = [
        url for url in requested if not url.startswith("data:") and urlsplit(url).hostname != HOST
    ]
    assert not foreign, f"the page fetched from outside the box: {foreign}"
