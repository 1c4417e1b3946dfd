"""The demo school: complete, realistic, consistent and the same for the same seed."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

import pytest
from peewee import SqliteDatabase, fn

from appliance.db import migrate, open_database
from appliance.demo import (
    DemoAccount,
    DemoError,
    create_demo_school,
    timetable_slots,
    write_accounts_csv,
)
from appliance.demo.journal import suggested_period_mark
from appliance.models import (
    AcademicYear,
    Announcement,
    Assignment,
    Attendance,
    AuditEntry,
    Bell,
    CurriculumLine,
    Enrollment,
    Guardian,
    Lesson,
    Mark,
    NonSchoolDay,
    PeriodMark,
    Person,
    PersonalDataChange,
    Plan,
    PlanLesson,
    RoleGrant,
    School,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    Term,
    TimetableEntry,
    User,
    WorkType,
    database,
)
from appliance.passwords import needs_rehash, verify_password
from appliance.school_calendar import SchoolCalendar
from appliance.timetable.conflicts import class_gaps, year_conflicts
from appliance.timetable.entries import load_entries

TODAY = dt.date(2026, 11, 28)  # a Saturday in the second quarter
ROLES = {
    "director", "deputy", "admin", "teacher", "class_teacher", "student", "parent", "inspector",
}  # fmt: skip


@dataclass
class Demo:
    db: SqliteDatabase
    accounts: list[DemoAccount]
    seconds: float
    fingerprint: str
    twin_accounts: list[DemoAccount]
    twin_fingerprint: str


def _fingerprint() -> str:
    """A digest of the content that must not depend on anything but seed and today."""
    parts = [
        Person.select(Person.last_name, Person.first_name, Person.middle_name, Person.birth_date),
        User.select(User.username),
        TimetableEntry.select(
            TimetableEntry.group, TimetableEntry.weekday, TimetableEntry.number, TimetableEntry.room
        ),
        Lesson.select(Lesson.group, Lesson.date, Lesson.number, Lesson.topic, Lesson.homework),
        Mark.select(Mark.assignment, Mark.student, Mark.value),
        Attendance.select(Attendance.lesson, Attendance.student, Attendance.code),
        PeriodMark.select(PeriodMark.group, PeriodMark.student, PeriodMark.value),
        PlanLesson.select(PlanLesson.topic, PlanLesson.hours, PlanLesson.planned_date),
    ]
    digest = hashlib.sha256()
    for query in parts:
        digest.update(repr(list(query.order_by(query.model._meta.primary_key).tuples())).encode())
    return digest.hexdigest()


def _build(path) -> tuple[SqliteDatabase, list[DemoAccount], float]:
    db = open_database(path)
    migrate(db)
    started = time.perf_counter()
    accounts = create_demo_school(seed=1, today=TODAY)
    return db, accounts, time.perf_counter() - started


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Demo:
    twin_db, twin_accounts, _ = _build(tmp_path_factory.mktemp("twin") / "ezh.db")
    twin_fingerprint = _fingerprint()
    twin_db.close()
    db, accounts, seconds = _build(tmp_path_factory.mktemp("demo") / "ezh.db")
    yield Demo(db, accounts, seconds, _fingerprint(), twin_accounts, twin_fingerprint)
    db.close()


@pytest.fixture
def year(demo) -> AcademicYear:
    """Bind the demo database (other fixtures may have bound another) and give its year."""
    database.initialize(demo.db)
    return AcademicYear.get()


def _graded_groups():
    return (
        SubjectGroup.select(SubjectGroup, SchoolClass, Subject)
        .join(SchoolClass)
        .switch(SubjectGroup)
        .join(Subject)
        .where((SchoolClass.grade >= 2) & (Subject.scale != "none"))
    )


# --- the build itself ----------------------------------------------------------------


def test_demo_builds_fast(demo):
    assert demo.seconds < 30


def test_same_seed_gives_the_same_school(demo, year):
    assert demo.fingerprint == demo.twin_fingerprint
    assert demo.accounts == demo.twin_accounts


def test_demo_refuses_a_database_with_a_school(year):
    with pytest.raises(DemoError):
        create_demo_school(seed=2, today=TODAY)
    assert School.select().count() == 1


def test_one_audit_entry_summarises_the_demo(year):
    entries = list(AuditEntry.select())
    assert [e.action for e in entries] == ["demo.create"]
    assert '"students":' in entries[0].after


def test_school_is_set_up(year):
    school = School.get()
    assert school.name == "ГБОУ ООШ № 2 г.о. Октябрьск"
    assert school.short_name == "ООШ № 2"
    assert "Октябрьск" in school.address and "Самарская" in school.address
    assert "Октябрьск" in school.letterhead
    assert "каб." in school.admin_contact and "@" in school.admin_contact
    assert school.setup_complete


# --- calendar, bells, rooms -----------------------------------------------------------


def test_year_is_current_and_contains_today(year):
    assert year.is_current and year.name == "2026/2027"
    assert year.starts == dt.date(2026, 9, 1) <= TODAY <= year.ends


def test_four_quarters_and_the_year_term(year):
    quarters = list(Term.select().where(Term.kind == "quarter").order_by(Term.number))
    assert [q.name for q in quarters] == [f"{n} четверть" for n in range(1, 5)]
    assert all(q.grade_from == 1 and q.grade_to == 9 for q in quarters)
    assert all(q.ends < q.mark_deadline <= q.ends + dt.timedelta(days=7) for q in quarters)
    assert Term.get(Term.kind == "year").name == "Год"


def test_breaks_holidays_and_first_grade_february(year):
    days = list(NonSchoolDay.select())
    kinds = Counter(d.kind for d in days)
    assert kinds["vacation"] >= 30 and kinds["holiday"] >= 5
    first_grade = [d for d in days if d.grade_to == 1]
    assert len(first_grade) == 7 and {d.date.month for d in first_grade} == {2}
    holidays = {d.date for d in days if d.kind == "holiday"}
    assert dt.date(2026, 11, 4) in holidays and dt.date(2027, 5, 9) in holidays
    winter = {d.date for d in days if d.kind == "vacation" and d.grade_to == 9}
    assert dt.date(2026, 12, 31) in winter and dt.date(2027, 1, 11) in winter


def test_seven_bells_with_one_long_break(year):
    bells = list(Bell.select().order_by(Bell.number))
    assert len(bells) == 7 and bells[0].starts == dt.time(8, 30) and bells[0].ends == dt.time(9, 10)
    breaks = [
        dt.datetime.combine(TODAY, b.starts) - dt.datetime.combine(TODAY, a.ends)
        for a, b in zip(bells, bells[1:], strict=False)
    ]
    assert sorted(m.seconds // 60 for m in breaks) == [10] * 5 + [20]


# --- people and accounts --------------------------------------------------------------


def test_every_role_is_present_in_order(demo, year):
    roles = [a.role for a in demo.accounts]
    assert set(roles) == ROLES
    assert roles[:3] == ["director", "deputy", "admin"]
    order = ["director", "deputy", "admin", "teacher", "class_teacher", "inspector"]
    staff_part = [r for r in roles if r in order]
    assert staff_part == sorted(staff_part, key=order.index)
    assert roles.index("parent") < roles.index("student")
    assert User.select().count() == len(demo.accounts)


def test_role_grants_use_the_known_codes(year):
    assert {g.role for g in RoleGrant.select()} == ROLES
    for grant in RoleGrant.select().where(RoleGrant.role == "class_teacher"):
        assert grant.school_class_id is not None
        assert RoleGrant.get_or_none(user=grant.user, role="teacher") is not None
    led = SchoolClass.select().where(SchoolClass.class_teacher.is_null(False)).count()
    assert RoleGrant.select().where(RoleGrant.role == "class_teacher").count() == led == 18


def test_logins_are_transliterated_and_unique(demo, year):
    names = [a.username for a in demo.accounts]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z]+\.[a-z]{1,4}\d*", n) for n in names), names[:5]


def test_passwords_work_and_ask_for_a_rehash(demo, year):
    for account in demo.accounts[:3] + demo.accounts[-2:]:
        user = User.get(User.username == account.username)
        assert len(account.password) == 10
        assert verify_password(user.password_hash, account.password)
        assert needs_rehash(user.password_hash)
        assert not user.must_change_password and user.password_changed_at is not None


def test_accounts_csv_has_a_header_and_every_account(demo, tmp_path):
    path = tmp_path / "accounts.csv"
    write_accounts_csv(path, demo.accounts)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["role", "username", "password", "full_name"]
    assert len(rows) == len(demo.accounts) + 1
    assert rows[1][0] == "director" and " " in rows[1][3]


def test_staff_and_inspector(year):
    staff = list(Person.select().where(Person.is_staff))
    assert 28 <= len(staff) <= 34 and all(p.position for p in staff)
    inspector = User.select().join(RoleGrant).where(RoleGrant.role == "inspector").get().person
    assert not inspector.is_staff and "управления" in inspector.position


def test_classes_have_25_students_or_so(year):
    classes = list(SchoolClass.select().order_by(SchoolClass.grade, SchoolClass.letter))
    assert [c.name for c in classes] == [f"{g}{ltr}" for g in range(1, 10) for ltr in "АБ"]
    for cls in classes:
        assert 23 <= Enrollment.select().where(Enrollment.school_class == cls).count() <= 27
        assert cls.room_id is not None and cls.class_teacher_id is not None
    assert not classes[0].graded and classes[2].graded


def test_students_have_gendered_names_and_ages_for_their_grade(year):
    rows = Enrollment.select(Enrollment, Person, SchoolClass).join(Person).switch(Enrollment)
    for e in rows.join(SchoolClass):
        p, grade = e.student, e.school_class.grade
        ending = ("ич",) if p.gender == "м" else ("на",)
        assert p.middle_name.endswith(ending), p.full_name
        age = (year.starts - p.birth_date).days / 365.25
        assert 5.5 + grade <= age <= 7.5 + grade, (p.full_name, grade, age)


def test_every_student_has_one_or_two_guardians_with_the_family_name(year):
    def stem(surname: str) -> str:
        return re.sub(r"(ая|ий|а)$", "", surname)

    students = Person.select().join(Enrollment, on=(Enrollment.student == Person.id))
    for student in students:
        links = list(Guardian.select().where(Guardian.student == student))
        assert 1 <= len(links) <= 2
        for link in links:
            assert link.relation in ("мать", "отец")
            assert stem(link.parent.last_name) == stem(student.last_name)
            assert (link.relation == "мать") == (link.parent.gender == "ж")


def test_some_parents_have_children_in_two_classes(year):
    counts = (
        Guardian.select(Guardian.parent, fn.COUNT(Guardian.id).alias("n"))
        .group_by(Guardian.parent)
        .having(fn.COUNT(Guardian.id) > 1)
    )
    assert counts.count() >= 5


# --- curriculum, groups, timetable, КТП ------------------------------------------------


def test_subject_scales(year):
    assert Subject.get(Subject.short_name == "ОРКСЭ").scale == "pass_fail"
    assert Subject.get(Subject.short_name == "ОДНКНР").scale == "pass_fail"
    assert Subject.get(Subject.name == "Английский язык").is_foreign_language
    assert Subject.get(Subject.name == "Математика").scale == "five"


def test_curriculum_follows_the_federal_week(year):
    weekly = defaultdict(int)
    for line in CurriculumLine.select():
        assert line.hours_year == line.hours_week * (33 if line.grade == 1 else 34)
        weekly[line.grade] += line.hours_week
    assert weekly == {1: 21, 2: 23, 3: 23, 4: 23, 5: 29, 6: 30, 7: 31, 8: 32, 9: 33}


def test_english_is_taught_in_two_subgroups_from_grade_two(year):
    english = Subject.get(Subject.name == "Английский язык")
    for cls in SchoolClass.select().where(SchoolClass.grade >= 2):
        groups = list(
            SubjectGroup.select().where(
                SubjectGroup.school_class == cls, SubjectGroup.subject == english
            )
        )
        assert sorted(g.subgroup for g in groups) == [1, 2]
        teachers = {SubjectGroupTeacher.get(group=g).teacher_id for g in groups}
        assert len(teachers) == 2
        members = [
            SubjectGroupStudent.select().where(SubjectGroupStudent.group == g).count()
            for g in groups
        ]
        assert sum(members) == Enrollment.select().where(Enrollment.school_class == cls).count()


def test_every_group_has_one_main_teacher(year):
    for group in SubjectGroup.select():
        assert (
            SubjectGroupTeacher.select()
            .where(SubjectGroupTeacher.group == group, SubjectGroupTeacher.is_main)
            .count()
            == 1
        )


def test_timetable_has_no_conflicts_nor_gaps(year):
    """The demo's timetable passes the deputy's own checker (appliance.timetable)."""
    assert len(timetable_slots(year)) > 500
    assert year_conflicts(year) == []
    assert class_gaps(load_entries(year), year.starts) == []


def test_timetable_hours_match_the_curriculum(year):
    hours = {(c.grade, c.subject_id): c.hours_week for c in CurriculumLine.select()}
    for group in SubjectGroup.select(SubjectGroup, SchoolClass).join(SchoolClass):
        entries = TimetableEntry.select().where(TimetableEntry.group == group).count()
        assert entries == hours[group.school_class.grade, group.subject_id], group.id


def test_days_are_short_enough(year):
    per_day = Counter((s.class_name, s.weekday) for s in timetable_slots(year) if s.subgroup != 2)
    for (class_name, _), n in per_day.items():
        assert n <= (5 if class_name.startswith("1") else 7)


def test_teachers_have_one_room_and_a_fair_load(year):
    rooms, load = defaultdict(set), Counter()
    for slot in timetable_slots(year):
        for teacher in slot.teachers:
            rooms[teacher].add(slot.room)
            load[teacher] += 1
    assert all(len(r) == 1 for r in rooms.values())
    assert max(load.values()) <= 27


def test_every_group_has_an_approved_plan_with_the_year_hours(year):
    hours = {(c.grade, c.subject_id): c.hours_year for c in CurriculumLine.select()}
    totals = dict(
        PlanLesson.select(Plan.group, fn.SUM(PlanLesson.hours))
        .join(Plan)
        .group_by(Plan.group)
        .tuples()
    )
    for group in SubjectGroup.select(SubjectGroup, SchoolClass).join(SchoolClass):
        plan = Plan.get(Plan.group == group)
        assert plan.state == "approved" and plan.decided_by_id is not None
        assert totals[group.id] == hours[group.school_class.grade, group.subject_id]


def test_plan_topics_are_real_topics(year):
    topics = [p.topic for p in PlanLesson.select(PlanLesson.topic)]
    assert not [t for t in topics if re.search(r"\bТема \d+", t)]
    assert any(t.startswith("Контрольная работа по теме") for t in topics)
    assert any(t.startswith("Повторение") for t in topics)
    assert all(re.search("[а-яА-Я]", t) for t in topics)


def test_work_types(year):
    weights = {w.name: w.weight for w in WorkType.select()}
    assert weights["Ответ на уроке"] == 1 and weights["Контрольная работа"] == 3
    assert weights["Диктант"] == 3 and len(weights) == 9
    assert WorkType.select().where(WorkType.is_default).count() == 1


# --- lessons and the journal ----------------------------------------------------------


def test_lessons_before_today_are_held_with_topics(year):
    past = Lesson.select().where(Lesson.date < TODAY)
    assert past.count() > 5000
    assert past.where(
        (Lesson.state != "held") | (Lesson.topic == "") | Lesson.plan_lesson.is_null()
        | Lesson.published_at.is_null() | Lesson.teacher.is_null()
    ).count() == 0  # fmt: skip
    first = Lesson.select(fn.MIN(Lesson.date)).scalar()
    assert first == dt.date(2026, 9, 1) and (TODAY - first).days >= 42


def test_lessons_from_today_wait_for_the_teacher(year):
    future = Lesson.select().where(Lesson.date >= TODAY)
    assert future.count() > 5000
    assert future.where((Lesson.state != "planned") | (Lesson.topic != "")).count() == 0


def test_teachers_have_lessons_on_the_next_school_day(year):
    day = SchoolCalendar.load(year).next_school_day(TODAY, 5)
    assert day == dt.date(2026, 11, 30)
    teachers = {lesson.teacher_id for lesson in Lesson.select().where(Lesson.date == day)}
    assert len(teachers) >= 20


def test_lesson_topics_follow_the_plan_in_order(year):
    group = SubjectGroup.select().join(Subject).where(Subject.name == "Алгебра").first()
    lessons = list(
        Lesson.select()
        .where(Lesson.group == group, Lesson.date < TODAY)
        .order_by(Lesson.date, Lesson.number)
    )
    positions = [lesson.plan_lesson.position for lesson in lessons]
    assert positions == sorted(positions) and positions[0] == 1


def test_marks_are_two_to_five_or_pass_fail_and_none_in_grade_one(year):
    rows = (
        Mark.select(Mark.value, Subject.scale, SchoolClass.grade)
        .join(Assignment).join(Lesson).join(SubjectGroup).join(SchoolClass)
        .switch(SubjectGroup).join(Subject)
        .tuples()
    )  # fmt: skip
    seen = Counter()
    for value, scale, grade in rows:
        assert grade >= 2
        assert value in ({"зач", "незач"} if scale == "pass_fail" else {"2", "3", "4", "5"})
        seen[value] += 1
    assert sum(seen.values()) > 20_000
    assert seen["4"] > seen["3"] > seen["2"] and seen["зач"] > seen["незач"]


def test_no_marks_for_absent_students(year):
    absent = set(
        Attendance.select(Attendance.lesson, Attendance.student)
        .where(Attendance.code.in_(["Н", "Б", "УП"]))
        .tuples()
    )
    marked = Mark.select(Assignment.lesson, Mark.student).join(Assignment).tuples()
    assert not absent & set(marked)


def test_attendance_is_realistic(year):
    held = (
        Lesson.select(fn.COUNT(SubjectGroupStudent.id))
        .join(SubjectGroupStudent, on=(SubjectGroupStudent.group == Lesson.group))
        .where(Lesson.date < TODAY)
        .scalar()
    )
    rows = Attendance.select()
    assert 0.04 <= rows.count() / held <= 0.09
    assert {a.code for a in rows} == {"Н", "Б", "УП", "ОП"}
    truants = Counter(a.student_id for a in rows.where(Attendance.code == "Н"))
    assert len([n for n in truants.values() if n >= 40]) >= 2


def test_whole_group_works_every_few_weeks(year):
    for group in _graded_groups():
        works = (
            Assignment.select().join(Lesson)
            .where((Lesson.group == group) & (Assignment.weight >= 2))
            .count()
        )  # fmt: skip
        assert works >= 3, group.name


def test_journal_rows_are_published(year):
    for model in (Assignment, Mark, Attendance, PeriodMark):
        assert model.select().where(model.published_at.is_null()).count() == 0


def test_first_quarter_marks_follow_the_weighted_average(year):
    quarter = Term.get(Term.kind == "quarter", Term.number == 1)
    got = defaultdict(list)
    rows = (
        Mark.select(Lesson.group, Mark.student, Mark.value, Assignment.weight)
        .join(Assignment).join(Lesson)
        .where(Lesson.date.between(quarter.starts, quarter.ends))
        .tuples()
    )  # fmt: skip
    for group, student, value, weight in rows:
        got[group, student].append((value, weight))
    period = list(PeriodMark.select().where(PeriodMark.term == quarter))
    assert len(period) == sum(
        SubjectGroupStudent.select().where(SubjectGroupStudent.group == g).count()
        for g in _graded_groups()
    )
    scales = {g.id: g.subject.scale for g in _graded_groups()}
    for mark in period:
        expected = suggested_period_mark(got[mark.group_id, mark.student_id], scales[mark.group_id])
        assert mark.value == expected
    assert Counter(m.value for m in period)["н/а"] < len(period) * 0.1
    assert PeriodMark.select().where(PeriodMark.term != quarter).count() == 0


@pytest.mark.parametrize(
    ("marks", "scale", "expected"),
    [
        ([("4", 1), ("3", 1), ("4", 1), ("3", 1), ("4", 1)], "five", "4"),  # 3.6 → 4
        ([("4", 1), ("3", 1)], "five", "н/а"),
        ([("4", 1), ("3", 1), ("4", 1), ("3", 1)], "five", "3"),  # 3.5 → 3
        ([("5", 3), ("3", 1), ("3", 1)], "five", "4"),  # 21/5 = 4.2
        ([("2", 3), ("5", 1), ("4", 1)], "five", "3"),  # 15/5 = 3.0
        ([("зач", 1), ("незач", 1), ("зач", 1)], "pass_fail", "зач"),
    ],
)
def test_suggested_period_mark(marks, scale, expected):
    assert suggested_period_mark(marks, scale) == expected


# --- the rest -----------------------------------------------------------------------


def test_personal_data_changes_show_one_overdue(year):
    changes = list(PersonalDataChange.select())
    assert len(changes) >= 2
    entered = [c for c in changes if c.entered_at is not None]
    assert entered and all((c.entered_at.date() - c.notified_on).days <= 3 for c in entered)
    overdue = [c for c in changes if c.entered_at is None and (TODAY - c.notified_on).days > 3]
    assert [(TODAY - c.notified_on).days for c in overdue] == [6]


def test_two_announcements(year):
    assert Announcement.select().count() == 2
    assert {a.audience for a in Announcement.select()} == {"parents", "staff"}
