"""Read the journals back from АСУ РСО: take its changes, and note conflicts.

Someone may change a cell in АСУ РСО directly (a deputy correcting a mark there). For
each journal cell three values are compared: the box's value, АСУ РСО's value, and the
base — the last value both held (`SyncCell`, written when a push is accepted or a pull
takes a value). The rule, deterministic and the same on every run:

* АСУ РСО equals the base → nothing changed there; the box's edits go by the push.
* АСУ РСО changed and the box has no unsent edit of the cell → АСУ РСО's value is
  taken into the box (audited as «получено из АСУ РСО», published at once).
* АСУ РСО changed and the box has an unsent edit → a **conflict**: the box's edit is
  the newer one a teacher made here, so it stays and is sent; both values are kept in
  `SyncConflict` and the teacher sees it in their list to confirm or change.
* No base (never synced), both hold different values → АСУ РСО wins (it is the
  register), the box's value is kept in a conflict.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import grading
from ..db import snapshot, write
from ..journal import cell_uuid
from ..models import (
    Assignment,
    Attendance,
    IdMap,
    Lesson,
    Mark,
    OutboxEntry,
    Person,
    SubjectGroup,
    SyncConflict,
    Term,
    WorkType,
    now,
)
from ..school_calendar import current_year
from . import bases, match
from .netschool import NetSchoolClient

RECENT_TERM_DAYS = 21  # a term that ended this recently is still read back


@dataclass
class PullResult:
    applied: int = 0
    conflicts: int = 0
    groups: int = 0
    unknown_types: set[int] = field(default_factory=set)


@dataclass
class Remote:
    """One group-term journal as АСУ РСО holds it, keyed by its own ids."""

    marks: dict[tuple[str, int, str], str]  # (cm, type, student) → mark
    attendance: dict[tuple[str, str], str]  # (cm, student) → reason key
    lessons: dict[str, dict[str, str]]  # cm → {"topic", "homework"}


def read_remote(journal: dict[str, Any]) -> Remote:
    remote = Remote({}, {}, {})
    for part in journal.get("journals", []):
        types: dict[str, tuple[str, int]] = {}
        for meeting in part.get("classMeeting", []):
            cm = str(meeting.get("id"))
            remote.lessons[cm] = {
                "topic": str(meeting.get("theme") or ""),
                "homework": str(meeting.get("homework") or ""),
            }
            for assignment in meeting.get("assignments", []):
                types[str(assignment.get("id"))] = (cm, int(assignment.get("typeId") or 0))
        for mark in part.get("marks", []):
            cm, type_id = types.get(str(mark.get("assignmentId")), ("", 0))
            if mark.get("mark") not in (None, ""):
                remote.marks[(cm, type_id, str(mark.get("studentId")))] = str(mark["mark"])
        for row in part.get("attendance", []):
            if row.get("reason"):
                key = (str(row.get("classmeetingId")), str(row.get("studentId")))
                remote.attendance[key] = str(row["reason"])
    return remote


def _terms_to_read(year) -> list[Term]:
    """Running (or just ended) terms, innermost only: a half-year or the year-long term
    holds the running quarter's lessons again, and every other lesson besides."""
    today = dt.date.today()
    recent = today - dt.timedelta(days=RECENT_TERM_DAYS)
    terms = list(
        Term.select().where((Term.year == year) & (Term.starts <= today) & (Term.ends >= recent))
    )

    def holds_another(term: Term) -> bool:
        return any(
            other.id != term.id
            and term.starts <= other.starts
            and other.ends <= term.ends
            and (other.starts, other.ends) != (term.starts, term.ends)
            for other in terms
        )

    return [term for term in terms if not holds_another(term)]


