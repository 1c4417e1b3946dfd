"""Conflicts with АСУ РСО: who sees them, «Оставить моё», «Взять из АСУ РСО», scope."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.db import write
from appliance.models import (
    Attendance,
    AuditEntry,
    Lesson,
    Mark,
    OutboxEntry,
    SyncConflict,
)
from appliance.sync import conflicts

from . import sync_support
from .factories import PASSWORD
from .sync_support import conflict, other_group, put_mark, today_lesson

app = sync_support.app  # the app with the sync pages


def _mark_conflict(school, local: str = "4", remote: str = "5") -> tuple[Mark, SyncConflict]:
    mark = put_mark(school, local)
    found = conflict(
        school.group.id,
        {"kind": "mark", "assignment_id": mark.assignment_id, "student_id": mark.student_id},
        local=local,
        remote=remote,
        entity_uuid=mark.uuid,
    )
    return mark, found


def test_teachers_see_their_groups_conflicts_and_the_office_all(school):
    own = conflict(school.group.id, {"kind": "topic", "lesson_id": today_lesson().id})
    theirs = conflict(other_group(school).id, {"kind": "topic", "lesson_id": 1})
    teacher, other = school.users["teacher"], school.users["class_teacher"]
    assert [c.id for c in conflicts.open_for(teacher, "teacher")] == [own.id]
    assert [c.id for c in conflicts.open_for(other, "teacher")] == [theirs.id]
    assert {c.id for c in conflicts.open_for(school.users["deputy"], "deputy")} == {
        own.id,
        theirs.id,
    }
    assert conflicts.open_for(school.users["student"], "student") == []
    assert conflicts.find_mine(theirs.id, teacher) is None
    assert conflicts.find_mine(own.id, teacher).id == own.id
    assert conflicts.find_mine("x", teacher) is None
    [row] = conflicts.rows([own])
    assert row.group == "Математика — 5А" and row.kind == "тема урока" and row.shown == "4"


def test_confirm_resolves_once_and_is_audited(school):
    _, found = _mark_conflict(school)
    teacher = school.users["teacher"]
    done = conflicts.confirm(found, teacher, "10.0.0.5")
    assert done.resolved_at is not None and done.resolved_by == "smirnova.ev"
    assert done.chosen == "local"
    audit = AuditEntry.select().order_by(AuditEntry.seq.desc()).first()
    assert (audit.action, audit.entity_type, audit.ip) == (
        "sync_conflict.confirm",
        "SyncConflict",
        "10.0.0.5",
    )
    with pytest.raises(conflicts.ConflictError, match="уже разобрано"):
        conflicts.confirm(found, teacher)
    assert conflicts.open_for(teacher, "teacher") == []


def test_take_remote_mark_is_an_ordinary_journal_edit(school):
    mark, found = _mark_conflict(school, local="4", remote="5")
    queued = OutboxEntry.select().where(OutboxEntry.entity_uuid == mark.uuid).count()
    done = conflicts.take_remote(found, school.users["teacher"], "")
    assert Mark.get_by_id(mark.id).value == "5"
    assert (done.chosen, done.resolved_by) == ("remote", "smirnova.ev")
    # Queued for АСУ РСО like any edit, and audited as the teacher's mark.
    assert OutboxEntry.select().where(OutboxEntry.entity_uuid == mark.uuid).count() == queued + 1
    actions = [a.action for a in AuditEntry.select().order_by(AuditEntry.seq.desc()).limit(2)]
    assert actions == ["sync_conflict.take_remote", "mark.set"]


def test_take_remote_clears_a_mark_when_asu_rso_has_none(school):
    mark, found = _mark_conflict(school, local="3", remote="")
    conflicts.take_remote(found, school.users["teacher"])
    assert Mark.get_or_none(Mark.id == mark.id) is None


def test_take_remote_attendance_topic_and_homework(school):
    teacher = school.users["teacher"]
    lesson = today_lesson()
    student = school.students["5А"][1]
    group = school.group.id
    absent = conflict(
        group,
        {"kind": "attendance", "lesson_id": lesson.id, "student_id": student.id},
        local="",
        remote="Н",
    )
    topic = conflict(group, {"kind": "topic", "lesson_id": lesson.id}, local="", remote="Дроби")
    homework = conflict(
        group, {"kind": "homework", "lesson_id": lesson.id}, local="", remote="№ 12, 14"
    )
    for found in (absent, topic, homework):
        conflicts.take_remote(found, teacher)
    row = Attendance.get((Attendance.lesson == lesson) & (Attendance.student == student))
    assert row.code == "Н"
    lesson = Lesson.get_by_id(lesson.id)
    assert (lesson.topic, lesson.homework) == ("Дроби", "№ 12, 14")
    assert conflicts.open_for(teacher, "teacher") == []


def test_take_local_restores_the_value_the_rule_replaced(school):
    """Never synced and different: АСУ РСО's value was taken; the teacher wants theirs."""
    mark = put_mark(school, "5")
    found = conflict(
        school.group.id,
        {"kind": "mark", "assignment_id": mark.assignment_id, "student_id": mark.student_id},
        local="3",
        remote="5",
        chosen="remote",
        entity_uuid=mark.uuid,
    )
    assert conflicts.rows([found])[0].shown == "5"
    done = conflicts.take_local(found, school.users["teacher"])
    assert Mark.get_by_id(mark.id).value == "3"
    assert done.chosen == "local" and done.resolved_at is not None
    last = AuditEntry.select().order_by(AuditEntry.seq.desc()).first()
    assert last.action == "sync_conflict.take_local"


