"""Send coalesced outbox items to АСУ РСО, exactly once per value.

Each item (one journal cell, one lesson, one period mark) becomes a NetSchool write:
marks and attendance of one subject group go together in one `quickedit`; a lesson's
topic and homework in one `journal/edit`; a period mark in one `periodmarks` call.

Exactly once, with a protocol that has no idempotency keys:

* before a request leaves, its items' attempt counter is committed (`outbox.begin`);
* an item that was attempted before — the answer was lost, or the worker was killed
  before it could record the acceptance — is first read back: if АСУ РСО already holds
  the value, it is accepted without a second write;
* a write whose answer is lost is read back at once the same way (drop-after-commit).

So a cell is written upstream at most once per value the box sends, and never more
often than it was edited here. Rows АСУ РСО keeps itself (rosters, classes, subjects,
the timetable) are not sent: their entries are closed as `skipped` with the reason.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ..db import write
from ..models import (
    Lesson,
    OutboxEntry,
    Person,
    SubjectGroup,
    Term,
    WorkType,
    database,
    now,
)
from . import bases, match, outbox
from .netschool import (
    NeedsManualAction,
    NetSchoolClient,
    NetSchoolError,
    Rejected,
    Unavailable,
    idempotent_write,
)
from .outbox import Item, _chunks

SENT_TYPES = {"Mark", "Attendance", "Lesson", "PeriodMark", "Assignment"}
NOT_SENT = "Не передаётся: этим в АСУ РСО ведают её справочники и расписание."


class LessonRow(NamedTuple):
    id: int
    uuid: str
    group_id: int
    date: dt.date
    number: int


@dataclass
class Outcome:
    accepted: list[Item] = field(default_factory=list)
    parked: list[tuple[Item, str]] = field(default_factory=list)
    failed: list[Item] = field(default_factory=list)
    skipped: list[Item] = field(default_factory=list)
    error: str = ""
    retry_after: float | None = None
    # cell bases to store with the acceptance: entity_uuid → (entity_type, value)
    bases: dict[str, tuple[str, str]] = field(default_factory=dict)
    # АСУ РСО's refusals as it worded them, collected while sending (no database there);
    # `record` names the students and groups in them and parks the items
    refused: list[tuple[Item, str]] = field(default_factory=list)


@dataclass
class Cell:
    """A mark or attendance cell as the group's `quickedit` wants it."""

    item: Item
    kind: str  # "mark" / "attendance"
    sg: str
    term: str | None
    cm: str
    student: str
    value: str  # NetSchool's mark or reason key; "" clears
    type_id: int = 0  # the assignment's type (marks)

    def entry(self) -> dict[str, Any]:
        if self.kind == "mark":
            return {
                "cmId": int(self.cm),
                "assignId": None,
                "assignTypeId": self.type_id,
                "studentId": int(self.student),
                "mark": self.value or None,
                "dutyMark": False,
            }
        return {"cmId": int(self.cm), "studentId": int(self.student), "reason": self.value or None}


def _name_of(entity: str, uuid: str) -> str | None:
    """A box row named for a message: a student's name, a group's subject and class."""
    if entity == "Person":
        person = Person.get_or_none(Person.uuid == uuid)
        return f"{person.last_name} {person.first_name}" if person else None
    group = SubjectGroup.get_or_none(SubjectGroup.uuid == uuid)
    return f"«{group.name}»" if group else None


def _rows(sql: str, ids: Sequence) -> Iterable[tuple]:
    """Rows of `sql` whose one `IN ({})` takes `ids`, in pieces SQLite can bind."""
    for chunk in _chunks(ids):
        yield from database.execute_sql(sql.format(", ".join("?" * len(chunk))), list(chunk))


def _date(value: str | dt.date) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _ref(data: dict[str, Any], name: str) -> Any:
    """A foreign key in a row snapshot (`db.snapshot` keeps the field's name)."""
    found = data.get(name)
    return found if found is not None or name in data else data.get(name + "_id")


