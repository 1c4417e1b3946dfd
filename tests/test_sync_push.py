"""The push end to end: box → NetSchool client → emulator, with ids matched by names."""

from __future__ import annotations

import pytest

from appliance import journal, publishing
from appliance.db import write
from appliance.models import IdMap, Mark, OutboxEntry, SyncCell, SyncRun, WorkType
from appliance.sync import engine, outbox
from appliance.sync.emulator import (
    DB_NAME,
    EmulatorStore,
    Faults,
    create_emulator,
    seed_from_box,
)
from appliance.sync.netschool import NetSchoolClient
from appliance.sync.push import Pusher

from .browser_support import served
from .factories import SchoolFactory

LOGIN, PASSWORD = "ezh-sync", "Синхро-Пароль-1"


@pytest.fixture
def school(db):
    school = SchoolFactory.build()
    school.add_planning()
    with write():
        WorkType.create(name="Ответ на уроке", short_name="О", weight=1, is_default=True)
        WorkType.create(name="Контрольная работа", short_name="К", weight=3)
    return school


@pytest.fixture
def upstream(school, tmp_path):
    """The emulator seeded from the box (before any mark), served on a free port."""
    store = EmulatorStore(tmp_path / "emu" / DB_NAME)
    seed_from_box(store, tmp_path / "ezh.sqlite3", LOGIN, PASSWORD)
    app = create_emulator(tmp_path / "emu")
    publishing.configure(True)
    with served(app) as url:
        yield url, store, app
    publishing.configure(False)


def client_for(url: str) -> NetSchoolClient:
    return NetSchoolClient(url, LOGIN, PASSWORD, 1, timeout=5)


def set_faults(app, **faults) -> None:
    app.extensions["emulator"]["dice"].set(Faults(**faults))


def teacher(school):
    return school.users["teacher"]


def lesson_today(school):
    return school.group.lessons.order_by("date", "number").first()


def test_a_mark_reaches_the_emulator_once_and_becomes_published(school, upstream, settings):
    url, store, _ = upstream
    lesson = lesson_today(school)
    student = school.students["5А"][0]
    assignment = journal.default_assignment(lesson, user=teacher(school), ip="t")
    journal.set_mark(assignment, student.id, "4", user=teacher(school), ip="t")
    journal.set_mark(assignment, student.id, "5", user=teacher(school), ip="t")
    mark = Mark.get()
    assert mark.published_at is None  # waits for АСУ РСО

    result = engine.run_once(settings, client=client_for(url), pull=False)

    assert result.status == "ok", result.message
    state = store.state()
    assert [(m["mark"]) for m in state["marks"]] == ["5"]  # coalesced: only the latest
    assert list(state["writeCounts"].values()) == [1]
    assert Mark.get().published_at is not None
    assert outbox.counts()["pending"] == 0
    assert IdMap.select().where(IdMap.entity_type == "Lesson").count() >= 1
    assert SyncCell.get(SyncCell.entity_uuid == mark.uuid).value == "5"
    assert SyncRun.select().order_by(SyncRun.id.desc()).first().status == "ok"


def test_clearing_a_mark_clears_it_upstream(school, upstream, settings):
    url, store, _ = upstream
    lesson = lesson_today(school)
    student = school.students["5А"][0]
    assignment = journal.default_assignment(lesson, user=teacher(school), ip="t")
    journal.set_mark(assignment, student.id, "3", user=teacher(school), ip="t")
    engine.run_once(settings, client=client_for(url), pull=False)
    journal.set_mark(assignment, student.id, "", user=teacher(school), ip="t")
    result = engine.run_once(settings, client=client_for(url), pull=False)
    assert result.status == "ok", result.message
    assert store.state()["marks"] == []


def test_attendance_topic_and_homework_go_up(school, upstream, settings):
    url, store, _ = upstream
    lesson = lesson_today(school)
    student = school.students["5А"][1]
    journal.set_attendance(lesson, student.id, "Б", user=teacher(school), ip="t")
    journal.set_topic(lesson, "Дроби", user=teacher(school), ip="t")
    journal.set_homework(lesson, "№ 12, 14", user=teacher(school), ip="t")
    result = engine.run_once(settings, client=client_for(url), pull=False)
    assert result.status == "ok", result.message
    state = store.state()
    assert [a["reason"] for a in state["attendance"]] == ["missedIll"]
    assert [(x["theme"], x["homework"]) for x in state["lessons"]] == [("Дроби", "№ 12, 14")]
    counts = state["writeCounts"]
    assert sum(v for k, v in counts.items() if k.startswith("theme:")) == 1
    assert sum(v for k, v in counts.items() if k.startswith("homework:")) == 1


