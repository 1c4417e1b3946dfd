"""Serving the app for real and finding the system Chromium, for the browser tests.

Playwright drives the Debian `chromium` package; it never downloads a browser
(`playwright install` is not part of this project).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
        try:
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        except OSError:  # the loop already closed its descriptors (seen once in CI)
            wasyncore.close_all(server._map, ignore_all=True)
        loop.join(timeout=5)
        server.task_dispatcher.shutdown()
        assert not loop.is_alive(), "waitress did not stop"


@contextmanager
def chromium_browser(executable: str) -> Iterator:
    """The system Chromium, headless, closed afterwards (Playwright imported here so
    that a machine without it can still collect the other tests)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def desktop_page(browser, requested: list[str] | None = None):
    """A Russian-locale page; every URL it requests goes into `requested` if given."""
    context = browser.new_context(locale="ru-RU")
    context.set_default_timeout(TIMEOUT_MS)
    if requested is not None:
        context.on("request", lambda request: requested.append(request.url))
    return context.new_page()


def log_in(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Логин").fill(username)
    page.get_by_label("Пароль").fill(password)
    page.get_by_role("button", name="Войти").click()
    page.locator("header .person").wait_for()