@dataclass
class Prepared:
    """A batch planned and counted as attempted, its requests not yet sent."""

    items: list[Item]
    result: Outcome
    cells: list[Cell]
    singles: list[tuple[Item, Callable[[], Any], Callable[[], Any], Any]]

    @property
    def sent(self) -> list[Item]:
        return [c.item for c in self.cells] + [s[0] for s in self.singles]


class Unmatched(Exception):  # noqa: N818 — a reason to park, not a bug
    """A row the change needs has no АСУ РСО id (message in Russian)."""


class Pusher:
    """One sync run's push: caches of ids, work types and read-backs live as long as it."""

    def __init__(self, client: NetSchoolClient, year_of: Callable[[], Any] | None = None) -> None:
        self.client = client
        self.mapping = client.mapping
        self._year_of = year_of
        self.refreshed = False
        self.report: match.MatchReport | None = None
        self._ids: dict[str, dict[str, tuple[str] | None]] = {}  # entity → uuid → row
        self._types: dict[str, int] | None = None
        self.down: Unavailable | None = None  # set when АСУ РСО stops answering mid-batch
        # Rows as plain tuples, fetched for a whole batch in a few IN queries and kept
        # for the run: a backlog holds many cells of few lessons (see `_prefetch`).
        self._people: dict[int, tuple[str, str, str]] = {}  # id → uuid, last, first
        self._assignments: dict[int, tuple[int, int]] = {}  # id → lesson, work type
        self._lesson_rows: dict[int, LessonRow] = {}
        self._groups: dict[int, tuple[str, int]] = {}  # id → uuid, year
        self._lessons: dict[int, tuple[str, str, str | None]] = {}  # → remote ids
        self._terms: dict[int, list[tuple[dt.date, dt.date, str]]] = {}
        self._first_of_type: dict[int, dict[int, int]] = {}  # lesson → type → assignment
        self._work_types: dict[int, int | None] | None = None  # work type → NetSchool type
        self._work_type_names: dict[int, str] = {}
        # `send` may run in another thread while the next batch is prepared: whoever
        # talks to АСУ РСО holds this, so preparing (a re-match, the work types) waits
        self._net = threading.RLock()

    # --- ids -----------------------------------------------------------------------

    def _id(self, entity: str, uuid: str) -> str | None:
        """АСУ РСО's id of a box row (None: not matched), looked up one by one as a run
        needs them: a school's year holds tens of thousands of matched lessons, a run
        a few."""
        ids = self._ids.setdefault(entity, {})
        if uuid not in ids:
            ids[uuid] = database.execute_sql(
                'SELECT remote_id FROM "id_map" WHERE entity_type = ? AND local_uuid = ?',
                (entity, uuid),
            ).fetchone()
        found = ids[uuid]
        return found[0] if found else None

    def _refresh(self) -> None:
        """Match again (once per run) when a change needs a row not matched yet."""
        if self.refreshed or self._year_of is None:
            return
        self.refreshed = True
        year = self._year_of()
        if year is not None:
            with self._net:
                self.report = match.refresh(self.client, year)
        self._ids.clear()

    def remote(self, entity: str, uuid: str, what: str) -> str:
        found = self._id(entity, uuid)
        if found is None:
            self._refresh()
            found = self._id(entity, uuid)
        if found is None:
            raise Unmatched(f"{what} нет в АСУ РСО (или не удалось сопоставить).")
        return found

    def explain(self, reason: str) -> str:
        """АСУ РСО's refusal with its ids of students and groups named as the box names
        them («Неизвестный ученик 10377 в группе 20176» tells an admin nothing)."""

        def named(found: re.Match, entity: str) -> str:
            local = database.execute_sql(
                'SELECT local_uuid FROM "id_map" WHERE entity_type = ? AND remote_id = ?',
                (entity, found.group(2)),
            ).fetchone()
            name = _name_of(entity, local[0]) if local else None
            return f"{found.group(1)} {name}" if name else found.group(0)

        text = re.sub(r"(учени\w*)\s+(\d+)", lambda m: named(m, "Person"), reason)
        text = re.sub(r"(групп\w*)\s+(\d+)", lambda m: named(m, "SubjectGroup"), text)
        return f"АСУ РСО не приняла: {text}"

    def work_type_id(self, work_type_id: int) -> int | None:
        """`type_id` of a work type by its id (all work types read once per run)."""
        if self._work_types is None:
            self._work_types = {}
            for work_type in WorkType.select():
                self._remember_type(work_type)
        if work_type_id not in self._work_types:
            self._remember_type(WorkType.get_by_id(work_type_id))
        return self._work_types[work_type_id]

    def _remember_type(self, work_type: WorkType) -> None:
        assert self._work_types is not None
        self._work_types[work_type.id] = self.type_id(work_type)
        self._work_type_names[work_type.id] = work_type.name

    def type_id(self, work_type: WorkType) -> int | None:
        """The NetSchool assignment type of a work type: the one the settings name for it
        («Виды работ»), else the one of the same name, else of the same abbreviation.
        None when АСУ РСО has none: a mark sent under another type would land in the
        wrong column there (and clash with that column's own marks)."""
        if self._types is None:
            self._types = {}
            with self._net:
                rows = self.client.assignment_types()
            for row in rows:
                for key in (row.get("name"), row.get("abbr")):
                    if key:
                        self._types.setdefault(match.norm(key), int(row["id"]))
        chosen = self.mapping.work_types.get(work_type.name)
        for key in (chosen, work_type.name, work_type.short_name):
            if key and match.norm(key) in self._types:
                return self._types[match.norm(key)]
        return None

    def no_type(self, work_type_id: int) -> Unmatched:
        name = self._work_type_names.get(work_type_id, "")
        return Unmatched(
            f"В АСУ РСО нет вида работы «{name}» (ни с таким названием, ни с таким "
            "сокращением). Администратор: укажите в настройках синхронизации («Виды работ»), "
            "какой вид работы АСУ РСО ему соответствует, и нажмите «Отправить снова»."
        )

    # --- the run -------------------------------------------------------------------

    def push(self, items: Sequence[Item]) -> Outcome:
        """Send `items`; record what was accepted, parked or failed; return the outcome."""
        prepared = self.prepare(items)
        try:
            self.send(prepared)
        finally:
            self.record(prepared.result)
        return prepared.result

    # The three steps of a batch: `prepare` and `record` use the database, `send` only
    # the network, so the engine prepares the next batch and records the previous one
    # while a batch is in flight (`engine._push_all`).

    def prepare(self, items: Sequence[Item]) -> Prepared:
        """Plan each item's request and commit the attempt (`outbox.begin`)."""
        prepared = Prepared(list(items), Outcome(), [], [])
        self._prefetch(items)
        for item in items:
            try:
                self._plan(item, prepared.result, prepared.cells, prepared.singles)
            except Unmatched as reason:
                prepared.result.parked.append((item, str(reason)))
            except Rejected as reason:
                prepared.result.parked.append((item, self.explain(reason.reason)))
        outbox.begin(prepared.sent)
        return prepared

    def send(self, prepared: Prepared, stop: threading.Event | None = None) -> Outcome:
        """The requests of a prepared batch (no database access: may run in a thread).

        `stop` set (the worker is stopping): no further request of the batch leaves, so
        a slow АСУ РСО holds the stop up by one request, not a batch of them. What was
        not sent stays pending with its attempt counted: the next run reads it back.
        """
        stopped = stop.is_set if stop is not None else lambda: False
        with self._net:
            self.down = None
            by_group: dict[str, list[Cell]] = defaultdict(list)
            for cell in prepared.cells:
                by_group[cell.sg].append(cell)
            for sg, group_cells in by_group.items():
                if stopped():
                    return prepared.result
                self._send_group(sg, group_cells, prepared.result)
            for item, do, read, expected in prepared.singles:
                if stopped():
                    return prepared.result
                self._send_one(item, do, read, expected, prepared.result)
        return prepared.result

    def _plan(self, item: Item, result: Outcome, cells: list[Cell], singles: list) -> None:
        kind = item.entity_type
        data = item.last_known if item.op == "delete" else item.payload
        if kind not in SENT_TYPES or (kind == "Lesson" and item.op == "delete"):
            result.skipped.append(item)
        elif kind == "Assignment":
            result.accepted.append(item)  # NetSchool makes it with its first mark
        elif kind in ("Mark", "Attendance"):
            cells.append(self._cell(item, data))
        elif kind == "Lesson":
            self._plan_lesson(item, result, singles)
        elif kind == "PeriodMark":
            singles.append(self._period_mark(item, data))

    def _prefetch(self, items: Sequence[Item]) -> None:
        """Read the rows the batch's cells need in a few queries (not a few per cell)."""
        wanted_assignments, wanted_lessons, wanted_people = set(), set(), set()
        for item in items:
            if item.entity_type not in ("Mark", "Attendance"):
                continue
            data = item.last_known if item.op == "delete" else item.payload
            wanted_people.add(_ref(data, "student"))
            if item.entity_type == "Mark":
                wanted_assignments.add(_ref(data, "assignment"))
            else:
                wanted_lessons.add(_ref(data, "lesson"))
        # Plain SQL: building these peewee queries cost more than running them.
        missing = [a for a in wanted_assignments if a not in self._assignments]
        for aid, lesson_id, work_type_id in _rows(
            'SELECT id, lesson_id, work_type_id FROM "assignment" WHERE id IN ({})', missing
        ):
            self._assignments[aid] = (lesson_id, work_type_id)
        wanted_lessons |= {
            self._assignments[a][0] for a in wanted_assignments if a in self._assignments
        }
        lessons = [lid for lid in wanted_lessons if lid not in self._lesson_rows]
        for lid, uuid, group_id, date, number in _rows(
            'SELECT id, uuid, group_id, date, number FROM "lesson" WHERE id IN ({})', lessons
        ):
            self._lesson_rows[lid] = LessonRow(lid, uuid, group_id, _date(date), number)
        # every assignment of those lessons: which one of each type АСУ РСО has
        # every batch: a teacher may add or delete an assignment while a run goes on
        fresh = [lid for lid in wanted_lessons if lid in self._lesson_rows]
        for lid in fresh:
            self._first_of_type.pop(lid, None)
        for aid, lesson_id, work_type_id in _rows(
            'SELECT id, lesson_id, work_type_id FROM "assignment" WHERE lesson_id IN ({})'
            " ORDER BY id",
            fresh,
        ):
            self._assignments[aid] = (lesson_id, work_type_id)
            firsts = self._first_of_type.setdefault(lesson_id, {})
            type_id = self.work_type_id(work_type_id)
            if type_id is not None:
                firsts.setdefault(type_id, aid)
        groups = {r.group_id for r in self._lesson_rows.values()} - set(self._groups)
        for gid, uuid, year_id in _rows(
            'SELECT id, uuid, year_id FROM "subject_group" WHERE id IN ({})', list(groups)
        ):
            self._groups[gid] = (uuid, year_id)
        people = [p for p in wanted_people if p not in self._people]
        for pid, uuid, last, first in _rows(
            'SELECT id, uuid, last_name, first_name FROM "person" WHERE id IN ({})', people
        ):
            self._people[pid] = (uuid, last, first)

    def _student(self, student_id: Any) -> str:
        if student_id not in self._people:
            person = Person.get_or_none(Person.id == student_id)
            if person is None:
                raise Unmatched("Ученика этой отметки больше нет на ЭЖ-box.")
            self._people[student_id] = (person.uuid, person.last_name, person.first_name)
        uuid, last, first = self._people[student_id]
        return self.remote("Person", uuid, f"Ученика {last} {first}")

    def _lesson_row(self, lesson_id: Any) -> LessonRow | None:
        if lesson_id not in self._lesson_rows:
            lesson = Lesson.get_or_none(Lesson.id == lesson_id)
            if lesson is None:
                return None
            self._lesson_rows[lesson.id] = LessonRow(
                lesson.id, lesson.uuid, lesson.group_id, lesson.date, lesson.number
            )
        return self._lesson_rows[lesson_id]

    def _lesson_ids(self, lesson: LessonRow | Lesson) -> tuple[str, str, str | None]:
        """(remote group, remote class meeting, remote term or None) of a box lesson."""
        if lesson.id in self._lessons:
            return self._lessons[lesson.id]
        if lesson.group_id not in self._groups:
            group = SubjectGroup.get_by_id(lesson.group_id)
            self._groups[group.id] = (group.uuid, group.year_id)
        group_uuid, year_id = self._groups[lesson.group_id]
        where = f"{lesson.date:%d.%m.%Y} №{lesson.number}"
        sg = self.remote("SubjectGroup", group_uuid, f"Группы урока {where}")
        cm = self.remote("Lesson", lesson.uuid, f"Урока {where}")
        if year_id not in self._terms:
            self._terms[year_id] = [
                (t.starts, t.ends, t.uuid) for t in Term.select().where(Term.year == year_id)
            ]
        term = next((u for a, b, u in self._terms[year_id] if a <= lesson.date <= b), None)
        found = (sg, cm, self._id("Term", term) if term else None)
        self._lessons[lesson.id] = found
        return found

    def _cell(self, item: Item, data: dict[str, Any]) -> Cell:
        value = "" if item.op == "delete" else str(data.get("value") or data.get("code") or "")
        if item.entity_type == "Mark":
            assignment_id = _ref(data, "assignment")
            if assignment_id not in self._assignments:
                raise Unmatched("Работы этой отметки больше нет на ЭЖ-box.")
            lesson_id, work_type_id = self._assignments[assignment_id]
            lesson = self._lesson_row(lesson_id)
            if lesson is None:
                raise Unmatched("Урока этой отметки больше нет на ЭЖ-box.")
            type_id = self.work_type_id(work_type_id)
            if type_id is None:
                raise self.no_type(work_type_id)
            if self._first_of_type.get(lesson_id, {}).get(type_id) != assignment_id:
                raise Unmatched(
                    f"У урока {lesson.date:%d.%m.%Y} уже есть работа этого вида: в АСУ РСО "
                    "у урока одна работа каждого вида. Поставьте отметку в АСУ РСО вручную."
                )
            sg, cm, term = self._lesson_ids(lesson)
            student = self._student(_ref(data, "student"))
            mark = {"зач": self.mapping.pass_mark, "незач": self.mapping.fail_mark}.get(
                value, value
            )
            return Cell(item, "mark", sg, term, cm, student, mark, type_id)
        lesson = self._lesson_row(_ref(data, "lesson"))
        if lesson is None:
            raise Unmatched("Урока этой отметки посещаемости больше нет на ЭЖ-box.")
        sg, cm, term = self._lesson_ids(lesson)
        student = self._student(_ref(data, "student"))
        reason = self.mapping.attendance_reason(value) or ""
        return Cell(item, "attendance", sg, term, cm, student, reason)

    def _plan_lesson(self, item: Item, result: Outcome, singles: list) -> None:
        lesson = Lesson.get_or_none(Lesson.uuid == item.entity_uuid)
        if lesson is None:
            result.skipped.append(item)
            return
        fields: dict[str, str] = {}  # what changed since both sides last agreed
        wanted: dict[str, str] = {}  # both fields as the box has them now
        agreed = bases.values(f"{item.entity_uuid}:{name}" for name in ("topic", "homework"))
        for name, remote_name in (("topic", "theme"), ("homework", "homework")):
            # the row as it is now: a pull may have taken АСУ РСО's value since the edit
            value = str(getattr(lesson, name) or "")
            wanted[remote_name] = value
            if value != agreed.get(f"{item.entity_uuid}:{name}", ""):
                fields[remote_name] = value
            result.bases[f"{item.entity_uuid}:{name}"] = ("Lesson", value)
        # An earlier attempt may have reached АСУ РСО (answer lost, worker killed) with a
        # value the base never learnt: then what АСУ РСО holds is compared, not the base.
        attempted = item.attempts > 0
        if not fields and not attempted:
            result.accepted.append(item)  # a state change only: nothing АСУ РСО keeps
            return
        sg, cm, _ = self._lesson_ids(lesson)
        keys = wanted if attempted else fields

        def read() -> dict[str, str]:
            answer = self.client.lesson(cm, sg)
            return {k: str(answer.get(k) or "") for k in keys}

        sent_before: dict[str, set[str]] = {"theme": set(), "homework": set()}
        if attempted:  # what earlier attempts may have left in АСУ РСО
            for (payload,) in (
                OutboxEntry.select(OutboxEntry.payload)
                .where(OutboxEntry.seq.in_(item.seqs) & (OutboxEntry.attempts > 0))
                .tuples()
            ):
                data = json.loads(payload or "{}")
                sent_before["theme"].add(str(data.get("topic") or ""))
                sent_before["homework"].add(str(data.get("homework") or ""))

        def send() -> None:
            changed = fields
            if attempted:
                held = read()
                # a field changed here, or one АСУ РСО holds because this box sent it
                changed = {
                    k: v
                    for k, v in wanted.items()
                    if held[k] != v and (k in fields or held[k] in sent_before[k])
                }
            if changed:
                self.client.set_topic_homework_fields(cm, sg, changed)

        singles.append((item, send, read, {k: wanted[k] for k in keys}))

    def _period_mark(self, item: Item, data: dict[str, Any]):
        group = SubjectGroup.get_or_none(SubjectGroup.id == _ref(data, "group"))
        if group is None:
            raise Unmatched("Группы этой итоговой отметки больше нет на ЭЖ-box.")
        if data.get("kind", "term") != "term" or not _ref(data, "term"):
            raise Unmatched(
                "Годовые и итоговые отметки АСУ РСО принимает только в своей форме: "
                "внесите их там вручную."
            )
        term = Term.get_or_none(Term.id == _ref(data, "term"))
        if term is None:
            raise Unmatched("Периода этой отметки больше нет на ЭЖ-box.")
        sg = self.remote("SubjectGroup", group.uuid, f"Группы «{group.name}»")
        term_id = self.remote("Term", term.uuid, f"Периода «{term.name}»")
        student = self._student(_ref(data, "student"))
        value = "" if item.op == "delete" else str(data.get("value") or "")
        mark, mark_type = self.mapping.period_mark(value)

        def read() -> tuple[Any, int]:
            for row in self.client.period_marks(sg, term_id):
                if str(row.get("studentId")) == student:
                    found = row.get("mark")
                    return (
                        None if found in (None, "") else str(found),
                        int(row.get("markType") or 0),
                    )
            return (None, 0)

        expected = (mark, mark_type) if (mark or mark_type != 0) else (None, 0)
        return (
            item,
            lambda: self.client.set_period_mark(sg, term_id, student, mark, mark_type),
            read,
            expected,
        )

    # --- sending -------------------------------------------------------------------

    def _send_one(self, item: Item, do, read, expected, result: Outcome) -> None:
        if self.down is not None:  # АСУ РСО stopped answering: don't wait out every item
            self._fail([item], self.down, result)
            return
        try:
            idempotent_write(do, read, expected, check_first=item.attempts > 0)
        except Rejected as reason:
            result.refused.append((item, reason.reason))
        except NeedsManualAction:
            raise
        except Unavailable as error:
            self.down = error
            self._fail([item], error, result)
        except NetSchoolError as error:  # an answer of an unknown shape: this item waits
            self._fail([item], error, result)
        else:
            result.accepted.append(item)

    def _read_cells(self, sg: str, cells: Iterable[Cell]) -> dict[tuple, str]:
        """What АСУ РСО holds now for these cells: (kind, cm, student[, type]) → value."""
        found: dict[tuple, str] = {}
        for term in sorted({c.term or "" for c in cells}):
            journal = self.client.journal(sg, term or None)
            for part in journal.get("journals", []):
                types = {}
                for meeting in part.get("classMeeting", []):
                    for assignment in meeting.get("assignments", []):
                        types[str(assignment.get("id"))] = (
                            str(meeting.get("id")),
                            int(assignment.get("typeId") or 0),
                        )
                for mark in part.get("marks", []):
                    cm, type_id = types.get(str(mark.get("assignmentId")), ("", 0))
                    value = mark.get("mark")
                    found[("mark", cm, str(mark.get("studentId")), type_id)] = (
                        "" if value in (None, "") else str(value)
                    )
                for row in part.get("attendance", []):
                    found[
                        ("attendance", str(row.get("classmeetingId")), str(row.get("studentId")))
                    ] = str(row.get("reason") or "")
        return found

    @staticmethod
    def _key(cell: Cell) -> tuple:
        if cell.kind == "mark":
            return ("mark", cell.cm, cell.student, cell.type_id)
        return ("attendance", cell.cm, cell.student)

    def _settle_by_reading(self, sg: str, cells: list[Cell], result: Outcome) -> list[Cell]:
        """Accept the cells АСУ РСО already holds; return the others."""
        held = self._read_cells(sg, cells)
        rest = []
        for cell in cells:
            if held.get(self._key(cell), "") == cell.value:
                result.accepted.append(cell.item)
                self._base(cell, result)
            else:
                rest.append(cell)
        return rest

    def _base(self, cell: Cell, result: Outcome) -> None:
        data = cell.item.last_known if cell.item.op == "delete" else cell.item.payload
        local = "" if cell.item.op == "delete" else str(data.get("value") or data.get("code") or "")
        result.bases[cell.item.entity_uuid] = (cell.item.entity_type, local)

    def _send_group(self, sg: str, cells: list[Cell], result: Outcome) -> None:
        if self.down is not None:
            self._fail([c.item for c in cells], self.down, result)
            return
        try:
            if any(c.item.attempts > 0 for c in cells):
                cells = self._settle_by_reading(sg, cells, result)
            if not cells:
                return
            self._quickedit(sg, cells)
        except Rejected as reason:
            if len(cells) == 1:
                result.refused.append((cells[0].item, reason.reason))
                return
            for cell in cells:  # find the one АСУ РСО refuses; the others go on
                self._send_group_one(sg, cell, result)
            return
        except NeedsManualAction:
            raise
        except Unavailable as error:
            self.down = error
            try:
                cells = self._settle_by_reading(sg, cells, result)
            except NetSchoolError:
                pass
            self._fail([c.item for c in cells], error, result)
            return
        except NetSchoolError as error:  # an answer of an unknown shape: these wait
            self._fail([c.item for c in cells], error, result)
            return
        for cell in cells:
            result.accepted.append(cell.item)
            self._base(cell, result)

    def _send_group_one(self, sg: str, cell: Cell, result: Outcome) -> None:
        if self.down is not None:
            self._fail([cell.item], self.down, result)
            return
        try:
            self._quickedit(sg, [cell])
        except Rejected as reason:
            result.refused.append((cell.item, reason.reason))
        except NeedsManualAction:
            raise
        except Unavailable as error:
            self.down = error
            self._fail([cell.item], error, result)
        except NetSchoolError as error:
            self._fail([cell.item], error, result)
        else:
            result.accepted.append(cell.item)
            self._base(cell, result)

    def _quickedit(self, sg: str, cells: list[Cell]) -> None:
        marks = [c.entry() for c in cells if c.kind == "mark"]
        attendance = [c.entry() for c in cells if c.kind == "attendance"]
        self.client.quickedit(sg, marks, attendance)

    def _fail(self, items: list[Item], error: Exception, result: Outcome) -> None:
        result.failed.extend(items)
        result.error = str(error)
        retry = getattr(error, "retry_after", None)
        if retry is not None:
            result.retry_after = max(result.retry_after or 0.0, retry)

    # --- recording -----------------------------------------------------------------

    def record(self, result: Outcome) -> None:
        """Store the outcome: accepted (with bases), parked, failed — one transaction."""
        at = now()
        accepted = {item.entity_uuid for item in result.accepted}
        result.parked.extend((item, self.explain(reason)) for item, reason in result.refused)
        result.refused.clear()
        with write():
            outbox.mark_accepted(result.accepted, accepted_at=at)
            bases.remember_many(
                (
                    (key, entity_type, value)
                    for key, (entity_type, value) in result.bases.items()
                    if key.split(":")[0] in accepted
                ),
                at,
            )
            for item, reason in result.parked:
                outbox.park(item, reason)
            outbox.skip(result.skipped, NOT_SENT)
            if result.failed:
                retry = (
                    at + dt.timedelta(seconds=result.retry_after)
                    if result.retry_after is not None
                    else None
                )
                outbox.mark_failed(result.failed, result.error, retry, now_=at)
