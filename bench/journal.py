"""Journal speed: the grid page and mark writes, each against `/healthz` in the same run.

The box (`ezh serve --threads 8`) runs in its own process on the bench's own copy of
the demo school, with the past-edit window widened to 365 days so every held lesson
of the year can take a mark.

(a) The grid: a subject group topped up to 30 students × 50 held lessons of one
    quarter, two assignments on every lesson and a mark in every cell; G clients
    (the group's teacher, logged in G times) GET `/journal/<group>?term=<term>` in
    rounds interleaved with `/healthz`; the figure is the ratio of the medians.
(b) Mark writes: 20 clients, each logged in as a different teacher and writing in
    that teacher's own group, POST `/journal/marks` (CSRF header, full write path:
    mark + audit + outbox, one transaction) in rounds interleaved with `/healthz` at
    the same concurrency; the figure is writes/s ÷ healthz requests/s. Afterwards
    every write acknowledged with 200 is looked up in the database: the mark with
    its value, one audit entry and one outbox entry per acknowledged write.

    python bench/journal.py [--quick] [--clients N] [--rounds R] [--per-client K]
                            [--grid-clients G] [--grid-per-client K] [--threads T]

The last line of stdout is one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/journal.py` from anywhere
    sys.path.insert(0, str(ROOT))

from bench._http import BenchError, Client, percentile_ms, spawned  # noqa: E402

SEED = 1
GRID_STUDENTS = 30
GRID_LESSONS = 50
ASSIGNMENTS_PER_LESSON = 2
EDIT_DAYS = 365
NEXT_MARK = {"": "4", "2": "3", "3": "4", "4": "5", "5": "2"}
# Three students added to reach 30; their names sort last, after the demo's class.
NEW_STUDENTS = [
    ("Юдина", "Алиса", "Сергеевна", "ж"),
    ("Яковлев", "Артём", "Игоревич", "м"),
    ("Ямщикова", "Вера", "Олеговна", "ж"),
    ("Яшин", "Глеб", "Петрович", "м"),
    ("Яхонтова", "Дарья", "Ильинична", "ж"),
]


# --- data ----------------------------------------------------------------------------


@dataclass
class Writer:
    """One write client: a teacher, one of their groups and the cells it owns."""

    username: str
    password: str
    group_id: int
    group_name: str
    cells: list[tuple[int, int]]  # (assignment id, student id), in writing order
    values: dict[tuple[int, int], str]  # the cell's value as the client last saw it
    next_cell: int = 0
    acked: list[tuple[int, int, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed_cells: set[tuple[int, int]] = field(default_factory=set)

    def next_write(self) -> tuple[int, int, str]:
        cell = self.cells[self.next_cell % len(self.cells)]
        self.next_cell += 1
        return (*cell, NEXT_MARK[self.values.get(cell, "")])


@dataclass
class Grid:
    group_id: int
    term_id: int
    group_name: str
    term_name: str
    username: str
    password: str
    student_names: list[str]
    counts: dict[str, int]


def seeded_demo(data_dir: Path, use: Callable[[list], Any]) -> Any:
    """Seed the demo school in `data_dir` with a 365-day edit window (every lesson of the
    year open to its teacher); return `use(accounts)`, run while the database is open."""
    from appliance.config import load_settings, write_settings_file
    from appliance.db import migrate, open_database, write
    from appliance.demo import create_demo_school
    from appliance.models import School

    write_settings_file(data_dir, password_profile="fast")
    db = open_database(load_settings(data_dir).db_path)
    db.connect()
    try:
        migrate(db)
        accounts = create_demo_school(seed=SEED)
        with write(ip="bench") as rec:
            school = School.get()
            before = {"past_edit_days": school.past_edit_days}
            school.past_edit_days = EDIT_DAYS
            school.save()
            rec.record("school.settings", school, before=before)
        return use(accounts)
    finally:
        db.close()


def build_school(data_dir: Path, clients: int) -> tuple[Grid, list[Writer]]:
    """The demo school with a 365-day edit window, the grid group and the writers."""

    def pick(accounts) -> tuple[Grid, list[Writer]]:
        passwords = {a.username: a.password for a in accounts}
        return _grid_group(passwords), _writers(passwords, clients)

    return seeded_demo(data_dir, pick)


def _teachers(passwords: dict[str, str]) -> dict[int, tuple[str, str]]:
    """Person id → (username, password) of every account holding the teacher role."""
    from appliance.models import RoleGrant, User

    rows = (
        User.select(User.person, User.username)
        .join(RoleGrant)
        .where(RoleGrant.role == "teacher")
        .order_by(User.id)
        .tuples()
    )
    return {person: (name, passwords[name]) for person, name in rows if name in passwords}


def _marked_groups(today: dt.date) -> list[tuple[int, int, int]]:
    """(teacher person id, group id, assignments on held lessons), graded five-point groups."""
    from peewee import fn

    from appliance.models import (
        Assignment,
        Lesson,
        SchoolClass,
        Subject,
        SubjectGroup,
        SubjectGroupTeacher,
    )

    count = fn.COUNT(Assignment.id)
    return list(
        SubjectGroupTeacher.select(SubjectGroupTeacher.teacher, SubjectGroup.id, count)
        .join(SubjectGroup)
        .join(SchoolClass)
        .switch(SubjectGroup)
        .join(Subject)
        .switch(SubjectGroup)
        .join(Lesson)
        .join(Assignment)
        .where(
            (SchoolClass.grade >= 2)
            & (Subject.scale == "five")
            & (Lesson.date <= today)
            & (Lesson.state != "cancelled")
        )
        .group_by(SubjectGroupTeacher.teacher, SubjectGroup.id)
        .order_by(count.desc(), SubjectGroup.id)
        .tuples()
    )


def _writers(passwords: dict[str, str], clients: int) -> list[Writer]:
    """`clients` writers, each in a group of its own; different teachers while they last."""
    teachers = _teachers(passwords)
    candidates = [row for row in _marked_groups(dt.date.today()) if row[0] in teachers]
    chosen: list[tuple[int, int]] = []
    used_groups: set[int] = set()
    for distinct_teachers in (True, False):
        used_teachers = {t for t, _ in chosen}
        for teacher, group, _ in candidates:
            if len(chosen) == clients:
                break
            if group in used_groups or (distinct_teachers and teacher in used_teachers):
                continue
            chosen.append((teacher, group))
            used_groups.add(group)
            used_teachers.add(teacher)
    if len(chosen) < clients:
        raise BenchError(f"the demo school has only {len(chosen)} marked groups with a teacher")
    return [_writer(i, *teachers[t], g) for i, (t, g) in enumerate(chosen)]


def _writer(index: int, username: str, password: str, group_id: int) -> Writer:
    from appliance.models import Assignment, Lesson, Mark, SubjectGroup, SubjectGroupStudent

    today = dt.date.today()
    links = list(
        SubjectGroupStudent.select(
            SubjectGroupStudent.student, SubjectGroupStudent.starts, SubjectGroupStudent.ends
        )
        .where(SubjectGroupStudent.group == group_id)
        .tuples()
    )
    assignments = list(
        Assignment.select(Assignment.id, Lesson.date)
        .join(Lesson)
        .where((Lesson.group == group_id) & (Lesson.date <= today) & (Lesson.state != "cancelled"))
        .tuples()
    )
    cells = [
        (assignment, student)
        for assignment, day in assignments
        for student, starts, ends in links
        if starts <= day and (ends is None or ends >= day)
    ]
    random.Random(f"{SEED}:writer:{index}").shuffle(cells)
    ids = [a for a, _ in assignments]
    values = {
        (a, s): v
        for a, s, v in Mark.select(Mark.assignment, Mark.student, Mark.value)
        .where(Mark.assignment.in_(ids))
        .tuples()
    }
    name = SubjectGroup.get_by_id(group_id).name
    return Writer(username, password, group_id, name, cells, values)


def _grid_group(passwords: dict[str, str]) -> Grid:
    """The group with the most held lessons in one quarter, topped up to 30 × 50, all marked."""
    from peewee import fn

    from appliance.db import write
    from appliance.models import (
        Lesson,
        SubjectGroup,
        SubjectGroupStudent,
        SubjectGroupTeacher,
        Term,
    )

    today = dt.date.today()
    teachers = _teachers(passwords)
    marked = {g for t, g, _ in _marked_groups(today) if t in teachers}
    best = None
    for term in Term.select().where((Term.kind == "quarter") & (Term.starts <= today)):
        held = (
            Lesson.select(Lesson.group, fn.COUNT(Lesson.id))
            .where(
                Lesson.date.between(term.starts, min(term.ends, today))
                & (Lesson.state != "cancelled")
            )
            .group_by(Lesson.group)
            .tuples()
        )
        for group, count in held:
            size = SubjectGroupStudent.select().where(SubjectGroupStudent.group == group).count()
            key = (min(size, GRID_STUDENTS), min(count, GRID_LESSONS), -group)
            if group in marked and (best is None or key > best[0]):
                best = (key, group, term)
    if best is None:
        raise BenchError("the demo school has no held lessons with marks yet")
    _, group_id, term = best
    group = SubjectGroup.get_by_id(group_id)
    teacher = next(
        t.teacher_id
        for t in SubjectGroupTeacher.select().where(SubjectGroupTeacher.group == group)
        if t.teacher_id in teachers
    )
    with write(ip="bench") as rec:
        counts = _top_up(group, term, teacher, min(term.ends, today))
        rec.record("bench.grid_data", group, after=counts)
    students = (
        SubjectGroupStudent.select(SubjectGroupStudent.student)
        .where(SubjectGroupStudent.group == group)
        .tuples()
    )
    from appliance.models import Person

    names = [p.last_name for p in Person.select().where(Person.id.in_([s for (s,) in students]))]
    username, password = teachers[teacher]
    return Grid(group.id, term.id, group.name, term.name, username, password, names, counts)


def _top_up(group, term, teacher: int, last_day: dt.date) -> dict[str, int]:
    """Add students, held lessons, assignments and marks until the grid is full."""
    from appliance.bulk import insert_rows
    from appliance.journal import cell_uuid
    from appliance.models import (
        Assignment,
        Enrollment,
        Lesson,
        Mark,
        Person,
        SubjectGroupStudent,
        WorkType,
    )

    rng = random.Random(f"{SEED}:grid")
    year_starts = group.year.starts
    members = list(
        SubjectGroupStudent.select().where(
            (SubjectGroupStudent.group == group) & SubjectGroupStudent.ends.is_null()
        )
    )
    for last, first, middle, gender in NEW_STUDENTS[: max(0, GRID_STUDENTS - len(members))]:
        person = Person.create(last_name=last, first_name=first, middle_name=middle, gender=gender)
        Enrollment.create(student=person, school_class=group.school_class, starts=year_starts)
        SubjectGroupStudent.create(group=group, student=person, starts=year_starts)
    students = list(
        Person.select()
        .join(SubjectGroupStudent, on=SubjectGroupStudent.student)
        .where((SubjectGroupStudent.group == group) & SubjectGroupStudent.ends.is_null())
    )
    in_term = (Lesson.group == group) & Lesson.date.between(term.starts, last_day)
    lessons = list(Lesson.select().where(in_term & (Lesson.state != "cancelled")))
    taken = {(lesson.date, lesson.number) for lesson in lessons}
    days = sorted({lesson.date for lesson in lessons})
    published = lessons[0].published_at if lessons else None
    for day in days[: max(0, GRID_LESSONS - len(lessons))]:
        number = next(n for n in range(7, 20) if (day, n) not in taken)
        lessons.append(
            Lesson.create(
                group=group,
                date=day,
                number=number,
                teacher=teacher,
                state="held",
                topic="Повторение пройденного",
                published_at=published,
            )
        )
    work_types = list(WorkType.select().order_by(WorkType.sort_order, WorkType.id))
    per_lesson: dict[int, list[Assignment]] = defaultdict(list)
    for assignment in Assignment.select().where(Assignment.lesson.in_(lessons)):
        per_lesson[assignment.lesson_id].append(assignment)
    for lesson in lessons:
        while len(per_lesson[lesson.id]) < ASSIGNMENTS_PER_LESSON:
            work_type = rng.choice(work_types)
            per_lesson[lesson.id].append(
                Assignment.create(
                    lesson=lesson,
                    work_type=work_type,
                    weight=work_type.weight,
                    published_at=lesson.published_at,
                )
            )
    assignments = [a for rows in per_lesson.values() for a in rows]
    have = set(
        Mark.select(Mark.assignment, Mark.student).where(Mark.assignment.in_(assignments)).tuples()
    )
    added = insert_rows(
        Mark,
        (
            {
                "uuid": cell_uuid(a.uuid, s),
                "assignment": a.id,
                "student": s.id,
                "value": str(rng.choice((2, 3, 3, 4, 4, 4, 5, 5))),
                "published_at": a.published_at,
            }
            for a in assignments
            for s in students
            if (a.id, s.id) not in have
        ),
    )
    return {
        "students": len(students),
        "lessons": len(lessons),
        "assignments": len(assignments),
        "marks": len(have) + added,
    }


# --- clients -------------------------------------------------------------------------


class Swarm:
    """N logged-in client threads that run each phase together, in lockstep with the caller.

    A phase is `action(index, client)` done `count` times by every client; the swarm
    times each call. An exception ends the client's phase and fails the run.
    """

    def __init__(self, port: int, logins: list[tuple[str, str]]):
        n = len(logins)
        self.action: Callable[[int, Client], None] | None = None
        self.count = 0
        self.stop = False
        self.start = threading.Barrier(n + 1)
        self.end = threading.Barrier(n + 1)
        self.latencies: list[list[float]] = [[] for _ in range(n)]
        self.errors: list[str] = []
        self.clients: list[Client | None] = [None] * n
        self.threads = [
            threading.Thread(target=self._work, args=(i, port, *login), name=f"client-{i}")
            for i, login in enumerate(logins)
        ]
        for thread in self.threads:
            thread.start()

    def _work(self, index: int, port: int, username: str, password: str) -> None:
        client = Client(port, timeout=60)
        self.clients[index] = client
        try:
            try:
                client.log_in(username, password, role="teacher")
                client.token = client.csrf_token("/")
            except Exception as exc:
                self.errors.append(f"client {index}: {exc}")
            while True:
                self.start.wait()
                if self.stop:
                    return
                try:
                    if not self.errors:
                        own = self.latencies[index]
                        for _ in range(self.count):
                            began = time.perf_counter()
                            self.action(index, client)
                            own.append(time.perf_counter() - began)
                except Exception as exc:
                    self.errors.append(f"client {index}: {exc}")
                self.end.wait()
        finally:
            client.close()

    def run(self, action: Callable[[int, Client], None], count: int):
        """Every client does `action` `count` times; return wall seconds and latencies."""
        for own in self.latencies:
            own.clear()
        self.action, self.count = action, count
        self.start.wait()
        began = time.perf_counter()
        self.end.wait()
        seconds = time.perf_counter() - began
        if self.errors:
            raise BenchError("; ".join(self.errors[:3]))
        return seconds, [x for own in self.latencies for x in own]

    def close(self) -> None:
        self.stop = True
        self.start.wait()
        for thread in self.threads:
            thread.join(timeout=10)


def get_healthz(index: int, client: Client) -> None:
    status, _, page = client.request("GET", "/healthz")
    if status != 200:
        raise BenchError(f"GET /healthz: status {status}: {page[:200]!r}")


def grid_action(grid: Grid) -> Callable[[int, Client], None]:
    path = f"/journal/{grid.group_id}?term={grid.term_id}"
    names = [name.encode() for name in grid.student_names]

    def get_grid(index: int, client: Client) -> None:
        status, _, page = client.request("GET", path)
        if status != 200:
            raise BenchError(f"GET {path}: status {status}")
        missing = [n.decode() for n in names if n not in page]
        if missing:
            raise BenchError(f"GET {path}: the grid lacks students {missing[:3]}")

    return get_grid


def write_action(writers: list[Writer]) -> Callable[[int, Client], None]:
    def post_mark(index: int, client: Client) -> None:
        writer = writers[index]
        assignment, student, value = writer.next_write()
        form = {"assignment": assignment, "student": student, "value": value}
        headers = {"X-CSRFToken": client.token, "HX-Request": "true"}
        try:
            status, _, page = client.request("POST", "/journal/marks", form, headers)
        except OSError as exc:  # the write may or may not have happened
            client.close()  # http.client reconnects on the next request
            writer.failed_cells.add((assignment, student))
            writer.errors.append(f"{type(exc).__name__}: {exc}")
            return
        if status == 200:
            if f'data-value="{value}"'.encode() not in page:
                raise BenchError(f"POST /journal/marks {form}: 200 without it: {page[:200]!r}")
            writer.values[assignment, student] = value
            writer.acked.append((assignment, student, value))
        else:
            writer.failed_cells.add((assignment, student))
            text = page.decode(errors="replace")
            writer.errors.append(f"{status}: {' '.join(text.split())[:160]}")

    return post_mark


@dataclass
class Totals:
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def add(self, seconds: float, latencies: list[float]) -> float:
        self.requests += len(latencies)
        self.seconds += seconds
        self.latencies += latencies
        return len(latencies) / seconds

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def interleaved(swarm: Swarm, label: str, action, rounds: int, count: int) -> dict[str, Totals]:
    """Warm up, then `rounds` rounds of (healthz, action); totals per path."""
    totals = {"healthz": Totals(), label: Totals()}
    actions = {"healthz": get_healthz, label: action}
    for name in totals:
        swarm.run(actions[name], 2)
    for round_no in range(1, rounds + 1):
        for name, total in totals.items():
            rate = total.add(*swarm.run(actions[name], count))
            print(f"{label} round {round_no}/{rounds} {name:<8} {rate:8.1f} req/s", file=sys.stderr)
    return totals


# --- checks --------------------------------------------------------------------------


def verify_writes(writers: list[Writer], audit_from: int, outbox_from: int) -> list[str]:
    """Every acknowledged write is stored: the last value, and one audit + outbox entry each."""
    from appliance.audit import verify_chain
    from appliance.db import integrity_check
    from appliance.models import AuditEntry, Mark, OutboxEntry

    problems = []
    if (result := integrity_check()) != "ok":
        problems.append(f"integrity_check: {result}")
    if (broken := verify_chain()) is not None:
        problems.append(f"the audit chain breaks at seq {broken}")
    acked: dict[tuple[int, int], list[str]] = defaultdict(list)
    failed: set[tuple[int, int]] = set()
    for writer in writers:
        for assignment, student, value in writer.acked:
            acked[assignment, student].append(value)
        failed |= writer.failed_cells
    marks = {}
    for a, s, uuid, value in (
        Mark.select(Mark.assignment, Mark.student, Mark.uuid, Mark.value)
        .where(Mark.assignment.in_({a for a, _ in acked}))
        .tuples()
    ):
        marks[a, s] = (uuid, value)
    audited: dict[str, list[str]] = defaultdict(list)
    for uuid, after in (
        AuditEntry.select(AuditEntry.entity_uuid, AuditEntry.after)
        .where((AuditEntry.seq > audit_from) & (AuditEntry.action == "mark.set"))
        .order_by(AuditEntry.seq)
        .tuples()
    ):
        audited[uuid].append(json.loads(after)["value"])
    queued: dict[str, list[str]] = defaultdict(list)
    for uuid, payload in (
        OutboxEntry.select(OutboxEntry.entity_uuid, OutboxEntry.payload)
        .where((OutboxEntry.seq > outbox_from) & (OutboxEntry.entity_type == "Mark"))
        .order_by(OutboxEntry.seq)
        .tuples()
    ):
        queued[uuid].append(json.loads(payload)["value"])
    for cell, values in acked.items():
        if cell not in marks:
            problems.append(f"acknowledged mark {cell} is not in the database")
            continue
        uuid, stored = marks[cell]
        # A failed request may still have committed after the last acknowledgement.
        if cell not in failed:
            if stored != values[-1]:
                problems.append(f"mark {cell} holds {stored!r}, last acknowledged {values[-1]!r}")
            for name, seen in (("audit", audited[uuid]), ("outbox", queued[uuid])):
                if seen != values:
                    problems.append(f"mark {cell}: {name} has {seen}, acknowledged {values}")
        else:
            for name, seen in (("audit", audited[uuid]), ("outbox", queued[uuid])):
                if not _subsequence(values, seen):
                    problems.append(f"mark {cell}: {name} has {seen}, acknowledged {values}")
    return problems


def _subsequence(needle: list[str], haystack: list[str]) -> bool:
    it = iter(haystack)
    return all(any(x == y for y in it) for x in needle)


def chain_tips() -> tuple[int, int]:
    from peewee import fn

    from appliance.models import AuditEntry, OutboxEntry

    return (
        AuditEntry.select(fn.MAX(AuditEntry.seq)).scalar() or 0,
        OutboxEntry.select(fn.MAX(OutboxEntry.seq)).scalar() or 0,
    )


def open_db(data_dir: Path):
    from appliance.config import load_settings
    from appliance.db import open_database

    db = open_database(load_settings(data_dir).db_path)
    db.connect()
    return db


def probe_grid(port: int, grid: Grid) -> str:
    """`ok`, or why the grid cannot be measured (the page is not in this build yet)."""
    client = Client(port)
    try:
        client.log_in(grid.username, grid.password, role="teacher")
        status, _, _ = client.request("GET", f"/journal/{grid.group_id}?term={grid.term_id}")
    finally:
        client.close()
    if status == 404:
        return "GET /journal/<group>?term=<term> answers 404: no grid page in this build"
    return "ok"


# --- the run -------------------------------------------------------------------------


def measure(args) -> tuple[dict, list[str]]:
    with tempfile.TemporaryDirectory(prefix="ezh-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        began = time.perf_counter()
        grid, writers = build_school(data_dir, args.clients)
        print(
            f"school built in {time.perf_counter() - began:.1f} s; grid {grid.group_name}, "
            f"{grid.term_name}: {grid.counts}",
            file=sys.stderr,
        )
        db = open_db(data_dir)
        audit_from, outbox_from = chain_tips()
        db.close()
        result: dict = {"bench": "journal", "quick": args.quick, "dataset": "demo"}
        with spawned(data_dir, args.threads, Path(tmp) / "server.log") as port:
            result.update(grid_part(port, grid, args))
            result.update(write_part(port, writers, args))
        db = open_db(data_dir)
        try:
            problems = verify_writes(writers, audit_from, outbox_from)
        finally:
            db.close()
    result["verified"] = not problems
    result.update(
        clients=args.clients, server_threads=args.threads, rounds=args.rounds, server="ezh serve"
    )
    return result, problems


def grid_part(port: int, grid: Grid, args) -> dict:
    """The grid alone (1 client: the page's own cost), then under load (G clients)."""
    why = probe_grid(port, grid)
    if why != "ok":
        print(f"grid: not measured: {why}", file=sys.stderr)
        return {"grid": "not available", "grid_note": why}
    result: dict = {"grid_size": grid.counts}
    for prefix, clients, count in (
        ("grid", 1, args.grid_per_client),
        ("grid_loaded", args.grid_clients, max(2, args.grid_per_client // 2)),
    ):
        swarm = Swarm(port, [(grid.username, grid.password)] * clients)
        try:
            totals = interleaved(swarm, prefix, grid_action(grid), args.rounds, count)
        finally:
            swarm.close()
        page, health = totals[prefix], totals["healthz"]
        page_p50 = percentile_ms(page.latencies, 50)
        healthz_p50 = percentile_ms(health.latencies, 50)
        result.update(
            {
                f"{prefix}_p50_vs_healthz": round(page_p50 / healthz_p50, 2),
                f"{prefix}_p50_ms": page_p50,
                f"{prefix}_p95_ms": percentile_ms(page.latencies, 95),
                f"{prefix}_healthz_p50_ms": healthz_p50,
                f"{prefix}_healthz_p95_ms": percentile_ms(health.latencies, 95),
                f"{prefix}_rps": round(page.rps, 1),
                f"{prefix}_requests": page.requests,
                f"{prefix}_clients": clients,
            }
        )
    return result


def write_part(port: int, writers: list[Writer], args) -> dict:
    swarm = Swarm(port, [(w.username, w.password) for w in writers])
    try:
        totals = interleaved(swarm, "writes", write_action(writers), args.rounds, args.per_client)
    finally:
        swarm.close()
    writes, health = totals["writes"], totals["healthz"]
    errors = [e for w in writers for e in w.errors]
    result = {
        "writes_vs_healthz_rps": round(writes.rps / health.rps, 3),
        "writes_rps": round(writes.rps, 1),
        "healthz_rps": round(health.rps, 1),
        "write_p50_ms": percentile_ms(writes.latencies, 50),
        "write_p95_ms": percentile_ms(writes.latencies, 95),
        "write_max_ms": round(max(writes.latencies) * 1000, 1),
        "healthz_p50_ms": percentile_ms(health.latencies, 50),
        "healthz_p95_ms": percentile_ms(health.latencies, 95),
        "writes": writes.requests,
        "acknowledged": sum(len(w.acked) for w in writers),
        "errors": len(errors),
        "teachers": len({w.username for w in writers}),
        "groups": len({w.group_id for w in writers}),
    }
    if errors:
        result["error_samples"] = sorted(set(errors))[:5]
    return result


def parse_args(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent writing teachers")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds per part")
    parser.add_argument("--per-client", type=int, default=None, help="writes per client a round")
    parser.add_argument(
        "--grid-clients", type=int, default=4, help="concurrent grid clients in the loaded phase"
    )
    parser.add_argument(
        "--grid-per-client", type=int, default=None, help="grid GETs a round (half when loaded)"
    )
    parser.add_argument("--threads", type=int, default=8, help="waitress threads (ezh serve)")
    args = parser.parse_args(argv)
    quick = {"rounds": 3, "per_client": 10, "grid_per_client": 10}
    full = {"rounds": 8, "per_client": 20, "grid_per_client": 25}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result, problems = measure(args)
    except BenchError as exc:
        print(f"bench/journal.py: {exc}", file=sys.stderr)
        return 1
    for problem in problems[:20]:
        print(f"bench/journal.py: {problem}", file=sys.stderr)
    if result.get("errors"):
        print(f"bench/journal.py: {result['errors']} writes were refused", file=sys.stderr)
    print(json.dumps(result, ensure_ascii=False))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
