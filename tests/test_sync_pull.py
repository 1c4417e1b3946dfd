# ruff: noqa: F811 — the fixtures come from test_sync_push
"""The pull: АСУ РСО's changes come into the box; a cell changed on both sides is a conflict."""

from __future__ import annotations

from appliance import journal
from appliance.models import AuditEntry, Lesson, Mark, OutboxEntry, SyncConflict
from appliance.sync import engine, match

from .test_sync_push import client_for, lesson_today, school, teacher, upstream  # noqa: F401


def remote_id(entity: str, uuid: str) -> int:
    return int(match.known(entity)[uuid])


def upstream_mark(store, lesson, student, value, type_id=1):
    """Someone types a mark straight into АСУ РСО (type 1: the default work type)."""
    cm, person = remote_id("Lesson", lesson.uuid), remote_id("Person", student.uuid)
    store.quickedit(
        {
            "sgId": store.query("SELECT sg_id FROM class_meeting WHERE id = ?", cm)[0]["sg_id"],
            "results": [{"cmId": cm, "assignTypeId": type_id, "studentId": person, "mark": value}],
        }
    )


def sync(settings, url):
    result = engine.run_once(settings, client=client_for(url), pull=True)
    assert result.status == "ok", result.message
    return result


def first_sync(school, settings, url):
    """Match the ids (a first mark goes up and is accepted)."""
    lesson = lesson_today(school)
    assignment = journal.default_assignment(lesson, user=teacher(school), ip="t")
    journal.set_mark(assignment, school.students["5А"][0].id, "4", user=teacher(school), ip="t")
    sync(settings, url)
    return lesson, assignment


def test_a_change_made_in_asu_rso_comes_into_the_box(school, upstream, settings):
    url, store, _ = upstream
    lesson, assignment = first_sync(school, settings, url)
    student = school.students["5А"][0]
    upstream_mark(store, lesson, student, "2")
    result = sync(settings, url)
    assert result.pulled == 1 and result.conflicts == 0
    mark = Mark.get((Mark.assignment == assignment) & (Mark.student == student))
    assert mark.value == "2"
    assert mark.published_at is not None
    assert AuditEntry.select().where(AuditEntry.action == "mark.pull").count() == 1
    # taken from upstream: nothing to send back
    assert not OutboxEntry.select().where(OutboxEntry.state == "pending").exists()
    before = store.state()["writeCounts"]
    sync(settings, url)
    assert store.state()["writeCounts"] == before


def test_a_new_mark_and_a_topic_from_asu_rso(school, upstream, settings):
    url, store, _ = upstream
    lesson, assignment = first_sync(school, settings, url)
    other = school.students["5А"][1]
    upstream_mark(store, lesson, other, "5")
    cm = remote_id("Lesson", lesson.uuid)
    store.edit_lesson(cm, None, {"theme": "Сложение дробей"})
    sync(settings, url)
    assert Mark.get((Mark.assignment == assignment) & (Mark.student == other)).value == "5"
    assert Lesson.get_by_id(lesson.id).topic == "Сложение дробей"


def test_a_mark_deleted_in_asu_rso_is_deleted_here(school, upstream, settings):
    url, store, _ = upstream
    lesson, assignment = first_sync(school, settings, url)
    student = school.students["5А"][0]
    upstream_mark(store, lesson, student, None)
    sync(settings, url)
    assert not Mark.select().where(Mark.assignment == assignment).exists()


def test_both_sides_changed_is_a_conflict_the_box_value_wins(school, upstream, settings):
    url, store, _ = upstream
    lesson, assignment = first_sync(school, settings, url)
    student = school.students["5А"][0]
    upstream_mark(store, lesson, student, "2")
    journal.set_mark(assignment, student.id, "5", user=teacher(school), ip="t")
    # push first (sends 5 over the 2), then the pull sees АСУ РСО = 5: no conflict left
    # to note … so pull before the push, as a run that was offline for the push would:
    from appliance.sync.pull import pull_journals

    client = client_for(url)
    result = pull_journals(client)
    assert result.conflicts == 1
    conflict = SyncConflict.get()
    assert (conflict.local_value, conflict.remote_value, conflict.chosen) == ("5", "2", "local")
    assert conflict.group_id == school.group.id
    assert "отметка" in conflict.description
    assert Mark.get((Mark.assignment == assignment) & (Mark.student == student)).value == "5"
    sync(settings, url)
    marks = [m["mark"] for m in store.state()["marks"]]
    assert marks == ["5"]
    sync(settings, url)  # settled: no new conflict on the next runs
    assert SyncConflict.select().count() == 1


def test_never_synced_cells_asu_rso_wins_and_the_box_value_is_kept(school, upstream, settings):
    url, store, _ = upstream
    lesson, assignment = first_sync(school, settings, url)
    other = school.students["5А"][1]
    # a box mark written before the sync existed: no outbox entry, no base
    Mark.create(
        uuid=journal.cell_uuid(assignment.uuid, other),
        assignment=assignment,
        student=other,
        value="3",
    )
    upstream_mark(store, lesson, other, "4")
    sync(settings, url)
    assert Mark.get((Mark.assignment == assignment) & (Mark.student == other)).value == "4"
    conflict = SyncConflict.get()
    assert (conflict.local_value, conflict.remote_value, conflict.chosen) == ("3", "4", "remote")
