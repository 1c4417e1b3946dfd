# ruff: noqa: F811 — the fixtures come from test_sync_push
"""The sync run's outcomes and the loop: it waits for a person when a person must act."""

from __future__ import annotations

import threading
import time

from appliance.models import SyncRun
from appliance.sync import credentials, engine
from appliance.sync import settings as sync_settings

from .test_sync_push import LOGIN, PASSWORD, school, upstream  # noqa: F401


def start_loop(settings, **kwargs) -> tuple[threading.Event, threading.Thread]:
    """The worker's sync loop in a thread, as `ezh worker` runs it; set the event to stop."""
    stop = threading.Event()
    thread = threading.Thread(target=engine.loop, args=(settings, stop), kwargs=kwargs, daemon=True)
    thread.start()
    return stop, thread


def test_not_configured_says_what_is_missing(db, settings):
    result = engine.run_once(settings)
    assert result.status == "not_configured"
    assert "адрес АСУ РСО" in result.message
    assert not SyncRun.select().exists()


def test_an_unreadable_password_needs_a_person(db, settings):
    sync_settings.save(
        settings, url="http://127.0.0.1:9", school="1", login=LOGIN, password=PASSWORD
    )
    credentials.key_path(settings.data_dir).write_bytes(b"x" * 44)  # a foreign key
    result = engine.run_once(settings)
    assert result.status == "needs_action"
    assert "sync.key" in result.message
    assert SyncRun.get().status == "needs_action"


def test_the_loop_stops_trying_until_the_settings_are_saved_again(db, settings, upstream):
    url, _, _ = upstream
    sync_settings.save(settings, url=url, school="1", login=LOGIN, password="неверный")
    stop, thread = start_loop(settings, interval=0.05)
    time.sleep(1.0)
    runs = SyncRun.select().count()
    assert runs == 1, "a wrong password is tried once, not in a loop"
    assert SyncRun.get().status == "needs_action"
    time.sleep(0.05)
    sync_settings.save(settings, url=url, school="1", login=LOGIN, password=PASSWORD)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and SyncRun.select().count() < 2:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=5)
    last = SyncRun.select().order_by(SyncRun.id.desc()).first()
    assert last.status == "ok", last.message


def test_offline_runs_back_off_instead_of_hammering(db, settings):
    sync_settings.save(
        settings, url="http://127.0.0.1:9", school="1", login=LOGIN, password=PASSWORD
    )
    stop, thread = start_loop(settings, interval=0.05, pull_every=0.0)
    time.sleep(1.5)
    stop.set()
    thread.join(timeout=5)
    runs = list(SyncRun.select())
    assert "не принимает соединения" in runs[0].message
    statuses = [r.status for r in runs]
    assert statuses and set(statuses) == {"offline"}
    # 0.05 s interval, doubling: 0.1, 0.2, 0.4, 0.8 … → a handful of tries, not 30
    assert len(statuses) <= 6, statuses


def test_network_failures_are_told_in_russian_without_errno(db, settings):
    sync_settings.save(
        settings, url="http://127.0.0.1:9", school="1", login=LOGIN, password=PASSWORD
    )
    refused = engine.run_once(settings)
    assert refused.status == "offline"
    assert "не принимает соединения" in refused.message and "Errno" not in refused.message
    sync_settings.save(
        settings, url="http://no-such-host.invalid", school="1", login=LOGIN, password=PASSWORD
    )
    unknown = engine.run_once(settings)
    assert "Адрес АСУ РСО не найден" in unknown.message and "Errno" not in unknown.message


def test_an_address_with_a_space_is_refused(db, settings):
    import pytest

    with pytest.raises(sync_settings.SyncSettingsError, match="пробел"):
        sync_settings.save(settings, url="https://asu rso.ru", school="1")


def _clients_made(monkeypatch) -> list:
    """Every client the engine makes from the settings, to look at its session."""
    made = []
    real = sync_settings.client

    def client(settings):
        found = real(settings)
        made.append(found)
        return found

    monkeypatch.setattr(sync_settings, "client", client)
    return made


def _sent(mark) -> bool:
    from appliance.models import Mark
    from appliance.sync import outbox

    return outbox.counts()["pending"] == 0 and Mark.get_by_id(mark.id).published_at is not None


def _wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _mark(school, value: str, index: int = 0):
    from appliance import journal

    teacher = school.users["teacher"]
    lesson = school.group.lessons.order_by("date", "number").first()
    assignment = journal.default_assignment(lesson, user=teacher, ip="t")
    student = school.students["5А"][index]
    return journal.set_mark(assignment, student.id, value, user=teacher, ip="t")


def test_the_loop_keeps_one_session_while_runs_follow_each_other(
    db, settings, school, upstream, monkeypatch
):
    """One login for a busy lesson, not one per run; an expired session is logged into
    again without a failed run; an idle session is ended (logout)."""
    import urllib.request

    from appliance.sync import netschool

    url, store, _ = upstream
    sync_settings.save(settings, url=url, school="1", login=LOGIN, password=PASSWORD)
    made = _clients_made(monkeypatch)
    stop, thread = start_loop(settings, interval=0.05, pull_every=3600.0)
    try:
        for value, index in (("5", 0), ("4", 1), ("3", 2)):
            mark = _mark(school, value, index)
            _wait_until(lambda m=mark: _sent(m))
        assert SyncRun.select().where(SyncRun.status == "ok").count() >= 3
        assert len(made) == 1 and made[0].logins == 1, "one login serves the runs"

        # АСУ РСО forgets the session: the next run logs in again and goes through.
        urllib.request.urlopen(urllib.request.Request(f"{url}/_emulator/expire", method="POST"))
        mark = _mark(school, "2", 0)
        _wait_until(lambda: _sent(mark))
        assert made[0].logins == 2 and len(made) == 1
        assert not SyncRun.select().where(SyncRun.status.not_in(("ok", "running"))).exists()

        # Nothing to send for longer than the reuse time: the session is ended.
        monkeypatch.setattr(engine, "SESSION_REUSE", 0.2)
        _wait_until(lambda: made[0].at is None)
        monkeypatch.setattr(netschool, "SESSION_REUSE", 0.2)
        mark = _mark(school, "5", 1)
        _wait_until(lambda: _sent(mark))
        assert made[0].logins == 3
    finally:
        stop.set()
        thread.join(timeout=10)
    assert made[0].at is None, "the stopped loop logged out"
    assert sorted(m["mark"] for m in store.state()["marks"]) == ["2", "3", "5"]


def test_a_run_without_a_client_ends_its_own_session(db, settings, school, upstream, monkeypatch):
    url, _, _ = upstream
    sync_settings.save(settings, url=url, school="1", login=LOGIN, password=PASSWORD)
    made = _clients_made(monkeypatch)
    _mark(school, "4")
    assert engine.run_once(settings, pull=False).status == "ok"
    assert len(made) == 1 and made[0].logins == 1 and made[0].at is None
