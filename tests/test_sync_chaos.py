"""Chaos: random journal edits by several teachers, every fault, and SIGKILLed workers.

The box's own SQLite file (under tmp_path) is written by this process through the
journal's domain functions while a separate worker process (`ezh sync run --once
--no-pull`) pushes to the emulator served here over HTTP. The emulator injects every
fault it knows (5xx, dropped connections, drop-after-commit, session expiry, 429,
maintenance switched on and off between runs) and the worker is killed with SIGKILL at
random moments of its run. After one last fault-free sync:

* the emulator's journal equals the box's exactly (marks, attendance, topics, homework);
* no upstream cell was written more often than it was edited here;
* nothing is parked, every entry is accepted or skipped, every mark and absence published.

The short version runs in the normal suite; `-m chaos` runs the long one (thousands of
edits, ≥ 20 kills).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from appliance import journal, publishing
from appliance.config import Settings, load_settings
from appliance.db import write
from appliance.models import (
    Assignment,
    Attendance,
    AuditEntry,
    IdMap,
    Lesson,
    Mark,
    OutboxEntry,
    Person,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    SyncConflict,
    SyncRun,
    User,
    WorkType,
)
from appliance.sync import engine, outbox
from appliance.sync import settings as sync_settings
from appliance.sync.emulator import DB_NAME, EmulatorStore, Faults, create_emulator, seed_from_box
from appliance.sync.mapping import DEFAULT_ATTENDANCE_REASONS
from appliance.sync.netschool import NetSchoolClient

from .browser_support import served
from .factories import SchoolFactory

LOGIN, PASSWORD = "ezh-sync", "Синхро-Пароль-1"
DAYS = 5  # lessons on the last DAYS days (all inside the teachers' edit window)
MARKS = ("2", "3", "4", "5")
CODES = tuple(DEFAULT_ATTENDANCE_REASONS)[:4]  # Н, Б, УП, ОП
WORDS = ("Дроби", "Уравнения", "Падежи", "Проценты", "Глаголы", "Площадь", "№ 12", "с. 45")


def chaos_faults(seed: int, maintenance: bool, strength: float) -> Faults:
    """Every fault at once (small latency, Retry-After 0 so the test does not sleep);
    `strength` (0…1) scales the rates so that some runs get far and others do not."""
    return Faults(
        latency_ms=2,
        error_rate=0.08 * strength,
        drop_rate=0.05 * strength,
        drop_after_commit_rate=0.4 * strength,
        session_every=5,
        rate_limit_rate=0.05 * strength,
        retry_after_s=0,
        maintenance=maintenance,
        seed=seed,
    )


# --- the school -----------------------------------------------------------------------


@dataclass
class Box:
    """The box under test: settings, its lessons, and who may write each group."""

    settings: Settings
    lessons: list[Lesson]
    writers: dict[int, list[User]]  # group id → teachers' accounts
    students: dict[int, list[Person]]  # group id → members
    edits: Counter = field(default_factory=Counter)  # kind → edits made


def _teacher(school, last: str, first: str, username: str) -> User:
    person = SchoolFactory.person(last, first, staff=True)
    return school.account(person, username, ("teacher", None))


def build_box(tmp_path: Path) -> Box:
    """Three groups, three teachers (one group shared by two), lessons of the last days."""
    school = SchoolFactory.build()
    school.add_planning()
    today = dt.date.today()
    with write():
        WorkType.create(name="Ответ на уроке", short_name="О", weight=1, is_default=True)
        WorkType.create(name="Контрольная работа", short_name="К", weight=3)
        smirnova = school.users["teacher"]
        kuznetsov = school.users["class_teacher"]
        lebedeva = _teacher(school, "Лебедева", "Нина", "lebedeva.na")
        # Kuznetsov co-teaches the math group: two teachers write the same cells.
        SubjectGroupTeacher.create(group=school.group, teacher=kuznetsov.person)
        russian = Subject.create(name="Русский язык", short_name="Рус")
        rus_5a = SubjectGroup.create(
            year=school.year, school_class=school.classes["5А"], subject=russian
        )
        SubjectGroupTeacher.create(group=rus_5a, teacher=kuznetsov.person)
        math = school.group.subject
        math_5b = SubjectGroup.create(
            year=school.year, school_class=school.classes["5Б"], subject=math
        )
        SubjectGroupTeacher.create(group=math_5b, teacher=lebedeva.person)
        starts = school.year.starts
        for student in school.students["5А"]:
            SubjectGroupStudent.create(group=rus_5a, student=student, starts=starts)
        for student in school.students["5Б"]:
            SubjectGroupStudent.create(group=math_5b, student=student, starts=starts)
        groups = {school.group: smirnova, rus_5a: kuznetsov, math_5b: lebedeva}
        for group, user in groups.items():
            for back in range(DAYS):
                day = today - dt.timedelta(days=back)
                for number in (3, 4):
                    Lesson.create(group=group, date=day, number=number, teacher=user.person)
    writers = {
        school.group.id: [smirnova, kuznetsov],
        rus_5a.id: [kuznetsov],
        math_5b.id: [lebedeva],
    }
    students = {
        school.group.id: list(school.students["5А"]),
        rus_5a.id: list(school.students["5А"]),
        math_5b.id: list(school.students["5Б"]),
    }
    lessons = list(
        Lesson.select()
        .where((Lesson.date <= today) & (Lesson.date > today - dt.timedelta(days=DAYS)))
        .order_by(Lesson.id)
    )
    settings = load_settings(tmp_path, password_profile="fast")
    return Box(settings, lessons, writers, students)


@pytest.fixture
def box(db, tmp_path):
    return build_box(tmp_path)


@pytest.fixture
def upstream(box, tmp_path):
    """The emulator seeded from the box file, served here; the box configured to use it."""
    store = EmulatorStore(tmp_path / "emu" / DB_NAME)
    seed_from_box(store, box.settings.db_path, LOGIN, PASSWORD)
    app = create_emulator(tmp_path / "emu")
    publishing.configure(True)
    try:
        with served(app) as url:
            sync_settings.save(box.settings, url=url, school="1", login=LOGIN, password=PASSWORD)
            yield url, store, app
    finally:
        publishing.configure(False)


def set_faults(app, faults: Faults) -> None:
    app.extensions["emulator"]["dice"].set(faults)


# --- random edits ---------------------------------------------------------------------


def random_edit(box: Box, rng: random.Random) -> None:
    """One journal change by one of the lesson's teachers, through the domain functions."""
    # Fresh from the database, as a page would load it for each request.
    lesson = Lesson.get_by_id(rng.choice(box.lessons).id)
    user = rng.choice(box.writers[lesson.group_id])
    student = rng.choice(box.students[lesson.group_id])
    roll = rng.random()
    if roll < 0.45:
        assignment = journal.default_assignment(lesson, user=user, ip="chaos")
        value = "" if rng.random() < 0.2 else rng.choice(MARKS)
        journal.set_mark(assignment, student.id, value, user=user, ip="chaos")
        box.edits["mark"] += 1
    elif roll < 0.8:
        code = "" if rng.random() < 0.3 else rng.choice(CODES)
        journal.set_attendance(lesson, student.id, code, user=user, ip="chaos")
        box.edits["attendance"] += 1
    elif roll < 0.9:
        text = "" if rng.random() < 0.1 else f"{rng.choice(WORDS)} {rng.randint(1, 99)}"
        journal.set_topic(lesson, text, user=user, ip="chaos")
        box.edits["topic"] += 1
    else:
        text = "" if rng.random() < 0.2 else f"{rng.choice(WORDS)}, упр. {rng.randint(1, 500)}"
        journal.set_homework(lesson, text, user=user, ip="chaos")
        box.edits["homework"] += 1