def test_offline_keeps_everything_pending_and_unpublished(school, upstream, settings):
    url, store, app = upstream
    lesson = lesson_today(school)
    assignment = journal.default_assignment(lesson, user=teacher(school), ip="t")
    journal.set_mark(assignment, school.students["5А"][0].id, "5", user=teacher(school), ip="t")
    set_faults(app, maintenance=True)
    result = engine.run_once(settings, client=client_for(url), pull=False)
    assert result.status == "offline"
    assert "обслуживан" in result.message or "работы" in result.message
    assert Mark.get().published_at is None
    assert OutboxEntry.select().where(OutboxEntry.state == "pending").count() >= 1
    set_faults(app, maintenance=False)
    OutboxEntry.update(next_attempt_at=None).execute()
    assert engine.run_once(settings, client=client_for(url), pull=False).status == "ok"
    assert Mark.get().published_at is not None


def test_a_lost_answer_is_read_back_not_written_twice(school, upstream, settings):
    url, store, app = upstream
    lesson = lesson_today(school)
    assignment = journal.default_assignment(lesson, user=teacher(school), ip="t")
    journal.set_mark(assignment, school.students["5А"][0].id, "4", user=teacher(school), ip="t")
    engine.run_once(settings, client=client_for(url), pull=False)  # ids matched
    journal.set_mark(assignment, school.students["5А"][1].id, "3", user=teacher(school), ip="t")
    set_faults(app, drop_after_commit_rate=1.0)
    result = engine.run_once(settings, client=client_for(url), pull=False)
    set_faults(app)
    assert result.status == "ok", result.message  # the read-back found it applied
    counts = store.state()["writeCounts"]
    assert sorted(counts.values()) == [1, 1]
    assert outbox.counts()["pending"] == 0


def test_a_rejected_change_is_parked_and_the_rest_go_on(school, upstream, settings):
    url, store, app = upstream
    lesson = lesson_today(school)
    assignment = journal.default_assignment(lesson, user=teacher(school), ip="t")
    first, second = school.students["5А"][:2]
    journal.set_mark(assignment, first.id, "5", user=teacher(school), ip="t")
    journal.set_mark(assignment, second.id, "4", user=teacher(school), ip="t")
    engine.run_once(settings, client=client_for(url), pull=False)  # match ids
    with store.tx() as con:  # АСУ РСО no longer has the second student in the group
        con.execute(
            "DELETE FROM sg_student WHERE student_id = ?",
            (
                IdMap.get(
                    (IdMap.entity_type == "Person") & (IdMap.local_uuid == second.uuid)
                ).remote_id,
            ),
        )
    journal.set_mark(assignment, first.id, "3", user=teacher(school), ip="t")
    journal.set_mark(assignment, second.id, "2", user=teacher(school), ip="t")
    result = engine.run_once(settings, client=client_for(url), pull=False)
    assert result.status == "ok", result.message
    assert result.parked == 1
    parked = OutboxEntry.select().where(OutboxEntry.state == "parked").first()
    # АСУ РСО's own ids named as the box names them
    assert parked.last_error.startswith("АСУ РСО не приняла: Неизвестный ученик")
    assert f"ученик {second.last_name} {second.first_name} в группе «{school.group.name}»" in (
        parked.last_error
    )
    assert sorted(m["mark"] for m in store.state()["marks"]) == ["3", "4"]


def test_roster_changes_are_skipped_not_sent(school, upstream, settings):
    url, store, _ = upstream
    # the factory's people were created through the outbox too (person.create …)
    before = outbox.counts()
    result = engine.run_once(settings, client=client_for(url), pull=False)
    assert result.status == "ok", result.message
    after = outbox.counts()
    assert after["pending"] == 0
    assert after["skipped"] >= before["pending"] - after["accepted"]


def test_wrong_password_needs_a_person(school, upstream, settings):
    url, _, _ = upstream
    bad = NetSchoolClient(url, LOGIN, "не тот", 1, timeout=5)
    lesson = lesson_today(school)
    assignment = journal.default_assignment(lesson, user=teacher(school), ip="t")
    journal.set_mark(assignment, school.students["5А"][0].id, "5", user=teacher(school), ip="t")
    result = engine.run_once(settings, client=bad, pull=False)
    assert result.status == "needs_action"
    assert "логин или пароль" in result.message
    assert OutboxEntry.select().where(OutboxEntry.state == "pending").count() >= 1


