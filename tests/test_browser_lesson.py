"""Issue 3, «Done when»: a demo teacher fills today's lesson with the keyboard alone.

The demo school is built for a school day D (the last one on or before the real
date), and the app runs with D as «today»: the teacher's day shows D's lessons and
they have taken place, so marks and attendance are accepted. After logging in, the
test only presses keys (Tab, typing, Enter); then it checks the database.
"""

from __future__ import annotations

import datetime as dt
import re
import types
from urllib.parse import urlsplit

import pytest

from appliance import dashboard, journal, lesson_page
from appliance import web as web_package
from appliance.config import load_settings
from appliance.demo import create_demo_school
from appliance.demo.dates import demo_calendar
from appliance.models import (
    Assignment,
    Attendance,
    AuditEntry,
    Lesson,
    Mark,
    OutboxEntry,
    Person,
    User,
    WorkType,
    database,
)
from appliance.school_calendar import (
    SchoolCalendar,
    TermSpan,
    academic_year_bounds,
    rules_by_date,
)
from appliance.web import create_app

from .browser_support import HOST, chromium_browser, desktop_page, log_in, served

GRADE = 5


def last_demo_school_day(on: dt.date) -> dt.date:
    """The demo calendar's last school day for grade 5 on or before ``on``."""
    day = on
    while True:
        starts, ends = academic_year_bounds(day)
        plan = demo_calendar(starts.year)
        terms = [TermSpan(t.kind, t.number, t.name, t.starts, t.ends, 1, 9) for t in plan.terms]
        calendar = SchoolCalendar(starts, ends, rules_by_date(plan.days), terms)
        if calendar.is_school_day(day, GRADE):
            return day
        day -= dt.timedelta(days=1)


def frozen_datetime(day: dt.date) -> types.SimpleNamespace:
    """The `datetime` module as the app's modules use it, with date.today() → ``day``.

    Only today() changes; every date handed out is a real `datetime.date` (sqlite3
    binds no subclass of it).
    """

    class FrozenDate(dt.date):
        @classmethod
        def today(cls) -> dt.date:
            return dt.date(day.year, day.month, day.day)

        @classmethod
        def fromisoformat(cls, text: str) -> dt.date:
            return dt.date.fromisoformat(text)

    names = {name: getattr(dt, name) for name in dir(dt) if not name.startswith("__")}
    return types.SimpleNamespace(**{**names, "date": FrozenDate})


@pytest.fixture
def demo(tmp_path, monkeypatch):
    """The demo school built for school day D, served by an app whose today is D."""
    day = last_demo_school_day(dt.date.today())
    settings = load_settings(tmp_path / "demo", password_profile="fast")
    app = create_app(settings)
    database.connect(reuse_if_open=True)
    accounts = create_demo_school(seed=1, today=day)
    frozen = frozen_datetime(day)
    for module in (dashboard, journal, lesson_page, web_package):
        monkeypatch.setattr(module, "dt", frozen)
    yield app, accounts, day
    if not database.is_closed():
        database.close()


def pick_teacher(accounts, day: dt.date):
    """A teacher with a lesson on ``day`` in a marked class of three or more students."""
    for account in accounts:
        if account.role != "teacher":
            continue
        person = User.get(User.username == account.username).person
        shown_day, rows = dashboard.teacher_day(person, today=day)
        for row in rows if shown_day == day else []:
            lesson = row.lesson
            if (
                journal.lesson_scale(lesson) == "five"
                and len(journal.lesson_students(lesson)) >= 3
                and not lesson.topic
                and lesson_page.next_plan_lesson(lesson) is not None
            ):
                return account, lesson
    raise AssertionError(f"the demo school has no teacher with a lesson to fill on {day}")


def focused(page) -> str:
    return page.evaluate(
        "(() => { const e = document.activeElement;"
        " return e ? (e.id || e.getAttribute('href') || e.tagName) : ''; })()"
    )


def tab_to(page, target: str, limit: int = 80) -> None:
    """Press Tab until the element with this id (or href) has the focus."""
    for _ in range(limit):
        if focused(page) == target:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}; focus is on {focused(page)}")


