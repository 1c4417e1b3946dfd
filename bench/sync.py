"""Sync speed: the worker pushing 10,000 pending changes vs raw quickedit requests.

The emulator (`ezh emulator`, its own process, seeded from the bench's box) serves on
127.0.0.1. The box holds `--cells` pending journal cells (marks and absences over many
lessons and students of four subject groups), queued exactly as `journal.set_mark` /
`set_attendance` queue them (an `OutboxEntry` per cell whose payload is `db.snapshot`
of the row), but inserted in bulk so that building 10,000 takes seconds.

Two ways to send the same cells, interleaved in rounds (raw, worker, raw, worker …):

* **raw**: the same cells as `quickedit` requests of the same batch size, straight
  with one logged-in `NetSchoolClient`, ids already known — the emulator's request rate
  (each raw round sends its batches `RAW_REPEAT` times, so that it lasts long enough to
  time; every write is checked against the emulator's write counts at the end);
* **worker**: `engine.run_once(settings, client=…, pull=False, max_batches=K)` — reading
  and coalescing the outbox, mapping ids, the requests, recording acceptance and
  publishing — as the worker does it: one client for all runs, like the loop, whose
  session serves the next run while it is fresh (`netschool.SESSION_REUSE`); each run
  still opens a `SyncRun`, reads the id maps and work types and drains its pipeline.

`sync_vs_raw_rate` = worker changes/s ÷ raw changes/s (target ≥ 0.5).

Peak memory: a child process (`--rss-child`) pushes a 1,000 and, separately, a 10,000
backlog from copies of the same box and reports the peak RSS of the push (the kernel's
high-water mark, reset once the imports are done; `ru_maxrss` beside it, and the
growth of Python's allocated blocks over the push, sampled after every batch — the
RSS also holds SQLite's page cache, which grows with the database file up to its
2 MB `cache_size`):
`peak_rss_mb_1k` and `peak_rss_mb_10k` must stay about equal (the worker holds one
batch, not the backlog).

    python bench/sync.py [--quick] [--cells N] [--batch-size B] [--rounds R]

The last line of stdout is one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/sync.py` from anywhere
    sys.path.insert(0, str(ROOT))

from bench._http import (  # noqa: E402
    HOST,
    BenchError,
    ezh_command,
    fill_defaults,
    free_port,
    run_bench,
    tail,
)

LOGIN, PASSWORD = "ezh-sync", "Синхро-Пароль-1"
STUDENTS = 25
GROUPS = ("Русский язык", "Литература", "История")  # plus the factory's Математика
MARKS = ("2", "3", "4", "5")
RAW_REPEAT = 3  # raw rounds send their batches this often: long enough to time steadily
CODES = ("Н", "Б", "УП", "ОП")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the box --------------------------------------------------------------------------


def open_box(data_dir: Path):
    from appliance.config import load_settings
    from appliance.db import migrate, open_database

    settings = load_settings(data_dir)
    db = open_database(settings.db_path)
    db.connect(reuse_if_open=True)
    migrate(db)
    return settings, db


def build_box(data_dir: Path, cells: int) -> int:
    """The factory school grown to 4 groups × 25 students; `cells` pending cells."""
    from appliance.config import write_settings_file
    from appliance.db import write
    from appliance.models import (
        Assignment,
        Enrollment,
        Lesson,
        OutboxEntry,
        Person,
        Subject,
        SubjectGroup,
        SubjectGroupStudent,
        SubjectGroupTeacher,
        WorkType,
    )
    from tests.factories import SchoolFactory

    write_settings_file(data_dir, password_profile="fast")
    open_box(data_dir)
    school = SchoolFactory.build()
    school.add_planning()
    lessons_per_group = -(-cells // (2 * STUDENTS * (len(GROUPS) + 1)))
    today = dt.date.today()
    teacher = school.users["teacher"]
    with write():
        WorkType.create(name="Ответ на уроке", short_name="О", weight=1, is_default=True)
        work_type = WorkType.get()
        a5 = school.classes["5А"]
        students = list(school.students["5А"])
        for n in range(len(students), STUDENTS):
            person = Person.create(last_name=f"Ученик{n:02d}", first_name="Тест")
            Enrollment.create(student=person, school_class=a5, starts=school.year.starts)
            SubjectGroupStudent.create(
                group=school.group, student=person, starts=school.year.starts
            )
            students.append(person)
        groups = [school.group]
        for name in GROUPS:
            subject = Subject.create(name=name, short_name=name[:3])
            group = SubjectGroup.create(year=school.year, school_class=a5, subject=subject)
            SubjectGroupTeacher.create(group=group, teacher=teacher.person)
            for person in students:
                SubjectGroupStudent.create(group=group, student=person, starts=school.year.starts)
            groups.append(group)
        for number, group in enumerate(groups, start=3):
            for back in range(lessons_per_group):
                lesson = Lesson.create(
                    group=group,
                    date=today - dt.timedelta(days=back + 1),
                    number=number,
                    teacher=teacher.person,
                    state="held",
                )
                Assignment.create(lesson=lesson, work_type=work_type, weight=1)
    entries = queue_cells(cells, teacher, students)
    with write():
        for start in range(0, len(entries), 500):
            OutboxEntry.insert_many(entries[start : start + 500]).execute()
        # The factory's own entries (people, groups …) are not what is measured.
        OutboxEntry.update(state="skipped").where(
            OutboxEntry.entity_type.not_in(("Mark", "Attendance"))
        ).execute()
    return len(entries)


def queue_cells(cells: int, teacher, students) -> list[dict]:
    """Marks and absences, lesson by lesson of each group, as teachers enter them; the
    outbox entries `Recorder.record(..., sync=True)` would make for them, in order."""
    from appliance.db import snapshot, write
    from appliance.journal import cell_uuid
    from appliance.models import Assignment, Attendance, Lesson, Mark, now

    entries: list[dict] = []

    def queued(row) -> None:
        entries.append(
            {
                "created_at": now(),
                "entity_type": type(row).__name__,
                "entity_uuid": row.uuid,
                "op": "upsert",
                "payload": json.dumps(snapshot(row), ensure_ascii=False, default=str),
            }
        )

    lessons = Lesson.select().where(Lesson.number >= 3).order_by(Lesson.group, Lesson.date.desc())
    with write():
        for lesson in lessons:
            assignment = Assignment.get(Assignment.lesson == lesson)
            for i, student in enumerate(students):
                if len(entries) >= cells:
                    return entries
                queued(
                    Mark.create(
                        uuid=cell_uuid(assignment.uuid, student),
                        assignment=assignment,
                        student=student,
                        value=MARKS[(lesson.id + i) % len(MARKS)],
                        created_by=teacher,
                    )
                )
                if len(entries) >= cells:
                    return entries
                queued(
                    Attendance.create(
                        uuid=cell_uuid(lesson.uuid, student),
                        lesson=lesson,
                        student=student,
                        code=CODES[(lesson.id + i) % len(CODES)],
                        created_by=teacher,
                    )
                )
    return entries


def copy_box(source: Path, target: Path, keep: int | None = None) -> None:
    """A copy of the box database (online backup); only the first `keep` cells pending."""
    from appliance.db import backup_to

    target.mkdir(parents=True, exist_ok=True)
    for name in ("ezh.toml", "secret_key"):
        if (source / name).exists():
            (target / name).write_bytes((source / name).read_bytes())
    backup_to(target / "ezh.sqlite3")
    if keep is not None:
        import sqlite3

        con = sqlite3.connect(target / "ezh.sqlite3")
        with con:
            rows = con.execute(
                "SELECT seq FROM outbox_entry WHERE state = 'pending'"
                " ORDER BY seq LIMIT 1 OFFSET ?",
                (keep,),
            ).fetchone()
            if rows is not None:
                con.execute(
                    "UPDATE outbox_entry SET state = 'skipped'"
                    " WHERE state = 'pending' AND seq >= ?",
                    (rows[0],),
                )
        con.close()


# --- the emulator ---------------------------------------------------------------------


def start_emulator(emu_dir: Path, box_dir: Path, log_file: Path):
    port = free_port()
    command = [*ezh_command(), "emulator", "--data", str(emu_dir), "--port", str(port)]
    command += ["--seed-from", str(box_dir), "--login", LOGIN, "--password", PASSWORD]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log_file.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"ezh emulator exited with {process.returncode}: {tail(log_file)}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            conn.request("GET", "/webapi/logindata")
            if conn.getresponse().status == 200:
                conn.close()
                return process, f"http://{HOST}:{port}"
            conn.close()
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    raise BenchError(f"the emulator did not answer within 60 s: {tail(log_file)}")


def client_for(url: str):
    from appliance.sync.netschool import NetSchoolClient

    return NetSchoolClient(url, LOGIN, PASSWORD, 1, timeout=60)


# --- raw requests ---------------------------------------------------------------------


def raw_batches(emu_dir: Path, batch_size: int) -> list[dict[str, tuple[list, list]]]:
    """The pending cells as quickedit bodies, batch by batch (ids from the seeding)."""
    from appliance.models import Assignment, Attendance, Lesson, Mark, OutboxEntry, Person
    from appliance.sync.emulator import DB_NAME, EmulatorStore
    from appliance.sync.mapping import DEFAULT_ATTENDANCE_REASONS

    store = EmulatorStore(emu_dir / DB_NAME)
    ids = {(r["entity"], r["box_uuid"]): r["id"] for r in store.query("SELECT * FROM box_ids")}
    people = {p.id: p.uuid for p in Person.select()}
    lessons = {lesson.id: lesson for lesson in Lesson.select()}
    groups = {g_id: uuid for g_id, uuid in _group_uuids()}
    assignment_lesson = dict(Assignment.select(Assignment.id, Assignment.lesson).tuples())
    marks = {m.uuid: m for m in Mark.select()}
    absences = {a.uuid: a for a in Attendance.select()}
    cells = []
    for entry in (
        OutboxEntry.select().where(OutboxEntry.state == "pending").order_by(OutboxEntry.seq)
    ):
        if entry.entity_type == "Mark":
            mark = marks[entry.entity_uuid]
            lesson = lessons[assignment_lesson[mark.assignment_id]]
            cm, student = ids[("lesson", lesson.uuid)], ids[("person", people[mark.student_id])]
            body = {"cmId": cm, "assignId": None, "assignTypeId": 1, "studentId": student}
            cells.append((lesson.group_id, "mark", {**body, "mark": mark.value, "dutyMark": False}))
        else:
            absent = absences[entry.entity_uuid]
            lesson = lessons[absent.lesson_id]
            cm, student = ids[("lesson", lesson.uuid)], ids[("person", people[absent.student_id])]
            reason = DEFAULT_ATTENDANCE_REASONS[absent.code]
            cells.append(
                (
                    lesson.group_id,
                    "attendance",
                    {"cmId": cm, "studentId": student, "reason": reason},
                )
            )
    batches = []
    for start in range(0, len(cells), batch_size):
        by_group: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))
        for group_id, kind, body in cells[start : start + batch_size]:
            by_group[ids[("subject_group", groups[group_id])]][0 if kind == "mark" else 1].append(
                body
            )
        batches.append(dict(by_group))
    return batches


def _group_uuids():
    from appliance.models import SubjectGroup

    return SubjectGroup.select(SubjectGroup.id, SubjectGroup.uuid).tuples()


def upstream_writes(emu_dir: Path) -> int:
    from appliance.sync.emulator import DB_NAME, EmulatorStore

    rows = EmulatorStore(emu_dir / DB_NAME).query("SELECT SUM(count) AS n FROM write_count")
    return int(rows[0]["n"] or 0)


def raw_batch_cells(batch: dict) -> list:
    return [cell for marks, attendance in batch.values() for cell in (*marks, *attendance)]


def send_raw(client, batches) -> int:
    sent = 0
    for batch in batches:
        for sg, (marks, attendance) in batch.items():
            client.quickedit(sg, marks, attendance)
            sent += len(marks) + len(attendance)
    return sent


# --- the worker -----------------------------------------------------------------------


def push_some(settings, client, batch_size: int, max_batches: int | None, progress=None):
    """One run of the worker with the loop's client (its session kept between runs)."""
    from appliance.sync import engine

    result = engine.run_once(
        settings,
        client=client,
        pull=False,
        batch_size=batch_size,
        max_batches=max_batches,
        progress=progress,
    )
    if result.status != "ok" or result.parked or result.failed:
        raise BenchError(f"the worker's run: {result.status} {result.message}")
    return result.pushed


