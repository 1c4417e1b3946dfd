"""Timetable conflict check: a whole school's year against one `/healthz` call.

A synthetic school — 50 classes (grades 2–11, letters А–Д), 100 teachers, 60 rooms,
25 students a class, a full 5 × 6 week (1 650 entries, each class with one subject
split into two parallel subgroups) — is built conflict-free in a temporary
database. Then six Saturday entries are planted: a teacher twice, a room twice, a
class twice, two subgroups sharing a student (four conflicts), plus parallel
subgroups with disjoint students and two lessons of one slot whose validity ranges
do not overlap (no conflict). The bench fails unless the checker finds exactly the
four planted conflicts.

Figure: `year_conflicts(year)` — load the year's entries, teachers and (for parallel
subgroups) students from SQLite and check every pair that shares a slot — once
cold (fresh connection) and then in rounds interleaved with `GET /healthz` through
the same Flask app (its test client, no network), medians compared.

    python bench/timetable.py [--quick] [--rounds N]

The last line of stdout is one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/timetable.py` from anywhere
    sys.path.insert(0, str(ROOT))

from bench._http import BenchError  # noqa: E402

CLASSES, TEACHERS, ROOMS, STUDENTS = 50, 100, 60, 25
DAYS, LESSONS = 5, 6
GROUPS_PER_CLASS = 10  # each class meets 10 groups, 3 lessons a week each
STARTS, ENDS = dt.date(2026, 9, 1), dt.date(2027, 8, 31)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build(data_dir: Path):
    """The app over a fresh data dir holding the synthetic school; returns (app, year)."""
    from appliance.bulk import insert_rows, next_id
    from appliance.config import load_settings
    from appliance.db import write
    from appliance.models import (
        AcademicYear,
        Person,
        Room,
        School,
        SchoolClass,
        Subject,
        SubjectGroup,
        SubjectGroupStudent,
        SubjectGroupTeacher,
        TimetableEntry,
    )
    from appliance.web import create_app

    app = create_app(load_settings(data_dir, password_profile="fast"))
    with write():
        School.create(name="Синтетическая школа", short_name="Синт.", setup_complete=True)
        year = AcademicYear.create(name="2026/2027", starts=STARTS, ends=ENDS, is_current=True)
        first_person = next_id(Person)
        insert_rows(
            Person,
            (
                {"id": first_person + t, "last_name": f"Учитель{t}", "first_name": "И",
                 "is_staff": True}
                for t in range(TEACHERS)
            ),
        )  # fmt: skip
        teachers = [first_person + t for t in range(TEACHERS)]
        first_room = next_id(Room)
        insert_rows(Room, ({"id": first_room + r, "name": f"{100 + r}"} for r in range(ROOMS)))
        rooms = [first_room + r for r in range(ROOMS)]
        subjects = [Subject.create(name=f"Предмет {k}").id for k in range(GROUPS_PER_CLASS + 4)]
        first_student = next_id(Person)
        insert_rows(
            Person,
            (
                {"id": first_student + i, "last_name": f"Ученик{i}", "first_name": "У"}
                for i in range(CLASSES * STUDENTS)
            ),
        )
        classes = [
            SchoolClass.create(year=year, grade=2 + c // 5, letter="АБВГД"[c % 5]).id
            for c in range(CLASSES)
        ]
        state = {"group": next_id(SubjectGroup), "groups": [], "teachers": [], "students": [],
                 "entries": []}  # fmt: skip

        def group(c, subject, subgroup, teacher, pupils):
            gid = state["group"]
            state["group"] += 1
            state["groups"].append(
                {"id": gid, "year": year.id, "school_class": classes[c], "subject": subject,
                 "subgroup": subgroup}
            )  # fmt: skip
            state["teachers"].append({"group": gid, "teacher": teachers[teacher]})
            state["students"] += [
                {"group": gid, "student": first_student + c * STUDENTS + i, "starts": STARTS}
                for i in pupils
            ]
            return gid

        def entry(gid, weekday, number, room, since=STARTS, until=None):
            state["entries"].append(
                {"group": gid, "weekday": weekday, "number": number, "room": room,
                 "valid_from": since, "valid_to": until}
            )  # fmt: skip

        everyone = range(STUDENTS)
        half = STUDENTS // 2
        for c in range(CLASSES):
            split = c % GROUPS_PER_CLASS
            made = {}
            for k in range(GROUPS_PER_CLASS):
                t = (c + 5 * k) % TEACHERS
                if k == split:
                    made[k] = (
                        group(c, subjects[k], 1, t, range(half)),
                        group(c, subjects[k], 2, (t + 50) % TEACHERS, range(half, STUDENTS)),
                    )
                else:
                    made[k] = (group(c, subjects[k], None, t, everyone),)
            for s in range(DAYS * LESSONS):
                weekday, number = s // LESSONS + 1, s % LESSONS + 1
                k = s % GROUPS_PER_CLASS
                entry(made[k][0], weekday, number, rooms[c])
                if len(made[k]) == 2:
                    entry(made[k][1], weekday, number, rooms[50 + c // 10])
        base = len(state["entries"])
        extra = subjects[GROUPS_PER_CLASS:]
        # planted conflicts, on Saturday (weekday 6), which the week leaves empty
        entry(group(0, extra[0], None, 0, everyone), 6, 1, None)
        entry(group(1, extra[0], None, 0, everyone), 6, 1, None)  # teacher 0 twice
        entry(group(2, extra[1], None, 2, everyone), 6, 2, rooms[55])
        entry(group(3, extra[1], None, 3, everyone), 6, 2, rooms[55])  # room twice
        entry(group(4, extra[1], None, 4, everyone), 6, 3, None)
        entry(group(4, extra[2], None, 5, everyone), 6, 3, None)  # class 4 twice
        entry(group(5, extra[3], 1, 6, range(0, 13)), 6, 4, None)
        entry(group(5, extra[3], 2, 7, range(12, 25)), 6, 4, None)  # student 12 in both
        # planted non-conflicts
        entry(group(6, extra[3], 1, 8, range(0, 12)), 6, 4, None)
        entry(group(6, extra[3], 2, 9, range(12, 25)), 6, 4, None)  # disjoint subgroups
        entry(group(7, extra[0], None, 10, everyone), 6, 5, None, until=dt.date(2026, 12, 31))
        entry(group(7, extra[1], None, 11, everyone), 6, 5, None, since=dt.date(2027, 1, 1))
        insert_rows(SubjectGroup, state["groups"])
        insert_rows(SubjectGroupTeacher, state["teachers"])
        insert_rows(SubjectGroupStudent, state["students"])
        insert_rows(TimetableEntry, state["entries"])
    log(
        f"built: {len(state['entries'])} entries ({base} in the week), "
        f"{len(state['groups'])} groups"
    )
    return app, year, classes


def check_planted(found, classes) -> None:
    """Exactly the four planted conflicts, nothing in the conflict-free week."""
    index = {class_id: c for c, class_id in enumerate(classes)}
    got = sorted(
        (c.kind, c.weekday, c.number, index[c.first.class_id], index[c.second.class_id])
        for c in found
    )
    want = sorted(
        [("teacher", 6, 1, 0, 1), ("room", 6, 2, 2, 3), ("class", 6, 3, 4, 4),
         ("class", 6, 4, 5, 5)]
    )  # fmt: skip
    if got != want:
        raise BenchError(f"the checker found {got}, expected the planted {want}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args()
    rounds = args.rounds or (5 if args.quick else 20)

    from appliance.models import database
    from appliance.timetable.conflicts import find_conflicts, year_conflicts
    from appliance.timetable.entries import load_entries

    with tempfile.TemporaryDirectory(prefix="ezh-bench-timetable-") as tmp:
        app, year, classes = build(Path(tmp) / "data")
        client = app.test_client()
        database.close()  # cold: a fresh connection, nothing cached in Python
        database.connect()
        t0 = time.perf_counter()
        found = year_conflicts(year)
        cold = time.perf_counter() - t0
        check_planted(found, classes)
        log(f"cold check: {cold * 1000:.1f} ms, {len(found)} conflicts (the planted ones)")

        checks, probes, in_memory = [], [], []
        entries = load_entries(year)
        for _ in range(rounds):
            t0 = time.perf_counter()
            response = client.get("/healthz")
            probes.append(time.perf_counter() - t0)
            if response.status_code != 200:
                raise BenchError(f"/healthz answered {response.status_code}")
            t0 = time.perf_counter()
            found = year_conflicts(year)
            checks.append(time.perf_counter() - t0)
            check_planted(found, classes)
            t0 = time.perf_counter()
            find_conflicts(entries, start=year.starts, end=year.ends)
            in_memory.append(time.perf_counter() - t0)
        check_s, healthz_s = statistics.median(checks), statistics.median(probes)
        log(f"check median {check_s * 1000:.1f} ms, /healthz median {healthz_s * 1000:.1f} ms")
        print(
            json.dumps(
                {
                    "conflict_check_s": round(check_s, 4),
                    "healthz_s": round(healthz_s, 4),
                    "conflict_check_vs_healthz": round(check_s / healthz_s, 2),
                    "conflict_check_cold_s": round(cold, 4),
                    "conflict_check_max_s": round(max(checks), 4),
                    "conflict_check_in_memory_s": round(statistics.median(in_memory), 4),
                    "entries": len(entries),
                    "classes": CLASSES,
                    "teachers": TEACHERS,
                    "rooms": ROOMS,
                    "planted_conflicts_found": 4,
                    "rounds": rounds,
                    "quick": args.quick,
                }
            )
        )


if __name__ == "__main__":
    try:
        main()
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        sys.exit(1)
