"""One sync run, and the worker's loop that runs them.

A run: log in to АСУ РСО (after a cheap probe), push every ready outbox item in batches,
then (when due) pull the journals back and note conflicts. Each run that did something
or failed leaves a `SyncRun` row — the status page reads them.

Failures, as the people at the school need them:

* `offline` — no connection, 5xx, 429, maintenance: the loop waits (doubling, with
  jitter, capped) and tries again by itself; nothing is lost, the outbox keeps it all;
* `needs_action` — wrong password, Gosuslugi forced, no rights: the loop stops trying
  until the admin saves the settings again or presses «Синхронизировать сейчас»;
* `error` — an answer of a shape we do not know (a new server version): retried like
  `offline`, and shown with its message.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import random
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from contextlib import contextmanager
from dataclasses import dataclass

from ..config import Settings
from ..db import write
from ..models import OutboxEntry, School, SyncRun, database, now
from ..school_calendar import current_year
from . import outbox
from . import settings as sync_settings
from .credentials import CredentialsError
from .netschool import (
    SESSION_REUSE,
    NeedsManualAction,
    NetSchoolClient,
    NetSchoolError,
    Unavailable,
)
from .outbox import Item
from .push import Prepared, Pusher

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]

INTERVAL = 10.0  # seconds between looks at the outbox when all is well
PULL_EVERY = 15 * 60.0  # seconds between pulls of the journals
OFFLINE_CAP = 300.0  # never wait longer than this for the connection to come back
LOCK_FILE = "sync.lock"
CHECK_AFTER = 120.0  # seconds an edit may wait before it is compared with АСУ РСО first
LOGOUT_WAIT = 3.0  # seconds a logout may take (a stopping worker must not hang on it)


@dataclass
class RunResult:
    status: str  # ok / offline / needs_action / not_configured / error
    message: str = ""
    pushed: int = 0
    parked: int = 0
    failed: int = 0
    pulled: int = 0
    conflicts: int = 0
    retry_after: float | None = None


def _finish(run: SyncRun | None, result: RunResult) -> RunResult:
    if run is None:
        return result
    with write():
        SyncRun.update(
            finished_at=now(),
            status=result.status,
            message=result.message[:2000],
            pushed=result.pushed,
            pulled=result.pulled,
            failed=result.failed + result.parked,
        ).where(SyncRun.id == run.id).execute()
    return result


@contextmanager
def exclusive(settings: Settings, wait: bool = True) -> Iterator[bool]:
    """One sync at a time across threads and processes (the loop, «sync now», the CLI):
    two runs taking the same batch would both send it. Yields False when busy."""
    fd = os.open(settings.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def run_once(
    settings: Settings,
    *,
    client: NetSchoolClient | None = None,
    progress: Progress | None = None,
    pull: bool = True,
    batch_size: int | None = None,
    max_batches: int | None = None,
    wait: bool = True,
    stop: threading.Event | None = None,
) -> RunResult:
    """Push what is ready, then pull (when `pull`); record the run; never raise for
    the upstream's troubles (they become the result's status). With `wait` False a
    run already going elsewhere makes this one return "busy" at once.

    Without a `client` one is made from the settings, and its session ends with the
    run. A `client` passed in keeps its session for the caller's next run (the loop's).
    `stop` set (the worker is stopping): no further batch is prepared, nothing is
    pulled; what is in flight goes on and is recorded.
    """
    with exclusive(settings, wait) as mine:
        if not mine:
            return RunResult("busy", "Синхронизация уже идёт.")
        return _run(settings, client, progress, pull, batch_size, max_batches, stop)


def _run(
    settings: Settings,
    client: NetSchoolClient | None,
    progress: Progress | None,
    pull: bool,
    batch_size: int | None,
    max_batches: int | None,
    stop: threading.Event | None = None,
) -> RunResult:
    config = sync_settings.load(settings)
    owned = client is None  # made here: its session ends with the run
    if client is None:
        try:
            client = sync_settings.client(settings)
        except CredentialsError as exc:
            with write():
                run = SyncRun.create(direction="push", status="running")
            return _finish(run, RunResult("needs_action", str(exc)))
    if client is None:
        return RunResult(
            "not_configured",
            "Синхронизация не настроена: нужен адрес АСУ РСО, школа и служебная учётная запись.",
        )
    with write():
        # Holding the sync lock, any run still "running" was cut short (a killed worker).
        SyncRun.update(
            status="error",
            message="Прервано: процесс синхронизации был остановлен.",
            finished_at=now(),
        ).where(SyncRun.status == "running").execute()
        run = SyncRun.create(direction="push+pull" if pull else "push", status="running")
    result = RunResult("ok")
    report = progress or (lambda done, total, message: None)
    try:
        # a wrong password found now, not mid-batch; a session the loop holds goes on
        client.session()
        if restored(settings):
            _reconcile_restored(settings, client, result, report)
        _check_delayed(client, run, result, report)
        size = batch_size or config.batch_size
        _push_all(
            client, result, report, size, max_batches, counted=progress is not None, stop=stop
        )
        notes: list[str] = []
        if pull and result.status == "ok" and not (stop is not None and stop.is_set()):
            notes = _pull_all(client, config, result, report)
        if result.status == "ok":
            result.message = " ".join([_summary(result), *notes])
    except NeedsManualAction as exc:
        result.status, result.message = "needs_action", str(exc)
    except Unavailable as exc:
        text = str(exc)
        result.status, result.message = "offline", text[:1].upper() + text[1:]
        result.retry_after = exc.retry_after
    except NetSchoolError as exc:
        result.status, result.message = "error", f"АСУ РСО ответила непонятно: {exc}"
    except Exception as exc:  # a bug must not leave the run "running" nor kill the loop
        log.exception("sync run failed")
        result.status, result.message = "error", f"Сбой синхронизации: {exc}"
    if owned:
        client.logout(LOGOUT_WAIT)  # whatever came of the run: no session left open
    return _finish(run, result)


def _push_all(
    client: NetSchoolClient,
    result: RunResult,
    report: Progress,
    batch_size: int,
    max_batches: int | None,
    counted: bool = True,
    stop: threading.Event | None = None,
) -> None:
    """Push ready batches (see `_Pipeline`).

    The cells to send are counted only for a progress bar (`counted`): with a backlog
    the count costs as much as a batch, and the loop shows no bar.
    """
    total = ready_count() if counted else 0
    report(0, total, "Отправка изменений в АСУ РСО…")
    pusher = Pusher(client, year_of=current_year)
    with _Pipeline(pusher, result, report, total, stop) as pipeline:
        pipeline.run(batch_size, max_batches)


class _Pipeline:
    """Batches pushed by three threads at once.

    While batch N+1 is in flight (the sender thread), batch N is recorded (the recorder
    thread: acceptance, bases, publishing) and the calling thread reads and prepares
    batch N+2 (the outbox, the ids, the committed attempt). The box's bookkeeping
    overlaps the wait for АСУ РСО instead of adding to it, and SQLite, which lets go of
    the GIL, works beside the Python of the other two. Batches leave one after another,
    in order, and are recorded in that order. A batch prepared behind one that failed
    is not sent: its attempt is already committed, so the next run reads its cells back
    before writing them (as after a lost answer). Whatever happens, a batch that was
    sent is recorded before the run ends.
    """

    def __init__(
        self,
        pusher: Pusher,
        result: RunResult,
        report: Progress,
        total: int,
        stop: threading.Event | None = None,
    ) -> None:
        self.pusher, self.result, self.report, self.total = pusher, result, report, total
        self.stop = stop  # set: no new batch; what is in flight is waited for and recorded
        self.sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-send")
        self.recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sync-record")
        self.in_flight: tuple[Prepared, Future] | None = None
        self.recording: list[tuple[Future, Prepared]] = []  # in order
        # Cells of the batches prepared and not yet recorded: their retry time may pass
        # meanwhile (a slow АСУ РСО), yet the run must not take them again. A few
        # batches' worth: a recorded batch's cells leave (memory stays flat).
        self.taken: set[tuple[str, str]] = set()

    def __enter__(self) -> _Pipeline:
        return self

    def __exit__(self, kind, error, trace) -> None:
        try:
            self._drain(error)
        finally:
            self.sender.shutdown()
            try:
                self.recorder.submit(database.close).result()  # the recorder's connection
            except RuntimeError:
                pass  # the interpreter is exiting: the connection goes with the process
            finally:
                self.recorder.shutdown()

    def run(self, batch_size: int, max_batches: int | None) -> None:
        batches = 0
        cursor = 0  # where the scan of the outbox goes on from, within this run
        while True:
            while self.recording and self.recording[0][0].done():
                future, recorded = self.recording.pop(0)
                future.result()  # a failed recording stops the run
                self.taken.difference_update(_cells(recorded.items))
            prepared = None
            more = max_batches is None or batches < max_batches
            if more and not (self.stop is not None and self.stop.is_set()):
                items = outbox.pending_batch(batch_size, after_seq=cursor, exclude=self.taken)
                if items:
                    cursor = items[-1].at_seq
                    self.taken.update(_cells(items))
                    batches += 1
                    prepared = self.pusher.prepare(items)
            if self.in_flight is None:
                if prepared is None:
                    return
                self._send(prepared)
                continue
            done, request = self.in_flight
            request.result()  # should it raise, `_drain` records the batch
            self._to_recorder(done)
            self.in_flight = None
            if done.result.failed:
                # The upstream is in trouble: stop; the loop comes back after a wait.
                self.result.status = "offline"
                self.result.message = f"Отправка прервалась: {done.result.error}"
                self.result.retry_after = done.result.retry_after
                return
            if prepared is None:
                return
            self._send(prepared)

    def _send(self, prepared: Prepared) -> None:
        request = self.sender.submit(self.pusher.send, prepared, self.stop)
        self.in_flight = (prepared, request)

    def _to_recorder(self, done: Prepared) -> None:
        """Record a batch whose requests are over, on the recorder thread, in order."""
        try:
            self.recording.append((self.recorder.submit(self._record, done), done))
        except RuntimeError:  # the interpreter is exiting: no new threads, record here
            wait_for([f for f, _ in self.recording])  # the batches before it first
            self._record(done)

    def _record(self, done: Prepared) -> None:
        """Store what came of a batch (accepted, parked, failed) and count it."""
        self.pusher.record(done.result)
        outcome, result = done.result, self.result
        result.pushed += len(outcome.accepted)
        result.parked += len(outcome.parked)
        result.failed += len(outcome.failed)
        sent = result.pushed + result.parked + result.failed
        total = self.total
        self.report(min(sent, total), max(total, sent), f"Отправлено {result.pushed} из {total}")

    def _drain(self, leaving: BaseException | None) -> None:
        """Wait for the batch in flight and record it, then wait for every recording.
        `leaving`: the error the run is already ending with; another one found here is
        then only logged, not raised over it."""
        failure: BaseException | None = None
        if self.in_flight is not None:
            done, request = self.in_flight
            try:
                request.result()
            except BaseException as exc:  # what it got is recorded all the same
                failure = exc
            self.in_flight = None
            try:
                self._to_recorder(done)
            except Exception as exc:
                failure = failure or exc
        for future, _ in self.recording:
            try:
                future.result()
            except Exception as exc:
                failure = failure or exc
        self.recording.clear()
        if failure is None or failure is leaving:
            return
        if leaving is None:
            raise failure
        log.error("sync pipeline: %s", failure, exc_info=failure)


def _cells(items: Iterable[Item]) -> Iterator[tuple[str, str]]:
    return ((item.entity_type, item.entity_uuid) for item in items)


INSTANCE_FILE = "sync.instance"


def restored(settings: Settings) -> bool:
    """Has the database been replaced (restored from a backup) since the last sync?

    `ezh restore` gives the database a new `School.instance_id`; the data directory keeps
    the id the sync last ran against (`sync.instance`). No file yet: a first sync, and
    the id is written down now.
    """
    current = School.select(School.instance_id).scalar() or ""
    file = settings.data_dir / INSTANCE_FILE
    try:
        known = file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        _remember_instance(settings, current)
        return False
    return bool(current) and known != current


def _remember_instance(settings: Settings, instance: str) -> None:
    file = settings.data_dir / INSTANCE_FILE
    tmp = file.with_name(file.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(instance + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, file)


def _reconcile_restored(
    settings: Settings, client: NetSchoolClient, result: RunResult, report: Progress
) -> None:
    """After a restore, before anything is sent: read every journal back with АСУ РСО
    winning where the cells differ (`pull_journals(restored=True)`). Only when that has
    gone through is the new database's id written down; a failed run does it again."""
    from .match import refresh
    from .pull import pull_journals

    year = current_year()
    if year is not None:
        report(0, 0, "База восстановлена из копии: сверка журналов с АСУ РСО…")
        refresh(client, year)
        checked = pull_journals(client, progress=report, restored=True)
        result.pulled += checked.applied
        result.conflicts += checked.conflicts
    _remember_instance(settings, School.select(School.instance_id).scalar() or "")


