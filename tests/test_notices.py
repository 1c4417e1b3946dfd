"""Notices on a person's first page: shown until read, and only to their addressee."""

from __future__ import annotations

from appliance import notices
from appliance.db import write
from appliance.models import UserNotice

from .factories import PASSWORD


def test_notice_shows_on_first_page_until_marked_read(browser, school):
    teacher = school.users["teacher"]
    with write():
        notices.notify([teacher, teacher.id], "timetable", "Урок 05.12 отменён", "/timetable/")
    assert UserNotice.select().count() == 1  # one per person, however often named
    browser.login("smirnova.ev", PASSWORD)
    page = browser.get("/").get_data(as_text=True)
    assert "Урок 05.12 отменён" in page and 'href="/timetable/"' in page
    notice = UserNotice.get()
    assert browser.post("/notices/read", {"notice": str(notice.id)}).status_code == 302
    assert "Урок 05.12 отменён" not in browser.get("/").get_data(as_text=True)
    assert UserNotice.get_by_id(notice.id).read_at is not None


def test_nobody_reads_or_clears_another_persons_notice(browser, school):
    with write():
        notices.notify([school.users["teacher"]], "ktp", "КТП возвращён")
    browser.login("kuznetsov.ap", PASSWORD)
    assert "КТП возвращён" not in browser.get("/").get_data(as_text=True)
    browser.post("/notices/read", {"notice": str(UserNotice.get().id)})
    browser.post("/notices/read", {})
    assert UserNotice.get().read_at is None
    browser.logout()
    browser.login("smirnova.ev", PASSWORD)
    assert browser.post("/notices/read", {"notice": "abc"}).status_code == 400
    assert UserNotice.get().read_at is None  # a garbage id clears nothing
    assert notices.unread_count(school.users["teacher"]) == 1
