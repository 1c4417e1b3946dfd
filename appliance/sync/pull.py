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
from dataclasses import dataclass
from typing import Any

from ..db import snapshot, write
from ..journal import cell_uuid, lesson_scale
from ..models import (
    Assignment,
    Attendance,
    IdMap,
    Lesson,
    Mark,
    OutboxEntry,
    Person,
    SubjectGroup,
    SyncCell,
    SyncConflict,
    Term,
    WorkType,
    now,
)
from ..school_calendar import current_year
from . import match
from .netschool import NetSchoolClient

RECENT_TERM_DAYS = 21  # a term that ended this recently is still read back


@dataclass
class PullResult:
    applied: int = 0
    conflicts: int = 0
    groups: int = 0


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
    today = dt.date.today()
    recent = today - dt.timedelta(days=RECENT_TERM_DAYS)
    return list(
        Term.select().where((Term.year == year) & (Term.starts <= today) & (Term.ends >= recent))
    )


def pull_journals(
    client: NetSchoolClient, *, progress: Callable[[int, int, str], None] | None = None
) -> PullResult:
    """Read back every matched group's journal for the running term(s)."""
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
    chosen = list(
        SubjectGroup.select().where(
            (SubjectGroup.year == year) & SubjectGroup.uuid.in_(list(groups))
        )
    )
    people = {remote: local for local, remote in match.known("Person").items()}
    merger = Merger(client, people)
    for index, group in enumerate(chosen, 1):
        for term, remote_term in terms:
            if remote_term is None:
                continue
            remote = read_remote(client.journal(groups[group.uuid], remote_term))
            applied, conflicts = merger.merge(group, term, remote)
            result.applied += applied
            result.conflicts += conflicts
        result.groups += 1
        if progress:
            progress(index, len(chosen), f"Сверка журналов с АСУ РСО: {index} из {len(chosen)}")
    return result