def _check_delayed(client: NetSchoolClient, run: SyncRun, result: RunResult, report) -> None:
    """Before sending edits that had to wait — through a failed run, or longer than
    `CHECK_AFTER` — read their groups back: a cell changed in АСУ РСО meanwhile too is
    then a conflict, not silently overwritten. Edits that go out at once are not read
    back first (the chance of a change there within seconds is not worth a request)."""
    from .pull import pull_journals

    failed = (
        SyncRun.select(SyncRun.finished_at)
        .where(
            (SyncRun.id < run.id) & (SyncRun.status != "ok") & SyncRun.finished_at.is_null(False)
        )
        .order_by(SyncRun.id.desc())
        .first()
    )
    cutoff = now() - dt.timedelta(seconds=CHECK_AFTER)
    if failed is not None and failed.finished_at > cutoff:
        cutoff = failed.finished_at
    groups = outbox.groups_waiting_since(cutoff)
    if not groups:
        return
    report(0, 0, "Сверка с АСУ РСО того, что ждало отправки…")
    checked = pull_journals(client, group_ids=groups)
    result.pulled += checked.applied
    result.conflicts += checked.conflicts


def _pull_all(client: NetSchoolClient, config, result: RunResult, report: Progress) -> list[str]:
    """Match ids afresh, follow АСУ РСО's class lists if the school keeps them there,
    then read the journals back. Returns notes for the run's message."""
    from .match import refresh
    from .pull import pull_journals
    from .roster import pull_roster

    year = current_year()
    if year is None:
        return []
    report(0, 0, "Сверка списков с АСУ РСО…")
    notes = []
    matched = refresh(client, year)
    if matched.unmatched:
        notes.append("Не сопоставлено: " + "; ".join(matched.unmatched[:5]) + ".")
    if config.roster_from_upstream:
        roster = pull_roster(client, year)
        result.pulled += len(roster.added)
        if roster.added:
            notes.append("Добавлены из АСУ РСО: " + ", ".join(roster.added[:10]) + ".")
        if roster.not_upstream:
            notes.append("Нет в АСУ РСО: " + ", ".join(roster.not_upstream[:10]) + ".")
        if roster.refused:
            notes.append("Не добавлены: " + "; ".join(roster.refused[:5]) + ".")
    pulled = pull_journals(client, progress=report)
    result.pulled += pulled.applied
    result.conflicts += pulled.conflicts
    if pulled.unknown_types:
        types = ", ".join(str(t) for t in sorted(pulled.unknown_types))
        notes.append(
            f"В АСУ РСО есть отметки за виды работ, которых нет в ЭЖ-box (типы {types}): "
            "добавьте такие виды работ, чтобы эти отметки пришли сюда."
        )
    return notes


