"""Resumability: a push interrupted at any point resumes without resending what was accepted.

The worker "dies" (a BaseException, which nothing in the sync code may swallow, raised
where a SIGKILL could land) at named points — after `outbox.begin` committed and before
the request, after АСУ РСО applied a write and before the acceptance was committed,
between two batches — and after every single HTTP request of a full push in turn. The
next run must finish the push, and every cell must have been written upstream exactly
once.
"""

from __future__ import annotations

import pytest

from appliance import journal
from appliance.db import write
from appliance.models import Lesson, Mark, OutboxEntry
from appliance.sync import engine, outbox

from . import test_sync_push as push_tests
from .test_sync_push import client_for, teacher

# The box, the emulator seeded from it and served over HTTP: the push tests' fixtures.
school = push_tests.school
upstream = push_tests.upstream

BATCH = 3  # small batches: a push of the 8 cells below takes several
# HTTP requests of that push (probe, login, types, reads, writes; the session is the
# caller's, so no logout)
REQUESTS = 14


class Killed(BaseException):  # noqa: N818 — stands for SIGKILL
    """The worker process dies here (not an Exception: nothing may catch it)."""


def make_changes(school) -> int:
    """Eight cells: three marks, three absences, a topic and a homework. Returns 8."""
    user = teacher(school)
    first, second = school.group.lessons.order_by(Lesson.date, Lesson.number).limit(2)
    assignment = journal.default_assignment(first, user=user, ip="t")
    for student, value in zip(school.students["5А"], ("5", "4", "3"), strict=True):
        journal.set_mark(assignment, student.id, "2", user=user, ip="t")  # coalesced away
        journal.set_mark(assignment, student.id, value, user=user, ip="t")
    for student, code in zip(school.students["5А"], ("Н", "Б", "ОП"), strict=True):
        journal.set_attendance(second, student.id, code, user=user, ip="t")
    journal.set_topic(Lesson.get_by_id(first.id), "Дроби", user=user, ip="t")
    journal.set_homework(Lesson.get_by_id(second.id), "№ 12", user=user, ip="t")
    return 8


def resume(settings, url) -> engine.RunResult:
    """The restarted worker: no backoff wait, one run that must finish everything."""
    with write():
        OutboxEntry.update(next_attempt_at=None).where(OutboxEntry.state == "pending").execute()
    return engine.run_once(settings, client=client_for(url), pull=False, batch_size=BATCH)


def assert_exactly_once(store, cells: int) -> None:
    state = store.state()
    assert len(state["writeCounts"]) == cells, state["writeCounts"]
    assert set(state["writeCounts"].values()) == {1}, state["writeCounts"]
    assert sorted(m["mark"] for m in state["marks"]) == ["3", "4", "5"]
    assert sorted(a["reason"] for a in state["attendance"]) == [
        "late",
        "missedIll",
        "missedNoReason",
    ]
    assert [(x["theme"], x["homework"]) for x in state["lessons"]] == [
        ("Дроби", ""),
        ("", "№ 12"),
    ]
    counts = outbox.counts()
    assert counts["pending"] == 0 and counts["parked"] == 0, counts
    assert not Mark.select().where(Mark.published_at.is_null()).exists()


def first_run(settings, url):
    return engine.run_once(settings, client=client_for(url), pull=False, batch_size=BATCH)


def kill_after_begin(monkeypatch):
    """The attempt is committed (`outbox.begin`); the worker dies before the request."""
    real = outbox.begin

    def begin(items, **kw):
        real(items, **kw)
        if items:
            raise Killed

    monkeypatch.setattr(outbox, "begin", begin)


def kill_after_applied(monkeypatch):
    """The write reached АСУ РСО and was applied; the worker dies before reading the answer."""
    from appliance.sync.netschool import NetSchoolClient

    for name in ("quickedit", "set_topic_homework_fields"):
        real = getattr(NetSchoolClient, name)

        def applied(self, *args, _real=real, **kwargs):
            _real(self, *args, **kwargs)
            raise Killed

        monkeypatch.setattr(NetSchoolClient, name, applied)


