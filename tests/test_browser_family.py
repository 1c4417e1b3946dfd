"""Issue 5, «Done when»: a parent follows their child and talks to the class teacher.

On the demo school: the deputy posts an announcement for one class; a parent of that
class logs in, reads it on the first page, opens the child's diary for this week and
sees the published marks, opens the chart of the averages, and writes to the class
teacher; the class teacher logs in and reads the message. All in Chromium.
"""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.access import current_class_of
from appliance.config import load_settings
from appliance.demo import create_demo_school
from appliance.models import (
    Assignment,
    Guardian,
    Lesson,
    Mark,
    Message,
    Person,
    RoleGrant,
    User,
    database,
)
from appliance.publishing import visible
from appliance.web import create_app

from .browser_support import chromium_browser, desktop_page, served
from .browser_support import log_in as sign_in


@pytest.fixture
def demo(tmp_path):
    settings = load_settings(tmp_path / "demo", password_profile="fast")
    app = create_app(settings)
    database.connect(reuse_if_open=True)
    accounts = {a.username: a for a in create_demo_school(seed=1, today=dt.date.today())}
    yield app, accounts
    if not database.is_closed():
        database.close()


def family_with_marks_this_week(accounts):
    """A parent account whose child has published marks this week, and the child's class."""
    today = dt.date.today()
    monday = today - dt.timedelta(days=today.weekday())
    parents = (
        User.select()
        .join(RoleGrant)
        .where((RoleGrant.role == "parent") & User.username.in_(list(accounts)))
        .order_by(User.id)
    )
    for user in parents:
        for link in Guardian.select().where(Guardian.parent == user.person):
            marks = (
                Mark.select()
                .join(Assignment)
                .join(Lesson)
                .where(
                    (Mark.student == link.student_id)
                    & Lesson.date.between(monday, today)
                    & visible(Mark)
                )
                .count()
            )
            if marks:
                child = Person.get_by_id(link.student_id)
                school_class = current_class_of(child)
                teacher = User.get_or_none(User.person == school_class.class_teacher_id)
                if teacher is not None and teacher.username in accounts:
                    return accounts[user.username], child, school_class, accounts[teacher.username]
    pytest.skip("the demo school has no published marks this week (a holiday week)")


@pytest.mark.browser
def test_parent_sees_marks_chart_and_announcement_and_writes_to_the_class_teacher(
    chromium, demo, tmp_path
):
    from playwright.sync_api import expect

    app, accounts = demo
    parent, child, school_class, class_teacher = family_with_marks_this_week(accounts)
    deputy = next(a for a in accounts.values() if a.role == "deputy")
    title = f"Родительское собрание {school_class.name}"
    question = "Добрый день! Можно ли пересдать контрольную по математике?"
    requested: list[str] = []
    with served(app) as base, chromium_browser(chromium) as browser:
        page = desktop_page(browser, requested)

        def log_in(account) -> None:
            sign_in(page, base, account.username, account.password)

        def log_out() -> None:
            page.get_by_role("button", name="Выйти").click()

        # The deputy posts an announcement for the child's class.
        log_in(deputy)
        page.goto(f"{base}/announcements/new")
        page.get_by_label("Заголовок").fill(title)
        page.get_by_label("Текст").fill("В четверг в 18:00, кабинет класса.")
        page.locator('input[name="audience"][value="class"]').check()
        page.locator('select[name="school_class"]').select_option(str(school_class.id))
        page.get_by_role("button", name="Опубликовать").click()
        log_out()

        # The parent reads it on the first page …
        log_in(parent)
        expect(page.locator("main")).to_contain_text(title)
        # … opens the child's diary for this week: published marks are there …
        page.get_by_role("link", name="Дневник", exact=True).click()
        if page.locator("h2").filter(has_text=child.last_name).count() == 0:
            page.goto(f"{base}/diary/{child.id}")
        expect(page.locator("h1")).to_contain_text("Дневник")
        expect(page.locator("main")).to_contain_text(child.last_name)
        marks = page.locator("main .mark")
        expect(marks.first).to_be_visible()
        assert marks.first.inner_text().strip() in {"2", "3", "4", "5", "зач", "незач"}
        expect(page.locator("main")).to_contain_text("Данные на")
        # … and the chart of the averages.
        page.goto(f"{base}/diary/{child.id}/dynamics")
        chart = page.locator('svg[role="img"]')
        expect(chart).to_be_visible()
        assert chart.locator("polyline, path").count() > 0

        # The parent writes to the class teacher.
        page.get_by_role("link", name="Сообщения").first.click()
        page.goto(f"{base}/messages/new")
        teacher_user = User.get(User.username == class_teacher.username)
        page.locator(f'input[name="to"][value="{teacher_user.id}"]').check()
        page.locator('input[name="subject"]').fill("Контрольная")
        page.locator('textarea[name="body"]').fill(question)
        page.get_by_role("button", name="Отправить").click()
        expect(page.locator("main")).to_contain_text(question)
        log_out()

        # The class teacher sees it.
        log_in(class_teacher)
        expect(page.locator("nav.menu")).to_contain_text("Сообщения")
        page.goto(f"{base}/messages/")
        row = page.locator("tr.unread").filter(has_text=parent_name(parent))
        expect(row).to_contain_text("Контрольная")
        row.get_by_role("link").first.click()
        expect(page.locator("main")).to_contain_text(question)
        page.screenshot(path=str(tmp_path / "message.png"), full_page=True)
        page.context.close()
    assert Message.select().where(Message.body == question).count() == 1
    outside = [url for url in requested if not url.startswith(base)]
    assert not outside, f"pages loaded from outside the box: {outside[:3]}"


def parent_name(account) -> str:
    person = User.get(User.username == account.username).person
    return person.last_name
