"""The emulator's own SQLite state (stdlib `sqlite3`): the "other side" of the sync.

Ids are the emulator's own integers, like the real server's; `box_ids` keeps the box's
uuids beside them so the adapter (and tests) can map one to the other. Every journal
write bumps `write_count` for its natural key, also when the value is unchanged.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS year (id INTEGER PRIMARY KEY, name TEXT, starts TEXT, ends TEXT);
CREATE TABLE IF NOT EXISTS term (id INTEGER PRIMARY KEY, name TEXT, starts TEXT, ends TEXT,
    closed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS class (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS person (id INTEGER PRIMARY KEY, full_name TEXT NOT NULL,
    is_staff INTEGER NOT NULL, class_id INTEGER);
CREATE TABLE IF NOT EXISTS account (login TEXT PRIMARY KEY, password TEXT NOT NULL,
    person_id INTEGER NOT NULL, role TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subject_group (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
    subject_name TEXT NOT NULL, class_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sg_student (sg_id INTEGER, student_id INTEGER,
    PRIMARY KEY (sg_id, student_id));
CREATE TABLE IF NOT EXISTS class_meeting (id INTEGER PRIMARY KEY, sg_id INTEGER NOT NULL,
    date TEXT NOT NULL, number INTEGER NOT NULL, start_time TEXT, end_time TEXT,
    room TEXT NOT NULL DEFAULT '', theme TEXT NOT NULL DEFAULT '',
    homework TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS assignment (id INTEGER PRIMARY KEY AUTOINCREMENT,
    cm_id INTEGER NOT NULL, type_id INTEGER NOT NULL, name TEXT NOT NULL DEFAULT '',
    weight INTEGER NOT NULL DEFAULT 1, UNIQUE (cm_id, type_id));
CREATE TABLE IF NOT EXISTS mark (assign_id INTEGER, student_id INTEGER, mark TEXT NOT NULL,
    duty_mark INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (assign_id, student_id));
CREATE TABLE IF NOT EXISTS attendance (cm_id INTEGER, student_id INTEGER,
    reason TEXT NOT NULL, PRIMARY KEY (cm_id, student_id));
CREATE TABLE IF NOT EXISTS period_mark (sg_id INTEGER, term_id INTEGER, student_id INTEGER,
    mark TEXT, mark_type INTEGER NOT NULL, PRIMARY KEY (sg_id, term_id, student_id));
CREATE TABLE IF NOT EXISTS write_count (key TEXT PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS box_ids (entity TEXT, box_uuid TEXT, id INTEGER,
    PRIMARY KEY (entity, box_uuid));
"""

ASSIGNMENT_TYPES = [
    {"id": 1, "name": "Ответ на уроке", "abbr": "О", "order": 1},
    {"id": 2, "name": "Контрольная работа", "abbr": "К", "order": 2},
    {"id": 3, "name": "Домашнее задание", "abbr": "Д", "order": 3},
    {"id": 4, "name": "Самостоятельная работа", "abbr": "С", "order": 4},
    {"id": 5, "name": "Проверочная работа", "abbr": "П", "order": 5},
    # More of the kinds a NetSchool server lists (each server's list is its own).
    {"id": 6, "name": "Практическая работа", "abbr": "Пр", "order": 6},
    {"id": 7, "name": "Лабораторная работа", "abbr": "Л", "order": 7},
    {"id": 8, "name": "Диктант", "abbr": "Дк", "order": 8},
    {"id": 9, "name": "Тестирование", "abbr": "Т", "order": 9},
    {"id": 10, "name": "Сочинение", "abbr": "Сч", "order": 10},
    {"id": 11, "name": "Изложение", "abbr": "Из", "order": 11},
    {"id": 12, "name": "Зачёт", "abbr": "З", "order": 12},
]
HOMEWORK_TYPE = 3
ATTENDANCE_REASONS = [
    {"id": 1, "key": "missedGoodReason", "name": "Пропуск по уважительной причине", "abbr": "УП"},
    {"id": 2, "key": "missedIll", "name": "Пропуск по болезни", "abbr": "Б"},
    {"id": 3, "key": "missedNoReason", "name": "Пропуск без уважительной причины", "abbr": "Н"},
    {"id": 4, "key": "missed", "name": "Пропуск", "abbr": "ОТ"},
    {"id": 5, "key": "late", "name": "Опоздание", "abbr": "ОП"},
    {"id": 6, "key": "released", "name": "Освобождён", "abbr": "ОСВ"},
]
KNOWN_REASONS = {r["key"] for r in ATTENDANCE_REASONS} | {r["abbr"] for r in ATTENDANCE_REASONS}


class Rejected(Exception):
    """A write the upstream refuses (HTTP 400 with the message)."""


class EmulatorStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        with self.tx() as con:
            con.executescript(SCHEMA)

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One serialized transaction (the emulator is small; a lock beats retry loops)."""
        with self._lock:
            con = sqlite3.connect(self.path, timeout=30)
            con.row_factory = sqlite3.Row
            try:
                with con:
                    yield con
            finally:
                con.close()

    def query(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        with self.tx() as con:
            return [dict(row) for row in con.execute(sql, args)]

    # --- meta and accounts -------------------------------------------------------------

    def meta(self, key: str, default: str = "") -> str:
        rows = self.query("SELECT value FROM meta WHERE key = ?", key)
        return rows[0]["value"] if rows else default

    def set_meta(self, key: str, value: str) -> None:
        with self.tx() as con:
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def add_account(self, login: str, password: str, person_id: int, role: str) -> None:
        with self.tx() as con:
            con.execute(
                "INSERT OR REPLACE INTO account VALUES (?, ?, ?, ?)",
                (login, password, person_id, role),
            )

    def account(self, login: str) -> dict[str, Any] | None:
        rows = self.query(
            "SELECT a.*, p.full_name FROM account a JOIN person p ON p.id = a.person_id"
            " WHERE lower(a.login) = lower(?)",
            login,
        )
        return rows[0] if rows else None

    def close_term(self, term_id: int, closed: bool = True) -> None:
        with self.tx() as con:
            con.execute("UPDATE term SET closed = ? WHERE id = ?", (int(closed), term_id))

    @staticmethod
    def new_token() -> str:
        return secrets.token_hex(16)

    # --- writes --------------------------------------------------------------------------

    @staticmethod
    def _count(con: sqlite3.Connection, key: str) -> None:
        con.execute(
            "INSERT INTO write_count VALUES (?, 1)"
            " ON CONFLICT(key) DO UPDATE SET count = count + 1",
            (key,),
        )

    @staticmethod
    def _cm(con: sqlite3.Connection, cm_id: Any, sg_id: Any) -> sqlite3.Row:
        row = con.execute("SELECT * FROM class_meeting WHERE id = ?", (cm_id,)).fetchone()
        if row is None or (sg_id is not None and row["sg_id"] != int(sg_id)):
            raise Rejected(f"Неизвестный урок (class meeting) {cm_id}")
        closed = con.execute(
            "SELECT name FROM term WHERE closed = 1 AND starts <= ? AND ends >= ?",
            (row["date"], row["date"]),
        ).fetchone()
        if closed is not None:
            raise Rejected(f"period closed: {closed['name']}")
        return row

    @staticmethod
    def _student(con: sqlite3.Connection, sg_id: int, student_id: Any) -> int:
        found = con.execute(
            "SELECT 1 FROM sg_student WHERE sg_id = ? AND student_id = ?", (sg_id, student_id)
        ).fetchone()
        if found is None:
            raise Rejected(f"Неизвестный ученик {student_id} в группе {sg_id}")
        return int(student_id)

    def quickedit(self, body: dict[str, Any]) -> dict[str, int]:
        """Upsert marks and attendance; all or nothing. An empty mark/reason deletes."""
        sg_id = body.get("sgId")
        with self.tx() as con:
            if con.execute("SELECT 1 FROM subject_group WHERE id = ?", (sg_id,)).fetchone() is None:
                raise Rejected(f"Неизвестная группа {sg_id}")
            for item in body.get("results") or []:
                cm = self._cm(con, item.get("cmId"), sg_id)
                student = self._student(con, cm["sg_id"], item.get("studentId"))
                assign_id = item.get("assignId")
                if assign_id:
                    row = con.execute(
                        "SELECT id FROM assignment WHERE id = ? AND cm_id = ?",
                        (assign_id, cm["id"]),
                    ).fetchone()
                    if row is None:
                        raise Rejected(f"Неизвестное задание {assign_id}")
                else:
                    type_id = int(item.get("assignTypeId") or 1)
                    con.execute(
                        "INSERT OR IGNORE INTO assignment (cm_id, type_id) VALUES (?, ?)",
                        (cm["id"], type_id),
                    )
                    assign_id = con.execute(
                        "SELECT id FROM assignment WHERE cm_id = ? AND type_id = ?",
                        (cm["id"], type_id),
                    ).fetchone()["id"]
                mark = item.get("mark")
                if mark in (None, ""):
                    con.execute(
                        "DELETE FROM mark WHERE assign_id = ? AND student_id = ?",
                        (assign_id, student),
                    )
                else:
                    con.execute(
                        "INSERT OR REPLACE INTO mark VALUES (?, ?, ?, ?)",
                        (assign_id, student, str(mark), int(bool(item.get("dutyMark")))),
                    )
                self._count(con, f"mark:cm={cm['id']}:assign={assign_id}:student={student}")
            for item in body.get("attendance") or []:
                cm = self._cm(con, item.get("cmId"), sg_id)
                student = self._student(con, cm["sg_id"], item.get("studentId"))
                reason = item.get("reason")
                if reason in (None, ""):
                    con.execute(
                        "DELETE FROM attendance WHERE cm_id = ? AND student_id = ?",
                        (cm["id"], student),
                    )
                elif str(reason) not in KNOWN_REASONS:
                    raise Rejected(f"Неизвестная причина отсутствия {reason!r}")
                else:
                    con.execute(
                        "INSERT OR REPLACE INTO attendance VALUES (?, ?, ?)",
                        (cm["id"], student, str(reason)),
                    )
                self._count(con, f"attendance:cm={cm['id']}:student={student}")
        return {
            "results": len(body.get("results") or []),
            "attendance": len(body.get("attendance") or []),
        }

    def edit_lesson(self, cm_id: Any, sg_id: Any, body: dict[str, Any]) -> dict[str, Any]:
        with self.tx() as con:
            cm = self._cm(con, cm_id, sg_id)
            for field, column in (("theme", "theme"), ("homework", "homework")):
                if field in body:
                    con.execute(
                        f"UPDATE class_meeting SET {column} = ? WHERE id = ?",
                        (body[field] or "", cm["id"]),
                    )
                    self._count(con, f"{field}:cm={cm['id']}")
        return self.lesson(int(cm_id))

    def lesson(self, cm_id: int) -> dict[str, Any]:
        cms = self.query("SELECT * FROM class_meeting WHERE id = ?", cm_id)
        if not cms:
            raise Rejected(f"Неизвестный урок (class meeting) {cm_id}")
        cm = cms[0]
        return {
            "cmId": cm["id"],
            "sgId": cm["sg_id"],
            "date": f"{cm['date']}T00:00:00",
            "theme": cm["theme"],
            "homework": cm["homework"],
            "lessonId": None,
            "attendance": [
                {"studentId": r["student_id"], "reason": r["reason"]}
                for r in self.query("SELECT * FROM attendance WHERE cm_id = ?", cm_id)
            ],
            "assignments": [
                {
                    "id": a["id"],
                    "typeId": a["type_id"],
                    "weight": a["weight"],
                    "results": [
                        {
                            "studentId": m["student_id"],
                            "mark": m["mark"],
                            "dutyMark": bool(m["duty_mark"]),
                        }
                        for m in self.query("SELECT * FROM mark WHERE assign_id = ?", a["id"])
                    ],
                }
                for a in self.query("SELECT * FROM assignment WHERE cm_id = ?", cm_id)
            ],
        }

    def period_mark(self, body: dict[str, Any]) -> dict[str, Any]:
        sg_id, term_id = body.get("sgId"), body.get("termId")
        mark, mark_type = body.get("mark"), int(body.get("markType") or 0)
        with self.tx() as con:
            if con.execute("SELECT 1 FROM subject_group WHERE id = ?", (sg_id,)).fetchone() is None:
                raise Rejected(f"Неизвестная группа {sg_id}")
            term = con.execute("SELECT * FROM term WHERE id = ?", (term_id,)).fetchone()
            if term is None:
                raise Rejected(f"Неизвестный период {term_id}")
            if term["closed"]:
                raise Rejected(f"period closed: {term['name']}")
            student = self._student(con, int(sg_id), body.get("studentId"))
            if mark in (None, "") and mark_type >= 0:
                con.execute(
                    "DELETE FROM period_mark WHERE sg_id = ? AND term_id = ? AND student_id = ?",
                    (sg_id, term_id, student),
                )
            else:
                con.execute(
                    "INSERT OR REPLACE INTO period_mark VALUES (?, ?, ?, ?, ?)",
                    (sg_id, term_id, student, None if mark in (None, "") else str(mark), mark_type),
                )
            self._count(con, f"periodmark:sg={sg_id}:term={term_id}:student={student}")
        return {
            "sgId": sg_id,
            "termId": term_id,
            "studentId": student,
            "mark": mark,
            "markType": mark_type,
        }

    # --- dump ----------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        marks = self.query(
            "SELECT a.cm_id AS cmId, m.assign_id AS assignId, a.type_id AS assignTypeId,"
            " m.student_id AS studentId, m.mark, m.duty_mark AS dutyMark"
            " FROM mark m JOIN assignment a ON a.id = m.assign_id"
            " ORDER BY a.cm_id, m.assign_id, m.student_id"
        )
        return {
            "marks": marks,
            "attendance": self.query(
                "SELECT cm_id AS cmId, student_id AS studentId, reason FROM attendance"
                " ORDER BY cm_id, student_id"
            ),
            "lessons": self.query(
                "SELECT id AS cmId, sg_id AS sgId, date, theme, homework FROM class_meeting"
                " WHERE theme != '' OR homework != '' ORDER BY id"
            ),
            "periodMarks": self.query(
                "SELECT sg_id AS sgId, term_id AS termId, student_id AS studentId, mark,"
                " mark_type AS markType FROM period_mark ORDER BY sg_id, term_id, student_id"
            ),
            "writeCounts": {
                r["key"]: r["count"] for r in self.query("SELECT * FROM write_count ORDER BY key")
            },
            "terms": self.query("SELECT id, name, starts, ends, closed FROM term ORDER BY id"),
            "idMap": self.query(
                "SELECT entity, box_uuid AS boxUuid, id FROM box_ids ORDER BY entity, id"
            ),
        }
