"""Which АСУ РСО id is which box row: classes, groups, students, terms, class meetings.

АСУ РСО is the register of the school's classes, students and timetable; the box keeps
its own rows with its own ids. Before a change can be sent, its rows are matched by
what both sides call them — the class «5А», the group «Английский язык (гр. 1)» of that
class, a student's full name within the group, a term's dates, a class meeting's group,
date and lesson number — and each pair is kept in `IdMap` (entity type = the box's
model name). Matching runs when the push meets a row it has no id for (at most once per
sync run), so a new lesson in the box is matched as soon as АСУ РСО has it.

What cannot be matched is reported in Russian, and changes that need it are parked
with that reason rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..db import write
from ..models import (
    AcademicYear,
    IdMap,
    Lesson,
    Person,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    Term,
)
from .netschool import NetSchoolClient, ProtocolError


def norm(text: object) -> str:
    """Names compared as people read them: case, «ё», spaces and dashes don't matter."""
    return " ".join(str(text or "").casefold().replace("ё", "е").replace("-", " ").split())


def group_name(subject: str, subgroup: int | None) -> str:
    return subject + (f" (гр. {subgroup})" if subgroup else "")


@dataclass
class MatchReport:
    matched: dict[str, int] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)  # Russian, for the status page

    def add(self, entity: str, count: int = 1) -> None:
        self.matched[entity] = self.matched.get(entity, 0) + count


def _store(pairs: Iterable[tuple[str, str, str]]) -> None:
    """Insert (entity, box uuid, remote id) pairs; a remote id now on another row moves."""
    rows = list(pairs)
    if not rows:
        return
    with write():
        for entity, local_uuid, remote_id in rows:
            IdMap.delete().where(
                (IdMap.entity_type == entity)
                & ((IdMap.local_uuid == local_uuid) | (IdMap.remote_id == remote_id))
            ).execute()
        for start in range(0, len(rows), 300):
            IdMap.insert_many(
                [
                    {"entity_type": e, "local_uuid": u, "remote_id": r}
                    for e, u, r in rows[start : start + 300]
                ]
            ).execute()


def known(entity: str) -> dict[str, str]:
    """box uuid → remote id of one entity type."""
    query = IdMap.select(IdMap.local_uuid, IdMap.remote_id).where(IdMap.entity_type == entity)
    return dict(query.tuples())


def refresh(client: NetSchoolClient, year: AcademicYear) -> MatchReport:
    """Match the year's rows against what АСУ РСО lists now; store new pairs."""
    report = MatchReport()
    _match_terms(client, year, report)
    classes = _match_classes(client, year, report)
    groups = _match_groups(client, year, classes, report)
    _match_students(client, groups, report)
    _match_lessons(client, year, groups, report)
    return report


def _match_terms(client: NetSchoolClient, year: AcademicYear, report: MatchReport) -> None:
    remote = {}
    for row in client.terms():
        starts, ends = str(row.get("start", ""))[:10], str(row.get("end", ""))[:10]
        remote[(starts, ends)] = str(row["id"])
        remote.setdefault(norm(row.get("name")), str(row["id"]))
    pairs = []
    for term in Term.select().where(Term.year == year):
        found = remote.get((term.starts.isoformat(), term.ends.isoformat())) or remote.get(
            norm(term.name)
        )
        if found:
            pairs.append(("Term", term.uuid, found))
        else:
            report.unmatched.append(f"Период «{term.name}» не найден в АСУ РСО.")
    _store(pairs)
    report.add("Term", len(pairs))


def _match_classes(
    client: NetSchoolClient, year: AcademicYear, report: MatchReport
) -> dict[int, str]:
    """box class id → remote class id."""
    remote = {norm(row.get("name")): str(row["id"]) for row in client.classes()}
    pairs, found = [], {}
    for school_class in SchoolClass.select().where(SchoolClass.year == year):
        name = f"{school_class.grade}{school_class.letter}"
        remote_id = remote.get(norm(name))
        if remote_id:
            pairs.append(("SchoolClass", school_class.uuid, remote_id))
            found[school_class.id] = remote_id
        else:
            report.unmatched.append(f"Класс {name} не найден в АСУ РСО.")
    _store(pairs)
    report.add("SchoolClass", len(pairs))
    return found


