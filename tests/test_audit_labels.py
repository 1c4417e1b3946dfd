"""Every audit action the code records has a Russian label on the audit log page."""

from __future__ import annotations

import re
from pathlib import Path

from appliance.audit_labels import action_label

from .factories import PASSWORD

SOURCE = Path(__file__).resolve().parents[1] / "appliance"
RECORDED = re.compile(r'record\(\s*"([a-z_]+(?:\.[a-z_]+)+)"|^\s+"([a-z_]+(?:\.[a-z_]+)+)",$', re.M)


def recorded_actions() -> set[str]:
    found = set()
    for path in SOURCE.rglob("*.py"):
        for a, b in RECORDED.findall(path.read_text(encoding="utf-8")):
            found.add(a or b)
    return found


def test_every_recorded_action_reads_in_russian(app):
    endpoints = set(app.view_functions)  # «calendar.index» on a line of its own is a page
    actions = recorded_actions() - endpoints
    assert len(actions) > 50
    assert [a for a in sorted(actions) if action_label(a) == a] == []
    assert action_label("lesson.delete") == "Урок: удаление"
    assert action_label("something.new") == "something.new"  # unknown: shown as is


def test_audit_log_page_shows_labels(browser, school):
    browser.login("zaytsev.io", PASSWORD)
    teacher = school.users["teacher"]
    assert browser.post(f"/admin/accounts/{teacher.id}/lock").status_code == 302
    page = browser.get("/admin/audit").get_data(as_text=True)
    assert 'title="user.lock">Пользователь: блокировка<' in page
