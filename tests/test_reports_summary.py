"""The сводная ведомость (§9.1): students × subjects × periods with the journal's marks."""

from __future__ import annotations

import datetime as dt

from appliance.db import write
from appliance.models import (
    Enrollment,
    PeriodMark,
    Person,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
)
from appliance.reports import summary


def _subgroups(school):
    """English in two subgroups of 5А: Иванов and Петрова in the 1st, Сидоров in the 2nd."""
    year, cls = school.year, school.classes["5А"]
    ivanov, petrova, sidorov = school.students["5А"]
    with write():
        english = Subject.create(name="Английский язык", sort_order=5, is_foreign_language=True)
        first = SubjectGroup.create(year=year, school_class=cls, subject=english, subgroup=1)
        second = SubjectGroup.create(year=year, school_class=cls, subject=english, subgroup=2)
        for group, student in ((first, ivanov), (first, petrova), (second, sidorov)):
            SubjectGroupStudent.create(group=group, student=student, starts=year.starts)
    return first, second


def _mark(group, student, kind, value, term=None):
    with write():
        return PeriodMark.create(group=group, student=student, kind=kind, term=term, value=value)


def test_summary_sheet_has_students_subjects_and_periods(school):
    terms = school.add_planning()["terms"]
    first, second = _subgroups(school)
    ivanov, petrova, sidorov = school.students["5А"]
    math = school.group
    _mark(math, ivanov, "term", "5", terms[0])
    _mark(math, petrova, "term", "н/а", terms[0])
    _mark(math, ivanov, "year", "4")
    _mark(first, petrova, "term", "3", terms[1])
    _mark(second, sidorov, "term", "зач", terms[0])

    sheet = summary.build(school.classes["5А"], school.year)

    assert [s.person.last_name for s in sheet.students] == ["Иванов", "Петрова", "Сидоров"]
    # the school's subject order: English (5) before maths (100); subgroups merged
    assert [s.name for s in sheet.subjects] == ["Английский язык", "Математика"]
    assert sheet.subjects[0].group_ids == (first.id, second.id)
    # grade 5: four quarters and the year, no final mark (only grades 9 and 11)
    assert [p.label for p in sheet.periods] == [
        "1 четверть",
        "2 четверть",
        "3 четверть",
        "4 четверть",
        "год",
    ]
    english, maths = sheet.subjects
    q1, q2, *_rest, year = sheet.periods
    by_name = {s.person.last_name: s for s in sheet.students}
    assert sheet.mark(by_name["Иванов"], maths, q1) == "5"
    assert sheet.mark(by_name["Иванов"], maths, year) == "4"
    assert sheet.mark(by_name["Петрова"], maths, q1) == "н/а"
    assert sheet.mark(by_name["Петрова"], english, q2) == "3"
    # a student in the second subgroup gets that subgroup's marks in the same column
    assert sheet.mark(by_name["Сидоров"], english, q1) == "зач"
    assert sheet.mark(by_name["Сидоров"], maths, q1) == ""
    assert sheet.row(by_name["Иванов"]) == ["", "", "", "", "", "5", "", "", "", "4"]


def test_summary_marks_who_left_and_who_came(school):
    school.add_planning()
    cls, year = school.classes["5А"], school.year
    sidorov = school.students["5А"][2]
    left = year.starts + dt.timedelta(days=60)
    came = year.starts + dt.timedelta(days=30)
    with write():
        Enrollment.update(ends=left).where(Enrollment.student == sidorov).execute()
        newcomer = Person.create(last_name="Абрамов", first_name="Олег")
        Enrollment.create(student=newcomer, school_class=cls, starts=came)
        # 5Б's students are not on 5А's sheet
    sheet = summary.build(cls, year)
    names = [s.person.last_name for s in sheet.students]
    assert names == ["Абрамов", "Иванов", "Петрова", "Сидоров"]
    by_name = {s.person.last_name: s for s in sheet.students}
    assert by_name["Сидоров"].left_on == left
    assert by_name["Сидоров"].note == f"выбыл(а) {left:%d.%m.%Y}"
    assert by_name["Абрамов"].joined_on == came and by_name["Абрамов"].left_on is None
    assert by_name["Иванов"].note == ""


def test_summary_final_column_for_grade_nine(school):
    school.add_planning()
    with write():
        cls = school.classes["5Б"]
        cls.grade = 9
        cls.save()
        group = SubjectGroup.create(
            year=school.year, school_class=cls, subject=school.group.subject
        )
    student = school.students["5Б"][0]
    _mark(group, student, "final", "4")
    sheet = summary.build(cls)
    assert [p.key for p in sheet.periods][-2:] == ["year", "final"]
    assert sheet.mark(student, sheet.subjects[0], sheet.periods[-1]) == "4"


def test_summary_without_groups_is_empty_not_an_error(school):
    sheet = summary.build(school.classes["5Б"])
    assert sheet.subjects == [] and sheet.periods == []
    assert len(sheet.students) == 2


def test_summary_document_has_russian_headers(school):
    terms = school.add_planning()["terms"]
    _mark(school.group, school.students["5А"][0], "term", "5", terms[0])
    doc = summary.document(summary.build(school.classes["5А"]))
    table = doc.tables[0]
    assert table.headers[:4] == ["№", "ФИО обучающегося", "1 ч.", "2 ч."]
    assert table.groups == [("", 2), ("Математика", 5)] and table.fixed == 2
    assert table.rows[0][:3] == [1, "Иванов Пётр", "5"]
    assert "5А класс" in doc.subtitle and "Кузнецов Андрей Павлович" in doc.subtitle


def _count_queries(fn, *args) -> int:
    from appliance.models import database

    executed = []
    real = database.obj.execute_sql

    def counting(sql, params=None, *a, **kw):
        executed.append(sql)
        return real(sql, params, *a, **kw)

    database.obj.execute_sql = counting
    try:
        fn(*args)
    finally:
        database.obj.execute_sql = real
    return len(executed)


def test_summary_queries_do_not_grow_with_the_class(school):
    """A constant handful of queries, whatever the number of students and subjects."""
    terms = school.add_planning()["terms"]
    cls = school.classes["5А"]
    small = _count_queries(summary.build, cls)
    first, _second = _subgroups(school)
    with write():
        for n in range(10):
            pupil = Person.create(last_name=f"Ученик{n}", first_name="Тест")
            Enrollment.create(student=pupil, school_class=cls, starts=school.year.starts)
            SubjectGroupStudent.create(group=first, student=pupil, starts=school.year.starts)
            PeriodMark.create(group=first, student=pupil, kind="term", term=terms[0], value="4")
    assert _count_queries(summary.build, cls) == small <= 10
