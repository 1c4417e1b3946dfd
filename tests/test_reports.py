"""Reports (§8): activity, journal filling, progress and attendance — figures checked by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from appliance import audit
from appliance.db import write
from appliance.models import (
    Assignment,
    Attendance,
    Enrollment,
    Lesson,
    LoginEvent,
    Mark,
    PeriodMark,
    Person,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    WorkType,
)
from appliance.reports import activity, filling, progress

# --- progress (§8.3) -----------------------------------------------------------------------


def progress_class(school):
    """5А with five students and three subjects; 2nd-quarter marks chosen so that each
    student lands in a known group:

    Иванов 5 5 5 → отличник; Петрова 5 4 3 → с одной «3»; Сидоров 2 4 н/а → не аттестован;
    Абрамов 4 5 4 → хорошист; Борисов 3 3 2 → неуспевающий.
    """
    terms = school.add_planning()["terms"]
    year, cls = school.year, school.classes["5А"]
    with write():
        subjects = [school.group]
        for name in ("Русский язык", "Английский язык"):
            subject = Subject.create(name=name)
            subjects.append(SubjectGroup.create(year=year, school_class=cls, subject=subject))
        students = list(school.students["5А"])
        for last in ("Абрамов", "Борисов"):
            pupil = Person.create(last_name=last, first_name="Тест")
            Enrollment.create(student=pupil, school_class=cls, starts=year.starts)
            SubjectGroupStudent.create(group=school.group, student=pupil, starts=year.starts)
            students.append(pupil)
        marks = {
            "Иванов": ("5", "5", "5"),
            "Петрова": ("5", "4", "3"),
            "Сидоров": ("2", "4", "н/а"),
            "Абрамов": ("4", "5", "4"),
            "Борисов": ("3", "3", "2"),
        }
        for pupil in students:
            for group, value in zip(subjects, marks[pupil.last_name], strict=True):
                PeriodMark.create(
                    group=group, student=pupil, kind="term", term=terms[1], value=value
                )
        # a year mark must not leak into the quarter
        PeriodMark.create(group=subjects[0], student=students[0], kind="year", value="2")
    return terms[1], students


def test_progress_counts_quality_and_success(school):
    term, _students = progress_class(school)
    period = progress.find_period(school.year, f"term:{term.id}")
    report = progress.build(school.year, period)
    # 5Б has no period marks: its two students are «без отметок»
    assert [c.school_class.name for c in report.classes] == ["5А", "5Б"]
    result = report.classes[0]
    by_name = {s.student.last_name: s.category for s in result.students}
    assert by_name == {
        "Абрамов": "good",
        "Борисов": "failing",
        "Иванов": "excellent",
        "Петрова": "one_three",
        "Сидоров": "not_attested",
    }
    assert result.attested == 4
    # one base for both: all 5 students on the roll
    assert result.quality == Decimal("40.0")  # 2 (отличник, хорошист) of 5
    assert result.success == Decimal("60.0")  # (4 attested − 1 failing) of 5
    assert result.average == Decimal("3.86")  # 54 / 14 five-point marks
    other = report.classes[1]
    assert other.counts["unmarked"] == 2 and other.quality == Decimal("0.0")
    assert other.success == Decimal("0.0")


def test_progress_counts_missed_lessons_excused_and_not(school):
    term, students = progress_class(school)
    ivanov, petrova, sidorov = students[:3]
    today = dt.date.today()
    first, second = Lesson.select().where(Lesson.date == today).order_by(Lesson.number)
    with write():
        Attendance.create(lesson=first, student=ivanov, code="Н")
        Attendance.create(lesson=second, student=ivanov, code="Б")
        Attendance.create(lesson=first, student=petrova, code="УП")
        Attendance.create(lesson=first, student=sidorov, code="ОП")  # late is not missed
    period = progress.find_period(school.year, f"term:{term.id}")
    if not period.starts <= today <= period.ends:
        pytest.skip("today is outside the factory's 2nd quarter")
    report = progress.build(school.year, period, class_id=school.classes["5А"].id)
    assert len(report.classes) == 1
    rows = {
        s.student.last_name: (s.missed, s.excused, s.unexcused) for s in report.classes[0].students
    }
    assert rows["Иванов"] == (2, 1, 1)
    assert rows["Петрова"] == (1, 1, 0)
    assert rows["Сидоров"] == (0, 0, 0)
    assert report.classes[0].total("unexcused") == 1


def test_progress_year_period_reads_year_marks(school):
    progress_class(school)
    report = progress.build(school.year, progress.find_period(school.year, "year"))
    ivanov = report.classes[0].students[2]
    assert ivanov.student.last_name == "Иванов"
    assert ivanov.marks == {"Математика": "2"} and ivanov.category == "failing"


def test_progress_term_covers_only_its_grades(school):
    school.add_planning()
    halves = [p for p in progress.period_choices(school.year) if "полугодие" in p.label]
    assert halves and all("10–11 кл." in p.label for p in halves)
    assert progress.build(school.year, halves[0]).classes == []
    assert progress.build(school.year, progress.find_period(school.year, "final")).classes == []
    with pytest.raises(progress.ReportPeriodError):
        progress.find_period(school.year, "term:99999")


@pytest.mark.parametrize(
    ("values", "category"),
    [
        (["5", "5", "осв"], "excellent"),
        (["5", "4"], "good"),
        (["4", "3", "зач"], "one_three"),
        (["зач"], "passed"),  # only pass/fail marks: not «с «3»»
        (["зач", "зач", "осв"], "passed"),
        (["5", "зач"], "excellent"),
        (["3", "3", "5"], "threes"),
        (["5", "незач"], "failing"),
        (["2", "н/а"], "not_attested"),
        ([], "unmarked"),
    ],
)
def test_progress_categories(values, category):
    assert progress.categorize([v for v in values if v != "осв"]) == category


def test_progress_document_has_the_same_figures(school):
    term, _students = progress_class(school)
    report = progress.build(school.year, progress.find_period(school.year, f"term:{term.id}"))
    doc = progress.document(report)
    classes = doc.tables[0]
    assert classes.headers[:3] == ["Класс", "Учащихся", "Отличников"]
    row = classes.rows[0]
    assert classes.headers[6] == "Только «зач»"
    assert row[:10] == ["5А", 5, 1, 1, 1, 0, 0, 1, 1, 0]
    assert row[10:13] == [Decimal("40.0"), Decimal("60.0"), Decimal("3.86")]
    assert "от всех учащихся" in classes.note
    students = {r[1]: r for r in doc.tables[1].rows}
    assert students["Сидоров Илья"][2:4] == ["не аттестован", "Английский язык, Математика"]


# --- filling (§8.2) ------------------------------------------------------------------------


def filling_month(school):
    """October: three lessons of maths; one filled, one with a topic only, one empty."""
    school.add_planning()
    year, group = school.year, school.group
    october = dt.date(year.starts.year, 10, 1)
    ivanov, petrova, _sidorov = school.students["5А"]
    with write():
        full = Lesson.create(
            group=group,
            date=dt.date(october.year, 10, 5),
            number=1,
            topic="Натуральные числа",
            homework="№ 1–5",
            state="held",
        )
        Lesson.create(group=group, date=dt.date(october.year, 10, 6), number=1, topic="Сложение")
        Lesson.create(group=group, date=dt.date(october.year, 10, 7), number=1)
        Lesson.create(group=group, date=dt.date(october.year, 10, 8), number=1, state="cancelled")
        Lesson.create(group=group, date=dt.date(october.year, 10, 20), number=1)  # after "today"
        work = WorkType.create(name="Ответ на уроке", weight=1)
        task = Assignment.create(lesson=full, work_type=work, weight=1)
        Mark.create(assignment=task, student=ivanov, value="5")
        Mark.create(assignment=task, student=petrova, value="4")
    return october, dt.date(october.year, 10, 10)


def test_filling_counts_a_groups_month(school):
    october, today = filling_month(school)
    report = filling.build(school.year, october, today=today)
    assert (report.starts, report.ends) == (october, today)
    row = next(r for r in report.rows if r.group.id == school.group.id)
    assert row.teacher.last_name == "Смирнова"
    assert (row.lessons, row.conducted, row.topics, row.homework, row.attendance) == (3, 2, 2, 1, 1)
    assert (row.students, row.marks, row.overdue) == (3, 2, 2)
    assert row.marks_per_student_lesson == Decimal("0.33")  # 2 marks / (3 students × 2 lessons)
    # the approved КТП has three undated rows: some hours are due by 10 October
    assert row.progress is not None and row.progress.plan_hours == 3
    assert row.needs_attention
    teacher = report.teachers()[0]
    assert teacher.name == "Смирнова Елена Викторовна" and teacher.overdue == 2


def test_filling_filters_by_class_and_teacher(school):
    october, today = filling_month(school)
    assert (
        filling.build(school.year, october, class_id=school.classes["5Б"].id, today=today).rows
        == []
    )
    other = school.users["class_teacher"].person
    assert filling.build(school.year, october, teacher_id=other.id, today=today).rows == []
    mine = school.users["teacher"].person
    assert len(filling.build(school.year, october, teacher_id=mine.id, today=today).rows) == 1


def test_filling_document_headers_and_totals(school):
    october, today = filling_month(school)
    doc = filling.document(filling.build(school.year, october, today=today))
    teachers, groups = doc.tables
    assert teachers.rows[0][:4] == ["Смирнова Елена Викторовна", 1, 3, Decimal("66.7")]
    assert groups.headers[3:6] == ["Уроков", "Проведено", "Тема записана"]
    assert "октябрь" in doc.subtitle


def test_year_months_run_september_to_august(school):
    months = filling.year_months(school.year)
    assert len(months) == 12 and months[0].month == 9 and months[-1].month == 8


# --- activity (§8.1) -----------------------------------------------------------------------


def test_activity_counts_logins_and_actions_in_the_period(school):
    teacher, deputy = school.users["teacher"], school.users["deputy"]
    day = dt.date.today()
    inside = dt.datetime.combine(day, dt.time(9))
    before = inside - dt.timedelta(days=40)
    with write():
        for at, ok in ((inside, True), (inside, True), (inside, False), (before, True)):
            LoginEvent.create(at=at, username=teacher.username, user=teacher, success=ok)
        LoginEvent.create(at=inside, username=deputy.username, user=deputy, success=True)
        for action in ("mark.set", "mark.set", "attendance.set", "lesson.topic"):
            audit.append(action, user=teacher, ip="10.0.0.5")
    report = activity.build(day - dt.timedelta(days=7), day)
    rows = {u.account.username: u for u in report.users}
    smirnova = rows["smirnova.ev"]
    assert (smirnova.logins, smirnova.failures, smirnova.action_count) == (2, 1, 4)
    assert smirnova.actions == {"mark": 2, "attendance": 1, "lesson": 1}
    assert smirnova.top_areas().startswith("Отметка: 2")
    assert rows["belova.os"].logins == 1 and rows["belova.os"].action_count == 0
    roles = {r.role: r for r in report.roles}
    assert (roles["teacher"].users, roles["teacher"].active, roles["teacher"].logins) == (2, 1, 2)
    assert roles["teacher"].actions == 4
    assert ("mark", 2, 1) in report.areas
    # staff without a login in the period: the control page's list
    assert "kuznetsov.ap" in [u.account.username for u in report.silent]
    assert "ivanov.p" not in [u.account.username for u in report.silent]


def test_activity_one_role_only(school):
    report = activity.build(dt.date.today(), dt.date.today(), role="inspector")
    assert [u.account.username for u in report.users] == ["titov.pa"]


def test_activity_document(school):
    doc = activity.document(activity.build(dt.date(2026, 9, 1), dt.date(2026, 10, 31)))
    assert [t.title for t in doc.tables] == ["По ролям", "По разделам", "Пользователи"]
    assert doc.subtitle == "Период: 01.09.2026 — 31.10.2026"


def test_filling_counts_period_marks_missing_after_the_deadline(school):
    terms = school.add_planning()["terms"]
    first = terms[0]  # ends 26.10, marks due by 29.10
    with write():
        PeriodMark.create(
            group=school.group, student=school.students["5А"][0], kind="term", term=first, value="5"
        )
    november = first.mark_deadline.replace(day=1) + dt.timedelta(days=32)
    november = november.replace(day=1)
    report = filling.build(school.year, november, today=november + dt.timedelta(days=9))
    row = report.rows[0]
    assert row.late_term == first and row.marks_missing == 2
    assert row.needs_attention and report.teachers()[0].marks_missing == 2
    # before the deadline nothing is missing yet
    early = filling.build(school.year, first.ends.replace(day=1), today=first.ends)
    assert early.rows[0].late_term is None and early.rows[0].marks_missing == 0


# --- the director's monthly control (§7.1) -------------------------------------------------


def test_control_gathers_what_needs_attention(school):
    from appliance.reports import control

    _term, students = progress_class(school)
    ivanov = students[0]
    today = dt.date.today()
    lessons = list(Lesson.select().where(Lesson.date == today))
    last_period = progress.default_period(school.year, today)
    with write():
        PeriodMark.get_or_create(
            group=school.group,
            student=students[4],
            kind=last_period.kind,
            term=last_period.term,
            defaults={"value": "2"},
        )
        # 6 unexcused absences today: over the school's threshold of 5
        for n in range(3, 9):
            lessons.append(Lesson.create(group=school.group, date=today, number=n))
        for lesson in lessons:
            Attendance.create(lesson=lesson, student=ivanov, code="Н")
    report = control.build(school.year, today.replace(day=1))
    items = {what: count for _area, what, count in report.attention()}
    truant = next(k for k in items if k.startswith("учащихся с пропусками"))
    assert items[truant] == 1
    assert last_period in report.periods
    assert [c.school_class.name for c in report.classes_failing] == ["5А"]
    # nobody logged in: every staff account is listed
    silent = {u.account.username for u in report.activity.silent}
    assert {"smirnova.ev", "belova.os", "orlova.mi"} <= silent
    doc = control.document(report)
    assert doc.tables[0].title == "Требует внимания"
    assert any(row[2] == 1 and row[1] == truant for row in doc.tables[0].rows)


# --- bounded queries: no N+1 over the school -----------------------------------------------


def _queries(fn) -> int:
    from appliance.models import database

    executed = []
    real = database.obj.execute_sql

    def counting(sql, params=None, *args, **kwargs):
        executed.append(sql)
        return real(sql, params, *args, **kwargs)

    database.obj.execute_sql = counting
    try:
        fn()
    finally:
        database.obj.execute_sql = real
    return len(executed)


def _grow_school(school, classes: int) -> None:
    """More classes, each with a group, students, lessons, marks and period marks."""
    from appliance.models import SchoolClass, SubjectGroupTeacher, User

    terms = school.add_planning()["terms"]
    year, subject = school.year, school.group.subject
    teacher = school.users["teacher"].person
    with write():
        work = WorkType.get_or_create(name="Ответ", defaults={"weight": 1})[0]
        for n in range(classes):
            cls = SchoolClass.create(year=year, grade=5, letter="ВГДЕЖЗИ"[n])
            group = SubjectGroup.create(year=year, school_class=cls, subject=subject)
            SubjectGroupTeacher.create(group=group, teacher=teacher)
            lesson = Lesson.create(
                group=group, date=dt.date.today(), number=1, topic="Тема", state="held"
            )
            task = Assignment.create(lesson=lesson, work_type=work, weight=1)
            for k in range(4):
                pupil = Person.create(last_name=f"Ученик{n}{k}", first_name="Тест")
                Enrollment.create(student=pupil, school_class=cls, starts=year.starts)
                SubjectGroupStudent.create(group=group, student=pupil, starts=year.starts)
                Mark.create(assignment=task, student=pupil, value="4")
                Attendance.create(lesson=lesson, student=pupil, code="Н")
                PeriodMark.create(group=group, student=pupil, kind="term", term=terms[0], value="3")
                User.create(person=pupil, username=f"u{n}{k}")
                LoginEvent.create(username=f"u{n}{k}", success=True)


@pytest.mark.parametrize("name", ["filling", "progress", "activity", "control"])
def test_reports_run_the_same_queries_for_a_bigger_school(school, name):
    from appliance.reports import catalog

    school.add_planning()
    run = lambda: catalog.build(name, catalog.read_filters(name, {}))  # noqa: E731
    run()  # warm up (the school row, settings)
    small = _queries(run)
    _grow_school(school, 6)
    assert _queries(run) == small


# --- review findings (issue 7, H4b) --------------------------------------------------------


def _moved_student(school):
    """6А (Математика) and 6Б (Русский язык); Зуев moves from 6А to 6Б on 16 November.

    In 6А he got «2» for the 2nd quarter and two «Н» before leaving; in 6Б a «5» and one
    «Н». Each class counts only its own groups and his days in it.
    """
    from appliance.models import SchoolClass

    term = school.add_planning()["terms"][1]  # 5.11 – 28.12
    year = school.year
    y = year.starts.year
    moved = dt.date(y, 11, 16)
    with write():
        a = SchoolClass.create(year=year, grade=6, letter="А")
        b = SchoolClass.create(year=year, grade=6, letter="Б")
        math = SubjectGroup.create(year=year, school_class=a, subject=school.group.subject)
        russian = SubjectGroup.create(
            year=year, school_class=b, subject=Subject.create(name="Русский язык")
        )
        pupil = Person.create(last_name="Зуев", first_name="Олег")
        Enrollment.create(
            student=pupil, school_class=a, starts=year.starts, ends=moved - dt.timedelta(days=1)
        )
        Enrollment.create(student=pupil, school_class=b, starts=moved)
        SubjectGroupStudent.create(
            group=math, student=pupil, starts=year.starts, ends=moved - dt.timedelta(days=1)
        )
        SubjectGroupStudent.create(group=russian, student=pupil, starts=moved)
        PeriodMark.create(group=math, student=pupil, kind="term", term=term, value="2")
        PeriodMark.create(group=russian, student=pupil, kind="term", term=term, value="5")
        for group, day in ((math, 10), (math, 12), (russian, 17)):
            lesson = Lesson.create(group=group, date=dt.date(y, 11, day), number=1)
            Attendance.create(lesson=lesson, student=pupil, code="Н")
    return term, a, b, pupil


def test_transferred_student_counts_in_their_own_class_only(school):
    term, a, b, pupil = _moved_student(school)
    period = progress.find_period(school.year, f"term:{term.id}")

    def zuev(class_id=None):
        report = progress.build(school.year, period, class_id=class_id, today=period.ends)
        rows = {c.school_class.id: c for c in report.classes}
        if class_id is None:  # gone from 6А by the term's end
            assert pupil.id not in [s.student.id for s in rows[a.id].students]
        (row,) = [s for s in rows[b.id].students if s.student.id == pupil.id]
        return (row.category, row.marks, row.unexcused), rows[b.id].quality

    alone, together = zuev(b.id), zuev()
    # 6А's «2» and its two «Н» stay in 6А: 6Б sees its own «5» and one «Н»
    assert alone == together == (("excellent", {"Русский язык": "5"}, 1), Decimal("100.0"))


def test_missing_period_marks_count_members_without_a_mark(school):
    """A mark of a student who left does not hide a current member's missing mark."""
    first = school.add_planning()["terms"][0]  # ends 26.10, marks due by 29.10
    ivanov = school.students["5А"][0]
    with write():
        leaver = Person.create(last_name="Ушедший", first_name="Тест")
        SubjectGroupStudent.create(
            group=school.group,
            student=leaver,
            starts=school.year.starts,
            ends=first.starts + dt.timedelta(days=20),
        )
        for pupil in (ivanov, leaver):
            PeriodMark.create(group=school.group, student=pupil, kind="term", term=first, value="5")
    november = dt.date(first.ends.year, 11, 1)
    report = filling.build(school.year, november, today=dt.date(first.ends.year, 11, 10))
    row = next(r for r in report.rows if r.group.id == school.group.id)
    assert row.late_term == first
    assert row.marks_missing == 2  # Петрова and Сидоров; not 3 members − 2 marks