def pull_journals(
    client: NetSchoolClient,
    *,
    progress: Callable[[int, int, str], None] | None = None,
    group_ids: set[int] | None = None,
    restored: bool = False,
) -> PullResult:
    """Read back every matched group's journal (or only `group_ids`) for the running
    term(s).

    `restored`: the box's database came back from a backup, so its unsent edits may be
    older than what АСУ РСО holds (they may even have reached it, and been changed since,
    after the backup was made). Then АСУ РСО wins every cell that differs: its value is
    taken, the box's is kept in a conflict for the teacher, and the box's stale edit of
    a mark or absence is not sent.
    """
    result = PullResult()
    year = current_year()
    if year is None:
        return result
    groups = dict(
        IdMap.select(IdMap.local_uuid, IdMap.remote_id)
        .where(IdMap.entity_type == "SubjectGroup")
        .tuples()
    )
    terms = [(t, match.known("Term").get(t.uuid)) for t in _terms_to_read(year)]
    query = SubjectGroup.select().where(
        (SubjectGroup.year == year) & SubjectGroup.uuid.in_(list(groups))
    )
    if group_ids is not None:
        query = query.where(SubjectGroup.id.in_(list(group_ids)))
    chosen = list(query)
    people = {remote: local for local, remote in match.known("Person").items()}
    merger = Merger(client, people, restored=restored)
    for index, group in enumerate(chosen, 1):
        for term, remote_term in terms:
            if remote_term is None:
                continue
            remote = read_remote(client.journal(groups[group.uuid], remote_term))
            applied, conflicts = merger.merge(group, term, remote)
            result.applied += applied
            result.conflicts += conflicts
        result.groups += 1
        result.unknown_types |= merger.unknown_types
        if progress:
            progress(index, len(chosen), f"Сверка журналов с АСУ РСО: {index} из {len(chosen)}")
    return result


# kind → (model, value field, what it is in Russian)
CELL_KINDS = {
    "mark": (Mark, "value", "отметка"),
    "attendance": (Attendance, "code", "посещаемость"),
}


@dataclass
class Candidate:
    """One cell to settle: its base key, the pending key, both values, how to apply."""

    key: str  # SyncCell key (a cell uuid, or "<lesson uuid>:topic")
    pending_key: str  # the outbox entity_uuid of the cell
    entity_type: str
    local: str
    remote: str
    apply: Callable[[Any], None]  # (recorder) → takes the remote value into the box
    lesson: Lesson
    person: Person | None
    what: str
    cell: dict[str, Any]
    # A lesson's outbox entry covers topic, homework and its state alike: a topic counts
    # as edited here only if it differs from the base (calling the roll is no topic edit).
    field_level: bool = False


def decide(base: str | None, local: str, remote: str, pending: bool) -> str:
    """The module's rule: "none", "same", "take", "conflict" or "conflict-remote"."""
    if base is not None and remote == base:
        return "none"  # nothing changed upstream; the box's own edits go by the push
    if remote == local:
        return "same"
    if base is None and not remote:
        return "none"  # never synced, only here: the box's own value, the push sends it
    if pending:
        return "conflict"  # both changed: the box's unsent edit stays and is sent
    if base is not None:
        return "take"
    return "take" if not local else "conflict-remote"


@dataclass
class GroupRows:
    """The box's journal rows of one group-term, loaded in four queries."""

    lessons: list[Lesson]
    attendance: dict[int, dict[int, Attendance]]  # lesson → student → row
    assignments: dict[int, list[Assignment]]  # lesson → its assignments, oldest first
    marks: dict[int, dict[int, Mark]]  # assignment → student → row


def load_rows(group: SubjectGroup, term: Term, lesson_ids: dict[str, str]) -> GroupRows:
    lessons = [
        lesson
        for lesson in Lesson.select().where(
            (Lesson.group == group) & Lesson.date.between(term.starts, term.ends)
        )
        if lesson.uuid in lesson_ids
    ]
    ids = [lesson.id for lesson in lessons]
    rows = GroupRows(lessons, {}, {}, {})
    for row in Attendance.select().where(Attendance.lesson.in_(ids)):
        rows.attendance.setdefault(row.lesson_id, {})[row.student_id] = row
    query = (
        Assignment.select(Assignment, WorkType)
        .join(WorkType)
        .where(Assignment.lesson.in_(ids))
        .order_by(Assignment.id)
    )
    for assignment in query:
        rows.assignments.setdefault(assignment.lesson_id, []).append(assignment)
    assignment_ids = [a.id for found in rows.assignments.values() for a in found]
    for mark in Mark.select().where(Mark.assignment.in_(assignment_ids)):
        rows.marks.setdefault(mark.assignment_id, {})[mark.student_id] = mark
    return rows


