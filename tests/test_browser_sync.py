"""Issue 6, «Done when», in Chromium: on the demo school synced with the АСУ РСО
emulator, a teacher enters a mark while АСУ РСО is down; the parent's diary does not
show it; АСУ РСО comes back and accepts it; the parent reloads and sees it.

Headless system Chromium through Playwright (tests/browser_support.py); skipped
cleanly when the machine has no Chromium.
"""

from __future__ import annotations

import re

import pytest

from appliance.models import Assignment, Mark
from appliance.sync import engine

from .browser_support import chromium_browser, desktop_page, log_in, served
from .sync_demo_support import diary_url, emulator_marks, pick_cell, set_maintenance, synced_demo


@pytest.fixture
def demo(tmp_path):
    with synced_demo(tmp_path) as found:
        yield found


@pytest.mark.browser
def test_a_mark_entered_offline_reaches_the_parent_only_after_the_emulator_accepts_it(
    chromium, demo, tmp_path
):
    from playwright.sync_api import expect

    cell = pick_cell(demo.accounts)
    student = cell.student.id
    row_marks = f'tr[data-lesson="{cell.lesson.id}"] td.marks .mark'
    set_maintenance(demo.emulator_url, True)  # АСУ РСО «на технических работах»
    requested: list[str] = []
    with served(demo.app) as base, chromium_browser(chromium) as browser:
        page = desktop_page(browser, requested)

        # The teacher puts a «2» on the lesson page: saved in the box.
        log_in(page, base, cell.teacher.username, cell.teacher.password)
        page.goto(f"{base}/lessons/{cell.lesson.id}")
        page.locator(f"#m0-{student}").fill("2")
        page.keyboard.press("Tab")
        expect(page.locator(f"#field-m0-{student}")).to_have_class(re.compile(r"\bsaved\b"))
        assert not_yet_published(cell)
        page.get_by_role("button", name="Выйти").click()

        # The parent: the diary says it waits for АСУ РСО and has no mark there yet.
        log_in(page, base, cell.parent.username, cell.parent.password)
        page.goto(f"{base}{diary_url(cell)}")
        expect(page.locator("main")).to_contain_text("после приёма в АСУ РСО")
        expect(page.locator(f'tr[data-lesson="{cell.lesson.id}"]')).to_be_visible()
        expect(page.locator(row_marks)).to_have_count(0)

        # The box tries while АСУ РСО is down: nothing goes, nothing is shown.
        assert engine.run_once(demo.settings, pull=False).status == "offline"
        page.reload()
        expect(page.locator(row_marks)).to_have_count(0)

        # АСУ РСО is back and accepts the mark: the parent sees it on reload.
        set_maintenance(demo.emulator_url, False)
        result = engine.run_once(demo.settings, pull=False)
        assert result.status == "ok", result.message
        assert [m["mark"] for m in emulator_marks(demo.emulator_url)] == ["2"]
        page.reload()
        expect(page.locator(row_marks)).to_have_text(["2"])
        page.screenshot(path=str(tmp_path / "diary.png"), full_page=True)
        page.context.close()
    outside = [url for url in requested if not url.startswith(base)]
    assert not outside, f"pages loaded from outside the box: {outside[:3]}"


def not_yet_published(cell) -> bool:
    """The teacher's new mark is in the box, waiting for АСУ РСО."""
    [mark] = (
        Mark.select()
        .join(Assignment)
        .where((Assignment.lesson == cell.lesson) & (Mark.student == cell.student))
    )
    return mark.value == "2" and mark.published_at is None
