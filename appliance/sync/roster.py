"""Class lists from АСУ РСО, for a school that keeps them there (`roster_from_upstream`).

Enrollment orders are registered in the regional system first in many schools; the
box then only follows. When the school says so in the sync settings, a pull adds to
the box every student АСУ РСО lists in a matched class that the box does not have
(with the class's whole-class groups and each subgroup АСУ РСО lists them in), and
maps them. A student the box has and АСУ РСО no longer lists is only reported:
expelling or transferring is a decision with an order number, made by a person.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from ..db import write
from ..models import (
    AcademicYear,
    Enrollment,
    IdMap,
    Person,
    SchoolClass,
    SubjectGroup,
    SubjectGroupStudent,
)
from ..people import PeopleError, enroll_student
from . import match
from .netschool import NetSchoolClient

SOURCE = "АСУ РСО"  # the "address" of changes made by the sync in the audit


@dataclass
class RosterReport:
    added: list[str] = field(default_factory=list)
    not_upstream: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def split_name(full_name: str) -> dict[str, str]:
    """«Фамилия Имя Отчество» → the person's fields (the patronymic may have two words)."""
    parts = full_name.split()
    return {
        "last_name": parts[0] if parts else "",
        "first_name": parts[1] if len(parts) > 1 else "",
        "middle_name": " ".join(parts[2:]),
    }


def pull_roster(client: NetSchoolClient, year: AcademicYear) -> RosterReport:
    """Add the students АСУ РСО lists and the box lacks; report the reverse."""
    report = RosterReport()
    classes = match.known("SchoolClass")
    groups = match.known("SubjectGroup")
    people = match.known("Person")
    mapped_remote = set(people.values())
    for school_class in SchoolClass.select().where(
        (SchoolClass.year == year) & SchoolClass.uuid.in_(list(classes))
    ):
        listed: dict[str, str] = {}  # remote id → full name
        in_group: dict[str, list[SubjectGroup]] = {}
        for group in SubjectGroup.select().where(
            (SubjectGroup.school_class == school_class) & SubjectGroup.uuid.in_(list(groups))
        ):
            for row in client.student_list(groups[group.uuid]):
                if row.get("id") is None:
                    continue
                remote_id = str(row["id"])
                listed[remote_id] = str(row.get("fullName") or "")
                in_group.setdefault(remote_id, []).append(group)
        if not listed:
            continue  # АСУ РСО lists nobody here: nothing to follow
        unmatched = _unmatched_surnames(school_class, people)
        for remote_id, full_name in listed.items():
            if remote_id in mapped_remote:
                continue
            surname = match.norm(split_name(full_name)["last_name"])
            if surname in unmatched:
                # the same person spelt differently here and there, most likely: a person
                # must say (a duplicate student would split the journal in two)
                report.refused.append(
                    f"{full_name} ({school_class.name}): в классе есть «{unmatched[surname]}», "
                    "не сопоставленный с АСУ РСО; проверьте ФИО"
                )
                continue
            student = _add(school_class, remote_id, full_name, in_group[remote_id], report)
            if student is not None:
                mapped_remote.add(remote_id)
                people[student.uuid] = remote_id
        _report_missing(school_class, set(listed), people, report)
    return report


def _current_students(school_class: SchoolClass):
    return (
        Person.select()
        .join(Enrollment)
        .where((Enrollment.school_class == school_class) & Enrollment.ends.is_null())
    )


def _unmatched_surnames(school_class: SchoolClass, people: dict[str, str]) -> dict[str, str]:
    """Surnames of the class's students not matched with АСУ РСО → their names."""
    return {
        match.norm(p.last_name): f"{p.last_name} {p.first_name} {p.middle_name}".strip()
        for p in _current_students(school_class)
        if p.uuid not in people
    }


def _add(
    school_class: SchoolClass,
    remote_id: str,
    full_name: str,
    groups: list[SubjectGroup],
    report: RosterReport,
) -> Person | None:
    name = split_name(full_name)
    try:
        with write(ip=SOURCE):  # the enrollment and the mapping together, or neither
            student = enroll_student(name, school_class, user=None, ip=SOURCE)
            today = dt.date.today()
            for group in groups:
                if group.subgroup:  # whole-class groups came with the enrollment
                    SubjectGroupStudent.create(group=group, student=student, starts=today)
            IdMap.create(entity_type="Person", local_uuid=student.uuid, remote_id=remote_id)
    except PeopleError as exc:
        report.refused.append(f"{full_name} ({school_class.name}): {exc}")
        return None
    report.added.append(f"{full_name} ({school_class.name})")
    return student


def _report_missing(
    school_class: SchoolClass, listed: set[str], people: dict[str, str], report: RosterReport
) -> None:
    for person in _current_students(school_class):
        if people.get(person.uuid) not in listed:
            report.not_upstream.append(
                f"{person.last_name} {person.first_name} ({school_class.name})"
            )