def test_percentages_and_averages_round_half_up():
    from appliance.reports.table import mean, percent, text

    assert percent(5, 16) == Decimal("31.3")  # 31.25
    assert text(percent(5, 16)) == "31,3"
    assert percent(1, 8) == Decimal("12.5") and percent(7, 8) == Decimal("87.5")
    assert mean([4] * 7 + [5]) == Decimal("4.13")  # 4.125
    assert mean([]) is None


def test_progress_average_rounds_half_up(school):
    """Eight five-point marks averaging 4,125 print as 4,13 (not the even 4,12)."""
    term = school.add_planning()["terms"][1]
    year, cls = school.year, school.classes["5А"]
    with write():
        groups = [school.group]
        for n in range(7):
            subject = Subject.create(name=f"Предмет {n}")
            groups.append(SubjectGroup.create(year=year, school_class=cls, subject=subject))
        ivanov = school.students["5А"][0]
        for group, value in zip(groups, ["5"] + ["4"] * 7, strict=True):
            PeriodMark.create(group=group, student=ivanov, kind="term", term=term, value=value)
    period = progress.find_period(year, f"term:{term.id}")
    report = progress.build(year, period, class_id=cls.id, today=period.ends)
    assert report.classes[0].average == Decimal("4.13")


def _tenth_grade_failing(school):
    """10А with a «2» for the 1st half-year (ends 28.12, like the 2nd quarter)."""
    from appliance.models import SchoolClass, Term

    school.add_planning()
    year = school.year
    half = Term.get((Term.year == year) & (Term.kind == "half") & (Term.number == 1))
    with write():
        cls = SchoolClass.create(year=year, grade=10, letter="А")
        group = SubjectGroup.create(year=year, school_class=cls, subject=school.group.subject)
        pupil = Person.create(last_name="Яковлев", first_name="Иван")
        Enrollment.create(student=pupil, school_class=cls, starts=year.starts)
        SubjectGroupStudent.create(group=group, student=pupil, starts=year.starts)
        PeriodMark.create(group=group, student=pupil, kind="term", term=half, value="2")
    return cls, half


