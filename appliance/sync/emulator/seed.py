"""Seed the emulator from a box database (read-only `sqlite3`, never the app's models).

Copies the current year, its terms, classes, students and staff, subject groups with
their students, and class meetings (the box's lessons, with bell times). Emulator ids are
its own integers, deliberately offset from the box's; `box_ids` maps box uuid → id.
Logins: one service account (a staff member, role "teacher") with the given password,
and, when `student_password` is given, one account per student who has a box login
(same username) — for reading a diary with a real client.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .store import EmulatorStore

OFFSETS = {"year": 1000, "term": 2000, "class": 3000, "person": 10000, "sg": 20000, "cm": 100000}
DEFAULT_LOGIN = "ezh-sync"
DEFAULT_PASSWORD = "Синхронизация-1"


def _full_name(row: sqlite3.Row) -> str:
    return " ".join(p for p in (row["last_name"], row["first_name"], row["middle_name"]) if p)


def seed_from_box(
    store: EmulatorStore,
    box_db_path: str | Path,
    service_login: str = DEFAULT_LOGIN,
    service_password: str = DEFAULT_PASSWORD,
    student_password: str | None = None,
) -> dict[str, int]:
    """Fill an empty emulator store from the box database; return counts per entity."""
    box = sqlite3.connect(f"file:{Path(box_db_path).resolve()}?mode=ro", uri=True)
    box.row_factory = sqlite3.Row
    try:
        return _copy(store, box, service_login, service_password, student_password)
    finally:
        box.close()


def _copy(
    store: EmulatorStore,
    box: sqlite3.Connection,
    service_login: str,
    service_password: str,
    student_password: str | None,
) -> dict[str, int]:
    q = box.execute
    school = q("SELECT * FROM school").fetchone()
    year = q("SELECT * FROM academic_year ORDER BY is_current DESC, starts DESC").fetchone()
    if year is None:
        raise ValueError("В базе ЭЖ-box нет учебного года: засевать нечего.")
    counts: dict[str, int] = {}
    ids: dict[tuple[str, int], int] = {}

    def new_id(kind: str, box_id: int) -> int:
        counts[kind] = counts.get(kind, 0) + 1
        ids[(kind, box_id)] = OFFSETS[kind] + counts[kind]
        return ids[(kind, box_id)]

    bells = {
        r["number"]: (str(r["starts"])[:5], str(r["ends"])[:5])
        for r in q(
            "SELECT b.* FROM bell b JOIN bell_schedule s ON s.id = b.schedule_id"
            " ORDER BY s.is_default"
        )
    }
    with store.tx() as con:
        if con.execute("SELECT 1 FROM class").fetchone() is not None:
            raise ValueError("Эмулятор уже засеян.")

        def remember(entity: str, uuid: str, emulator_id: int) -> None:
            con.execute("INSERT INTO box_ids VALUES (?, ?, ?)", (entity, uuid, emulator_id))

        meta = {
            "school_name": school["name"] if school else "Школа",
            "school_short_name": school["short_name"] if school else "Школа",
            "timezone": school["timezone"] if school else "Europe/Samara",
        }
        con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
        year_id = new_id("year", year["id"])
        con.execute(
            "INSERT INTO year VALUES (?, ?, ?, ?)",
            (year_id, year["name"], year["starts"], year["ends"]),
        )
        remember("academic_year", year["uuid"], year_id)
        for t in q("SELECT * FROM term WHERE year_id = ? ORDER BY starts", (year["id"],)):
            term_id = new_id("term", t["id"])
            con.execute(
                "INSERT INTO term VALUES (?, ?, ?, ?, 0)",
                (term_id, t["name"], t["starts"], t["ends"]),
            )
            remember("term", t["uuid"], term_id)
        for c in q(
            "SELECT * FROM school_class WHERE year_id = ? ORDER BY grade, letter", (year["id"],)
        ):
            class_id = new_id("class", c["id"])
            con.execute("INSERT INTO class VALUES (?, ?)", (class_id, f"{c['grade']}{c['letter']}"))
            remember("school_class", c["uuid"], class_id)
        people = q(
            "SELECT p.*, (SELECT e.school_class_id FROM enrollment e WHERE e.student_id = p.id"
            " AND e.ends IS NULL ORDER BY e.starts DESC LIMIT 1) AS class_id FROM person p"
            " WHERE p.is_staff = 1 OR EXISTS (SELECT 1 FROM enrollment e"
            " WHERE e.student_id = p.id) ORDER BY p.id"
        ).fetchall()
        for p in people:
            person_id = new_id("person", p["id"])
            class_id = ids.get(("class", p["class_id"])) if p["class_id"] else None
            con.execute(
                "INSERT INTO person VALUES (?, ?, ?, ?)",
                (person_id, _full_name(p), p["is_staff"], class_id),
            )
            remember("person", p["uuid"], person_id)
        staff = [ids[("person", p["id"])] for p in people if p["is_staff"]]
        if staff:
            con.execute(
                "INSERT INTO account VALUES (?, ?, ?, 'teacher')",
                (service_login, service_password, staff[0]),
            )
        if student_password is not None:
            for u in q(
                "SELECT u.username, u.person_id FROM user u JOIN person p ON p.id = u.person_id"
                " WHERE p.is_staff = 0"
            ):
                if ("person", u["person_id"]) in ids:
                    con.execute(
                        "INSERT OR IGNORE INTO account VALUES (?, ?, ?, 'student')",
                        (u["username"], student_password, ids[("person", u["person_id"])]),
                    )
        groups = q(
            "SELECT g.*, s.name AS subject_name FROM subject_group g"
            " JOIN subject s ON s.id = g.subject_id WHERE g.year_id = ? ORDER BY g.id",
            (year["id"],),
        ).fetchall()
        for g in groups:
            if ("class", g["school_class_id"]) not in ids:
                continue
            sg_id = new_id("sg", g["id"])
            class_id = ids[("class", g["school_class_id"])]
            name = g["subject_name"] + (f" (гр. {g['subgroup']})" if g["subgroup"] else "")
            con.execute(
                "INSERT INTO subject_group VALUES (?, ?, ?, ?)",
                (sg_id, name, g["subject_name"], class_id),
            )
            remember("subject_group", g["uuid"], sg_id)
            for s in q(
                "SELECT DISTINCT student_id FROM subject_group_student WHERE group_id = ?",
                (g["id"],),
            ):
                if ("person", s["student_id"]) in ids:
                    con.execute(
                        "INSERT INTO sg_student VALUES (?, ?)",
                        (sg_id, ids[("person", s["student_id"])]),
                    )
        lessons = q(
            "SELECT l.*, r.name AS room_name FROM lesson l LEFT JOIN room r ON r.id = l.room_id"
            " ORDER BY l.date, l.number, l.id"
        )
        for lesson in lessons:
            if ("sg", lesson["group_id"]) not in ids:
                continue
            cm_id = new_id("cm", lesson["id"])
            start, end = bells.get(lesson["number"], ("08:00", "08:40"))
            con.execute(
                "INSERT INTO class_meeting (id, sg_id, date, number, start_time, end_time, room)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    cm_id,
                    ids[("sg", lesson["group_id"])],
                    str(lesson["date"])[:10],
                    lesson["number"],
                    start,
                    end,
                    lesson["room_name"] or "",
                ),
            )
            remember("lesson", lesson["uuid"], cm_id)
    return counts
