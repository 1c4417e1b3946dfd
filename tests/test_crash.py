"""Crash safety: SIGKILL the server while 20 teachers write marks; nothing acknowledged is lost.

`ezh serve` runs as a real process on a small school. Twenty client threads post
marks over HTTP, each into cells of its own (one assignment × every student), and
remember every write the server acknowledged with 200. Mid-load the server is
killed with SIGKILL and started again on the same data directory. Then the database
must be intact, hold every acknowledged mark with its value, and every mark must
have its audit and outbox entries, with the audit chain unbroken.

Run on its own: `pytest -m crash`.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode

import pytest

from appliance import journal
from appliance.audit import verify_chain
from appliance.config import load_settings, write_settings_file
from appliance.db import integrity_check, migrate, open_database, write
from appliance.models import (
    AuditEntry,
    Enrollment,
    Lesson,
    Mark,
    OutboxEntry,
    Person,
    SubjectGroupStudent,
    WorkType,
)

from .factories import PASSWORD, SchoolFactory

pytestmark = pytest.mark.crash

if not hasattr(signal, "SIGKILL"):  # pragma: no cover - POSIX only
    pytest.skip("SIGKILL is POSIX-only", allow_module_level=True)

HOST = "127.0.0.1"
CLIENTS = 20
STUDENTS = 20  # cells per client: its own assignment × every student of the group
LOAD_SECONDS = 2.5  # of writing before the kill
CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"|name="csrf_token" value="([^"]+)"')
NEXT = {"": "4", "2": "3", "3": "4", "4": "5", "5": "2"}


# --- the school and the server ---------------------------------------------------------


def prepare_school(data_dir: Path) -> tuple[str, list[int], list[int]]:
    """The factory school, its group grown to 20 students, 21 assignments on today's lessons.

    Returns the teacher's username, the assignment ids and the student ids.
    """
    data_dir.mkdir()
    write_settings_file(data_dir, password_profile="fast")
    db = open_database(load_settings(data_dir).db_path)
    db.connect()
    try:
        migrate(db)
        school = SchoolFactory.build()
        teacher = school.users["teacher"]
        group = school.group
        with write(user=teacher, ip="test") as rec:
            for n in range(STUDENTS - len(school.students["5А"])):
                student = Person.create(last_name="Ученик", first_name=f"№ {n + 1:02d}")
                Enrollment.create(
                    student=student, school_class=group.school_class, starts=school.year.starts
                )
                SubjectGroupStudent.create(group=group, student=student, starts=school.year.starts)
            work_type = WorkType.create(name="Ответ на уроке", weight=1, is_default=True)
            rec.record("work_type.create", work_type)
        lessons = list(
            Lesson.select().where((Lesson.group == group) & (Lesson.date <= dt.date.today()))
        )
        assignments = [
            journal.add_assignment(
                lessons[i % len(lessons)], work_type.id, user=teacher, ip="test"
            ).id
            for i in range(CLIENTS + 1)
        ]
        students = [
            s.student_id
            for s in SubjectGroupStudent.select().where(SubjectGroupStudent.group == group)
        ]
        return teacher.username, assignments, students
    finally:
        db.close()


def ezh() -> list[str]:
    script = Path(sys.executable).with_name("ezh")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from appliance.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """`ezh serve` in its own process; its output goes to a log file."""

    def __init__(self, data_dir: Path, log: Path):
        self.port = free_port()
        command = [*ezh(), "serve", "--data", str(data_dir), "--host", HOST]
        command += ["--port", str(self.port), "--threads", "8"]
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)

    def wait_until_up(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"ezh serve exited: {self.output()}"
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                try:
                    conn.request("GET", "/healthz")
                    if conn.getresponse().status == 200:
                        return
                finally:
                    conn.close()
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"ezh serve did not come up in {timeout} s: {self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """SIGKILL, and reap the process (safe to call twice)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


# --- the clients -----------------------------------------------------------------------