class Merger:
    """Three-way merge of group-term journals (see the module's rule)."""

    def __init__(
        self, client: NetSchoolClient, people: dict[str, str], restored: bool = False
    ) -> None:
        from .push import Pusher

        self.restored = restored
        self.mapping = client.mapping
        self._pusher = Pusher(client)
        self._types: dict[int, int | None] = {}
        persons = Person.select().where(Person.uuid.in_(list(people.values())))
        by_uuid = {p.uuid: p for p in persons}
        self.students = {rid: by_uuid[u] for rid, u in people.items() if u in by_uuid}
        self.remote_of = {p.id: rid for rid, p in self.students.items()}
        self.codes = {key: code for code, key in self.mapping.attendance_reasons.items()}
        self.lesson_ids = match.known("Lesson")
        self.unknown_types: set[int] = set()  # NetSchool types no work type here maps to

    def type_of(self, work_type: WorkType) -> int | None:
        """АСУ РСО's type of a work type (None: it has none, see `Pusher.type_id`)."""
        if work_type.id not in self._types:
            self._types[work_type.id] = self._pusher.type_id(work_type)
        return self._types[work_type.id]

    def merge(self, group: SubjectGroup, term: Term, remote: Remote) -> tuple[int, int]:
        """Settle one group-term: decide outside a transaction first, and only when
        something is to change decide again on fresh rows inside one (a teacher may
        have typed meanwhile)."""
        scale = grading.scale_of(group.subject.scale, group.school_class.graded)
        if not self._decisions(group, term, remote, scale, write_lock=False):
            return 0, 0
        applied = conflicts = 0
        with write() as rec:
            for c, outcome in self._decisions(group, term, remote, scale, write_lock=True):
                if outcome in ("take", "conflict-remote"):
                    c.apply(rec)
                    applied += 1
                if outcome in ("conflict", "conflict-remote"):
                    self._conflict(c, group, "local" if outcome == "conflict" else "remote")
                    conflicts += 1
                if outcome == "conflict-remote" and not c.field_level:
                    _supersede(c.pending_key)  # (after a restore) the stale edit stays here
                bases.remember(c.key, c.entity_type, c.remote)
        return applied, conflicts

    def _decisions(
        self, group: SubjectGroup, term: Term, remote: Remote, scale: str, write_lock: bool
    ) -> list[tuple[Candidate, str]]:
        """Every cell whose decision is not "none", with the decision."""
        rows = load_rows(group, term, self.lesson_ids)
        candidates: list[Candidate] = []
        for lesson in rows.lessons:
            cm = self.lesson_ids[lesson.uuid]
            candidates += self._lesson(lesson, cm, remote)
            candidates += self._attendance(lesson, cm, remote, rows.attendance.get(lesson.id, {}))
            candidates += self._marks(lesson, cm, remote, rows, scale)
        if not candidates:
            return []
        agreed = bases.values(c.key for c in candidates)
        pending = _pending({c.pending_key for c in candidates})
        found = []
        for c in candidates:
            base = agreed.get(c.key)
            edited = c.pending_key in pending and (
                not c.field_level or c.local != (base if base is not None else "")
            )
            if c.pending_key in pending and c.remote in _own_values(pending[c.pending_key], c):
                # АСУ РСО holds a value this box sent (its answer was lost): no one else
                # changed the cell; the push sends the newest value and settles it
                continue
            outcome = decide(base, c.local, c.remote, edited)
            if outcome == "conflict" and self.restored:
                outcome = "conflict-remote"  # the box's edit may be older than АСУ РСО's
            if outcome != "none":
                found.append((c, outcome))
        return found

    # --- the cells of one lesson ---------------------------------------------------

    def _lesson(self, lesson: Lesson, cm: str, remote: Remote) -> list[Candidate]:
        fields = remote.lessons.get(cm, {"topic": "", "homework": ""})
        return [
            Candidate(
                f"{lesson.uuid}:{name}",
                lesson.uuid,
                "Lesson",
                getattr(lesson, name) or "",
                fields[name],
                self._lesson_apply(lesson, name, fields[name]),
                lesson,
                None,
                what,
                {"kind": name, "lesson_id": lesson.id},
                field_level=True,
            )
            for name, what in (("topic", "тема"), ("homework", "домашнее задание"))
        ]

    def _attendance(
        self, lesson: Lesson, cm: str, remote: Remote, local: dict[int, Attendance]
    ) -> list[Candidate]:
        students = {s for (c, s) in remote.attendance if c == cm}
        students |= {self.remote_of[p] for p in local if p in self.remote_of}
        found = []
        for student_remote in students:
            person = self.students.get(student_remote)
            if person is None:
                continue
            row = local.get(person.id)
            reason = remote.attendance.get((cm, student_remote), "")
            value = self.codes.get(reason, "Н" if reason else "")
            found.append(self._cell("attendance", lesson, lesson, person, row, value))
        return found

    def _marks(
        self, lesson: Lesson, cm: str, remote: Remote, rows: GroupRows, scale: str
    ) -> list[Candidate]:
        # АСУ РСО has one assignment per type and lesson: the box's first of each type
        assignments: dict[int, Assignment] = {}
        for assignment in rows.assignments.get(lesson.id, []):
            type_id = self.type_of(assignment.work_type)
            if type_id is not None:  # a kind АСУ РСО lacks: its marks wait, parked
                assignments.setdefault(type_id, assignment)
        local: dict[tuple[int, str], Mark] = {}
        for type_id, assignment in assignments.items():
            for student_id, mark in rows.marks.get(assignment.id, {}).items():
                if student_id in self.remote_of:
                    local[(type_id, self.remote_of[student_id])] = mark
        keys = {(t, s) for (c, t, s) in remote.marks if c == cm} | set(local)
        found = []
        for type_id, student_remote in keys:
            person = self.students.get(student_remote)
            if person is None:
                continue
            value = remote.marks.get((cm, type_id, student_remote), "")
            if scale == "pass_fail" and value:
                value = {self.mapping.pass_mark: "зач", self.mapping.fail_mark: "незач"}.get(
                    value, value
                )
            row = local.get((type_id, student_remote))
            assignment = assignments.get(type_id)
            if assignment is None:
                assignment = self._new_assignment(lesson, type_id)
                if assignment is None:
                    continue
                assignments[type_id] = assignment
            found.append(self._cell("mark", assignment, lesson, person, row, value))
        return found

    # --- applying -------------------------------------------------------------------

    @staticmethod
    def _lesson_apply(lesson: Lesson, name: str, value: str) -> Callable[[Any], None]:
        def apply(rec) -> None:
            before = snapshot(lesson)
            stamp = now()
            # only this field: the rest of the row may have changed since it was read
            Lesson.update({name: value, "updated_at": stamp, "published_at": stamp}).where(
                Lesson.id == lesson.id
            ).execute()
            rec.record("lesson.pull", lesson, before=before, after={name: value})

        return apply

    @staticmethod
    def _cell(kind: str, owner, lesson: Lesson, person: Person, row, value: str) -> Candidate:
        """A mark (owner: its assignment) or an absence (owner: its lesson) to settle."""
        model, field, what = CELL_KINDS[kind]
        uuid = cell_uuid(owner.uuid, person)

        def apply(rec) -> None:
            if owner.id is None:  # an assignment made for a mark only АСУ РСО had
                owner.save()
                rec.record("assignment.pull", owner)
            parent = "assignment" if kind == "mark" else "lesson"
            _apply_cell(
                rec,
                kind,
                row,
                value,
                field,
                lambda: model(uuid=uuid, student=person, **{parent: owner}),
            )

        owner_key = "assignment_id" if kind == "mark" else "lesson_id"
        return Candidate(
            uuid,
            uuid,
            model.__name__,
            getattr(row, field) if row else "",
            value,
            apply,
            lesson,
            person,
            what,
            {"kind": kind, owner_key: owner.id, "student_id": person.id},
        )

    def _new_assignment(self, lesson: Lesson, type_id: int) -> Assignment | None:
        """An unsaved assignment for a mark only АСУ РСО has (saved if the mark is taken).

        Only with a work type of that NetSchool type: another type would not find the
        same assignment next time, and the mark would come in again on every pull.
        """
        work_types = WorkType.select().order_by(WorkType.is_default.desc(), WorkType.sort_order)
        chosen = next((w for w in work_types if self.type_of(w) == type_id), None)
        if chosen is None:
            self.unknown_types.add(type_id)
            return None
        return Assignment(lesson=lesson, work_type=chosen, weight=chosen.weight, published_at=now())

    @staticmethod
    def _conflict(c: Candidate, group: SubjectGroup, chosen: str) -> None:
        who = f"{c.person.last_name} {c.person.first_name}, " if c.person is not None else ""
        values = dict(
            entity_type=c.entity_type,
            entity_uuid=c.key,
            local_value=c.local,
            remote_value=c.remote,
            chosen=chosen,
            detected_at=now(),
            group_id=group.id,
            description=f"{who}{c.lesson.date:%d.%m.%Y}, урок {c.lesson.number}: {c.what}",
            cell=json.dumps(c.cell),
        )
        existing = SyncConflict.get_or_none(
            (SyncConflict.entity_uuid == c.key) & SyncConflict.resolved_at.is_null()
        )
        if existing is None:
            SyncConflict.create(**values)
        else:
            SyncConflict.update(values).where(SyncConflict.id == existing.id).execute()