def test_control_takes_the_last_term_of_each_grade_range(school):
    from appliance.reports import control

    _term, students = progress_class(school)  # 5А: failing in the 2nd quarter
    tenth, half = _tenth_grade_failing(school)
    january = dt.date(school.year.starts.year + 1, 1, 1)
    report = control.build(school.year, january, today=january + dt.timedelta(days=14))
    assert sorted(p.label for p in report.periods) == [
        "1 полугодие (10–11 кл.)",
        "2 четверть (2–9 кл.)",
    ]
    assert [c.school_class.name for c in report.classes_failing] == ["5А", "10А"]
    classes = control.document(report).tables[2]
    assert [row[:2] for row in classes.rows] == [
        ["5А", "2 четверть (2–9 кл.)"],
        ["10А", "1 полугодие (10–11 кл.)"],
    ]
    assert control.period_key(report, tenth) == f"term:{half.id}"


def test_control_counts_every_unfilled_lesson_of_the_year(school):
    from appliance.reports import control

    october, _today = filling_month(school)  # two October lessons left unfilled
    november = october.replace(month=11)
    today = november.replace(day=10)

    def overdue(report) -> int:
        return sum(r.overdue for r in report.rows if r.group.id == school.group.id)

    months = [
        filling.build(school.year, m, today=today)
        for m in filling.year_months(school.year)
        if m <= november
    ]
    report = control.build(school.year, november, today=today)
    assert overdue(report.filling) == sum(overdue(m) for m in months) >= 3
    assert overdue(months[-1]) < overdue(report.filling)  # not only November's
    # the monthly filling report keeps the month
    assert overdue(filling.build(school.year, november, today=today)) == overdue(months[-1])


