"""Background jobs: queued with the change that needs them, run once, failures said plainly."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance import jobs
from appliance.cli import main
from appliance.db import write
from appliance.models import Job, ScheduleRun

from .factories import PASSWORD


@pytest.fixture
def kinds():
    """Handlers for the tests, removed afterwards."""
    seen: list[dict] = []

    @jobs.handler("t.ok")
    def ok(ctx):
        seen.append(ctx.params)
        ctx.progress(2, 2, "почти")
        path = ctx.output_path("итог.txt")
        path.write_text("готово", encoding="utf-8")
        return str(path.relative_to(ctx.settings.data_dir))

    @jobs.handler("t.refused")
    def refused(ctx):
        raise jobs.JobError("Нет адреса школы в настройках.")

    @jobs.handler("t.bug")
    def bug(ctx):
        raise KeyError("oops")

    yield seen
    for kind in ("t.ok", "t.refused", "t.bug"):
        jobs.HANDLERS.pop(kind, None)


def test_a_job_queued_with_a_change_that_rolls_back_is_not_queued(db, kinds):
    with pytest.raises(RuntimeError), write():
        jobs.enqueue("t.ok", {"n": 1})
        raise RuntimeError("the change failed")
    assert Job.select().count() == 0


def test_queued_jobs_run_once_with_progress_and_a_file(db, settings, kinds):
    with write():
        job = jobs.enqueue("t.ok", {"n": 1})
    done = jobs.run_pending(settings)
    assert [j.id for j in done] == [job.id] and kinds == [{"n": 1}]
    job = Job.get_by_id(job.id)
    assert (job.state, job.progress, job.total, job.attempts) == ("done", 2, 2, 1)
    assert (settings.data_dir / job.result_file).read_text(encoding="utf-8") == "готово"
    assert jobs.run_pending(settings) == []  # nothing runs twice


def test_failures_keep_a_russian_reason_and_the_queue_goes_on(db, settings, kinds):
    with write():
        refused = jobs.enqueue("t.refused")
        bug = jobs.enqueue("t.bug")
        fine = jobs.enqueue("t.ok")
    jobs.run_pending(settings)
    states = {j.id: (j.state, j.message) for j in Job.select()}
    assert states[refused.id] == ("failed", "Нет адреса школы в настройках.")
    assert states[bug.id] == ("failed", "Внутренняя ошибка. Сообщите администратору.")
    assert states[fine.id][0] == "done"
    with pytest.raises(ValueError):
        jobs.enqueue("no.such.kind")


def test_a_job_interrupted_by_a_crash_is_retried_then_given_up(db, settings, kinds):
    with write():
        job = Job.create(kind="t.ok", state="running", attempts=1)
        hopeless = Job.create(kind="t.ok", state="running", attempts=jobs.MAX_ATTEMPTS)
    assert jobs.recover() == 2
    assert Job.get_by_id(job.id).state == "queued"
    assert Job.get_by_id(hopeless.id).state == "failed"
    jobs.run_pending(settings)
    assert Job.get_by_id(job.id).state == "done"


def test_weekly_schedule_is_due_once_a_week():
    due = jobs.weekly(5, 15)  # Fridays from 15:00
    friday = dt.datetime(2026, 11, 27, 15, 30)
    assert due(friday, None)
    assert not due(friday, friday)
    assert not due(dt.datetime(2026, 11, 27, 14, 0), dt.datetime(2026, 11, 20, 15, 5))
    assert due(dt.datetime(2026, 11, 30, 9, 0), dt.datetime(2026, 11, 20, 15, 5))
    assert not due(dt.datetime(2026, 12, 3, 9, 0), dt.datetime(2026, 11, 27, 15, 1))


def test_periodic_jobs_are_queued_once_per_period(db, kinds, monkeypatch):
    monkeypatch.setattr(jobs, "PERIODIC", [jobs.Periodic("t", "t.ok", jobs.weekly(5, 15))])
    friday = dt.datetime(2026, 11, 27, 16, 0)
    assert len(jobs.schedule_due(friday)) == 1
    assert jobs.schedule_due(friday + dt.timedelta(hours=3)) == []
    assert len(jobs.schedule_due(friday + dt.timedelta(days=7))) == 1
    assert ScheduleRun.get().last_run_at == friday + dt.timedelta(days=7)


def test_a_user_sees_only_their_own_jobs_and_files(browser, school, settings, kinds):
    with write():
        mine = jobs.enqueue("t.ok", user=school.users["deputy"])
        theirs = jobs.enqueue("t.ok", user=school.users["teacher"])
    browser.login("belova.os", PASSWORD)
    page = browser.get(f"/jobs/{mine.id}").get_data(as_text=True)
    assert "в очереди" in page and 'hx-trigger="every 1s"' in page
    jobs.run_pending(settings)
    assert "Скачать файл" in browser.get(f"/jobs/{mine.id}").get_data(as_text=True)
    download = browser.get(f"/jobs/{mine.id}/file")
    assert download.status_code == 200 and download.data.decode() == "готово"
    disposition = download.headers["Content-Disposition"]
    assert f'filename="ezh-{mine.id}.txt"' in disposition  # not «-.txt» for plain clients
    assert "filename*=UTF-8''%D0%B8%D1%82%D0%BE%D0%B3.txt" in disposition
    page = browser.get(f"/jobs/{mine.id}").get_data(as_text=True)
    assert "Готово: почти." in page  # the job's last word, once, with one full stop
    download.close()
    assert browser.get(f"/jobs/{theirs.id}").status_code == 404
    assert browser.get(f"/jobs/{theirs.id}/file").status_code == 404
    with write():
        waiting = jobs.enqueue("t.ok", user=school.users["teacher"])
    browser.logout()
    browser.login("smirnova.ev", PASSWORD)  # a queued job has no file yet: back to its page
    assert browser.get(f"/jobs/{waiting.id}/file").status_code == 302


def test_worker_once_runs_the_queue(runner, settings, kinds, monkeypatch):
    monkeypatch.setattr(jobs, "PERIODIC", [])  # the weekly digest is due on a fresh box
    from appliance.config import write_settings_file
    from appliance.db import open_database

    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True)
    write_settings_file(data, password_profile="fast")
    assert runner.invoke(main, ["init", "--data", str(data)]).exit_code == 0
    open_database(settings.db_path)
    with write():
        jobs.enqueue("t.ok")
    result = runner.invoke(main, ["worker", "--data", str(data), "--once"])
    assert result.exit_code == 0, result.output
    assert "Выполнено заданий: 1" in result.output


def test_the_worker_loop_leaves_a_heartbeat_for_the_doctor(db, settings, kinds, monkeypatch):
    import threading

    monkeypatch.setattr(jobs, "PERIODIC", [])
    stop = threading.Event()
    thread = threading.Thread(target=jobs.work, args=(settings, stop), kwargs={"poll": 0.01})
    thread.start()
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=5)
        while (
            dt.datetime.now() < deadline
            and not ScheduleRun.select().where(ScheduleRun.name == jobs.HEARTBEAT).exists()
        ):
            stop.wait(0.02)
    finally:
        stop.set()
        thread.join(timeout=5)
    beat = ScheduleRun.get(ScheduleRun.name == jobs.HEARTBEAT)
    assert dt.datetime.now() - beat.last_run_at < dt.timedelta(minutes=1)
    jobs.heartbeat(beat.last_run_at + dt.timedelta(minutes=2))  # later beats update the row
    assert ScheduleRun.select().where(ScheduleRun.name == jobs.HEARTBEAT).count() == 1


def test_a_long_job_does_not_hold_up_a_short_one(db, settings, kinds, monkeypatch):
    """QA: a two-second report waited 8.7 minutes behind the year's archive."""
    import threading

    monkeypatch.setattr(jobs, "PERIODIC", [])
    release, started = threading.Event(), threading.Event()

    @jobs.handler("t.slow", long=True)
    def slow(ctx):
        started.set()
        release.wait(10)

    try:
        with write():
            slow_job = jobs.enqueue("t.slow")
            quick_job = jobs.enqueue("t.ok", {"n": 1})
        stop = threading.Event()
        thread = threading.Thread(target=jobs.work, args=(settings, stop), kwargs={"poll": 0.01})
        thread.start()
        try:
            assert started.wait(5)
            deadline = dt.datetime.now() + dt.timedelta(seconds=5)
            while dt.datetime.now() < deadline and Job.get_by_id(quick_job.id).state != "done":
                stop.wait(0.02)
            assert Job.get_by_id(quick_job.id).state == "done"
            assert Job.get_by_id(slow_job.id).state == "running"  # still in hand
        finally:
            release.set()
            stop.set()
            thread.join(timeout=10)
        assert Job.get_by_id(slow_job.id).state == "done"
    finally:
        jobs.HANDLERS.pop("t.slow", None)
        jobs.LONG_KINDS.discard("t.slow")