def test_while_a_new_value_waits_readers_see_the_accepted_one(school, upstream, settings):
    from appliance import diary
    from appliance.diary import marks as diary_marks

    url, _, app = upstream
    lesson = lesson_today(school)
    student = school.students["5А"][0]
    assignment = journal.default_assignment(lesson, user=teacher(school), ip="t")
    journal.set_mark(assignment, student.id, "5", user=teacher(school), ip="t")
    journal.set_attendance(lesson, student.id, "Б", user=teacher(school), ip="t")
    journal.set_topic(lesson, "Дроби", user=teacher(school), ip="t")
    journal.set_homework(lesson, "№ 1", user=teacher(school), ip="t")
    assert engine.run_once(settings, client=client_for(url), pull=False).status == "ok"

    set_faults(app, maintenance=True)  # АСУ РСО away; the teacher corrects everything
    journal.set_mark(assignment, student.id, "3", user=teacher(school), ip="t")
    journal.set_attendance(lesson, student.id, "Н", user=teacher(school), ip="t")
    journal.set_topic(lesson, "Сложение дробей", user=teacher(school), ip="t")
    journal.set_homework(lesson, "№ 2", user=teacher(school), ip="t")
    assert engine.run_once(settings, client=client_for(url), pull=False).status == "offline"

    def seen():
        row = next(
            r
            for day in diary.week(student, lesson.date).days
            for r in day.lessons
            if r.lesson.id == lesson.id
        )
        term = diary_marks.student_marks(student, lesson.date, lesson.date)
        return (
            [m.value for m in row.marks],
            row.attendance,
            row.topic,
            row.homework,
            [m.value for m in term],
        )

    assert seen() == (["5"], "Б", "Дроби", "№ 1", ["5"])
    set_faults(app)
    OutboxEntry.update(next_attempt_at=None).execute()
    assert engine.run_once(settings, client=client_for(url), pull=False).status == "ok"
    assert seen() == (["3"], "Н", "Сложение дробей", "№ 2", ["3"])


def test_a_batch_in_flight_is_recorded_when_preparing_the_next_fails(
    school, upstream, settings, monkeypatch
):
    """Batches overlap (the next is prepared while one is in flight): a failure while
    preparing must still record what the batch in flight achieved."""
    url, store, _ = upstream
    lesson = lesson_today(school)
    assignment = journal.default_assignment(lesson, user=teacher(school), ip="t")
    first, second = school.students["5А"][:2]
    journal.set_mark(assignment, first.id, "5", user=teacher(school), ip="t")
    journal.set_mark(assignment, second.id, "4", user=teacher(school), ip="t")
    prepare = Pusher.prepare
    calls = []

    def failing_second(self, items):
        calls.append(items)
        if len(calls) == 3:  # the assignment, the first mark, then the second mark
            raise RuntimeError("диск отвалился")
        return prepare(self, items)

    monkeypatch.setattr(Pusher, "prepare", failing_second)
    result = engine.run_once(settings, client=client_for(url), pull=False, batch_size=1)

    assert result.status == "error" and "диск отвалился" in result.message
    assert [m["mark"] for m in store.state()["marks"]] == ["5"]
    marks = {m.student_id: m for m in Mark.select()}
    assert marks[first.id].published_at is not None  # accepted and recorded
    assert marks[second.id].published_at is None
    assert outbox.counts()["pending"] == 1


def test_a_work_type_asu_rso_lacks_waits_with_its_reason_until_mapped(school, upstream, settings):
    """Never under another type (it would land in the wrong column there): parked with
    what to do; once the settings map it («Виды работ») and it is sent again, it goes
    under that type."""
    from appliance.sync import settings as sync_settings
    from appliance.sync import status

    url, store, _ = upstream
    with write():
        trip = WorkType.create(name="Экскурсия", short_name="Экск", weight=1)
        homework = WorkType.create(name="Домашняя работа", short_name="ДЗ", weight=1)
    lesson = lesson_today(school)
    student = school.students["5А"][0]
    user = teacher(school)
    marked = {}
    for work_type, value in ((trip, "5"), (homework, "4")):
        assignment = journal.add_assignment(lesson, work_type.id, user=user, ip="t")
        marked[work_type.name] = journal.set_mark(assignment, student.id, value, user=user, ip="t")
    sync_settings.save(settings, url=url, school="1", login=LOGIN, password=PASSWORD)

    result = engine.run_once(settings, pull=False)
    assert result.status == "ok" and result.parked == 1, result.message
    types = {m["mark"]: m["assignTypeId"] for m in store.state()["marks"]}
    assert types == {"4": 3}  # «Домашняя работа» → «Домашнее задание» by default
    parked = OutboxEntry.get(OutboxEntry.state == "parked")
    assert parked.entity_uuid == marked["Экскурсия"].uuid
    assert "нет вида работы «Экскурсия»" in parked.last_error
    assert "«Виды работ»" in parked.last_error

    sync_settings.save(
        settings, url=url, school="1", work_types={"Экскурсия": " Зачёт ", "Тест": ""}
    )
    assert sync_settings.load(settings).work_types == {"Экскурсия": "Зачёт"}
    assert status.retry_parked(parked.entity_uuid, user=None) >= 1
    OutboxEntry.update(next_attempt_at=None).execute()
    assert engine.run_once(settings, pull=False).status == "ok"
    types = {m["mark"]: m["assignTypeId"] for m in store.state()["marks"]}
    assert types == {"4": 3, "5": 12}  # «Зачёт» in АСУ РСО
    assert not OutboxEntry.select().where(OutboxEntry.state == "parked").exists()
