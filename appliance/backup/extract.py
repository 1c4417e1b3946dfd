"""What of the database goes into a class's archive unit: a SQLite snapshot of the
class-year and the audit entries that touched its rows.

Both are read with SQLite itself (``ATTACH`` + ``INSERT … SELECT``, a cursor for the
audit), one class at a time, so memory does not grow with the school (DESIGN §5).
The snapshot keeps only what the journal needs: contact data (e-mail, phone, address)
and password hashes are blanked (152-ФЗ: the archive keeps no more than it must).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path
from urllib.parse import quote

from .. import audit
from ..models import ALL_MODELS, SyncedModel

SG = "(SELECT id FROM main.subject_group)"
LESSONS = "(SELECT id FROM main.lesson)"

# (table, which rows of the source) in an order where every filter reads tables copied
# before it. ":class" and ":year" are the class and its academic year.
TABLES: list[tuple[str, str]] = [
    ("school", "1"),
    ("academic_year", "id = :year"),
    ("term", "year_id = :year"),
    ("non_school_day", "year_id = :year"),
    ("bell_schedule", "1"),
    ("bell", "1"),
    ("room", "1"),
    ("subject", "1"),
    ("work_type", "1"),
    ("school_class", "id = :class"),
    ("subject_group", "school_class_id = :class"),
    ("subject_group_teacher", f"group_id IN {SG}"),
    ("subject_group_student", f"group_id IN {SG}"),
    ("enrollment", "school_class_id = :class"),
    ("curriculum_line", "year_id = :year AND grade = (SELECT grade FROM main.school_class)"),
    ("plan", f"group_id IN {SG}"),
    ("plan_lesson", "plan_id IN (SELECT id FROM main.plan)"),
    ("timetable_entry", f"group_id IN {SG}"),
    ("timetable_change", "entry_id IN (SELECT id FROM main.timetable_entry)"),
    ("lesson", f"group_id IN {SG}"),
    ("lesson_teacher_change", f"lesson_id IN {LESSONS}"),
    ("assignment", f"lesson_id IN {LESSONS}"),
    ("mark", "assignment_id IN (SELECT id FROM main.assignment)"),
    ("attendance", f"lesson_id IN {LESSONS}"),
    ("period_mark", f"group_id IN {SG}"),
    (
        "unlock",
        "entity_uuid IN (SELECT uuid FROM main.lesson UNION SELECT uuid FROM main.period_mark)",
    ),
    (
        "person",
        "id IN (SELECT student_id FROM main.enrollment"
        " UNION SELECT student_id FROM main.subject_group_student"
        " UNION SELECT teacher_id FROM main.subject_group_teacher"
        " UNION SELECT teacher_id FROM main.lesson"
        " UNION SELECT class_teacher_id FROM main.school_class"
        " UNION SELECT teacher_id FROM main.timetable_change"
        " UNION SELECT old_teacher_id FROM main.lesson_teacher_change"
        " UNION SELECT new_teacher_id FROM main.lesson_teacher_change)",
    ),
    ("user", "person_id IN (SELECT id FROM main.person)"),
]

# Columns the archive must not keep, and what stands in their place.
BLANKED: dict[str, dict[str, str]] = {
    "person": {"email": "''", "phone": "''", "address": "''"},
    "user": {
        "password_hash": "NULL",
        "failures_reset_at": "NULL",
        "locked_until": "NULL",
        "last_login_at": "NULL",
    },
}

# Audit entries of these entities are left out of the extract: their before/after hold
# the person's e-mail, phone and address (152-ФЗ), which the archive never keeps.
PRIVATE_ENTITIES = frozenset({"Person", "User"})

AUDIT_COLUMNS = ", ".join(
    f"a.{c}"
    for c in (
        "seq",
        "at",
        "username",
        "ip",
        "action",
        "entity_type",
        "entity_uuid",
        "before",
        "after",
        "prev_hash",
        "hash",
    )
)

# A deleted row is no longer in the snapshot, but its history belongs to the class: its
# audit entry (found by the action's index) keeps the row as it was, with its group,
# lesson or assignment, which the snapshot does hold.
DELETES = {
    "Mark": "mark.delete",
    "Attendance": "attendance.delete",
    "PeriodMark": "period_mark.delete",
    "Lesson": "lesson.delete",
    "SubjectGroupStudent": "group_student.delete",
}
_BEFORE = "(CASE WHEN json_valid(a.before) THEN a.before ELSE '{}' END)"
DELETED_HERE = (
    f"json_extract({_BEFORE}, '$.group') IN (SELECT id FROM main.subject_group)"
    f" OR json_extract({_BEFORE}, '$.lesson') IN (SELECT id FROM main.lesson)"
    f" OR json_extract({_BEFORE}, '$.assignment') IN (SELECT id FROM main.assignment)"
)


def class_snapshot(source: Path, class_id: int, year_id: int, out: Path) -> dict[str, int]:
    """Write the class-year's rows of ``source`` into a new SQLite file ``out``.

    Returns the row count per table. The schema is the box's own (copied from the
    source), so the file opens with the stock ``sqlite3`` and reads like the box.
    """
    counts: dict[str, int] = {}
    conn = _connect(out, source)
    try:
        conn.execute("BEGIN")  # one read snapshot of the source for every table
        for table, where in TABLES:
            create = conn.execute(
                "SELECT sql FROM src.sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()
            if create is None:
                continue
            conn.execute(create[0])
            columns = [row[1] for row in conn.execute(f'PRAGMA src.table_info("{table}")')]
            blanked = BLANKED.get(table, {})
            select = ", ".join(blanked.get(c, f'"{c}"') for c in columns)
            names = ", ".join(f'"{c}"' for c in columns)
            cursor = conn.execute(
                f'INSERT INTO main."{table}" ({names}) SELECT {select} FROM src."{table}" '
                f"WHERE {where}",
                {"class": class_id, "year": year_id},
            )
            counts[table] = cursor.rowcount
        conn.commit()
        conn.execute("DETACH DATABASE src")
    finally:
        conn.close()
    return counts


def _uri(path: Path, mode: str) -> str:
    return f"file:{quote(str(Path(path).resolve()))}?mode={mode}"


def _connect(target: Path, source: Path) -> sqlite3.Connection:
    """A connection to ``target`` with the box's database attached READ-ONLY as ``src``:
    the archive reads the live database in place and can never change it."""
    conn = sqlite3.connect(_uri(target, "rwc"), uri=True)
    conn.execute("ATTACH DATABASE ? AS src", (_uri(source, "ro"),))
    return conn


def _entity_keys() -> list[tuple[str, str, str]]:
    """(table, entity type as the audit names it, the key column) of every model."""
    keys = []
    for model in ALL_MODELS:
        column = "uuid" if issubclass(model, SyncedModel) else "CAST(id AS TEXT)"
        keys.append((model._meta.table_name, model.__name__, column))
    return keys


def audit_extract(
    source: Path, snapshot: Path, out: Path, entity_types: set[str] | None = None
) -> int:
    """Write, as JSON lines, every audit entry of ``source`` that touched a row of the
    ``snapshot`` (optionally only of ``entity_types``), with its chain hashes.

    Each line holds the hashed fields exactly as the box hashed them, so an entry
    verifies on its own: sha256(prev_hash + "\\n" + json(fields, sort_keys)) == hash
    (see ``VERIFY_SCRIPT``). Entries about people and accounts (``PRIVATE_ENTITIES``)
    are left out: they carry contact data. Returns the number of entries.
    """
    conn = _connect(snapshot, source)
    written = 0
    try:
        conn.execute(
            "CREATE TEMP TABLE keys (entity_type TEXT, entity_uuid TEXT, "
            "PRIMARY KEY (entity_uuid, entity_type)) WITHOUT ROWID"
        )
        present = {row[0] for row in conn.execute("SELECT name FROM main.sqlite_master")}
        for table, entity_type, column in _entity_keys():
            if table not in present or (entity_types and entity_type not in entity_types):
                continue
            if entity_type in PRIVATE_ENTITIES:
                continue
            conn.execute(
                f'INSERT OR IGNORE INTO temp.keys SELECT ?, {column} FROM main."{table}"',
                (entity_type,),
            )
        deletes = [a for t, a in DELETES.items() if not entity_types or t in entity_types]
        conn.execute(  # rows deleted since: their whole history, not only the deletion
            "INSERT OR IGNORE INTO temp.keys SELECT a.entity_type, a.entity_uuid "
            f"FROM src.audit_entry a WHERE a.action IN ({', '.join('?' * len(deletes))}) "
            f"AND ({DELETED_HERE})",
            deletes,
        )
        rows = conn.execute(
            f"SELECT {AUDIT_COLUMNS} FROM temp.keys k "
            "CROSS JOIN src.audit_entry a ON a.entity_uuid = k.entity_uuid "
            "AND a.entity_type = k.entity_type ORDER BY a.seq"
        )
        with open(out, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(_audit_line(row), ensure_ascii=False) + "\n")
                written += 1
    finally:
        conn.close()
    return written


def _audit_line(row: tuple) -> dict:
    seq, at, username, ip, action, entity_type, entity_uuid, before, after, prev, hashed = row
    fields = {
        "at": dt.datetime.fromisoformat(at).isoformat() if at else "",
        "username": username,
        "ip": ip,
        "action": action,
        "entity_type": entity_type,
        "entity_uuid": entity_uuid,
        "before": before,
        "after": after,
    }
    ok = audit.entry_hash(prev, fields) == hashed
    return {"seq": seq, "prev_hash": prev, "hash": hashed, "verified": ok, "fields": fields}


def chain_head(source: Path) -> tuple[int, str]:
    """The last entry of the box's audit chain (seq, hash) when the unit was made."""
    conn = sqlite3.connect(_uri(source, "ro"), uri=True)
    try:
        row = conn.execute("SELECT seq, hash FROM audit_entry ORDER BY seq DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return (row[0], row[1]) if row else (0, audit.GENESIS)


# Shipped inside every unit: checks the audit extract with nothing but Python 3.
VERIFY_SCRIPT = '''\
"""Проверка выписки журнала изменений: python3 verify_audit.py audit.jsonl"""
import hashlib
import json
import sys

bad = count = 0
with open(sys.argv[1] if len(sys.argv) > 1 else "audit.jsonl", encoding="utf-8") as fh:
    for number, line in enumerate(fh, 1):
        entry = json.loads(line)
        count += 1
        payload = entry["prev_hash"] + "\\n" + json.dumps(
            entry["fields"], ensure_ascii=False, sort_keys=True
        )
        if hashlib.sha256(payload.encode("utf-8")).hexdigest() != entry["hash"]:
            bad += 1
            print("НЕ СХОДИТСЯ: запись", entry["seq"], "(строка", number, ")")
print("Проверено записей:", count, "; не сходится:", bad)
sys.exit(1 if bad else 0)
'''