def rss_child(data_dir: Path, url: str, batch_size: int) -> None:
    """`--rss-child`: push the whole backlog of `data_dir`; print pushed and peak RSS.

    The peak is the push's own: after the imports and the database are open the
    kernel's high-water mark is reset (`/proc/self/clear_refs` ← 5), so start-up (which
    peaks higher than a push) does not hide growth. `ru_maxrss` is reported beside it.
    """
    from appliance.sync import engine

    settings, _ = open_box(data_dir)
    engine.ready_count()
    before = status_kb("VmRSS")
    reset = reset_peak()
    blocks = [sys.getallocatedblocks()]

    def sample(done: int, total: int, message: str) -> None:
        # Python's own allocations after each batch (SQLite's page cache is not here).
        blocks.append(sys.getallocatedblocks())

    pushed = 0
    client = client_for(url)
    while engine.ready_count():
        pushed += push_some(settings, client, batch_size, None, progress=sample)
    found = {
        "pushed": pushed,
        "python_blocks_before": blocks[0],
        "python_blocks_peak": max(blocks),
        "peak_kb": status_kb("VmHWM") if reset else 0,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "before_kb": before,
        "end_kb": status_kb("VmRSS"),
    }
    print(json.dumps(found))


def reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def status_kb(field: str) -> int:
    """A `/proc/self/status` figure in kB (Linux), 0 where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def peak_rss(data_dir: Path, url: str, batch_size: int, expected: int) -> tuple[float, ...]:
    command = [sys.executable, str(Path(__file__).resolve()), "--rss-child", str(data_dir)]
    command += ["--url", url, "--batch-size", str(batch_size)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise BenchError(f"the push child failed: {done.stderr[-2000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    if found["pushed"] != expected:
        raise BenchError(f"the push child sent {found['pushed']} of {expected}")
    peak = found["peak_kb"] or found["maxrss_kb"]
    figures = (peak, found["maxrss_kb"], found["before_kb"])
    growth = found["python_blocks_peak"] - found["python_blocks_before"]
    return (*(round(value / 1024, 1) for value in figures), growth)


# --- the measurement ------------------------------------------------------------------


def measure(args) -> dict:
    from appliance.sync import engine, outbox

    with tempfile.TemporaryDirectory(prefix="ezh-bench-sync-") as tmp:
        tmp_dir = Path(tmp)
        box_dir, emu_dir = tmp_dir / "box", tmp_dir / "emu"
        box_dir.mkdir()
        started = time.monotonic()
        cells = build_box(box_dir, args.cells)
        log(f"box: {cells} pending cells in {time.monotonic() - started:.1f} s")
        copy_box(box_dir, tmp_dir / "box1k", keep=1000)
        copy_box(box_dir, tmp_dir / "box10k", keep=10_000)
        process, url = start_emulator(emu_dir, box_dir, tmp_dir / "emulator.log")
        try:
            settings, _ = open_box(box_dir)
            batches = raw_batches(emu_dir, args.batch_size)
            raw_client = client_for(url)
            raw_client.probe()
            # Warm-up, not timed: ids matched by names, work types read, one batch each.
            worker_client = client_for(url)  # the loop's: one session for its runs
            worker_done = push_some(settings, worker_client, args.batch_size, 1)
            raw_done = send_raw(raw_client, batches[:1])
            raw_s = worker_s = 0.0
            raw_timed = worker_timed = 0
            position = 1
            per_round = max(1, -(-(len(batches) - 1) // args.rounds))
            while engine.ready_count() or position < len(batches):
                chunk = batches[position : position + per_round]
                position += len(chunk)
                t0 = time.perf_counter()
                for _ in range(RAW_REPEAT):
                    raw_timed += send_raw(raw_client, chunk)
                t1 = time.perf_counter()
                pushed = push_some(settings, worker_client, args.batch_size, per_round)
                t2 = time.perf_counter()
                raw_s, worker_s = raw_s + t1 - t0, worker_s + t2 - t1
                worker_timed += pushed
                log(
                    f"round: raw {len(chunk)} batches {t1 - t0:.2f} s, "
                    f"worker {pushed} in {t2 - t1:.2f} s"
                )
            worker_done += worker_timed
            raw_done += raw_timed // RAW_REPEAT
            if worker_done != cells or raw_done != cells:
                raise BenchError(f"sent raw {raw_done}, worker {worker_done} of {cells}")
            counts = outbox.counts()
            if counts["pending"] or counts["parked"]:
                raise BenchError(f"outbox after the push: {counts}")
            writes = upstream_writes(emu_dir)
            expected = worker_done + raw_timed + len(raw_batch_cells(batches[0]))
            if writes != expected:  # every raw write and every cell once by the worker
                raise BenchError(f"the emulator counted {writes} writes, not {expected}")
            raw_rate = raw_timed / raw_s
            sync_rate = worker_timed / worker_s
            log(f"raw {raw_rate:.0f}/s, worker {sync_rate:.0f}/s")
            rss_1k, max_1k, base_1k, py_1k = peak_rss(
                tmp_dir / "box1k", url, args.batch_size, min(1000, cells)
            )
            log(f"peak RSS 1k: {rss_1k} MB")
            rss_10k, max_10k, base_10k, py_10k = peak_rss(
                tmp_dir / "box10k", url, args.batch_size, min(10_000, cells)
            )
            log(f"peak RSS 10k: {rss_10k} MB")
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return {
        "sync_vs_raw_rate": round(sync_rate / raw_rate, 3),
        "peak_rss_mb_1k": rss_1k,
        "peak_rss_mb_10k": rss_10k,
        "peak_rss_growth_mb": round(rss_10k - rss_1k, 1),
        "rss_before_push_mb_1k": base_1k,
        "rss_before_push_mb_10k": base_10k,
        "python_blocks_growth_1k": py_1k,
        "python_blocks_growth_10k": py_10k,
        "ru_maxrss_mb_1k": max_1k,
        "ru_maxrss_mb_10k": max_10k,
        "sync_changes_per_s": round(sync_rate, 1),
        "raw_changes_per_s": round(raw_rate, 1),
        "cells": cells,
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "quick": args.quick,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cells", type=int)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--rss-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child, args.url, args.batch_size)
        return 0
    fill_defaults(args, {"cells": 10_000, "rounds": 5}, {"cells": 10_000, "rounds": 10})
    return run_bench("sync", measure, args)


if __name__ == "__main__":
    raise SystemExit(main())
