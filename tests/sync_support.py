"""For the sync status and conflict tests: the app with the sync pages, rows, a fake engine."""

from __future__ import annotations

import datetime as dt
import json
import types

import pytest

from appliance import journal, publishing
from appliance.db import write
from appliance.models import (
    Lesson,
    OutboxEntry,
    Subject,
    SubjectGroup,
    SubjectGroupTeacher,
    SyncConflict,
    SyncRun,
    WorkType,
    now,
)
from appliance.sync import engine
from appliance.web import create_app


@pytest.fixture
def app(settings):
    """The app; publishing is switched back off afterwards."""
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    publishing.configure(False)  # a saved address switches publishing on: not for others


def today_lesson(number: int = 1) -> Lesson:
    return Lesson.select().where((Lesson.date == dt.date.today()) & (Lesson.number == number)).get()


def put_mark(school, value: str, index: int = 0, user=None):
    """A mark by the group's teacher (smirnova.ev) in today's first lesson."""
    if not WorkType.select().exists():
        WorkType.create(name="Ответ на уроке", short_name="Отв", weight=1, is_default=True)
    teacher = user or school.users["teacher"]
    assignment = journal.default_assignment(today_lesson(), user=teacher, ip="")
    student = school.students["5А"][index]
    return journal.set_mark(assignment, student.id, value, user=teacher, ip="")


def other_group(school) -> SubjectGroup:
    """Русский язык 5Б, taught by kuznetsov.ap (not smirnova.ev)."""
    subject, _ = Subject.get_or_create(name="Русский язык", defaults={"short_name": "Рус"})
    group, created = SubjectGroup.get_or_create(
        year=school.year, school_class=school.classes["5Б"], subject=subject
    )
    if created:
        SubjectGroupTeacher.create(group=group, teacher=school.users["class_teacher"].person)
    return group


def conflict(group_id: int | None, cell: dict, local: str = "4", remote: str = "5", **kw):
    with write():
        return SyncConflict.create(
            entity_type=kw.pop("entity_type", "Mark"),
            entity_uuid=kw.pop("entity_uuid", f"cell-{now().timestamp()}-{local}-{remote}"),
            local_value=local,
            remote_value=remote,
            chosen=kw.pop("chosen", "local"),
            group_id=group_id,
            description=kw.pop("description", "Иванов Пётр, 05.11, отметка"),
            cell=json.dumps(cell),
            **kw,
        )


def entry(uuid: str, state: str = "pending", **kw) -> OutboxEntry:
    with write():
        return OutboxEntry.create(
            entity_type=kw.pop("entity_type", "Mark"),
            entity_uuid=uuid,
            op=kw.pop("op", "upsert"),
            payload=json.dumps(kw.pop("payload", {"value": "5"})),
            state=state,
            **kw,
        )


def run(status: str, message: str = "", **kw) -> SyncRun:
    with write():
        return SyncRun.create(status=status, message=message, finished_at=now(), **kw)


def fake_result(status: str = "ok", message: str = "Готово: отправлено 2, получено из АСУ РСО 1."):
    return engine.RunResult(status, message, pushed=2)


@pytest.fixture
def fake_engine(monkeypatch):
    """`engine.run_once` replaced: reports progress, returns `fake_engine.result`."""
    state = types.SimpleNamespace(result=fake_result(), calls=[])

    def run_once(settings, *, client=None, progress=None, pull=True):
        state.calls.append(settings)
        if progress is not None:
            progress(1, 2, "Отправка изменений")
            progress(2, 2, "Отправка изменений")
        return state.result

    monkeypatch.setattr(engine, "run_once", run_once)
    return state
