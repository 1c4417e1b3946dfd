"""Background jobs: queued in the database, run by `ezh worker`, polled by pages.

Work that is slow or must happen without anyone asking (the weekly digest to parents,
PDF letters, reports, and later the sync with АСУ РСО) never runs inside a request
(DESIGN §3). A request queues a `Job` row — in the same transaction as the change
that asks for it, so a job is never queued for a change that rolled back — and the
worker process claims queued jobs one at a time, reports progress in the row, and
marks it done or failed with a Russian message. A page polls the row.

DESIGN.md names huey for this. A job table of our own is used instead: huey keeps its
queue in a second SQLite file, so a job could not be queued atomically with the change
that needs it, and progress for the page would need a table of our own anyway. The
volume is tiny (a few jobs a day), so polling the table every second costs nothing.

Handlers register with `@handler("kind")` and take a `JobContext`; periodic jobs are
listed in `PERIODIC` and queued by `schedule_due`. Tests run jobs synchronously with
`run_pending`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Settings
from .db import write
from .models import Job, ScheduleRun, User, now

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # a job that killed the worker this often is not tried again
POLL_SECONDS = 1.0


class JobError(Exception):
    """A job cannot be done for a reason the user can act on (message in Russian)."""


@dataclass
class JobContext:
    job: Job
    settings: Settings

    @property
    def params(self) -> dict[str, Any]:
        return json.loads(self.job.params or "{}")

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Tell the page how far the job has come (its own short transaction)."""
        changes: dict = {Job.progress: done}
        if total is not None:
            changes[Job.total] = total
        if message:
            changes[Job.message] = message
        with write():
            Job.update(changes).where(Job.id == self.job.id).execute()

    def output_path(self, filename: str) -> Path:
        """Where the job writes a file for the user (inside the data dir)."""
        folder = self.settings.data_dir / "jobs" / str(self.job.id)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / filename


Handler = Callable[[JobContext], str | None]  # returns the result file (data-dir relative)
HANDLERS: dict[str, Handler] = {}
# Kinds that take minutes (the year's archive, a printed journal, a backup) run in a lane of
# their own, so a two-second report does not wait a quarter of an hour behind them.
LONG_KINDS: set[str] = set()
LANES = ("short", "long")


# What a job's page is called («Синхронизация с АСУ РСО»); «Задание» when not given.
TITLES: dict[str, str] = {}


def handler(kind: str, *, long: bool = False, title: str = "") -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        if long:
            LONG_KINDS.add(kind)
        if title:
            TITLES[kind] = title
        return fn

    return register


@dataclass(frozen=True)
class Periodic:
    """A job queued on a schedule: ``due(now, last_run)`` says when."""

    name: str
    kind: str
    due: Callable[[dt.datetime, dt.datetime | None], bool]
    params: dict | None = None


def weekly(weekday: int, hour: int) -> Callable[[dt.datetime, dt.datetime | None], bool]:
    """Due once a week, from ``weekday`` (1 = Monday) at ``hour`` o'clock on."""

    def due(moment: dt.datetime, last: dt.datetime | None) -> bool:
        start = moment.replace(hour=hour, minute=0, second=0, microsecond=0) - dt.timedelta(
            days=(moment.isoweekday() - weekday) % 7
        )
        if start > moment:
            start -= dt.timedelta(days=7)
        return last is None or last < start

    return due


def daily(hour: int) -> Callable[[dt.datetime, dt.datetime | None], bool]:
    """Due once a day, from ``hour`` o'clock on (the nightly backup)."""

    def due(moment: dt.datetime, last: dt.datetime | None) -> bool:
        start = moment.replace(hour=hour, minute=0, second=0, microsecond=0)
        if start > moment:
            start -= dt.timedelta(days=1)
        return last is None or last < start

    return due


PERIODIC: list[Periodic] = []


def enqueue(kind: str, params: dict | None = None, *, user: User | None = None) -> Job:
    """Queue a job. Call inside the write transaction of the change that needs it."""
    if kind not in HANDLERS:
        raise ValueError(f"unknown job kind {kind!r}")
    return Job.create(
        kind=kind,
        params=json.dumps(params or {}, ensure_ascii=False, sort_keys=True),
        created_by=user,
    )


def schedule_due(moment: dt.datetime | None = None) -> list[Job]:
    """Queue the periodic jobs whose time has come (each once per period)."""
    moment = moment or now()
    queued = []
    for item in PERIODIC:
        with write():
            row = ScheduleRun.get_or_none(ScheduleRun.name == item.name)
            if not item.due(moment, row.last_run_at if row else None):
                continue
            if row is None:
                ScheduleRun.create(name=item.name, last_run_at=moment)
            else:
                ScheduleRun.update(last_run_at=moment).where(ScheduleRun.id == row.id).execute()
            queued.append(enqueue(item.kind, item.params))
    return queued