def test_lessons_are_credited_to_the_teacher_who_gave_them(school):
    october, today = filling_month(school)
    substitute = school.users["class_teacher"].person
    main = school.users["teacher"].person
    with write():
        lesson = Lesson.create(
            group=school.group,
            date=october.replace(day=9),
            number=2,
            topic="Замена",
            state="held",
            teacher=substitute,
        )
        work = WorkType.get_or_create(name="Ответ на уроке", defaults={"weight": 1})[0]
        task = Assignment.create(lesson=lesson, work_type=work, weight=1)
        Mark.create(assignment=task, student=school.students["5А"][2], value="3")
    report = filling.build(school.year, october, today=today)
    rows = {(r.teacher.id, r.substitute): r for r in report.rows if r.group.id == school.group.id}
    assert set(rows) == {(main.id, False), (substitute.id, True)}
    own, stood_in = rows[main.id, False], rows[substitute.id, True]
    assert (own.lessons, own.marks) == (3, 2)  # as before: the substitution is not hers
    assert (stood_in.lessons, stood_in.conducted, stood_in.marks) == (1, 1, 1)
    assert stood_in.group_name == "Математика (замена)" and stood_in.progress is None
    # the teacher filter keeps exactly that teacher's rows
    only = filling.build(school.year, october, teacher_id=substitute.id, today=today).rows
    assert [(r.teacher.id, r.substitute) for r in only] == [(substitute.id, True)]
    mine = filling.build(school.year, october, teacher_id=main.id, today=today).rows
    assert [(r.teacher.id, r.substitute) for r in mine] == [(main.id, False)]
    teachers = {t.name: t.total("lessons") for t in report.teachers()}
    assert teachers["Кузнецов Андрей Павлович"] == 1