def _apply_cell(rec, kind: str, row, value: str, field: str, fresh: Callable[[], Any]) -> None:
    """Take АСУ РСО's value into one cell: published at once, audited, not sent back."""
    if not value:
        if row is not None:
            before = snapshot(row)
            row.delete_instance()
            rec.record(f"{kind}.pull", row, before=before, op="delete")
        return
    before = snapshot(row)
    row = row or fresh()
    setattr(row, field, value)
    row.updated_at = row.published_at = now()
    row.save()
    rec.record(f"{kind}.pull", row, before=before)


SUPERSEDED = (
    "Не отправлено: база ЭЖ-box восстановлена из резервной копии, а в АСУ РСО значение "
    "новее. Значение ЭЖ-box сохранено в расхождениях — учитель может его подтвердить."
)


def _supersede(entity_uuid: str) -> None:
    """Close a cell's unsent entries: АСУ РСО's newer value was taken instead."""
    OutboxEntry.update(state="skipped", last_error=SUPERSEDED).where(
        (OutboxEntry.entity_uuid == entity_uuid) & OutboxEntry.state.in_(("pending", "parked"))
    ).execute()


def _pending(keys: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The cells with an edit the push has not delivered yet → those edits' rows."""
    found: dict[str, list[dict[str, Any]]] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), 500):
        query = OutboxEntry.select(
            OutboxEntry.entity_uuid, OutboxEntry.op, OutboxEntry.payload, OutboxEntry.attempts
        ).where(
            OutboxEntry.entity_uuid.in_(ordered[start : start + 500])
            & OutboxEntry.state.in_(("pending", "parked"))
        )
        for uuid, op, payload, attempts in query.tuples():
            row = {} if op == "delete" else json.loads(payload or "{}")
            row["__attempted"] = attempts > 0
            found.setdefault(uuid, []).append(row)
    return found


def _own_values(edits: list[dict[str, Any]], c: Candidate) -> set[str]:
    """The values this box itself queued for the cell (a deletion queued "")."""
    field = {"Mark": "value", "Attendance": "code"}.get(c.entity_type) or c.cell["kind"]
    return {str(edit.get(field) or "") for edit in edits if edit.get("__attempted")}