def _claim(lane: str | None = None) -> Job | None:
    """Take the oldest queued job (of `lane`, when given; one worker may hold it)."""
    with write():
        query = Job.select().where(Job.state == "queued")
        if lane == "long":
            query = query.where(Job.kind.in_(sorted(LONG_KINDS)))
        elif lane == "short":
            query = query.where(Job.kind.not_in(sorted(LONG_KINDS)))
        job = query.order_by(Job.id).first()
        if job is None:
            return None
        Job.update(state="running", started_at=now(), attempts=Job.attempts + 1, message="").where(
            Job.id == job.id
        ).execute()
    return Job.get_by_id(job.id)


def run_next(settings: Settings, lane: str | None = None) -> Job | None:
    """Run one queued job (of `lane`) to its end; None when there is none."""
    job = _claim(lane)
    if job is None:
        return None
    run = HANDLERS.get(job.kind)
    state, message, result = "done", "", ""
    try:
        if run is None:
            raise JobError("Неизвестный вид задания: обновите программу.")
        result = run(JobContext(job, settings)) or ""
    except JobError as exc:
        state, message = "failed", str(exc)
    except Exception:  # a bug: log it for the admin, say it plainly to the user
        log.exception("job %s (%s) failed", job.id, job.kind)
        state, message = "failed", "Внутренняя ошибка. Сообщите администратору."
    with write():
        Job.update(
            state=state,
            message=message or Job.message,
            result_file=result,
            finished_at=now(),
        ).where(Job.id == job.id).execute()
    return Job.get_by_id(job.id)


def run_pending(settings: Settings, limit: int = 100) -> list[Job]:
    """Run queued jobs until none is left (tests, `ezh worker --once`)."""
    done = []
    for _ in range(limit):
        job = run_next(settings)
        if job is None:
            break
        done.append(job)
    return done


def recover() -> int:
    """After a crash: jobs left running go back to the queue, or fail after many tries."""
    with write():
        stuck = list(Job.select().where(Job.state == "running"))
        for job in stuck:
            if job.attempts >= MAX_ATTEMPTS:
                Job.update(
                    state="failed",
                    finished_at=now(),
                    message="Задание прерывалось несколько раз. Сообщите администратору.",
                ).where(Job.id == job.id).execute()
            else:
                Job.update(state="queued").where(Job.id == job.id).execute()
    return len(stuck)


HEARTBEAT = "worker_heartbeat"  # a ScheduleRun row `ezh doctor` reads
HEARTBEAT_SECONDS = 60.0


def heartbeat(moment: dt.datetime | None = None) -> None:
    """Tell `ezh doctor` the worker is alive (one tiny write a minute)."""
    moment = moment or now()
    with write():
        updated = (
            ScheduleRun.update(last_run_at=moment).where(ScheduleRun.name == HEARTBEAT).execute()
        )
        if not updated:
            ScheduleRun.create(name=HEARTBEAT, last_run_at=moment)


def work(settings: Settings, stop: threading.Event, poll: float = POLL_SECONDS) -> None:
    """The worker's loop: queue what is due, run what is queued, sleep when idle.

    Long jobs run in a thread of their own (`LONG_KINDS`); this one runs the rest.
    """
    recover()
    long_lane = threading.Thread(
        target=_lane, args=(settings, stop, poll, "long"), name="jobs-long", daemon=True
    )
    long_lane.start()
    last_beat = -HEARTBEAT_SECONDS
    try:
        while not stop.is_set():
            if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                heartbeat()
                last_beat = time.monotonic()
            schedule_due()
            if run_next(settings, "short") is None:
                stop.wait(poll)
    finally:
        stop.set()
        long_lane.join()


def _lane(settings: Settings, stop: threading.Event, poll: float, lane: str) -> None:
    while not stop.is_set():
        try:
            if run_next(settings, lane) is None:
                stop.wait(poll)
        except Exception:  # the lane must outlive a database hiccup; the job is recovered
            log.exception("jobs lane %s", lane)
            stop.wait(poll)


def active(kind: str, user: User | None = None) -> list[Job]:
    """Jobs of `kind` still queued or running (of `user` only, when given), oldest first:
    a page shows the one in hand instead of queuing the same work twice."""
    query = Job.select().where((Job.kind == kind) & Job.state.in_(("queued", "running")))
    if user is not None:
        query = query.where(Job.created_by == user)
    return list(query.order_by(Job.id))


def job_for(job_id: int, user: User) -> Job | None:
    """A job the user queued (pages show a user only their own jobs)."""
    return Job.get_or_none((Job.id == job_id) & (Job.created_by == user))