def test_activity_keeps_deactivated_accounts_and_stops_at_the_period_end(school):
    from appliance.models import UserSession

    teacher = school.users["teacher"]
    starts, ends = dt.date(2026, 9, 1), dt.date(2026, 9, 30)
    inside = dt.datetime(2026, 9, 15, 10)
    later = dt.datetime(2026, 10, 20, 10)
    with write():
        for at in (inside, later):
            LoginEvent.create(at=at, username=teacher.username, user=teacher, success=True)
        LoginEvent.create(
            at=inside + dt.timedelta(hours=1),
            username=teacher.username,
            user=teacher,
            success=False,
        )
        for seen in (inside + dt.timedelta(minutes=30), later):
            UserSession.create(
                sid=f"s{seen:%m%d}", user=teacher, created_at=seen, last_seen_at=seen
            )
        teacher.is_active = False
        teacher.save()
    report = activity.build(starts, ends)
    row = next(u for u in report.users if u.account.id == teacher.id)
    assert row.logins == 1 and row.last_login == inside  # not the failed attempt
    assert row.last_active == inside + dt.timedelta(minutes=30)  # nothing after 30.09
    assert row.name.endswith("(учётная запись отключена)")
    assert teacher.username not in [u.account.username for u in report.silent]
    # without events in the period a deactivated account is not listed
    quiet = activity.build(dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    assert teacher.id not in [u.account.id for u in quiet.users]