# --- the worker -----------------------------------------------------------------------


def worker_command(data_dir: Path) -> list[str]:
    ezh = Path(sys.executable).with_name("ezh")
    prefix = [str(ezh)] if ezh.exists() else [sys.executable, "-m", "appliance.cli"]
    return [*prefix, "sync", "run", "--data", str(data_dir), "--once", "--no-pull"]


def runs_started() -> int:
    return SyncRun.select().count()


@dataclass
class Chaos:
    rounds: int
    edits_per_round: int
    kill_rate: float  # chance of a SIGKILL in a round (every third round has one anyway)
    seed: int = 6
    kills: int = 0  # each after the worker's run had begun (its SyncRun row exists)
    worker_exits: Counter = field(default_factory=Counter)


def run_worker_round(box: Box, chaos: Chaos, rng: random.Random, log: Path, kill: bool) -> None:
    """Start a worker, keep editing while it runs, SIGKILL it at a random moment (or not)."""
    before = runs_started()
    with open(log, "ab") as out:
        worker = subprocess.Popen(
            worker_command(box.settings.data_dir), stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    kill_at: float | None = None
    try:
        while worker.poll() is None and time.monotonic() < deadline:
            if rng.random() < 0.3:
                random_edit(box, rng)
            if kill and kill_at is None and runs_started() > before:
                kill_at = time.monotonic() + rng.uniform(0.0, 0.3)  # somewhere in the run
            if kill_at is not None and time.monotonic() >= kill_at:
                os.kill(worker.pid, signal.SIGKILL)
                worker.wait()
                chaos.kills += 1
                return
            time.sleep(0.01)
        if worker.poll() is None:  # hung: that is a failure, but never leave it behind
            worker.kill()
            worker.wait()
            pytest.fail("the sync worker did not finish within 60 s")
        chaos.worker_exits[worker.returncode] += 1
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def time_passes() -> None:
    """Skip the backoff waits (the test does not sleep through them)."""
    with write():
        OutboxEntry.update(next_attempt_at=None).where(OutboxEntry.state == "pending").execute()


def run_chaos(box: Box, url: str, app, chaos: Chaos, log: Path) -> dict[str, object]:
    rng = random.Random(chaos.seed)
    started = time.monotonic()
    for number in range(chaos.rounds):
        for _ in range(chaos.edits_per_round):
            random_edit(box, rng)
        maintenance = number % 4 == 3  # switched on for one round in four, then off again
        strength = 0.0 if number % 5 == 4 else rng.uniform(0.2, 1.0)  # some runs get through
        set_faults(app, chaos_faults(chaos.seed * 1000 + number, maintenance, strength))
        kill = number % 3 == 1 or rng.random() < chaos.kill_rate
        run_worker_round(box, chaos, rng, log, kill)
        time_passes()
    figures = final_sync(box, url, app)
    figures.update(
        edits=sum(box.edits.values()),
        edits_by_kind=dict(box.edits),
        kills=chaos.kills,
        worker_exits={str(k): v for k, v in chaos.worker_exits.items()},
        seconds=round(time.monotonic() - started, 1),
    )
    return figures


def final_sync(box: Box, url: str, app) -> dict[str, object]:
    """Faults off; sync in this process until all is sent. Returns the outbox counts."""
    set_faults(app, Faults())
    client = NetSchoolClient(url, LOGIN, PASSWORD, 1, timeout=10)
    for _ in range(5):
        time_passes()
        result = engine.run_once(box.settings, client=client, pull=False)
        if result.status == "ok" and engine.ready_count() == 0:
            break
    assert result.status == "ok", result.message
    assert engine.ready_count() == 0
    return {"outbox": outbox.counts()}


# --- the checks -----------------------------------------------------------------------


def remote_ids(entity: str) -> dict[str, int]:
    rows = IdMap.select().where(IdMap.entity_type == entity)
    return {row.local_uuid: int(row.remote_id) for row in rows}


def box_journal(box: Box) -> dict[str, dict]:
    """The box's journal in АСУ РСО's ids: (cm, student) → mark / reason; cm → topic …"""
    lesson_ids, person_ids = remote_ids("Lesson"), remote_ids("Person")
    marks = {
        (lesson_ids[m.assignment.lesson.uuid], person_ids[m.student.uuid]): m.value
        for m in Mark.select().join(Assignment)
    }
    attendance = {
        (lesson_ids[a.lesson.uuid], person_ids[a.student.uuid]): DEFAULT_ATTENDANCE_REASONS[a.code]
        for a in Attendance.select()
    }
    lessons = {
        lesson_ids[lesson.uuid]: (lesson.topic or "", lesson.homework or "")
        for lesson in Lesson.select()
        if lesson.topic or lesson.homework
    }
    return {"marks": marks, "attendance": attendance, "lessons": lessons}


def emulator_journal(state: dict) -> dict[str, dict]:
    return {
        "marks": {(m["cmId"], m["studentId"]): m["mark"] for m in state["marks"]},
        "attendance": {(a["cmId"], a["studentId"]): a["reason"] for a in state["attendance"]},
        "lessons": {x["cmId"]: (x["theme"], x["homework"]) for x in state["lessons"]},
    }


def local_edits() -> dict[str, int]:
    """Edits made here per natural key of АСУ РСО (the writeCounts' keys, without assign)."""
    lesson_of = {v: k for k, v in remote_ids("Lesson").items()}
    person_of = {v: k for k, v in remote_ids("Person").items()}
    entries = Counter(uuid for (uuid,) in OutboxEntry.select(OutboxEntry.entity_uuid).tuples())
    audits = Counter(
        AuditEntry.select(AuditEntry.action, AuditEntry.entity_uuid)
        .where(AuditEntry.action.in_(("lesson.topic", "lesson.homework")))
        .tuples()
    )
    lessons = {lesson.uuid: lesson for lesson in Lesson.select()}
    people = {person.uuid: person for person in Person.select()}
    found: dict[str, int] = {}
    for cm, lesson_uuid in lesson_of.items():
        lesson = lessons[lesson_uuid]
        found[f"theme:cm={cm}"] = audits[("lesson.topic", lesson_uuid)]
        found[f"homework:cm={cm}"] = audits[("lesson.homework", lesson_uuid)]
        assignment = Assignment.select().where(Assignment.lesson == lesson).first()
        for student_id, person_uuid in person_of.items():
            student = people[person_uuid]
            found[f"attendance:cm={cm}:student={student_id}"] = entries[
                journal.cell_uuid(lesson_uuid, student)
            ]
            if assignment is not None:
                found[f"mark:cm={cm}:student={student_id}"] = entries[
                    journal.cell_uuid(assignment.uuid, student)
                ]
    return found


def without_assign(key: str) -> str:
    """`mark:cm=1:assign=7:student=3` → `mark:cm=1:student=3` (one assignment a lesson)."""
    return ":".join(part for part in key.split(":") if not part.startswith("assign="))


def check_exactly_once(box: Box, store: EmulatorStore) -> dict[str, int]:
    state = store.state()
    # The ids matched by names agree with the ones the emulator was seeded with.
    seeded = {(r["entity"], r["boxUuid"]): r["id"] for r in state["idMap"]}
    for row in IdMap.select().where(IdMap.entity_type.in_(("Lesson", "Person"))):
        if (row.entity_type, row.local_uuid) in seeded:
            assert seeded[(row.entity_type, row.local_uuid)] == int(row.remote_id)

    ours, theirs = box_journal(box), emulator_journal(state)
    for part in ("marks", "attendance", "lessons"):
        assert theirs[part] == ours[part], part
    assert ours["marks"] and ours["attendance"] and ours["lessons"]  # the edits did land

    edits = local_edits()
    too_many = {
        key: (count, edits.get(without_assign(key), 0))
        for key, count in state["writeCounts"].items()
        if count > edits.get(without_assign(key), 0)
    }
    assert too_many == {}, "written upstream more often than edited here"

    counts = outbox.counts()
    assert counts["parked"] == 0, list(
        OutboxEntry.select(OutboxEntry.entity_type, OutboxEntry.last_error)
        .where(OutboxEntry.state == "parked")
        .tuples()
    )
    assert counts["pending"] == 0
    assert set(k for k, v in counts.items() if v) <= {"accepted", "skipped"}
    assert not Mark.select().where(Mark.published_at.is_null()).exists()
    assert not Attendance.select().where(Attendance.published_at.is_null()).exists()
    # Only the box edited: the read-backs before resending must never have taken a value
    # from АСУ РСО or seen a conflict (a value this box sent is its own, not someone's)
    assert not SyncConflict.select().exists()
    assert not AuditEntry.select().where(AuditEntry.action.endswith(".pull")).exists()
    writes = state["writeCounts"].values()
    return {"upstream_writes": sum(writes), "upstream_cells": len(writes)}


# --- the tests ------------------------------------------------------------------------


def test_chaos_short(box, upstream, tmp_path):
    url, store, app = upstream
    chaos = Chaos(rounds=16, edits_per_round=16, kill_rate=0.3)
    figures = run_chaos(box, url, app, chaos, tmp_path / "worker.log")
    figures.update(check_exactly_once(box, store))
    print(json.dumps(figures, ensure_ascii=False, default=str))
    assert chaos.kills >= 3
    assert figures["edits"] >= 200


@pytest.mark.chaos
def test_chaos_long(box, upstream, tmp_path):
    url, store, app = upstream
    rounds = int(os.environ.get("EZH_CHAOS_ROUNDS", "60"))
    chaos = Chaos(rounds=rounds, edits_per_round=45, kill_rate=0.4, seed=66)
    figures = run_chaos(box, url, app, chaos, tmp_path / "worker.log")
    figures.update(check_exactly_once(box, store))
    print(json.dumps(figures, ensure_ascii=False, default=str))
    (Path(os.environ.get("EZH_CHAOS_REPORT", tmp_path / "chaos.json"))).write_text(
        json.dumps(figures, ensure_ascii=False, default=str), encoding="utf-8"
    )
    assert chaos.kills >= 20
    assert figures["edits"] >= 2000