def _match_groups(
    client: NetSchoolClient, year: AcademicYear, classes: dict[int, str], report: MatchReport
) -> dict[int, str]:
    """box group id → remote group id."""
    by_name: dict[tuple[str, str], str] = {}
    by_subject: dict[tuple[str, str], list[str]] = {}
    for row in client.subject_groups():
        class_id = str(row.get("classId"))
        by_name[(class_id, norm(row.get("name")))] = str(row["id"])
        by_subject.setdefault((class_id, norm(row.get("subjectName"))), []).append(str(row["id"]))
    pairs, found = [], {}
    query = (
        SubjectGroup.select(SubjectGroup, Subject)
        .join(Subject)
        .where(SubjectGroup.year == year)
        .order_by(SubjectGroup.id)
    )
    for group in query:
        remote_class = classes.get(group.school_class_id)
        if remote_class is None:
            continue
        remote_id = by_name.get(
            (remote_class, norm(group_name(group.subject.name, group.subgroup)))
        )
        if remote_id is None and not group.subgroup:
            same_subject = by_subject.get((remote_class, norm(group.subject.name)), [])
            remote_id = same_subject[0] if len(same_subject) == 1 else None
        if remote_id:
            pairs.append(("SubjectGroup", group.uuid, remote_id))
            found[group.id] = remote_id
        else:
            report.unmatched.append(
                f"Группа «{group_name(group.subject.name, group.subgroup)}» класса "
                f"{group.school_class.grade}{group.school_class.letter} не найдена в АСУ РСО."
            )
    _store(pairs)
    report.add("SubjectGroup", len(pairs))
    return found


def _full_name(person: Person) -> str:
    return norm(" ".join(p for p in (person.last_name, person.first_name, person.middle_name) if p))


def _match_students(client: NetSchoolClient, groups: dict[int, str], report: MatchReport) -> None:
    """Students by full name within each matched group (namesakes in one group: not matched)."""
    already = known("Person")
    pairs: dict[str, str] = {}
    members: dict[int, list[Person]] = {}
    query = (
        SubjectGroupStudent.select(SubjectGroupStudent.group, Person)
        .join(Person)
        .where(SubjectGroupStudent.group.in_(list(groups)))
    )
    for link in query:
        members.setdefault(link.group_id, []).append(link.student)
    for group_id, remote_group in groups.items():
        students = {p.id: p for p in members.get(group_id, [])}
        if all(p.uuid in already or p.uuid in pairs for p in students.values()):
            continue  # everyone of this group is matched: no request
        remote: dict[str, list[str]] = {}
        for row in client.student_list(remote_group):
            remote.setdefault(norm(row.get("fullName")), []).append(str(row["id"]))
        for person in students.values():
            if person.uuid in already or person.uuid in pairs:
                continue
            ids = remote.get(_full_name(person), [])
            if len(ids) == 1:
                pairs[person.uuid] = ids[0]
            else:
                what = "не найден" if not ids else "найден несколько раз"
                report.unmatched.append(
                    f"Ученик {person.last_name} {person.first_name} {what} в АСУ РСО."
                )
    _store(("Person", uuid, remote_id) for uuid, remote_id in pairs.items())
    report.add("Person", len(pairs))


def _match_lessons(
    client: NetSchoolClient, year: AcademicYear, groups: dict[int, str], report: MatchReport
) -> None:
    """Class meetings by (group, date, lesson number)."""
    remote: dict[tuple[str, str, int], str] = {}
    try:
        meetings = client.class_meetings(year.starts.isoformat(), year.ends.isoformat())
    except ProtocolError:
        raise
    for row in meetings:
        day = str(row.get("day") or row.get("date") or "")[:10]
        key = (str(row.get("subjectGroupId")), day, int(row.get("number") or 0))
        remote[key] = str(row.get("id") or row.get("classmeetingId"))
    already = known("Lesson")
    pairs = []
    missing = 0
    query = Lesson.select(Lesson.uuid, Lesson.group, Lesson.date, Lesson.number).where(
        Lesson.group.in_(list(groups))
    )
    for lesson in query:
        if lesson.uuid in already:
            continue
        day = str(lesson.date)[:10]
        remote_id = remote.get((groups[lesson.group_id], day, lesson.number))
        if remote_id:
            pairs.append(("Lesson", lesson.uuid, remote_id))
        else:
            missing += 1
    _store(pairs)
    report.add("Lesson", len(pairs))
    if missing:
        report.unmatched.append(f"Уроков без пары в расписании АСУ РСО: {missing}.")