def kill_before_accepted(monkeypatch):
    """The answer came back; the worker dies inside the transaction that records it."""

    def mark_accepted(items, accepted_at=None):
        if items:
            raise Killed
        return 0

    monkeypatch.setattr(outbox, "mark_accepted", mark_accepted)


def kill_between_batches(monkeypatch):
    """The first batch is done and recorded; the worker dies before taking the next."""
    real = outbox.pending_batch
    calls = []

    def pending_batch(limit, now_=None, **kwargs):
        calls.append(limit)
        if len(calls) == 2:
            raise Killed
        return real(limit, now_, **kwargs)

    monkeypatch.setattr(outbox, "pending_batch", pending_batch)


@pytest.mark.parametrize(
    "kill",
    [kill_after_begin, kill_after_applied, kill_before_accepted, kill_between_batches],
    ids=lambda f: f.__name__,
)
def test_a_killed_push_resumes_without_resending(kill, school, upstream, settings, monkeypatch):
    url, store, _ = upstream
    engine.run_once(settings, client=client_for(url), pull=False)  # ids matched, roster done
    cells = make_changes(school)
    kill(monkeypatch)
    with pytest.raises(Killed):
        first_run(settings, url)
    monkeypatch.undo()  # the restarted worker is the real one
    assert outbox.counts()["pending"] > 0  # the dead run left work behind
    result = resume(settings, url)
    assert result.status == "ok", result.message
    assert_exactly_once(store, cells)


class CountingTransport:
    """The client's transport, dying right after the n-th request got its answer."""

    def __init__(self, inner, die_after: int | None) -> None:
        self.inner, self.die_after, self.sent = inner, die_after, 0

    def send(self, *args, **kwargs):
        answer = self.inner.send(*args, **kwargs)
        self.sent += 1
        if self.die_after is not None and self.sent >= self.die_after:
            raise Killed
        return answer


def test_the_kills_below_cover_every_request_of_the_push(school, upstream, settings):
    url, _, _ = upstream
    engine.run_once(settings, client=client_for(url), pull=False)  # ids matched
    make_changes(school)
    client = client_for(url)
    client.transport = CountingTransport(client.transport, None)
    assert engine.run_once(settings, client=client, pull=False, batch_size=BATCH).status == "ok"
    assert client.transport.sent == REQUESTS


@pytest.mark.parametrize("die_after", range(1, REQUESTS + 1))
def test_killed_after_any_request_resumes_exactly_once(die_after, school, upstream, settings):
    """After each of the push's requests in turn (probe, login, reads, every write)."""
    url, store, _ = upstream
    engine.run_once(settings, client=client_for(url), pull=False)  # ids matched
    cells = make_changes(school)
    client = client_for(url)
    client.transport = CountingTransport(client.transport, die_after)
    try:
        engine.run_once(settings, client=client, pull=False, batch_size=BATCH)
    except Killed:
        pass
    else:
        pytest.fail(f"the push made {client.transport.sent} requests: set REQUESTS to that")
    result = resume(settings, url)
    assert result.status == "ok", result.message
    assert_exactly_once(store, cells)


# --- what the chaos runs found ----------------------------------------------------------


def lesson_of(school, index: int = 0) -> Lesson:
    return school.group.lessons.order_by(Lesson.date, Lesson.number)[index]


def die_after_applied(monkeypatch) -> None:
    """Only the lesson edit: applied by АСУ РСО, then the worker dies."""
    from appliance.sync.netschool import NetSchoolClient

    real = NetSchoolClient.set_topic_homework_fields

    def applied(self, *args, **kwargs):
        real(self, *args, **kwargs)
        raise Killed

    monkeypatch.setattr(NetSchoolClient, "set_topic_homework_fields", applied)


