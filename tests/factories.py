"""A small, hand-built school for tests that do not need the whole demo school."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from appliance import access
from appliance.db import write
from appliance.models import (
    AcademicYear,
    Bell,
    BellSchedule,
    CurriculumLine,
    Enrollment,
    Guardian,
    Lesson,
    NonSchoolDay,
    Person,
    Plan,
    PlanLesson,
    RoleGrant,
    Room,
    School,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    Term,
    TimetableChange,
    TimetableEntry,
    User,
)
from appliance.passwords import hash_password

PASSWORD = "test-parol-2026"
ROLES = list(access.ROLES)
# one account per role in the test school (the class teacher acts for 5А)
ROLE_ACCOUNTS = {
    "director": "orlova.mi",
    "deputy": "belova.os",
    "admin": "zaytsev.io",
    "teacher": "smirnova.ev",
    "class_teacher": "kuznetsov.ap",
    "student": "ivanov.p",
    "parent": "ivanova.m",
    "inspector": "titov.pa",
}


@dataclass
class SchoolFactory:
    year: AcademicYear
    classes: dict[str, SchoolClass]
    users: dict[str, User] = field(default_factory=dict)  # role key → account
    students: dict[str, list[Person]] = field(default_factory=dict)  # class → students
    parents: dict[str, Person] = field(default_factory=dict)  # student last name → parent
    group: SubjectGroup | None = None
    planning: dict[str, object] = field(default_factory=dict)  # filled by add_planning()

    @staticmethod
    def person(last: str, first: str, middle: str = "", staff: bool = False) -> Person:
        return Person.create(last_name=last, first_name=first, middle_name=middle, is_staff=staff)

    def account(self, person: Person, username: str, *roles: tuple[str, int | None]) -> User:
        user = User.create(
            person=person,
            username=username,
            password_hash=hash_password(PASSWORD, "fast"),
            must_change_password=False,
        )
        for role, class_id in roles:
            RoleGrant.create(user=user, role=role, school_class=class_id)
        return user

    @classmethod
    def build(cls) -> SchoolFactory:
        today = dt.date.today()
        with write():
            School.create(name="Тестовая школа № 1", short_name="Школа № 1", setup_complete=True)
            starts = dt.date(today.year if today.month >= 9 else today.year - 1, 9, 1)
            year = AcademicYear.create(
                name=f"{starts.year}/{starts.year + 1}",
                starts=starts,
                ends=dt.date(starts.year + 1, 8, 31),
                is_current=True,
            )
            bells = BellSchedule.create(name="Основное", is_default=True)
            for n in range(1, 8):
                begin = dt.datetime(2000, 1, 1, 8, 30) + dt.timedelta(minutes=50 * (n - 1))
                Bell.create(
                    schedule=bells,
                    number=n,
                    starts=begin.time(),
                    ends=(begin + dt.timedelta(minutes=40)).time(),
                )
            classes = {
                name: SchoolClass.create(year=year, grade=5, letter=name[-1])
                for name in ("5А", "5Б")
            }
            f = cls(year=year, classes=classes)
            a = classes["5А"]
            teacher = cls.person("Смирнова", "Елена", "Викторовна", staff=True)
            class_teacher = cls.person("Кузнецов", "Андрей", "Павлович", staff=True)
            a.class_teacher = class_teacher
            a.save()
            f.users["director"] = f.account(
                cls.person("Орлова", "Марина", "Ивановна", True), "orlova.mi", ("director", None)
            )
            f.users["deputy"] = f.account(
                cls.person("Белова", "Ольга", "Сергеевна", True), "belova.os", ("deputy", None)
            )
            f.users["admin"] = f.account(
                cls.person("Зайцев", "Игорь", "Олегович", True), "zaytsev.io", ("admin", None)
            )
            f.users["teacher"] = f.account(teacher, "smirnova.ev", ("teacher", None))
            f.users["class_teacher"] = f.account(
                class_teacher, "kuznetsov.ap", ("teacher", None), ("class_teacher", a.id)
            )
            f.users["inspector"] = f.account(
                cls.person("Титов", "Павел", "Андреевич"), "titov.pa", ("inspector", None)
            )
            subject = Subject.create(name="Математика", short_name="Мат")
            f.group = SubjectGroup.create(year=year, school_class=a, subject=subject)
            SubjectGroupTeacher.create(group=f.group, teacher=teacher)
            names = {
                "5А": [("Иванов", "Пётр"), ("Петрова", "Анна"), ("Сидоров", "Илья")],
                "5Б": [("Фёдоров", "Глеб"), ("Андреева", "Вера")],
            }
            for class_name, pupils in names.items():
                f.students[class_name] = []
                for last, first in pupils:
                    student = cls.person(last, first)
                    Enrollment.create(
                        student=student, school_class=classes[class_name], starts=starts
                    )
                    if class_name == "5А":
                        SubjectGroupStudent.create(group=f.group, student=student, starts=starts)
                    parent = cls.person(last, "Мария" if last.endswith("а") else "Ольга")
                    Guardian.create(parent=parent, student=student, relation="мать")
                    f.students[class_name].append(student)
                    f.parents[last] = parent
            ivanov, fedorov = f.students["5А"][0], f.students["5Б"][0]
            f.users["student"] = f.account(ivanov, "ivanov.p", ("student", None))
            f.users["parent"] = f.account(f.parents["Иванов"], "ivanova.m", ("parent", None))
            f.users["other_parent"] = f.account(
                f.parents["Фёдоров"], "fedorova.o", ("parent", None)
            )
            f.users["other_student"] = f.account(fedorov, "fedorov.g", ("student", None))
            next_day = today + dt.timedelta(days=1)
            for number, day in ((1, today), (2, today), (1, next_day)):
                Lesson.create(group=f.group, date=day, number=number, teacher=teacher)
        return f

    def add_planning(self) -> dict[str, object]:
        """The year's plan around the math group: terms, a holiday, a room, the curriculum
        line, a timetable entry (today's weekday, lesson 1), a one-off change next week
        and an approved КТП. Opt-in, so older tests keep their bare school; idempotent."""
        if self.planning:
            return self.planning
        year, group = self.year, self.group
        s = year.starts
        with write():
            quarters = [
                (s, dt.date(s.year, 10, 26)),
                (dt.date(s.year, 11, 5), dt.date(s.year, 12, 28)),
                (dt.date(s.year + 1, 1, 9), dt.date(s.year + 1, 3, 22)),
                (dt.date(s.year + 1, 4, 1), dt.date(s.year + 1, 5, 26)),
            ]
            terms = [
                Term.create(
                    year=year,
                    kind="quarter",
                    number=n,
                    name=f"{n} четверть",
                    starts=a,
                    ends=b,
                    grade_from=2,
                    grade_to=9,
                    mark_deadline=b + dt.timedelta(days=3),
                )
                for n, (a, b) in enumerate(quarters, 1)
            ]
            for n, (a, b) in enumerate(
                (
                    (s, dt.date(s.year, 12, 28)),
                    (dt.date(s.year + 1, 1, 9), dt.date(s.year + 1, 5, 26)),
                ),
                1,
            ):
                Term.create(
                    year=year,
                    kind="half",
                    number=n,
                    name=f"{n} полугодие",
                    starts=a,
                    ends=b,
                    grade_from=10,
                    grade_to=11,
                )
            holiday = NonSchoolDay.create(
                year=year,
                date=dt.date(s.year, 11, 4),
                kind="holiday",
                note="День народного единства",
            )
            room = Room.create(name="204", capacity=30)
            line = CurriculumLine.create(
                year=year, grade=5, subject=group.subject, hours_week=5, hours_year=170
            )
            today = dt.date.today()
            weekday = today.isoweekday() if today.isoweekday() <= 5 else 1
            entry = TimetableEntry.create(
                group=group, weekday=weekday, number=1, room=room, valid_from=year.starts
            )
            change = TimetableChange.create(
                date=today + dt.timedelta(days=7 - today.weekday() + weekday - 1),
                entry=entry,
                kind="cancelled",
                reason="Методический день",
            )
            plan = Plan.create(group=group, version=1, state="approved", source="тест")
            for n, topic in enumerate(
                ("Натуральные числа", "Сложение и вычитание", "Умножение"), 1
            ):
                PlanLesson.create(plan=plan, position=n, section="Числа", topic=topic)
        self.planning = {
            "terms": terms,
            "holiday": holiday,
            "room": room,
            "line": line,
            "entry": entry,
            "change": change,
            "plan": plan,
        }
        return self.planning

    def role_key(self, role: str) -> str:
        if role == "class_teacher":
            return f"class_teacher:{self.classes['5А'].id}"
        return role