def ready_count() -> int:
    """Cells (not entries) waiting to be sent."""
    return (
        OutboxEntry.select(OutboxEntry.entity_uuid)
        .where(OutboxEntry.state == "pending")
        .distinct()
        .count()
    )


def _summary(result: RunResult) -> str:
    parts = [f"отправлено {result.pushed}"]
    if result.parked:
        parts.append(f"отложено {result.parked}")
    if result.pulled:
        parts.append(f"получено из АСУ РСО {result.pulled}")
    if result.conflicts:
        parts.append(f"расхождений {result.conflicts}")
    return "Готово: " + ", ".join(parts) + "."


# --- the loop -----------------------------------------------------------------------


def _settings_stamp(settings: Settings) -> tuple[float, ...]:
    """When the sync settings and the stored account last changed (0: missing)."""
    from .credentials import secret_path

    files = (sync_settings.path(settings), secret_path(settings.data_dir))
    return tuple(p.stat().st_mtime_ns if p.exists() else 0 for p in files)


def loop(
    settings: Settings,
    stop: threading.Event,
    *,
    interval: float = INTERVAL,
    pull_every: float = PULL_EVERY,
    rng: random.Random | None = None,
) -> None:
    """Sync whenever there is something to send (and pull now and then) until `stop`."""
    rng = rng or random.Random()
    wait = interval
    offline_wait = interval
    last_pull = 0.0
    blocked_at: tuple[float, ...] | None = None  # settings as they were when a person was needed
    held: _Session | None = None
    while not stop.is_set():
        try:
            config = sync_settings.load(settings)
            if blocked_at is not None and (
                _settings_stamp(settings) != blocked_at or _last_status() == "ok"
            ):
                blocked_at = None  # the admin saved the settings, or «sync now» worked
            if config.configured and blocked_at is None:
                clock = now().timestamp()
                pull_due = clock - last_pull >= pull_every
                if pull_due or _has_ready():
                    stamp = _settings_stamp(settings)
                    held = _session_for(settings, held, stamp)
                    client = held.client if held is not None else None
                    result = run_once(settings, client=client, pull=pull_due, wait=False, stop=stop)
                    if held is not None and result.status == "offline":
                        held.client.forget()  # unreachable: the next run logs in afresh
                    elif held is not None and result.status == "error":
                        held.client.logout(LOGOUT_WAIT)  # an odd answer: start clean
                    if result.status == "ok":
                        last_pull = clock if pull_due else last_pull
                        offline_wait = interval
                        wait = interval
                    elif result.status in ("offline", "error"):
                        offline_wait = min(OFFLINE_CAP, offline_wait * 2)
                        jitter = offline_wait / 2 + rng.uniform(0, offline_wait / 2)
                        wait = max(result.retry_after or 0.0, jitter)
                    elif result.status == "busy":
                        wait = interval
                    else:  # needs_action: not again until the settings change
                        blocked_at = stamp
                        held = _end(held)
                        wait = interval
                else:
                    wait = interval
                    if held is not None and held.client.idle() >= SESSION_REUSE:
                        held.client.logout(LOGOUT_WAIT)  # nothing to send for a while
            elif not config.configured:
                held = _end(held)  # sync switched off
        except Exception:  # the loop must outlive any one bad run
            log.exception("sync run failed")
            wait = min(OFFLINE_CAP, wait * 2)
        stop.wait(wait)
    _end(held)


def _end(held: _Session | None) -> None:
    """Log the loop's session out (briefly: АСУ РСО may be away) and let it go."""
    if held is not None:
        held.client.logout(LOGOUT_WAIT)


@dataclass
class _Session:
    """The loop's client, kept from run to run: one login serves the runs of a busy
    time (`SESSION_REUSE`), not one login per run every few seconds."""

    stamp: tuple[float, ...]  # the settings it was made from (`_settings_stamp`)
    client: NetSchoolClient


def _session_for(
    settings: Settings, held: _Session | None, stamp: tuple[float, ...]
) -> _Session | None:
    """The loop's client for the next run: the one held, unless the settings changed."""
    if held is not None and held.stamp == stamp:
        return held
    _end(held)
    try:
        client = sync_settings.client(settings)
    except CredentialsError:
        return None  # `run_once` makes the client itself and reports why it cannot
    return _Session(stamp, client) if client is not None else None


def _last_status() -> str:
    last = SyncRun.select(SyncRun.status).order_by(SyncRun.id.desc()).first()
    return last.status if last is not None else ""


def _has_ready() -> bool:
    return bool(outbox.pending_batch(1))