@pytest.mark.parametrize("back_to", ["Дроби", ""], ids=["reverted", "cleared"])
def test_a_topic_changed_back_after_a_lost_write_reaches_upstream(
    back_to, school, upstream, settings, monkeypatch
):
    """Topic A accepted; B applied upstream but the worker died; then A again (or cleared).

    B never became the base, so comparing the new value with the base says "nothing
    changed" — but АСУ РСО holds B. The edit must still be sent.
    """
    url, store, _ = upstream
    user = teacher(school)
    journal.set_topic(lesson_of(school), "Дроби", user=user, ip="t")
    if back_to == "":
        journal.set_topic(lesson_of(school), "", user=user, ip="t")
    assert resume(settings, url).status == "ok"
    journal.set_topic(lesson_of(school), "Проценты", user=user, ip="t")
    die_after_applied(monkeypatch)
    with pytest.raises(Killed):
        first_run(settings, url)
    monkeypatch.undo()
    journal.set_topic(lesson_of(school), back_to, user=user, ip="t")
    assert resume(settings, url).status == "ok"
    themes = {x["cmId"]: x["theme"] for x in store.state()["lessons"]}
    assert list(themes.values()) == ([back_to] if back_to else [])


class FailingFirstRead:
    """The transport, with the first GET of a lesson lost (АСУ РСО briefly away)."""

    def __init__(self, inner) -> None:
        self.inner, self.failed = inner, False

    def send(self, method, url, *args, **kwargs):
        from appliance.sync.netschool import Unavailable

        if method == "GET" and "/journal/edit" in url and not self.failed:
            self.failed = True
            raise Unavailable("соединение с АСУ РСО прервано")
        return self.inner.send(method, url, *args, **kwargs)


def test_a_failed_check_read_never_leads_to_a_blind_second_write(
    school, upstream, settings, monkeypatch
):
    """An attempted lesson edit is read before it is resent; when that read fails the
    write must wait for the next run, not go out blind (it was applied already)."""
    url, store, _ = upstream
    journal.set_topic(lesson_of(school), "Дроби", user=teacher(school), ip="t")
    die_after_applied(monkeypatch)
    with pytest.raises(Killed):
        first_run(settings, url)
    monkeypatch.undo()
    with write():
        OutboxEntry.update(next_attempt_at=None).where(OutboxEntry.state == "pending").execute()
    client = client_for(url)
    client.transport = FailingFirstRead(client.transport)
    engine.run_once(settings, client=client, pull=False)
    assert resume(settings, url).status == "ok"
    counts = store.state()["writeCounts"]
    assert [v for k, v in counts.items() if k.startswith("theme:")] == [1]


def test_a_lone_rejected_cell_is_parked_and_the_run_goes_on(school, upstream, settings):
    """One refused cell in its group's request: parked with the reason, not an error run."""
    from appliance.models import IdMap

    url, store, _ = upstream
    user = teacher(school)
    first, second = lesson_of(school, 0), lesson_of(school, 1)
    assignment = journal.default_assignment(first, user=user, ip="t")
    student = school.students["5А"][1]
    journal.set_mark(assignment, student.id, "4", user=user, ip="t")
    assert resume(settings, url).status == "ok"  # ids matched
    remote = IdMap.get((IdMap.entity_type == "Person") & (IdMap.local_uuid == student.uuid))
    with store.tx() as con:  # АСУ РСО no longer has the student in the group
        con.execute("DELETE FROM sg_student WHERE student_id = ?", (remote.remote_id,))
    journal.set_mark(assignment, student.id, "5", user=user, ip="t")
    journal.set_topic(second, "Дроби", user=user, ip="t")
    result = resume(settings, url)
    assert result.status == "ok", result.message
    assert result.parked == 1
    assert outbox.counts()["pending"] == 0
    assert [x["theme"] for x in store.state()["lessons"]] == ["Дроби"]
