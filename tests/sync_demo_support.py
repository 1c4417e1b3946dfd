"""The demo school synced against the АСУ РСО emulator, for the issue-6 «Done when» tests.

Built as `ezh demo --with-emulator` builds it (`appliance.cli.seed_demo_emulator`,
`point_demo_sync`): the emulator seeded from the demo's database, the box's sync settings
pointing at it, publishing waiting for АСУ РСО. Faults are switched over HTTP with the
very request the demo prints for people to try (`POST /_emulator/faults`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask

from appliance import publishing
from appliance.cli import point_demo_sync, seed_demo_emulator
from appliance.config import Settings, load_settings
from appliance.demo import DemoAccount, create_demo_school
from appliance.models import (
    Assignment,
    Guardian,
    Lesson,
    Mark,
    Person,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    User,
    database,
)
from appliance.sync.emulator import create_emulator
from appliance.web import create_app

from .browser_support import served


@dataclass
class SyncedDemo:
    settings: Settings
    app: Flask  # the box
    accounts: dict[str, DemoAccount]
    emulator_url: str


@dataclass
class Cell:
    """A held lesson, its teacher, a student with no mark in it, and the student's parent."""

    lesson: Lesson
    teacher: DemoAccount
    student: Person
    parent: DemoAccount


@contextmanager
def synced_demo(tmp_path) -> Iterator[SyncedDemo]:
    """The demo school (today's date) with its emulator served on a free local port."""
    settings = load_settings(tmp_path / "demo", password_profile="fast")
    app = create_app(settings)
    app.config["TESTING"] = True
    database.connect(reuse_if_open=True)
    try:
        accounts = {a.username: a for a in create_demo_school(seed=1, today=dt.date.today())}
        emulator = create_emulator(seed_demo_emulator(settings))
        with served(emulator) as url:
            point_demo_sync(settings, url)
            publishing.configure(True)  # as create_app does when it finds these settings
            yield SyncedDemo(settings, app, accounts, url)
    finally:
        publishing.configure(False)
        if not database.is_closed():
            database.close()


def set_maintenance(emulator_url: str, on: bool) -> dict:
    """Switch the emulator's maintenance window, as the demo's printed `curl` does."""
    request = urllib.request.Request(
        f"{emulator_url}/_emulator/faults",
        data=json.dumps({"maintenance": on}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def emulator_marks(emulator_url: str) -> list[dict]:
    with urllib.request.urlopen(f"{emulator_url}/_emulator/state", timeout=5) as response:
        return json.load(response)["marks"]


def pick_cell(accounts: dict[str, DemoAccount]) -> Cell:
    """The latest held five-point lesson (by a teacher with a demo login) that has a
    work column, a student of it with no mark there, and that student's parent."""
    lessons = (
        Lesson.select()
        .join(SubjectGroup)
        .join(Subject)
        .where((Lesson.date <= dt.date.today()) & (Subject.scale == "five"))
        .order_by(Lesson.date.desc(), Lesson.number)
        .limit(200)
    )
    logins = {
        u.person_id: u.username for u in User.select().where(User.username.in_(list(accounts)))
    }
    for lesson in lessons:
        if not Assignment.select().where(Assignment.lesson == lesson).exists():
            continue
        teachers = SubjectGroupTeacher.select().where(SubjectGroupTeacher.group == lesson.group)
        teacher = next((logins[t.teacher_id] for t in teachers if t.teacher_id in logins), None)
        if teacher is None:
            continue
        marked = {
            m.student_id
            for m in Mark.select(Mark.student).join(Assignment).where(Assignment.lesson == lesson)
        }
        members = SubjectGroupStudent.select().where(
            (SubjectGroupStudent.group == lesson.group)
            & (SubjectGroupStudent.starts <= lesson.date)
            & (SubjectGroupStudent.ends.is_null() | (SubjectGroupStudent.ends >= lesson.date))
        )
        for link in members:
            if link.student_id in marked:
                continue
            for guardian in Guardian.select().where(Guardian.student == link.student_id):
                parent = logins.get(guardian.parent_id)
                if parent is not None:
                    return Cell(
                        lesson,
                        accounts[teacher],
                        Person.get_by_id(link.student_id),
                        accounts[parent],
                    )
    raise AssertionError("the demo school has no held lesson with an unmarked student")


def diary_marks(html: str, lesson_id: int) -> list[str]:
    """The marks the diary's week page shows in the row of one lesson."""
    row = re.search(rf'<tr data-lesson="{lesson_id}"[^>]*>(.*?)</tr>', html, re.S)
    assert row, f"lesson {lesson_id} is not on the diary page"
    return re.findall(r'class="mark" data-mark="([^"]*)"', row.group(1))


def diary_url(cell: Cell) -> str:
    return f"/diary/{cell.student.id}?week={cell.lesson.date.isoformat()}"