def test_take_remote_refused_changes_nothing(school):
    teacher = school.users["teacher"]
    gone = conflict(school.group.id, {"kind": "mark", "assignment_id": 999, "student_id": 1})
    with pytest.raises(conflicts.ConflictError, match="больше нет"):
        conflicts.take_remote(gone, teacher)
    assert SyncConflict.get_by_id(gone.id).resolved_at is None
    # An old lesson is closed to the teacher: the journal's rule holds here too.
    with write():
        old = Lesson.create(
            group=school.group, date=dt.date.today() - dt.timedelta(days=60), number=3
        )
    locked = conflict(school.group.id, {"kind": "topic", "lesson_id": old.id}, remote="Тема")
    with pytest.raises(conflicts.ConflictError, match="разрешения заместителя"):
        conflicts.take_remote(locked, teacher)
    assert SyncConflict.get_by_id(locked.id).resolved_at is None
    assert Lesson.get_by_id(old.id).topic == ""


# --- pages ----------------------------------------------------------------------------


def test_teacher_resolves_own_conflicts_on_the_page(browser, school):
    mark, found = _mark_conflict(school, local="4", remote="5")
    browser.login("smirnova.ev", PASSWORD)
    page = browser.get("/sync/mine").get_data(as_text=True)
    assert "Иванов Пётр, 05.11, отметка" in page and "Взять из АСУ РСО" in page
    assert "Оставить моё" in page
    answer = browser.post("/sync/mine/take-remote", {"conflict": str(found.id)})
    assert answer.status_code == 302
    assert Mark.get_by_id(mark.id).value == "5"
    assert SyncConflict.get_by_id(found.id).chosen == "remote"
    # resolved: a second press finds nothing to resolve
    assert browser.post("/sync/mine/confirm", {"conflict": str(found.id)}).status_code == 404
    # the rule kept АСУ РСО's value: the other button brings the teacher's back
    kept = conflict(
        school.group.id,
        {"kind": "topic", "lesson_id": today_lesson().id},
        local="Дроби",
        remote="",
        chosen="remote",
    )
    page = browser.get("/sync/mine").get_data(as_text=True)
    assert "Вернуть моё" in page and "Оставить из АСУ РСО" in page
    assert browser.post("/sync/mine/take-local", {"conflict": str(kept.id)}).status_code == 302
    assert today_lesson().topic == "Дроби"


def test_another_teachers_conflict_is_404_and_empty_post_is_safe(browser, school):
    theirs = conflict(other_group(school).id, {"kind": "topic", "lesson_id": 1})
    _, own = _mark_conflict(school)
    browser.login("smirnova.ev", PASSWORD)
    assert "Иванов Пётр, 05.11" in browser.get("/sync/mine").get_data(as_text=True)
    for url in ("/sync/mine/confirm", "/sync/mine/take-remote", "/sync/mine/take-local"):
        assert browser.post(url, {"conflict": str(theirs.id)}).status_code == 404
        assert browser.post(url).status_code == 400
    assert SyncConflict.get_by_id(theirs.id).resolved_at is None
    assert SyncConflict.get_by_id(own.id).resolved_at is None
    assert browser.post("/sync/mine/confirm", {"conflict": str(own.id)}).status_code == 302
    assert SyncConflict.get_by_id(own.id).resolved_at is not None


def test_office_reads_every_conflict_others_are_refused(browser, school):
    conflict(other_group(school).id, {"kind": "topic", "lesson_id": 1}, description="Тема 5Б")
    conflict(school.group.id, {"kind": "topic", "lesson_id": 1}, description="Тема 5А")
    browser.login("belova.os", PASSWORD)
    page = browser.get("/sync/").get_data(as_text=True)
    assert "Тема 5Б" in page and "Тема 5А" in page and "Русский язык — 5Б" in page
    assert "Взять из АСУ РСО</button>" not in page  # the office reads; the teacher decides
    for username in ("titov.pa", "ivanov.p"):
        browser.logout()
        browser.login(username, PASSWORD)
        assert browser.get("/sync/").status_code == 403
    # the teacher's page is for those who write the journal
    answer = browser.get("/sync/mine")
    assert answer.status_code == 403 and "Тема 5А" not in answer.get_data(as_text=True)
