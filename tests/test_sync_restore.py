# ruff: noqa: F811 — the fixtures come from test_sync_push
"""After a restore from a backup the box's unsent edits may be older than АСУ РСО's
values: the first sync reads every journal back with АСУ РСО winning, before it sends."""

from __future__ import annotations

from appliance import journal
from appliance.db import write
from appliance.models import Mark, OutboxEntry, School, SyncConflict, new_uuid
from appliance.sync import engine

from .test_sync_pull import first_sync, sync, upstream_mark
from .test_sync_push import client_for, school, set_faults, teacher, upstream  # noqa: F401


def restore(settings) -> None:
    """What `ezh restore` does to the database, as far as the sync can tell."""
    with write():
        School.update(instance_id=new_uuid()).execute()


def test_after_a_restore_asu_rso_wins_and_the_stale_edit_is_not_sent(school, upstream, settings):
    url, store, _ = upstream
    lesson, assignment = first_sync(school, settings, url)  # mark "4" synced
    student = school.students["5А"][0]
    assert (settings.data_dir / engine.INSTANCE_FILE).exists()
    # The backup held an unsent "3"; after it was made, the cell became "5" upstream.
    journal.set_mark(assignment, student.id, "3", user=teacher(school), ip="t")
    upstream_mark(store, lesson, student, "5")
    writes = dict(store.state()["writeCounts"])
    restore(settings)

    result = sync(settings, url)

    mark = Mark.get((Mark.assignment == assignment) & (Mark.student == student))
    assert mark.value == "5"  # АСУ РСО's value taken
    assert mark.published_at is not None
    assert store.state()["writeCounts"] == writes  # the stale "3" never went up
    conflict = SyncConflict.get()
    assert (conflict.local_value, conflict.remote_value, conflict.chosen) == ("3", "5", "remote")
    entry = OutboxEntry.get(OutboxEntry.entity_uuid == mark.uuid, OutboxEntry.state == "skipped")
    assert "восстановлена из резервной копии" in entry.last_error
    assert result.conflicts == 1
    # the new database's id is written down: the next run is an ordinary one
    assert not engine.restored(settings)


def test_without_a_restore_the_teachers_fresh_edit_goes_up(school, upstream, settings):
    """The same cells with no restore: the teacher's fresh edit is the newest, it is sent."""
    url, store, _ = upstream
    lesson, assignment = first_sync(school, settings, url)
    student = school.students["5А"][0]
    journal.set_mark(assignment, student.id, "3", user=teacher(school), ip="t")
    upstream_mark(store, lesson, student, "5")
    sync(settings, url)
    assert Mark.get((Mark.assignment == assignment) & (Mark.student == student)).value == "3"
    assert "3" in {m["mark"] for m in store.state()["marks"]}
    assert "5" not in {m["mark"] for m in store.state()["marks"]}


def test_after_a_restore_an_edit_asu_rso_never_saw_is_still_sent(school, upstream, settings):
    url, store, _ = upstream
    lesson, assignment = first_sync(school, settings, url)
    other = school.students["5А"][1]
    journal.set_mark(assignment, other.id, "2", user=teacher(school), ip="t")
    restore(settings)

    sync(settings, url)

    assert [m["mark"] for m in store.state()["marks"] if m["mark"] == "2"] == ["2"]
    assert not SyncConflict.select().exists()
    assert not OutboxEntry.select().where(OutboxEntry.state == "pending").exists()


def test_a_failed_reconcile_is_done_again_before_anything_is_sent(school, upstream, settings):
    url, store, app = upstream
    lesson, assignment = first_sync(school, settings, url)
    student = school.students["5А"][0]
    journal.set_mark(assignment, student.id, "3", user=teacher(school), ip="t")
    upstream_mark(store, lesson, student, "5")
    restore(settings)
    set_faults(app, error_rate=1.0)
    offline = engine.run_once(settings, client=client_for(url), pull=True)
    assert offline.status != "ok"
    assert engine.restored(settings)  # not settled: the next run reconciles first
    set_faults(app)
    sync(settings, url)
    assert Mark.get((Mark.assignment == assignment) & (Mark.student == student)).value == "5"