class Teacher:
    """One browser: keep-alive connection, session cookie, CSRF token."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection(HOST, port, timeout=20)
        self.cookie = ""
        self.token = ""

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.token
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        page = response.read().decode(errors="replace")
        for header in response.headers.get_all("Set-Cookie") or []:
            if header.startswith("ezh_session="):
                self.cookie = header.split(";", 1)[0]
        return response.status, page

    def read_token(self, path: str) -> None:
        status, page = self.request("GET", path)
        match = CSRF.search(page)
        assert status == 200 and match, f"GET {path}: {status}, no CSRF token"
        self.token = match.group(1) or match.group(2)

    def log_in(self, username: str) -> None:
        self.read_token("/login")
        status, _ = self.request("POST", "/login", {"username": username, "password": PASSWORD})
        assert status == 302, f"login as {username}: {status}"
        self.read_token("/")

    def post_mark(self, assignment: int, student: int, value: str) -> tuple[int, str]:
        form = {"assignment": assignment, "student": student, "value": value}
        return self.request("POST", "/journal/marks", form)

    def close(self) -> None:
        self.conn.close()


class Writer(threading.Thread):
    """Writes marks into its own cells until the server dies; remembers what was acknowledged."""

    def __init__(self, port: int, username: str, assignment: int, students: list[int], gate):
        super().__init__(daemon=True)
        self.teacher = Teacher(port)
        self.username, self.assignment, self.students, self.gate = (
            username,
            assignment,
            students,
            gate,
        )
        self.acked: list[tuple[int, int, str]] = []  # (assignment, student, value), in order
        self.in_doubt: tuple[int, int, str] | None = None  # the write the crash cut off
        self.refused: list[str] = []
        self.error = ""

    def run(self) -> None:
        try:
            try:
                self.teacher.log_in(self.username)
            except BaseException as exc:
                self.error = f"login: {exc!r}"
            try:
                self.gate.wait(timeout=60)
            except threading.BrokenBarrierError:  # the test gave up before the start
                return
            if self.error:
                return
            values: dict[int, str] = {}
            n = 0
            while True:
                student = self.students[n % len(self.students)]
                n += 1
                value = NEXT[values.get(student, "")]
                try:
                    status, page = self.teacher.post_mark(self.assignment, student, value)
                except (OSError, http.client.HTTPException):
                    # The server is gone; this write may or may not have been stored.
                    self.in_doubt = (self.assignment, student, value)
                    return
                if status == 200:
                    values[student] = value
                    self.acked.append((self.assignment, student, value))
                else:
                    self.refused.append(f"{status}: {' '.join(page.split())[:200]}")
                    self.in_doubt = (self.assignment, student, value)
                    return
        finally:
            self.teacher.close()


# --- the test --------------------------------------------------------------------------


def test_acknowledged_marks_survive_sigkill_mid_load(tmp_path):
    data_dir = tmp_path / "data"
    username, assignments, students = prepare_school(data_dir)
    log = tmp_path / "server.log"
    servers: list[Server] = []
    writers: list[Writer] = []
    gate = threading.Barrier(CLIENTS + 1)
    try:
        first = Server(data_dir, log)
        servers.append(first)
        first.wait_until_up()
        writers = [
            Writer(first.port, username, assignments[i], students, gate) for i in range(CLIENTS)
        ]
        for writer in writers:
            writer.start()
        gate.wait(timeout=60)
        assert not [w.error for w in writers if w.error], [w.error for w in writers if w.error]
        time.sleep(LOAD_SECONDS)
        first.kill()  # SIGKILL mid-load: requests in flight, transactions open
        for writer in writers:
            writer.join(timeout=30)
        assert not any(w.is_alive() for w in writers), "a client hung after the kill"
        refused = [r for w in writers for r in w.refused]
        assert not refused, f"writes refused under load: {refused[:3]}"
        acked = [write_ for w in writers for write_ in w.acked]
        assert len(acked) >= CLIENTS, f"only {len(acked)} writes before the kill"

        second = Server(data_dir, log)  # a new process on the same data directory
        servers.append(second)
        second.wait_until_up()
        after = Teacher(second.port)
        try:
            after.log_in(username)
            status, page = after.post_mark(assignments[-1], students[0], "5")
        finally:
            after.close()
        assert status == 200, f"a write after the restart: {status} {page[:300]}"
        acked.append((assignments[-1], students[0], "5"))
        second.kill()  # the data is checked with no server running
    finally:
        gate.abort()
        for server in servers:
            server.kill()
        for writer in writers:
            writer.join(timeout=30)
    in_doubt = {w.in_doubt[:2]: w.in_doubt[2] for w in writers if w.in_doubt}
    check_database(data_dir, acked, in_doubt)


def check_database(
    data_dir: Path, acked: list[tuple[int, int, str]], in_doubt: dict[tuple[int, int], str]
) -> None:
    db = open_database(load_settings(data_dir).db_path)
    db.connect()
    try:
        assert integrity_check(db) == "ok"
        assert verify_chain() is None, "the audit chain is broken"

        marks = {(m.assignment_id, m.student_id): m for m in Mark.select()}
        audited: dict[str, list[str]] = defaultdict(list)
        for entry in (
            AuditEntry.select().where(AuditEntry.action == "mark.set").order_by(AuditEntry.seq)
        ):
            audited[entry.entity_uuid].append(json.loads(entry.after)["value"])
        queued: dict[str, list[str]] = defaultdict(list)
        for entry in (
            OutboxEntry.select().where(OutboxEntry.entity_type == "Mark").order_by(OutboxEntry.seq)
        ):
            queued[entry.entity_uuid].append(json.loads(entry.payload)["value"])

        by_cell: dict[tuple[int, int], list[str]] = defaultdict(list)
        for assignment, student, value in acked:
            by_cell[assignment, student].append(value)
        for cell, values in by_cell.items():
            mark = marks.get(cell)
            assert mark is not None, f"acknowledged mark {cell} = {values[-1]} is lost"
            # The write the kill cut off may have been stored after the last acknowledged one.
            histories = [values, [*values, in_doubt[cell]]] if cell in in_doubt else [values]
            history = audited[mark.uuid]
            assert history in histories, f"audit of {cell}: {history}, acknowledged {values}"
            assert queued[mark.uuid] == history, f"outbox of {cell}: {queued[mark.uuid]}"
            assert mark.value == history[-1], f"{cell} holds {mark.value}, audited {history}"

        for cell, value in in_doubt.items():
            if cell not in by_cell and cell in marks:  # cut off on its first write, yet stored
                uuid = marks[cell].uuid
                assert marks[cell].value == value
                assert audited[uuid] == [value] and queued[uuid] == [value], cell
        # Every mark in the database, acknowledged or not, has its audit and outbox entries.
        without_audit = [m.uuid for m in marks.values() if not audited.get(m.uuid)]
        without_outbox = [m.uuid for m in marks.values() if not queued.get(m.uuid)]
        assert not without_audit, f"{len(without_audit)} marks without an audit entry"
        assert not without_outbox, f"{len(without_outbox)} marks without an outbox entry"
        # Nothing beyond what the clients sent: only acknowledged or cut-off writes.
        assert set(marks) <= set(by_cell) | set(in_doubt)
    finally:
        db.close()
