"""Issue 6, «Done when» on the demo school, without a browser: a mark entered while
АСУ РСО (the emulator) is down reaches the parent's diary only once АСУ РСО accepts it."""

from __future__ import annotations

import pytest

from appliance import journal
from appliance.cli import main
from appliance.config import load_settings
from appliance.models import Mark, OutboxEntry, User
from appliance.sync import engine, outbox
from appliance.sync import settings as sync_settings
from appliance.sync.emulator import DB_NAME, EmulatorStore

from .conftest import Browser
from .sync_demo_support import (
    diary_marks,
    diary_url,
    emulator_marks,
    pick_cell,
    set_maintenance,
    synced_demo,
)


@pytest.fixture
def demo(tmp_path):
    with synced_demo(tmp_path) as found:
        yield found


def parent_sees(demo, cell) -> list[str]:
    """The marks the parent's diary week page shows in the lesson's row."""
    parent = Browser(demo.app.test_client())
    assert parent.login(cell.parent.username, cell.parent.password).status_code == 302
    page = parent.get(diary_url(cell))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "после приёма в АСУ РСО" in html  # the diary says it waits for АСУ РСО
    return diary_marks(html, cell.lesson.id)


def test_ezh_demo_with_emulator_seeds_it_and_points_the_sync_at_it(tmp_path, runner):
    data = tmp_path / "d"
    args = ["demo", "--data", str(data), "--no-serve", "--emulator-port", "18999"]
    first = runner.invoke(main, [*args, "--with-emulator"])
    assert first.exit_code == 0, first.output
    assert "Эмулятор АСУ РСО засеян" in first.output
    config = sync_settings.load(load_settings(data))
    assert config.configured and config.url == "http://127.0.0.1:18999"
    assert EmulatorStore(data / "emulator" / DB_NAME).query("SELECT COUNT(*) AS n FROM class")
    # The demo's journal is already published and nothing waits to be sent.
    assert outbox.counts()["pending"] == 0
    assert not Mark.select().where(Mark.published_at.is_null()).exists()
    # Later starts keep the emulator (the marks made meanwhile wait for it), seeded once.
    again = runner.invoke(main, args)
    assert again.exit_code == 0, again.output
    assert "засеян" not in again.output
    assert sync_settings.load(load_settings(data)).configured


def test_a_mark_made_offline_shows_only_after_the_emulator_accepts_it(demo):
    cell = pick_cell(demo.accounts)
    teacher = User.get(User.username == cell.teacher.username)
    assert parent_sees(demo, cell) == []
    # Switching АСУ РСО on hides nothing the demo had already published.
    parent = Browser(demo.app.test_client())
    parent.login(cell.parent.username, cell.parent.password)
    term = parent.get(f"/diary/{cell.student.id}/marks").get_data(as_text=True)
    assert 'class="mark"' in term

    set_maintenance(demo.emulator_url, True)
    assignment = journal.default_assignment(cell.lesson, user=teacher, ip="t")
    journal.set_mark(assignment, cell.student.id, "2", user=teacher, ip="t")

    offline = engine.run_once(demo.settings, pull=False)
    assert offline.status == "offline", offline.message
    assert (
        Mark.get(Mark.student == cell.student, Mark.assignment == assignment).published_at is None
    )
    assert parent_sees(demo, cell) == []
    assert OutboxEntry.select().where(OutboxEntry.state == "pending").count() == 1

    set_maintenance(demo.emulator_url, False)
    back = engine.run_once(demo.settings, pull=False)
    assert back.status == "ok", back.message
    assert back.pushed == 1
    assert [m["mark"] for m in emulator_marks(demo.emulator_url)] == ["2"]
    assert parent_sees(demo, cell) == ["2"]
    assert outbox.counts()["pending"] == 0

    # The teacher changes the accepted «2» while АСУ РСО is away again: the parent keeps
    # seeing «2» — what АСУ РСО holds — until the «4» is accepted, never an empty cell.
    set_maintenance(demo.emulator_url, True)
    journal.set_mark(assignment, cell.student.id, "4", user=teacher, ip="t")
    assert engine.run_once(demo.settings, pull=False).status == "offline"
    assert parent_sees(demo, cell) == ["2"]
    set_maintenance(demo.emulator_url, False)
    OutboxEntry.update(next_attempt_at=None).execute()
    assert engine.run_once(demo.settings, pull=False).status == "ok"
    assert parent_sees(demo, cell) == ["4"]
