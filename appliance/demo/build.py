"""Build the whole demo school in one write transaction."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from ..bulk import insert_rows, next_id
from ..db import write
from ..lessons import generate_lessons
from ..models import (
    AcademicYear,
    Enrollment,
    Guardian,
    Lesson,
    Person,
    School,
    SchoolClass,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    TimetableEntry,
)
from ..school_calendar import SchoolCalendar
from . import curriculum as cur
from .accounts import DemoAccount, demo_accounts, plan_accounts, write_users
from .extras import write_extras
from .journal import HistoryInput, write_history
from .plans import write_plans
from .roster import Member, Roster, build_roster
from .setup import write_setup
from .staffing import ClassPlan, GroupPlan, choose_class_teachers, plan_groups
from .timetable import Meeting, build_timetable, day_lengths


class DemoError(RuntimeError):
    pass


def create_demo_school(seed: int = 1, today: dt.date | None = None) -> list[DemoAccount]:
    """Fill an empty, migrated database with a realistic school; return its accounts.

    Everything is written in one transaction with one audit entry. The same
    ``seed`` and ``today`` give the same school, people, marks and passwords.
    """
    today = today or dt.date.today()
    with write() as rec:
        if School.select().exists() or AcademicYear.select().exists():
            raise DemoError("В базе уже есть школа: демо-школу создают только в пустой базе.")
        builder = _Builder(seed, today)
        builder.run()
        rec.record("demo.create", after=builder.counts)
    return builder.accounts


def _rng(seed: int, part: str) -> random.Random:
    """An independent stream per part, so changing one part leaves the others alone."""
    return random.Random(f"{seed}:{part}")


class _Builder:
    def __init__(self, seed: int, today: dt.date) -> None:
        self.seed, self.today = seed, today
        self.counts: dict[str, object] = {}
        self.accounts: list[DemoAccount] = []

    def run(self) -> None:
        setup = write_setup(self.today)
        self.school, self.year, self.terms = setup.school, setup.year, setup.terms
        self.term_ids, self.lesson_ends = setup.term_ids, setup.lesson_ends
        self.rooms, self.subjects, self.work_types = setup.rooms, setup.subjects, setup.work_types
        self._people_and_classes()
        self._timetable()
        report = generate_lessons(self.year, self.year.starts, self.year.ends)
        self.counts["lessons"] = report.created
        self._plans()
        self._history()
        self.counts.update(write_extras(self))

    # --- people, classes, groups and accounts ---------------------------------------
    def _people_and_classes(self) -> None:
        grades = [g for g in cur.GRADES for _ in cur.LETTERS]
        roster = build_roster(
            _rng(self.seed, "people"), self.year.starts.year, grades, next_id(Person)
        )
        self.roster: Roster = roster
        first = next_id(SchoolClass)
        self.classes = [
            ClassPlan(i, g, letter, id=first + i)
            for i, (g, letter) in enumerate((g, x) for g in cur.GRADES for x in cur.LETTERS)
        ]
        for student in roster.students:
            self.classes[student.class_index].students.append(student)
        self.groups, self.loads = plan_groups(self.classes, roster.staff)
        choose_class_teachers(self.classes, roster.staff, self.groups)
        self.account_plans = plan_accounts(_rng(self.seed, "passwords"), roster, self.classes)
        for account in self.account_plans:
            if account.role not in ("student", "inspector") and account.member.phone:
                account.member.email = f"{account.username}@oosh2.example"

        insert_rows(Person, (_person_row(m) for m in roster.everyone()))
        insert_rows(
            SchoolClass,
            (
                {
                    "id": c.id,
                    "year": self.year.id,
                    "grade": c.grade,
                    "letter": c.letter,
                    "class_teacher": c.class_teacher.id,
                    "room": self.rooms[c.room] if c.room else None,
                }
                for c in self.classes
            ),
        )
        admin = next(a.member for a in self.account_plans if a.role == "admin")
        self.school.admin_contact = (
            f"Администратор АСУ РСО: {admin.name.last_name} {admin.name.first_name} "
            f"{admin.name.middle_name}, кабинет информатики (каб. 212), "
            "тел. +7 (84646) 2-12-35, e-mail: asu.oosh2@oktyabrsk.example"
        )
        self.school.save()
        self.counts["users"] = write_users(self.account_plans)
        self.users = {a.member.id: a.user_id for a in self.account_plans}
        self.accounts = demo_accounts(self.account_plans)
        starts = self.year.starts
        insert_rows(
            Enrollment,
            (
                {"student": s.id, "school_class": self.classes[s.class_index].id, "starts": starts}
                for s in roster.students
            ),
        )
        insert_rows(
            Guardian,
            (
                {"parent": p.id, "student": child.id, "relation": p.relation}
                for p in roster.parents
                for child in p.children
            ),
        )
        first = next_id(SubjectGroup)
        for i, group in enumerate(self.groups):
            group.id = first + i
        insert_rows(
            SubjectGroup,
            (
                {
                    "id": g.id,
                    "year": self.year.id,
                    "school_class": g.school_class.id,
                    "subject": self.subjects[g.subject],
                    "subgroup": g.subgroup,
                }
                for g in self.groups
            ),
        )
        insert_rows(
            SubjectGroupTeacher,
            ({"group": g.id, "teacher": g.teacher.id, "is_main": True} for g in self.groups),
        )
        insert_rows(
            SubjectGroupStudent,
            (
                {"group": g.id, "student": s.id, "starts": starts}
                for g in self.groups
                for s in g.students
            ),
        )
        self.counts.update(
            students=len(roster.students),
            parents=len(roster.parents),
            staff=len(roster.staff),
            classes=len(self.classes),
            groups=len(self.groups),
            max_teacher_load=max(self.loads.values()),
        )

    def _timetable(self) -> None:
        by_class: dict[int, list[GroupPlan]] = defaultdict(list)
        for group in self.groups:
            by_class[group.school_class.index].append(group)
        meetings: list[Meeting] = []
        for c, groups in by_class.items():
            split = [g for g in groups if g.subgroup]
            for group in groups:
                if group.subgroup:
                    continue
                room = self.rooms.get(group.room or group.school_class.room or "")
                meeting = Meeting(c, group.subject, (group.id,), (group.teacher.id,), (room,))
                meetings += [meeting] * cur.hours_week(group.subject, group.school_class.grade)
            if split:
                meeting = Meeting(
                    c,
                    split[0].subject,
                    tuple(g.id for g in split),
                    tuple(g.teacher.id for g in split),
                    tuple(self.rooms.get(g.room or "") for g in split),
                )
                meetings += [meeting] * cur.hours_week(
                    split[0].subject, split[0].school_class.grade
                )
        weekly = defaultdict(int)
        for meeting in meetings:
            weekly[meeting.class_index] += 1
        lengths = {c: day_lengths(n) for c, n in weekly.items()}
        placements = build_timetable(lengths, meetings, _rng(self.seed, "timetable"))
        rows = [
            {
                "group": group_id,
                "weekday": p.weekday,
                "number": p.number,
                "room": room,
                "valid_from": self.year.starts,
            }
            for p in placements
            for group_id, room in zip(p.meeting.groups, p.meeting.rooms, strict=True)
        ]
        rows.sort(key=lambda r: (r["group"], r["weekday"], r["number"]))
        self.counts["timetable_entries"] = insert_rows(TimetableEntry, rows)

    # --- КТП and the journal ----------------------------------------------------------
    def _plans(self) -> None:
        lessons = (
            Lesson.select(Lesson.id, Lesson.group, Lesson.date, Lesson.number, Lesson.teacher)
            .join(SubjectGroup)
            .where(SubjectGroup.year == self.year)
            .order_by(Lesson.date, Lesson.number)
            .tuples()
        )
        self.lessons = list(lessons)
        deputy = next(a.user_id for a in self.account_plans if a.role == "deputy")
        self.plan_rows = write_plans(self.groups, self.lessons, deputy, self.year.starts)
        self.counts["plan_lessons"] = sum(len(rows) for rows in self.plan_rows.values())

    def _history(self) -> None:
        calendar = SchoolCalendar.load(self.year)
        yesterday = self.today - dt.timedelta(days=1)
        data = HistoryInput(
            today=self.today,
            groups=self.groups,
            school_days={
                g: calendar.school_days(self.year.starts, yesterday, g) for g in cur.GRADES
            },
            lessons=[row for row in self.lessons if row[2] < self.today],
            plan_rows=self.plan_rows,
            work_types=self.work_types,
            users=self.users,
            lesson_ends=self.lesson_ends,
            quarters=[t for t in self.terms if t.kind == "quarter"],
            term_ids=self.term_ids,
        )
        write_history(_rng(self.seed, "journal"), data)
        self.counts.update(data.counts)


def _person_row(member: Member) -> dict:
    n = member.name
    return {
        "id": member.id,
        "last_name": n.last_name,
        "first_name": n.first_name,
        "middle_name": n.middle_name,
        "gender": n.gender,
        "birth_date": member.birth_date,
        "phone": member.phone,
        "email": member.email,
        "address": member.address,
        "position": member.position,
        "is_staff": member.is_staff,
    }
