"""The journal grid in a real browser: keyboard entry, saved states, a Wi-Fi drop.

Headless system Chromium through Playwright (see tests/test_browser.py); skipped
cleanly when the machine has no Chromium.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from appliance.db import write
from appliance.models import Assignment, Attendance, Lesson, Mark, WorkType

from .browser_support import HOST, TIMEOUT_MS, chromium_browser, desktop_page, log_in, served

RECONNECT_MS = 20_000  # retries back off; the `online` event cuts the wait short


@pytest.fixture
def grid_school(app, school):
    """Today's two lessons: the first with an oral-answer column, the second with none yet."""
    first, second = (
        Lesson.select()
        .where((Lesson.group == school.group) & (Lesson.date == dt.date.today()))
        .order_by(Lesson.number)
    )
    with write():
        answer = WorkType.create(name="Ответ на уроке", short_name="Отв", weight=1, is_default=True)
        WorkType.create(name="Контрольная работа", short_name="КР", weight=3)
        oral = Assignment.create(lesson=first, work_type=answer, weight=1)
    return school, oral, second


@pytest.fixture
def base(app, grid_school) -> Iterator[str]:
    with served(app) as url:
        yield url


def cell(page, student, column: int):
    """The data cell of `student` in grid column `column` (0-based, after the name)."""
    return page.locator(f'#journal-grid tr[data-student="{student.id}"] > td').nth(column)


@pytest.mark.browser
def test_teacher_fills_the_grid_by_keyboard_and_survives_a_network_drop(
    chromium, base, grid_school
):
    from playwright.sync_api import expect

    school, oral, second = grid_school
    ivanov, petrova, sidorov = school.students["5А"]
    requested: list[str] = []
    with chromium_browser(chromium) as browser:
        page = desktop_page(browser, requested)
        log_in(page, base, "smirnova.ev")
        page.goto(f"{base}/journal/")
        page.get_by_role("link", name="Математика").click()
        expect(page.get_by_role("heading", name="Математика — 5А")).to_be_visible()
        status = page.locator("#grid-status")
        expect(status).to_have_text("все изменения сохранены")

        # Columns: 0 oral mark, 1 attendance (lesson 1); 2 empty mark column, 3 attendance.
        cell(page, ivanov, 0).click()
        page.keyboard.type("5")
        page.keyboard.press("Enter")  # saves, moves down to Petrova
        page.keyboard.type("4")
        page.keyboard.press("Enter")  # … and to Sidorov
        page.keyboard.press("ArrowRight")  # Sidorov's attendance on lesson 1
        page.keyboard.type("н")
        page.keyboard.press("Tab")  # saves, moves on to the lesson without a column
        page.keyboard.type("3")
        page.keyboard.press("ArrowUp")  # saves; the first mark makes the assignment

        for student, column, text in (
            (ivanov, 0, "5"),
            (petrova, 0, "4"),
            (sidorov, 1, "Н"),
            (sidorov, 2, "3"),
        ):
            expect(cell(page, student, column)).to_have_attribute("data-state", "saved")
            expect(cell(page, student, column)).to_have_text(text)
        expect(page.locator(f"#avg-{ivanov.id}")).to_have_text("5,00")
        expect(page.locator(f"#cnt-{sidorov.id}")).to_have_text("1")
        expect(status).to_have_text("все изменения сохранены")
        assert Mark.get((Mark.assignment == oral) & (Mark.student == ivanov)).value == "5"
        assert Attendance.get(Attendance.student == sidorov).code == "Н"
        made = Assignment.get(Assignment.lesson == second)
        assert Mark.get((Mark.assignment == made) & (Mark.student == sidorov)).value == "3"

        # A refused value shows its Russian reason on the cell; nothing is written.
        cell(page, petrova, 2).click()
        page.keyboard.type("1")
        page.keyboard.press("Enter")
        refused = cell(page, petrova, 2)
        expect(refused).to_have_attribute("data-state", "error")
        expect(refused).to_have_attribute("title", re.compile("допустимы 2, 3, 4, 5"))
        expect(page.locator("#grid-alert")).to_contain_text("допустимы 2, 3, 4, 5")
        expect(status).to_have_text("ошибок: 1")
        assert not Mark.select().where(Mark.student == petrova, Mark.assignment == made).exists()

        # History is one keystroke away: who, when, before → after.
        cell(page, ivanov, 0).click()
        page.keyboard.press("Alt+h")
        history = page.locator("#cell-history")
        expect(history).to_be_visible()
        expect(history).to_contain_text("smirnova.ev")
        expect(history).to_contain_text("— → 5")

        # The classroom Wi-Fi drops: the typed mark stays, marked unsaved, and is counted.
        page.context.set_offline(True)
        cell(page, ivanov, 2).click()
        page.keyboard.type("2")
        page.keyboard.press("Enter")
        offline_cell = cell(page, ivanov, 2)
        expect(offline_cell).to_have_attribute("data-state", "unsaved")
        expect(offline_cell).to_have_text("2")
        expect(offline_cell).to_have_attribute("title", re.compile("нет связи"))
        expect(status).to_contain_text("не сохранено: 1")
        assert not Mark.get_or_none(student=ivanov, assignment=made)

        # Leaving the page now asks first; the teacher stays.
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
        page.close(run_before_unload=True)
        for _ in range(50):
            if dialogs:
                break
            page.wait_for_timeout(100)
        assert dialogs == ["beforeunload"]
        assert not page.is_closed()

        # Back online: the queued mark goes out by itself and lands in the database.
        page.context.set_offline(False)
        expect(offline_cell).to_have_attribute("data-state", "saved", timeout=RECONNECT_MS)
        expect(status).to_have_text("ошибок: 1")  # the refused cell is still shown
        page.context.close()

    assert Mark.get((Mark.assignment == made) & (Mark.student == ivanov)).value == "2"
    foreign = [
        url for url in requested if not url.startswith("data:") and urlsplit(url).hostname != HOST
    ]
    assert not foreign, f"the page fetched from outside the box: {foreign}"


@pytest.mark.browser
def test_grid_fits_a_phone_and_a_tap_opens_the_number_pad(chromium, base, grid_school):
    from playwright.sync_api import expect

    school, oral, _ = grid_school
    ivanov = school.students["5А"][0]
    with chromium_browser(chromium) as browser:
        phone = browser.new_context(
            viewport={"width": 375, "height": 700}, is_mobile=True, has_touch=True
        )
        phone.set_default_timeout(TIMEOUT_MS)
        page = phone.new_page()
        log_in(page, base, "smirnova.ev")
        page.goto(f"{base}/journal/{school.group.id}")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"page is {overflow}px wider than a 375px phone screen"
        cell(page, ivanov, 0).tap()
        editor = page.locator("#journal-grid .cell-editor")
        expect(editor).to_be_focused()
        expect(editor).to_have_attribute("inputmode", "numeric")
        expect(editor).to_have_attribute("aria-label", re.compile("Иванов Пётр, .*Ответ на уроке"))
        page.keyboard.type("4")
        page.keyboard.press("Enter")
        expect(cell(page, ivanov, 0)).to_have_attribute("data-state", "saved")
        phone.close()
    assert Mark.get((Mark.assignment == oral) & (Mark.student == ivanov)).value == "4"
