# ruff: noqa: F811 — the fixtures come from test_sync_push
"""Cases a review of the sync found: each failed once, each must keep passing."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from appliance import journal
from appliance.models import (
    Assignment,
    IdMap,
    Lesson,
    Mark,
    OutboxEntry,
    Person,
    SyncConflict,
    SyncRun,
    WorkType,
)
from appliance.sync import engine, outbox
from appliance.sync import push as pushmod
from appliance.sync.netschool import Unavailable
from appliance.sync.pull import decide, pull_journals

from .test_sync_pull import first_sync, remote_id, sync, upstream_mark
from .test_sync_push import (  # noqa: F401
    client_for,
    lesson_today,
    school,
    set_faults,
    teacher,
    upstream,
)
from .test_sync_roster import configure


def drop_from_group(store, person) -> None:
    remote = IdMap.get((IdMap.entity_type == "Person") & (IdMap.local_uuid == person.uuid))
    with store.tx() as con:
        con.execute("DELETE FROM sg_student WHERE student_id = ?", (int(remote.remote_id),))


def test_one_refused_cell_alone_is_parked_and_the_rest_go(school, upstream, settings):
    url, store, _ = upstream
    lesson = lesson_today(school)
    assignment = journal.default_assignment(lesson, user=teacher(school), ip="t")
    first = school.students["5А"][0]
    journal.set_mark(assignment, first.id, "5", user=teacher(school), ip="t")
    engine.run_once(settings, client=client_for(url), pull=False)
    drop_from_group(store, first)
    journal.set_mark(assignment, first.id, "3", user=teacher(school), ip="t")
    journal.set_topic(lesson, "Дроби", user=teacher(school), ip="t")
    result = engine.run_once(settings, client=client_for(url), pull=False)
    assert result.status == "ok", result.message
    assert result.parked == 1
    assert [x["theme"] for x in store.state()["lessons"]] == ["Дроби"]


def test_two_runs_at_once_never_send_a_cell_twice(school, upstream, settings, monkeypatch):
    url, store, _ = upstream
    lesson, assignment = first_sync(school, settings, url)
    journal.set_mark(assignment, school.students["5А"][1].id, "5", user=teacher(school), ip="t")
    real_plan = pushmod.Pusher._plan

    def slow_plan(self, *args, **kwargs):
        time.sleep(0.3)
        return real_plan(self, *args, **kwargs)

    monkeypatch.setattr(pushmod.Pusher, "_plan", slow_plan)
    statuses = []

    def run(wait: bool) -> None:
        result = engine.run_once(settings, client=client_for(url), pull=False, wait=wait)
        statuses.append(result.status)

    threads = [threading.Thread(target=run, args=(w,)) for w in (True, True, False)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(store.state()["writeCounts"].values()) == 1
    assert sorted(statuses) in (["busy", "ok", "ok"], ["ok", "ok", "ok"])


def test_a_failed_check_before_a_resend_does_not_write_blind(
    school, upstream, settings, monkeypatch
):
    url, store, app = upstream
    lesson, _ = first_sync(school, settings, url)
    journal.set_topic(lesson, "Дроби", user=teacher(school), ip="t")
    set_faults(app, drop_after_commit_rate=1.0)
    first = client_for(url)
    monkeypatch.setattr(first, "lesson", lambda *a, **k: (_ for _ in ()).throw(Unavailable("5xx")))
    assert engine.run_once(settings, client=first, pull=False).status == "offline"
    set_faults(app)
    OutboxEntry.update(next_attempt_at=None).execute()
    second = client_for(url)
    calls = []
    real = second.lesson

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise Unavailable("АСУ РСО ответила ошибкой 502")
        return real(*args, **kwargs)

    monkeypatch.setattr(second, "lesson", flaky)
    engine.run_once(settings, client=second, pull=False)
    OutboxEntry.update(next_attempt_at=None).execute()
    assert engine.run_once(settings, client=second, pull=False).status == "ok"
    counts = store.state()["writeCounts"]
    assert [v for k, v in counts.items() if k.startswith("theme")] == [1]


def test_a_mark_of_a_work_type_the_box_lacks_is_not_copied_on_every_pull(
    school, upstream, settings
):
    url, store, _ = upstream
    lesson, _ = first_sync(school, settings, url)
    upstream_mark(store, lesson, school.students["5А"][1], "5", type_id=4)  # no such type here
    for _ in range(3):
        result = sync(settings, url)
    assert Assignment.select().where(Assignment.lesson == lesson).count() == 1
    assert "виды работ, которых нет в ЭЖ-box" in result.message


def test_calling_the_roll_is_no_topic_edit(school, upstream, settings):
    url, store, _ = upstream
    lesson, _ = first_sync(school, settings, url)
    journal.set_topic(lesson, "Тема учителя", user=teacher(school), ip="t")
    sync(settings, url)
    store.edit_lesson(remote_id("Lesson", lesson.uuid), None, {"theme": "Тема завуча"})
    journal.set_attendance(lesson, school.students["5А"][1].id, "Б", user=teacher(school), ip="t")
    pull_journals(client_for(url))
    sync(settings, url)
    assert [x["theme"] for x in store.state()["lessons"]] == ["Тема завуча"]
    assert Lesson.get_by_id(lesson.id).topic == "Тема завуча"
    assert not SyncConflict.select().where(SyncConflict.entity_type == "Lesson").exists()


def test_a_teacher_typing_during_the_pull_is_not_overwritten(
    school, upstream, settings, monkeypatch
):
    url, store, _ = upstream
    lesson, assignment = first_sync(school, settings, url)
    student = school.students["5А"][0]
    upstream_mark(store, lesson, student, "2")
    client = client_for(url)
    real = client.journal
    typed = []

    def journal_while_the_teacher_types(*args, **kwargs):
        answer = real(*args, **kwargs)
        if not typed:
            typed.append(1)
            journal.set_mark(assignment, student.id, "5", user=teacher(school), ip="t")
        return answer

    monkeypatch.setattr(client, "journal", journal_while_the_teacher_types)
    pull_journals(client)
    sync(settings, url)
    sync(settings, url)
    box = Mark.get((Mark.assignment == assignment) & (Mark.student == student)).value
    assert [box] == [m["mark"] for m in store.state()["marks"]] == ["5"]


def test_a_new_unsent_cell_is_no_conflict():
    assert decide(None, "Б", "", pending=True) == "none"
    assert decide(None, "Б", "Н", pending=True) == "conflict"
    assert decide("4", "4", "2", pending=False) == "take"


def test_class_lists_do_not_duplicate_a_student_spelt_differently(school, upstream, settings):
    url, store, _ = upstream
    student = school.students["5А"][0]
    with store.tx() as con:
        row = con.execute(
            "SELECT id FROM person WHERE full_name LIKE ?", (student.last_name + "%",)
        ).fetchone()
        con.execute(
            "UPDATE person SET full_name = full_name || ' Иванович' WHERE id = ?", (row[0],)
        )
    namesakes = Person.select().where(Person.last_name == student.last_name).count()
    configure(settings, url, roster=True)
    result = engine.run_once(settings)
    assert result.status == "ok", result.message
    assert Person.select().where(Person.last_name == student.last_name).count() == namesakes
    assert "проверьте ФИО" in result.message


def test_a_killed_run_does_not_stay_running(school, upstream, settings):
    url, _, _ = upstream
    SyncRun.create(status="running", direction="push")
    engine.run_once(settings, client=client_for(url), pull=False)
    statuses = [r.status for r in SyncRun.select().order_by(SyncRun.id)]
    assert statuses == ["error", "ok"]


def test_a_cell_changed_on_both_sides_during_an_outage_is_a_conflict(school, upstream, settings):
    url, store, app = upstream
    lesson, assignment = first_sync(school, settings, url)  # «4» agreed
    student = school.students["5А"][0]
    set_faults(app, maintenance=True)
    journal.set_mark(assignment, student.id, "5", user=teacher(school), ip="t")
    assert engine.run_once(settings, client=client_for(url), pull=False).status == "offline"
    upstream_mark(store, lesson, student, "2")  # the deputy, in АСУ РСО, meanwhile
    set_faults(app)
    OutboxEntry.update(next_attempt_at=None).execute()
    result = engine.run_once(settings, client=client_for(url), pull=False)
    assert result.status == "ok", result.message
    assert result.conflicts == 1
    conflict = SyncConflict.get()
    assert (conflict.local_value, conflict.remote_value, conflict.chosen) == ("5", "2", "local")
    assert [m["mark"] for m in store.state()["marks"]] == ["5"]  # the teacher's value went


def test_edits_sent_at_once_are_not_read_back_first(school, upstream, settings, monkeypatch):
    url, store, _ = upstream
    lesson, assignment = first_sync(school, settings, url)
    # the previous run was a while ago (runs store whole seconds)
    SyncRun.update(started_at=dt.datetime.now() - dt.timedelta(minutes=5)).execute()
    journal.set_mark(assignment, school.students["5А"][1].id, "3", user=teacher(school), ip="t")
    client = client_for(url)
    reads = []
    real = client.journal
    monkeypatch.setattr(client, "journal", lambda *a, **k: reads.append(1) or real(*a, **k))
    assert engine.run_once(settings, client=client, pull=False).status == "ok"
    assert reads == []


def test_an_unsent_value_equal_to_asu_rso_still_makes_a_conflict(school, upstream, settings):
    url, store, app = upstream
    lesson, assignment = first_sync(school, settings, url)  # «4» agreed
    student = school.students["5А"][0]
    set_faults(app, maintenance=True)
    journal.set_mark(assignment, student.id, "5", user=teacher(school), ip="t")
    journal.set_mark(assignment, student.id, "3", user=teacher(school), ip="t")
    assert engine.run_once(settings, client=client_for(url), pull=False).status == "offline"
    upstream_mark(store, lesson, student, "5")  # «5» was never sent from here
    set_faults(app)
    OutboxEntry.update(next_attempt_at=None).execute()
    assert engine.run_once(settings, client=client_for(url), pull=False).conflicts == 1


def test_a_mark_cleared_during_an_outage_is_compared_first(school, upstream, settings):
    url, store, app = upstream
    lesson, assignment = first_sync(school, settings, url)
    student = school.students["5А"][0]
    set_faults(app, maintenance=True)
    journal.set_mark(assignment, student.id, "", user=teacher(school), ip="t")
    assert engine.run_once(settings, client=client_for(url), pull=False).status == "offline"
    upstream_mark(store, lesson, student, "2")
    set_faults(app)
    OutboxEntry.update(next_attempt_at=None).execute()
    result = engine.run_once(settings, client=client_for(url), pull=False)
    assert result.conflicts == 1
    assert (SyncConflict.get().local_value, SyncConflict.get().remote_value) == ("", "2")


def test_an_assignment_added_during_a_run_is_not_parked(school, upstream, settings, monkeypatch):
    url, _, _ = upstream
    lesson, assignment = first_sync(school, settings, url)
    user = teacher(school)
    first, second = school.students["5А"][:2]
    journal.set_mark(assignment, second.id, "5", user=user, ip="t")
    journal.set_mark(assignment, first.id, "3", user=user, ip="t")
    control = WorkType.get(WorkType.short_name == "К")
    real_batch = outbox.pending_batch
    calls = []

    def pending_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the teacher adds a test and marks it while the run goes on
            test = journal.add_assignment(lesson, control.id, user=user, ip="t")
            journal.set_mark(test, first.id, "2", user=user, ip="t")
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(outbox, "pending_batch", pending_batch)
    result = engine.run_once(settings, client=client_for(url), pull=False, batch_size=1)
    assert result.status == "ok", result.message
    assert result.pushed >= 3  # the new mark went in the same run
    assert not OutboxEntry.select().where(OutboxEntry.state == "parked").exists()


def test_a_lesson_resent_keeps_a_field_changed_in_asu_rso(school, upstream, settings):
    url, store, _ = upstream
    lesson, _ = first_sync(school, settings, url)
    user = teacher(school)
    journal.set_homework(lesson, "стр. 1", user=user, ip="t")
    assert engine.run_once(settings, client=client_for(url), pull=False).status == "ok"
    journal.set_topic(lesson, "Дроби", user=user, ip="t")
    outbox.begin(outbox.pending_batch(10))  # counted, then the worker died before sending
    store.edit_lesson(remote_id("Lesson", lesson.uuid), None, {"homework": "стр. 99"})
    OutboxEntry.update(next_attempt_at=None).execute()
    assert engine.run_once(settings, client=client_for(url), pull=False).status == "ok"
    assert [(x["theme"], x["homework"]) for x in store.state()["lessons"]] == [("Дроби", "стр. 99")]


def test_a_slow_upstream_does_not_get_a_cell_twice_in_one_run(
    school, upstream, settings, monkeypatch
):
    """A cell's retry time passes while its batch is still being recorded (a slow
    АСУ РСО, a short backoff): the run does not take it again."""
    url, store, _ = upstream
    lesson, assignment = first_sync(school, settings, url)
    user = teacher(school)
    a, b, c = school.students["5А"][:3]
    for student, value in ((a, "3"), (b, "4"), (c, "5"), (a, "2")):  # a: edited twice
        journal.set_mark(assignment, student.id, value, user=user, ip="t")
    monkeypatch.setattr(outbox, "backoff", lambda attempts, rng=None: 0.0)
    real_record = pushmod.Pusher.record

    def slow_record(self, outcome):
        time.sleep(0.3)  # the next scans run before this batch is recorded
        real_record(self, outcome)

    monkeypatch.setattr(pushmod.Pusher, "record", slow_record)
    result = engine.run_once(settings, client=client_for(url), pull=False, batch_size=1)
    assert result.status == "ok", result.message
    assert result.pushed == 3, "each cell counted once"
    assert sorted(m["mark"] for m in store.state()["marks"]) == ["2", "4", "5"]
    assert sorted(store.state()["writeCounts"].values()) == [1, 1, 2]  # a: first_sync too
    assert outbox.counts()["pending"] == 0


def test_a_stopping_worker_sends_no_further_request_and_records_what_it_sent(
    school, upstream, settings, monkeypatch
):
    """SIGTERM while a request is out: that request is awaited and recorded, no other
    one leaves (a slow АСУ РСО holds the stop up by one request), the rest waits."""
    from appliance.sync.netschool import NetSchoolClient

    url, store, _ = upstream
    lesson, assignment = first_sync(school, settings, url)
    user = teacher(school)
    students = school.students["5А"][:3]
    for student in students:  # the first one had "4" (first_sync)
        journal.set_mark(assignment, student.id, "5", user=user, ip="t")
    stop = threading.Event()
    real_quickedit = NetSchoolClient.quickedit

    def quickedit(self, *args, **kwargs):
        answer = real_quickedit(self, *args, **kwargs)
        stop.set()  # SIGTERM arrives while this request is out
        return answer

    monkeypatch.setattr(NetSchoolClient, "quickedit", quickedit)
    result = engine.run_once(settings, client=client_for(url), pull=True, batch_size=1, stop=stop)
    assert result.status == "ok", result.message
    assert result.pushed == 1 and result.pulled == 0  # no pull after a stop
    assert [m["mark"] for m in store.state()["marks"]] == ["5"]  # the one request out
    accepted = Mark.select().where(Mark.published_at.is_null(False)).count()
    assert accepted == 1, "what went out is recorded"
    assert outbox.counts()["pending"] == 2  # the rest goes with the next run
    monkeypatch.undo()
    OutboxEntry.update(next_attempt_at=None).execute()  # its retry time has come
    assert engine.run_once(settings, client=client_for(url), pull=False).status == "ok"
    assert [m["mark"] for m in store.state()["marks"]] == ["5", "5", "5"]
    assert sorted(store.state()["writeCounts"].values()) == [1, 1, 2]  # the first: 2 edits


def test_a_session_that_answers_nonsense_is_not_reused(settings):
    """A server that answers an ended session with a page (200, not JSON) must not keep
    the session looking fresh: the next run logs in again."""
    from appliance.sync.netschool import SESSION_REUSE, NetSchoolClient, ProtocolError, Response

    class Page:
        def send(self, method, url, headers, body, timeout):
            return Response(200, {"content-type": "text/html"}, b"<html>login</html>")

    client = NetSchoolClient("http://asu.example", "ezh-sync", "x", 1, session=Page())
    client.at = "token"  # a session the loop holds
    with pytest.raises(ProtocolError):
        client.context()
    assert client.idle() >= SESSION_REUSE  # the next run logs in
