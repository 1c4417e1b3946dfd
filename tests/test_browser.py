"""The real thing in a real browser: waitress serving the app, headless system Chromium.

Playwright drives the Debian `chromium` package; it never downloads a browser
(`playwright install` is not part of this project).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from .browser_support import HOST, TIMEOUT_MS, chromium_browser, desktop_page, log_in, served


@pytest.fixture
def base_url(app, school) -> Iterator[str]:
    with served(app) as url:
        yield url


@pytest.mark.browser
def test_teacher_logs_in_sees_day_and_logs_out(chromium, base_url, tmp_path):
    from playwright.sync_api import expect

    requested: list[str] = []
    with chromium_browser(chromium) as browser:
        page = desktop_page(browser, requested)

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
        page.context.close()

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

    assert requested, "the browser made no requests at all"
    foreign = [
        url for url in requested if not url.startswith("data:") and urlsplit(url).hostname != HOST
    ]
    assert not foreign, f"the page fetched from outside the box: {foreign}"