class Merger:
    """Three-way merge of one group-term (see the module's rule)."""

    def __init__(self, client: NetSchoolClient, people: dict[str, str]) -> None:
        self.mapping = client.mapping
        self.people = people  # remote person id → box uuid
        self._types: dict[int, int] | None = None  # work type id → NetSchool type
        self.client = client
        reasons = dict(self.mapping.attendance_reasons)
        self.codes = {key: code for code, key in reasons.items()}

    def type_of(self, work_type: WorkType) -> int:
        from .push import Pusher

        if self._types is None:
            self._types = {}
            pusher = Pusher(self.client)
            for row in WorkType.select():
                self._types[row.id] = pusher.type_id(row)
        return self._types[work_type.id]

    def merge(self, group: SubjectGroup, term: Term, remote: Remote) -> tuple[int, int]:
        lesson_ids = match.known("Lesson")
        lessons = list(
            Lesson.select().where(
                (Lesson.group == group) & Lesson.date.between(term.starts, term.ends)
            )
        )
        applied = conflicts = 0
        with write() as rec:
            for lesson in lessons:
                cm = lesson_ids.get(lesson.uuid)
                if cm is None:
                    continue
                a, c = self._lesson(rec, group, lesson, cm, remote)
                applied, conflicts = applied + a, conflicts + c
        return applied, conflicts

    # --- one lesson ---------------------------------------------------------------

    def _lesson(self, rec, group, lesson: Lesson, cm: str, remote: Remote) -> tuple[int, int]:
        applied = conflicts = 0
        students = {
            p.uuid: p for p in Person.select().where(Person.uuid.in_(list(self.people.values())))
        }
        by_remote = {rid: students[u] for rid, u in self.people.items() if u in students}
        # topic and homework
        fields = remote.lessons.get(cm, {"topic": "", "homework": ""})
        for name in ("topic", "homework"):
            outcome = self._decide(
                f"{lesson.uuid}:{name}",
                getattr(lesson, name) or "",
                fields[name],
                lesson.uuid,
            )
            if outcome == "take":
                before = snapshot(lesson)
                setattr(lesson, name, fields[name])
                lesson.published_at = now()
                lesson.save()
                rec.record("lesson.pull", lesson, before=before)
                applied += 1
            elif outcome == "conflict":
                self._conflict(
                    "Lesson",
                    f"{lesson.uuid}:{name}",
                    getattr(lesson, name) or "",
                    fields[name],
                    group,
                    lesson,
                    {"kind": name, "lesson_id": lesson.id},
                    ("тема" if name == "topic" else "домашнее задание"),
                    None,
                )
                conflicts += 1
            if outcome in ("take", "same", "conflict", "base"):
                self._set_base(f"{lesson.uuid}:{name}", "Lesson", fields[name])
        # attendance
        local_att = {
            a.student_id: a for a in Attendance.select().where(Attendance.lesson == lesson)
        }
        keys = {s for (c, s) in remote.attendance if c == cm} | {
            self._remote_student(p) for p in local_att
        }
        for student_remote in keys:
            person = by_remote.get(student_remote)
            if person is None:
                continue
            row = local_att.get(person.id)
            local = row.code if row else ""
            reason = remote.attendance.get((cm, student_remote), "")
            value = self.codes.get(reason, reason and "Н")
            uuid = cell_uuid(lesson.uuid, person)
            outcome = self._decide(uuid, local, value, uuid)
            if outcome == "take":
                self._apply_attendance(rec, lesson, person, row, value)
                applied += 1
            elif outcome == "conflict":
                self._conflict(
                    "Attendance",
                    uuid,
                    local,
                    value,
                    group,
                    lesson,
                    {"kind": "attendance", "lesson_id": lesson.id, "student_id": person.id},
                    "посещаемость",
                    person,
                )
                conflicts += 1
            if outcome in ("take", "same", "conflict", "base"):
                self._set_base(uuid, "Attendance", value)
        # marks: the first assignment of each type is the one АСУ РСО has
        assignments: dict[int, Assignment] = {}
        for assignment in (
            Assignment.select().where(Assignment.lesson == lesson).order_by(Assignment.id)
        ):
            assignments.setdefault(self.type_of(assignment.work_type), assignment)
        local_marks = {
            (m.assignment_id, m.student_id): m
            for m in Mark.select().where(Mark.assignment.in_([a.id for a in assignments.values()]))
        }
        keys2 = {(t, s) for (c, t, s) in remote.marks if c == cm}
        for assignment_id, student_id in local_marks:
            for type_id, a in assignments.items():
                if a.id == assignment_id:
                    person = Person.get_by_id(student_id)
                    keys2.add((type_id, self._remote_student_person(person)))
        scale = lesson_scale(lesson)
        for type_id, student_remote in keys2:
            person = by_remote.get(student_remote)
            if person is None:
                continue
            value = remote.marks.get((cm, type_id, student_remote), "")
            if scale == "pass_fail" and value:
                value = {self.mapping.pass_mark: "зач", self.mapping.fail_mark: "незач"}.get(
                    value, value
                )
            assignment = assignments.get(type_id)
            row = local_marks.get((assignment.id, person.id)) if assignment else None
            local = row.value if row else ""
            if assignment is None:
                if not value:
                    continue
                assignment = self._new_assignment(rec, lesson, type_id)
                if assignment is None:
                    continue
                assignments[type_id] = assignment
            uuid = cell_uuid(assignment.uuid, person)
            outcome = self._decide(uuid, local, value, uuid)
            if outcome == "take":
                self._apply_mark(rec, assignment, person, row, value)
                applied += 1
            elif outcome == "conflict":
                self._conflict(
                    "Mark",
                    uuid,
                    local,
                    value,
                    group,
                    lesson,
                    {"kind": "mark", "assignment_id": assignment.id, "student_id": person.id},
                    "отметка",
                    person,
                )
                conflicts += 1
            if outcome in ("take", "same", "conflict", "base"):
                self._set_base(uuid, "Mark", value)
        return applied, conflicts

    def _remote_student(self, person_id: int) -> str:
        person = Person.get_by_id(person_id)
        return self._remote_student_person(person)

    def _remote_student_person(self, person: Person) -> str:
        for remote_id, uuid in self.people.items():
            if uuid == person.uuid:
                return remote_id
        return ""

    # --- the rule -----------------------------------------------------------------

    @staticmethod
    def _decide(base_key: str, local: str, remote: str, entity_uuid: str) -> str:
        """ "none" / "same" / "base" (remote = base, keep) / "take" / "conflict"."""
        base = SyncCell.get_or_none(SyncCell.entity_uuid == base_key)
        pending = (
            OutboxEntry.select()
            .where(
                (OutboxEntry.entity_uuid == entity_uuid)
                & OutboxEntry.state.in_(("pending", "parked"))
            )
            .exists()
        )
        if base is not None and remote == base.value:
            return "none"  # nothing changed upstream
        if remote == local:
            return "same"
        if pending:
            return "conflict"
        if base is not None:
            return "take"
        # never synced: a value only here is the box's own (not yet sent or older than
        # the sync); a value in АСУ РСО wins over a different one here
        if not remote:
            return "none"
        return "take" if not local else "conflict-remote"

    # --- writes -------------------------------------------------------------------

    def _set_base(self, key: str, entity_type: str, value: str) -> None:
        SyncCell.insert(
            entity_type=entity_type, entity_uuid=key, value=value, synced_at=now()
        ).on_conflict(
            conflict_target=[SyncCell.entity_uuid],
            update={SyncCell.value: value, SyncCell.synced_at: now()},
        ).execute()

    def _conflict(
        self, entity_type, uuid, local, remote, group, lesson, cell, what, person
    ) -> None:
        who = f"{person.last_name} {person.first_name}, " if person is not None else ""
        description = f"{who}{lesson.date:%d.%m.%Y}, урок {lesson.number}: {what}"
        existing = SyncConflict.get_or_none(
            (SyncConflict.entity_uuid == uuid) & SyncConflict.resolved_at.is_null()
        )
        values = dict(
            entity_type=entity_type,
            entity_uuid=uuid,
            local_value=local,
            remote_value=remote,
            chosen="local",
            detected_at=now(),
            group_id=group.id,
            description=description,
            cell=json.dumps(cell),
        )
        if existing is None:
            SyncConflict.create(**values)
        else:
            SyncConflict.update(values).where(SyncConflict.id == existing.id).execute()

    def _new_assignment(self, rec, lesson: Lesson, type_id: int) -> Assignment | None:
        work_type = (
            next(
                (
                    w
                    for w in WorkType.select().order_by(WorkType.sort_order)
                    if self.type_of(w) == type_id
                ),
                None,
            )
            or WorkType.select().order_by(WorkType.is_default.desc(), WorkType.sort_order).first()
        )
        if work_type is None:
            return None
        assignment = Assignment.create(
            lesson=lesson, work_type=work_type, weight=work_type.weight, published_at=now()
        )
        rec.record("assignment.pull", assignment)
        return assignment

    def _apply_mark(self, rec, assignment, person, row, value) -> None:
        before = snapshot(row)
        if not value:
            row.delete_instance()
            rec.record("mark.pull", row, before=before, op="delete")
            return
        row = row or Mark(
            uuid=cell_uuid(assignment.uuid, person), assignment=assignment, student=person
        )
        row.value = value
        row.updated_at = row.published_at = now()
        row.save()
        rec.record("mark.pull", row, before=before)

    def _apply_attendance(self, rec, lesson, person, row, value) -> None:
        before = snapshot(row)
        if not value:
            row.delete_instance()
            rec.record("attendance.pull", row, before=before, op="delete")
            return
        row = row or Attendance(uuid=cell_uuid(lesson.uuid, person), lesson=lesson, student=person)
        row.code = value
        row.updated_at = row.published_at = now()
        row.save()
        rec.record("attendance.pull", row, before=before)