@pytest.mark.browser
def test_teacher_fills_todays_lesson_with_the_keyboard_alone(chromium, demo, tmp_path):
    from playwright.sync_api import expect

    app, accounts, day = demo
    account, lesson = pick_teacher(accounts, day)
    suggestion = lesson_page.next_plan_lesson(lesson)
    first, second, third, *rest = journal.lesson_students(lesson)
    url = f"/lessons/{lesson.id}"
    homework = "Учебник, § 12, № 3–5"

    requested: list[str] = []
    with served(app) as base_url, chromium_browser(chromium) as browser:
        page = desktop_page(browser, requested)
        page.goto(f"{base_url}/login")
        page.get_by_label("Логин").fill(account.username)
        page.get_by_label("Пароль").fill(account.password)
        page.get_by_role("button", name="Войти").click()
        expect(page.get_by_role("heading", name="Мой день")).to_be_visible()
        expect(page.locator("main")).to_contain_text("Сегодня")

        # From here on: keys only.
        tab_to(page, url)
        page.keyboard.press("Enter")
        expect(page).to_have_url(f"{base_url}{url}")

        tab_to(page, "topic-from-plan")  # «Взять из КТП: …»
        page.keyboard.press("Enter")
        expect(page.locator("#topic")).to_have_value(suggestion.topic)
        expect(page.locator("#topic")).to_be_focused()

        page.keyboard.press("Tab")
        assert focused(page) == "homework"
        page.keyboard.type(homework)
        tab_to(page, f"a-{first.id}")  # leaving the homework saves it
        page.keyboard.press("Tab")
        assert focused(page) == f"m0-{first.id}"
        page.keyboard.type("5")
        page.keyboard.press("Tab")
        assert focused(page) == f"a-{second.id}"
        page.keyboard.type("н")
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        assert focused(page) == f"m0-{third.id}"
        page.keyboard.type("4")
        page.keyboard.press("Enter")  # down the column to the next student
        marks = {first.id: "5", third.id: "4"}
        for student, value in zip(rest[:2], ("3", "5"), strict=False):
            assert focused(page) == f"m0-{student.id}"
            page.keyboard.type(value)
            page.keyboard.press("Enter")
            marks[student.id] = value
        page.keyboard.press("Tab")

        form = page.locator("#lesson-form")
        expect(form.locator(".unsaved, .saving, .offline, .error")).to_have_count(0)
        expect(page.locator(f"#a-{second.id}")).to_have_value("Н")
        expect(page.locator(f"#field-m0-{first.id}")).to_have_class("field saved")
        page.screenshot(path=str(tmp_path / "lesson.png"), full_page=True)
        page.set_viewport_size({"width": 375, "height": 700})
        page.screenshot(path=str(tmp_path / "lesson-phone.png"), full_page=True)
        page.context.close()

    database.connect(reuse_if_open=True)
    stored = Lesson.get_by_id(lesson.id)
    assert stored.topic == suggestion.topic and stored.plan_lesson_id == suggestion.id
    assert stored.homework == homework
    absence = Attendance.get((Attendance.lesson == lesson) & (Attendance.student == second))
    assert absence.code == "Н"
    saved = {
        m.student_id: m for m in Mark.select().join(Assignment).where(Assignment.lesson == lesson)
    }
    assert {sid: m.value for sid, m in saved.items()} == marks
    teacher = User.get(User.username == account.username)
    for row in [stored, absence, *saved.values()]:
        audit = AuditEntry.select().where(AuditEntry.entity_uuid == row.uuid)
        assert audit.exists() and all(a.user_id == teacher.id for a in audit), row
        assert OutboxEntry.select().where(OutboxEntry.entity_uuid == row.uuid).exists(), row
    assert Person.get_by_id(stored.teacher_id).id == teacher.person_id

    foreign = [url for url in requested if urlsplit(url).hostname not in (HOST, None)]
    assert not [u for u in foreign if not u.startswith("data:")], foreign


@pytest.mark.browser
def test_a_mark_typed_without_network_stays_unsaved_survives_a_reload_and_is_sent(
    chromium, app, school
):
    from playwright.sync_api import expect

    WorkType.create(name="Ответ на уроке", weight=1, is_default=True)
    lesson = Lesson.get(Lesson.date == dt.date.today(), Lesson.number == 1)
    ivanov = school.students["5А"][0]
    field = f"#field-m0-{ivanov.id}"
    with served(app) as base_url, chromium_browser(chromium) as browser:
        page = desktop_page(browser)
        page.on("dialog", lambda dialog: dialog.accept())  # «leave the page?»
        log_in(page, base_url, "smirnova.ev")
        page.goto(f"{base_url}/lessons/{lesson.id}")

        # The classroom Wi-Fi drops: the save fails, the field says so.
        page.context.set_offline(True)
        page.locator(f"#m0-{ivanov.id}").fill("4")
        page.keyboard.press("Tab")
        expect(page.locator(field)).to_have_class(re.compile(r"\boffline\b"))
        expect(page.locator(field)).to_contain_text("нет связи")
        assert not Mark.select().exists()

        # It comes back: the field is sent again by itself.
        page.context.set_offline(False)
        expect(page.locator(field)).to_have_class(re.compile(r"\bsaved\b"), timeout=15_000)
        assert Mark.get(Mark.student == ivanov).value == "4"

        # The server cannot be reached while the page is closed and opened again:
        # what was typed comes back from the browser and is sent once it can be.
        page.route(
            f"**/lessons/{lesson.id}",
            lambda route: route.abort() if route.request.method == "POST" else route.continue_(),
        )
        page.locator(f"#m0-{ivanov.id}").fill("5")
        page.keyboard.press("Tab")
        expect(page.locator(field)).to_have_class(re.compile(r"\boffline\b"))
        page.reload()
        expect(page.locator(f"#m0-{ivanov.id}")).to_have_value("5")
        expect(page.locator(field)).to_have_class(re.compile(r"\boffline\b"))
        page.unroute(f"**/lessons/{lesson.id}")
        expect(page.locator(field)).to_have_class(re.compile(r"\bsaved\b"), timeout=15_000)
        assert Mark.get(Mark.student == ivanov).value == "5"
        page.context.close()
