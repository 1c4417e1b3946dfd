"""The outbox: coalescing, order, backoff, parking, acceptance and crash replay."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from peewee import OperationalError

from appliance import journal, publishing
from appliance.models import Assignment, Lesson, Mark, OutboxEntry, WorkType, now
from appliance.sync import outbox


@pytest.fixture
def upstream():
    publishing.configure(True)
    yield
    publishing.configure(False)


@pytest.fixture
def j(school, upstream):
    WorkType.create(name="Ответ на уроке", short_name="Отв", weight=1, is_default=True)
    teacher = school.users["teacher"]
    lesson = Lesson.select().where(Lesson.date == dt.date.today()).order_by(Lesson.number).first()
    assignment = journal.default_assignment(lesson, user=teacher, ip="")
    return school, teacher, lesson, assignment


def _mark(j, value: str, index: int = 0):
    school, teacher, _, assignment = j
    student = school.students["5А"][index]
    return journal.set_mark(assignment, student.id, value, user=teacher, ip="")


def _item_for(items, entity_uuid):
    return next(i for i in items if i.entity_uuid == entity_uuid)


def test_three_edits_of_one_mark_go_as_one_item_with_the_last_value(j):
    first = _mark(j, "3")
    _mark(j, "4")
    _mark(j, "5")
    entries = OutboxEntry.select().where(OutboxEntry.entity_uuid == first.uuid).count()
    assert entries == 3
    item = _item_for(outbox.pending_batch(100), first.uuid)
    assert item.op == "upsert" and item.payload["value"] == "5"
    assert len(item.seqs) == 3 and item.entity_type == "Mark"


def test_an_edit_then_a_clear_goes_as_one_delete(j):
    mark = _mark(j, "4")
    assert _mark(j, "") is None
    item = _item_for(outbox.pending_batch(100), mark.uuid)
    assert item.op == "delete" and len(item.seqs) == 2
    # The natural key of what to clear upstream comes with it.
    assert item.last_known["value"] == "4" and item.last_known["student"] == mark.student_id
    assert item.last_known["assignment"] == mark.assignment_id


def test_items_keep_the_order_of_their_first_entry(j):
    first = _mark(j, "3", 0)
    second = _mark(j, "4", 1)
    _mark(j, "5", 0)  # a later edit of the first cell does not move it behind the second
    items = outbox.pending_batch(100)
    order = [i.entity_uuid for i in items]
    assert order.index(first.uuid) < order.index(second.uuid)
    assert [i.first_seq for i in items] == sorted(i.first_seq for i in items)
    # The assignment (created before its marks) goes first.
    assert items[0].entity_type in ("Assignment", "Lesson")


def test_limit_counts_items_not_entries(j):
    for value in ("3", "4", "5"):
        _mark(j, value, 0)
    _mark(j, "5", 1)
    total = len(outbox.pending_batch(100))
    assert len(outbox.pending_batch(1)) == 1
    assert len(outbox.pending_batch(total - 1)) == total - 1


def test_a_waiting_cell_edited_twice_does_not_hold_back_the_cells_behind_it(j):
    twice = _mark(j, "3", 0)
    _mark(j, "4", 0)
    items = outbox.pending_batch(100)
    outbox.mark_accepted([i for i in items if i.entity_uuid != twice.uuid])
    outbox.mark_failed([_item_for(items, twice.uuid)], "нет связи", rng=random.Random(1))
    behind = _mark(j, "5", 1)
    # The worker's "anything to send?" asks for one item: not the waiting cell before it.
    assert [i.entity_uuid for i in outbox.pending_batch(1)] == [behind.uuid]
    later = now() + dt.timedelta(seconds=outbox.BACKOFF_CAP + 1)
    again = _item_for(outbox.pending_batch(100, now_=later), twice.uuid)
    assert again.payload["value"] == "4" and len(again.seqs) == 2 and again.attempts == 1


def test_backoff_grows_with_jitter_within_bounds_and_a_cap():
    rng = random.Random(7)
    for attempts in range(1, 15):
        full = min(outbox.BACKOFF_CAP, outbox.BACKOFF_BASE * 2 ** (attempts - 1))
        samples = [outbox.backoff(attempts, rng) for _ in range(200)]
        assert all(full / 2 <= s <= full for s in samples)
        assert len(set(samples)) > 100  # jittered
    assert outbox.backoff(10_000, rng) <= outbox.BACKOFF_CAP
    means = [sum(outbox.backoff(a, rng) for _ in range(100)) / 100 for a in (1, 3, 5)]
    assert means[0] < means[1] < means[2]


def test_a_failed_item_waits_for_its_backoff(j):
    mark = _mark(j, "4")
    item = _item_for(outbox.pending_batch(100), mark.uuid)
    at = now()
    outbox.mark_failed([item], "нет связи", now_=at, rng=random.Random(1))
    entry = OutboxEntry.get(OutboxEntry.seq == item.last_seq)
    assert entry.attempts == 1 and entry.last_error == "нет связи"
    assert mark.uuid not in {i.entity_uuid for i in outbox.pending_batch(100, at)}
    later = at + dt.timedelta(seconds=outbox.BACKOFF_BASE + 1)
    again = _item_for(outbox.pending_batch(100, later), mark.uuid)
    assert again.attempts == 1
    retry_at = later + dt.timedelta(minutes=10)  # Retry-After longer than the backoff
    outbox.mark_failed([again], "429", retry_at, now_=later)
    entry = OutboxEntry.get(OutboxEntry.seq == item.last_seq)
    assert entry.attempts == 2 and entry.next_attempt_at == retry_at


def test_a_parked_cell_is_skipped_and_a_new_edit_unparks_it(j):
    mark = _mark(j, "4")
    other = _mark(j, "3", 1)
    item = _item_for(outbox.pending_batch(100), mark.uuid)
    outbox.park(item, "Ученик не найден в АСУ РСО")
    uuids = {i.entity_uuid for i in outbox.pending_batch(100)}
    assert mark.uuid not in uuids and other.uuid in uuids  # the rest continue
    assert OutboxEntry.get(OutboxEntry.seq == item.last_seq).last_error.startswith("Ученик")
    _mark(j, "5")
    fresh = _item_for(outbox.pending_batch(100), mark.uuid)
    assert fresh.payload["value"] == "5" and set(item.seqs) < set(fresh.seqs)
    outbox.mark_accepted([fresh])
    states = {e.state for e in OutboxEntry.select().where(OutboxEntry.entity_uuid == mark.uuid)}
    assert states == {"accepted"}


def test_acceptance_stamps_published_at_and_the_diary_shows_it(j):
    mark = _mark(j, "5")
    assert Mark.get_by_id(mark.id).published_at is None
    assert not Mark.select().where(publishing.visible(Mark) & (Mark.id == mark.id)).exists()
    items = outbox.pending_batch(100)
    outbox.mark_accepted(items, now() - dt.timedelta(seconds=1))
    assert Mark.select().where(publishing.visible(Mark) & (Mark.id == mark.id)).exists()
    assignment = j[3]
    assert Assignment.get_by_id(assignment.id).published_at is not None  # it went too
    assert outbox.counts()["pending"] == 0
    assert outbox.pending_batch(100) == []


def test_a_newer_edit_during_the_send_is_not_published_as_accepted(j):
    mark = _mark(j, "4")
    items = outbox.pending_batch(100)
    _mark(j, "5")  # typed while the batch was on its way
    outbox.mark_accepted(items)
    assert Mark.get_by_id(mark.id).published_at is None  # "5" is not accepted yet
    fresh = _item_for(outbox.pending_batch(100), mark.uuid)
    assert fresh.payload["value"] == "5" and len(fresh.seqs) == 1
    outbox.mark_accepted([fresh])
    assert Mark.get_by_id(mark.id).published_at is not None


def test_a_crash_between_send_and_accept_resends_the_batch(j):
    mark = _mark(j, "5")
    sent = []
    batch = outbox.pending_batch(100)
    sent.extend(batch)  # the upstream got it ... and the worker died before recording it
    replay = outbox.pending_batch(100)
    assert [(i.entity_uuid, i.seqs, i.payload) for i in replay] == [
        (i.entity_uuid, i.seqs, i.payload) for i in batch
    ]
    assert Mark.get_by_id(mark.id).published_at is None
    outbox.mark_accepted(replay)
    assert outbox.pending_batch(100) == []


def test_prune_deletes_only_accepted_entries(j):
    _mark(j, "5")
    _mark(j, "4", 1)
    items = outbox.pending_batch(100)
    outbox.park(items[-1], "закрыт период")
    outbox.mark_accepted(items[:-1], now() - dt.timedelta(days=40))
    _mark(j, "3", 2)  # pending
    before = outbox.counts()
    deleted = outbox.prune(now() - dt.timedelta(days=30))
    after = outbox.counts()
    assert deleted == before["accepted"] > 0 and after["accepted"] == 0
    assert after["pending"] == before["pending"] > 0
    assert after["parked"] == before["parked"] > 0


def test_a_crash_inside_mark_accepted_leaves_everything_pending(j, monkeypatch):
    mark = _mark(j, "5")
    batch = outbox.pending_batch(100)

    class Crash:  # the stamping of the rows fails after the entries were updated
        class _meta:  # noqa: N801 — stands in for a model's _meta
            table_name = "power_cut"

    monkeypatch.setitem(outbox.PUBLISHED_MODELS, "Mark", Crash)
    with pytest.raises(OperationalError):
        outbox.mark_accepted(batch)
    monkeypatch.undo()
    assert outbox.counts()["accepted"] == 0  # one transaction: nothing half-accepted
    replay = outbox.pending_batch(100)
    assert [i.seqs for i in replay] == [i.seqs for i in batch]
    outbox.mark_accepted(replay)
    assert Mark.get_by_id(mark.id).published_at is not None
