"""The year rollover: next year prepared from this one, then switched to (test and demo school)."""

from __future__ import annotations

import datetime as dt
import shutil
import time

import pytest

from appliance import calendar_edit
from appliance.calendar_edit import DaysData, TermData
from appliance.cli_year import year as year_cli
from appliance.db import migrate, open_database, write
from appliance.demo import create_demo_school
from appliance.lessons import generate_lessons
from appliance.models import (
    AcademicYear,
    AuditEntry,
    CurriculumLine,
    Enrollment,
    Lesson,
    NonSchoolDay,
    OutboxEntry,
    RoleGrant,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    Term,
    TimetableEntry,
    UserNotice,
)
from appliance.rollover import prepare_next_year, rollover_state, switch_year
from appliance.school_calendar import current_year
from appliance.years import PlanningError

from .factories import PASSWORD

D = dt.date
DAY = dt.timedelta(days=1)


@pytest.fixture
def rolling(school):
    """The test school with its plan, an 11th class with a student and group, and a draft group."""
    school.add_planning()
    year = school.year
    with write():
        eleventh = SchoolClass.create(year=year, grade=11, letter="А")
        pupil = school.person("Орлов", "Денис")
        Enrollment.create(student=pupil, school_class=eleventh, starts=year.starts)
        physics = Subject.create(name="Физика")
        group = SubjectGroup.create(year=year, school_class=eleventh, subject=physics)
        SubjectGroupTeacher.create(group=group, teacher=school.users["teacher"].person)
        SubjectGroupStudent.create(group=group, student=pupil, starts=year.starts)
        draft = SubjectGroup.create(
            year=year, school_class=school.classes["5А"], subject=physics, is_draft=True
        )
    school.planning["eleventh"] = eleventh
    school.planning["draft"] = draft
    return school


def next_class(year: AcademicYear, name: str) -> SchoolClass:
    return SchoolClass.get(
        (SchoolClass.year == year)
        & (SchoolClass.grade == int(name[:-1]))
        & (SchoolClass.letter == name[-1])
    )


def test_prepare_promotes_classes_and_carries_groups_as_drafts(rolling):
    old = rolling.year
    result = prepare_next_year(old)
    new = result.year
    assert new.name == f"{old.starts.year + 1}/{old.starts.year + 2}"
    assert new.starts == D(old.starts.year + 1, 9, 1) and not new.is_current
    assert result.promoted == [("5А", "6А"), ("5Б", "6Б")] and result.graduating == ["11А"]

    six_a = next_class(new, "6А")
    assert six_a.class_teacher_id == rolling.classes["5А"].class_teacher_id
    assert (
        not SchoolClass.select()
        .where((SchoolClass.year == new) & (SchoolClass.grade == 12))
        .exists()
    )

    pupils = {p.id for p in rolling.students["5А"]}
    enrolled = Enrollment.select().where(Enrollment.school_class == six_a)
    assert {e.student_id for e in enrolled} == pupils
    assert {(e.starts, e.ends) for e in enrolled} == {(new.starts, None)}
    old_rows = Enrollment.select().where(Enrollment.school_class == rolling.classes["5А"])
    assert {e.ends for e in old_rows} == {old.ends}

    groups = list(SubjectGroup.select().where(SubjectGroup.year == new))
    assert [(g.school_class_id, g.subject.name, g.is_draft) for g in groups] == [
        (six_a.id, "Математика", True)
    ]  # the draft physics group of 5А is not carried, 11А's physics leaves with the class
    teachers = SubjectGroupTeacher.select().where(SubjectGroupTeacher.group == groups[0])
    assert [t.teacher_id for t in teachers] == [rolling.users["teacher"].person_id]
    members = SubjectGroupStudent.select().where(SubjectGroupStudent.group == groups[0])
    assert {m.student_id for m in members} == pupils
    assert {m.starts for m in members} == {new.starts}

    line = CurriculumLine.get(CurriculumLine.year == new)
    assert (line.grade, line.hours_year) == (5, 170) and result.curriculum == 1
    assert Term.select().where(Term.year == new).count() == result.terms > 0
    assert (
        NonSchoolDay.select()
        .where((NonSchoolDay.year == new) & (NonSchoolDay.kind == "holiday"))
        .exists()
    )
    assert result.warnings[0].startswith("В учебном плане нет классов: 6.")
    assert AuditEntry.select().where(AuditEntry.action == "year.prepare").count() == 1
    assert AuditEntry.select().where(AuditEntry.action == "class.create").count() == 2
    assert current_year().id == old.id  # nothing switched yet


def test_prepare_twice_is_refused_and_changes_nothing(rolling):
    prepare_next_year(rolling.year)
    counts = (
        SchoolClass.select().count(),
        Enrollment.select().count(),
        AuditEntry.select().count(),
    )
    with pytest.raises(PlanningError, match="уже подготовлен"):
        prepare_next_year(rolling.year)
    after = (SchoolClass.select().count(), Enrollment.select().count(), AuditEntry.select().count())
    assert after == counts


def test_the_deputy_marks_other_classes_as_graduating(rolling):
    result = prepare_next_year(rolling.year, [rolling.classes["5Б"].id])
    assert result.promoted == [("5А", "6А")]
    assert result.graduating == ["5Б", "11А"]
    with pytest.raises(PlanningError, match="открытых классов"):
        prepare_next_year(rolling.year, [999_999])


def test_prepare_into_an_empty_next_year_keeps_its_calendar(rolling):
    new = calendar_edit.create_year(
        f"{rolling.year.starts.year + 1}/{rolling.year.starts.year + 2}"
    )
    calendar_edit.save_term(
        new, TermData("year", 1, "Год", new.starts, D(new.starts.year + 1, 5, 25), 1, 11, None)
    )
    result = prepare_next_year(rolling.year)
    assert result.year.id == new.id and result.terms == 0
    assert Term.select().where(Term.year == new).count() == 1


def test_switch_needs_terms(rolling):
    new = prepare_next_year(rolling.year).year
    Term.delete().where(Term.year == new).execute()
    with pytest.raises(PlanningError, match="нет учебных периодов"):
        switch_year(new, early=True)
    assert AcademicYear.get_by_id(new.id).is_current is False


def test_switch_makes_the_new_year_current_and_the_old_one_read_only(rolling, browser):
    old = rolling.year
    new = prepare_next_year(old).year
    result = switch_year(new, early=True)
    old, new = AcademicYear.get_by_id(old.id), AcademicYear.get_by_id(new.id)
    assert new.is_current and not new.read_only
    assert old.read_only and not old.is_current
    assert current_year().id == new.id
    assert result.closed == ["11А"]
    assert SchoolClass.get_by_id(rolling.planning["eleventh"].id).closed
    assert not SchoolClass.get_by_id(rolling.classes["5А"].id).closed

    six_a = next_class(new, "6А")
    grant = RoleGrant.get(
        (RoleGrant.user == rolling.users["class_teacher"]) & (RoleGrant.role == "class_teacher")
    )
    assert grant.school_class_id == six_a.id
    assert result.moved == ["Кузнецов А.П.: 5А → 6А"]
    notice = UserNotice.get(UserNotice.user == rolling.users["class_teacher"])
    assert "классный руководитель 6А" in notice.text and notice.link == f"/classes/{six_a.id}"
    with pytest.raises(PlanningError, match="уже текущий"):
        switch_year(new, early=True)
    with pytest.raises(PlanningError, match="закрыт"):
        calendar_edit.add_days(old, DaysData("holiday", old.starts, None, 1, 11))
    with pytest.raises(PlanningError, match="уже закрыт: переводить из него нельзя"):
        prepare_next_year(old)

    assert (
        browser.login("kuznetsov.ap", PASSWORD, role=f"class_teacher:{six_a.id}").status_code == 302
    )
    page = browser.get(f"/classes/{six_a.id}")
    assert page.status_code == 200 and "6А" in page.get_data(as_text=True)
    assert browser.get(f"/classes/{rolling.classes['5А'].id}").status_code == 404


def test_class_list_changes_between_prepare_and_switch_reach_the_new_year(rolling):
    old = rolling.year
    new = prepare_next_year(old).year
    petrova = rolling.students["5А"][1]  # leaves in the summer
    with write():
        newcomer = rolling.person("Морозова", "Алиса")  # comes in the summer
        Enrollment.create(student=newcomer, school_class=rolling.classes["5А"], starts=old.ends)
        Enrollment.update(ends=old.ends - dt.timedelta(days=60)).where(
            (Enrollment.student == petrova) & (Enrollment.school_class == rolling.classes["5А"])
        ).execute()
    result = switch_year(new, early=True)
    six_a = next_class(new, "6А")
    in_six_a = {e.student_id for e in Enrollment.select().where(Enrollment.school_class == six_a)}
    assert newcomer.id in in_six_a and petrova.id not in in_six_a
    assert result.joined == ["Морозова А. (6А)"] and result.left == ["Петрова А. (6А)"]
    math = SubjectGroup.get((SubjectGroup.school_class == six_a) & SubjectGroup.subgroup.is_null())
    members = {
        link.student_id
        for link in SubjectGroupStudent.select().where(SubjectGroupStudent.group == math)
    }
    assert newcomer.id in members and petrova.id not in members
    # the old enrolment ends with the old year: the student is no longer «in 5А» after it
    assert (
        Enrollment.get(
            Enrollment.student == newcomer, Enrollment.school_class == rolling.classes["5А"]
        ).ends
        == old.ends
    )
    assert AuditEntry.select().where(AuditEntry.action == "class.reconcile").count() == 1


def test_a_class_teacher_changed_for_next_year_gets_the_right_instead(rolling):
    new = prepare_next_year(rolling.year).year
    six_a = next_class(new, "6А")
    SchoolClass.update(class_teacher=rolling.users["teacher"].person).where(
        SchoolClass.id == six_a.id
    ).execute()
    result = switch_year(new, early=True)
    assert result.revoked == ["Кузнецов А.П.: 5А"]
    assert result.granted == ["Смирнова Е.В.: 6А"]
    assert (
        not RoleGrant.select()
        .where(
            (RoleGrant.user == rolling.users["class_teacher"]) & (RoleGrant.role == "class_teacher")
        )
        .exists()
    )


def test_switching_while_the_year_still_runs_needs_an_explicit_early(rolling):
    new = prepare_next_year(rolling.year).year
    last_day = max(t.ends for t in rolling.planning["terms"])
    with pytest.raises(PlanningError, match="ещё идёт"):
        switch_year(new, today=last_day)
    assert not AcademicYear.get_by_id(rolling.year.id).read_only
    switch_year(new, today=last_day + dt.timedelta(days=1))  # after the last period: fine
    assert AcademicYear.get_by_id(new.id).is_current


def test_switching_back_to_an_older_year_is_refused(rolling):
    older = calendar_edit.create_year(f"{rolling.year.starts.year - 1}/{rolling.year.starts.year}")
    calendar_edit.fill_template(older)
    with pytest.raises(PlanningError, match="только на следующий"):
        switch_year(older, early=True)


def test_rollover_state_suggests_the_next_year_and_leaving_classes(rolling):
    state = rollover_state(rolling.year)
    assert state.target is None and not state.prepared
    flags = {c.school_class.name: (c.always_leaves, c.next_grade_unplanned) for c in state.choices}
    assert flags == {"5А": (False, True), "5Б": (False, True), "11А": (True, True)}


def test_console_rollover_and_switch(rolling, runner, settings):
    data = str(settings.data_dir)
    name = rolling.year.name
    result = runner.invoke(year_cli, ["rollover", "--data", data, "--from", name, "-h"])
    assert result.exit_code == 0 and "Выпускной класс" in result.output
    bad = runner.invoke(
        year_cli, ["rollover", "--data", data, "--from", name, "--graduating", "7В"]
    )
    assert bad.exit_code != 0 and "нет открытых классов: 7В" in bad.output
    result = runner.invoke(
        year_cli, ["rollover", "--data", data, "--from", name, "--graduating", "5б"]
    )
    assert result.exit_code == 0, result.output
    assert "5А → 6А" in result.output and "Выпускные: 5Б, 11А" in result.output
    again = runner.invoke(year_cli, ["rollover", "--data", data, "--from", name])
    assert again.exit_code != 0 and "уже подготовлен" in again.output
    new_name = AcademicYear.get(~AcademicYear.is_current).name
    declined = runner.invoke(year_cli, ["switch", "--data", data, "--to", new_name], input="n\n")
    assert declined.exit_code != 0 and current_year().name == name
    result = runner.invoke(year_cli, ["switch", "--data", data, "--to", new_name, "--yes"])
    assert result.exit_code != 0 and "ещё идёт" in result.output  # mid-year: refused
    result = runner.invoke(
        year_cli, ["switch", "--data", data, "--to", new_name, "--yes", "--early"]
    )
    assert result.exit_code == 0, result.output
    assert current_year().name == new_name and "закрыт" in result.output
    listing = runner.invoke(year_cli, ["list", "--data", data])
    assert "текущий" in listing.output and "закрыт" in listing.output


# --- on the demo school -----------------------------------------------------------------

TODAY = D(2026, 11, 28)  # the demo's Saturday in the second quarter


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    """The demo school built once; each test works on its own copy."""
    path = tmp_path_factory.mktemp("demo") / "ezh.db"
    db = open_database(path)
    migrate(db)
    create_demo_school(seed=1, today=TODAY)
    db.close()
    return path


@pytest.fixture
def demo(demo_file, tmp_path):
    copy = tmp_path / "demo.db"
    shutil.copy(demo_file, copy)
    db = open_database(copy)
    yield AcademicYear.get()
    db.close()


def test_demo_calendar_change_regenerates_future_lessons_quickly(demo):
    day = D(2026, 12, 2)  # a Wednesday: every class has lessons
    on_day = Lesson.select().where(Lesson.date == day).count()
    before_today = Lesson.select().where(Lesson.date <= TODAY).count()
    started = time.perf_counter()
    change = calendar_edit.add_days(demo, DaysData("holiday", day, None, 1, 9), today=TODAY)
    one_day = time.perf_counter() - started
    assert change.lessons.deleted == on_day > 50
    assert Lesson.select().where(Lesson.date == day).count() == 0

    quarter = Term.get((Term.kind == "quarter") & (Term.number == 4))
    new_end = quarter.ends - 7 * DAY
    shorter = TermData(
        quarter.kind, 4, quarter.name, quarter.starts, new_end,
        quarter.grade_from, quarter.grade_to, quarter.mark_deadline,
    )  # fmt: skip
    started = time.perf_counter()
    change = calendar_edit.save_term(demo, shorter, quarter, today=TODAY)
    whole_year = time.perf_counter() - started
    assert change.lessons.deleted > 100 and change.lessons.with_data == []
    assert Lesson.select().where(Lesson.date > new_end).count() == 0
    assert Lesson.select().where(Lesson.date <= TODAY).count() == before_today
    assert one_day < 2 and whole_year < 10, (one_day, whole_year)


def test_demo_rollover_gives_a_working_next_year(demo):
    ninth = [c.id for c in SchoolClass.select().where(SchoolClass.grade == 9)]
    started = time.perf_counter()
    prepared = prepare_next_year(demo, ninth)
    switched = switch_year(prepared.year, early=True)
    seconds = time.perf_counter() - started
    new = AcademicYear.get_by_id(prepared.year.id)
    assert current_year().id == new.id and AcademicYear.get_by_id(demo.id).read_only
    assert len(prepared.promoted) == 16 and sorted(switched.closed) == ["9А", "9Б"]
    made = SubjectGroup.select().where(SubjectGroup.year == new).count()
    assert prepared.groups + prepared.added == made > 150
    # the new grade's curriculum decides: 4th grade's «Окружающий мир» stops in the 5th,
    # the 5th grade's «История» starts there (a draft without a teacher)
    assert any(d.startswith("4А → 5А: Окружающий мир") for d in prepared.dropped)
    fifth = SchoolClass.get((SchoolClass.year == new) & (SchoolClass.grade == 5))
    subjects = {
        g.subject.name for g in SubjectGroup.select().where(SubjectGroup.school_class == fifth)
    }
    assert "Окружающий мир" not in subjects and "История" in subjects
    # every group of the new year, carried or new, is a draft, and none went to АСУ РСО
    assert not SubjectGroup.select().where((SubjectGroup.year == new) & ~SubjectGroup.is_draft)
    new_uuids = [g.uuid for g in SubjectGroup.select().where(SubjectGroup.year == new)]
    assert not OutboxEntry.select().where(OutboxEntry.entity_uuid.in_(new_uuids)).exists()
    assert len(switched.moved) == 16 and len(switched.revoked) == 2

    week = (new.starts, new.starts + 6 * DAY)
    with write():
        assert generate_lessons(new, *week).created == 0  # drafts give no lessons

    # The deputy confirms the groups and builds the new timetable (here: last year's slots).
    carried = {}
    for group in SubjectGroup.select().join(SchoolClass).where(SubjectGroup.year == new):
        key = (group.school_class.grade - 1, group.school_class.letter, group.subject_id)
        carried[(*key, group.subgroup)] = group.id
    with write():
        SubjectGroup.update(is_draft=False).where(SubjectGroup.year == new).execute()
        for entry in list(TimetableEntry.select().join(SubjectGroup).join(SchoolClass)):
            group = entry.group
            key = (group.school_class.grade, group.school_class.letter, group.subject_id)
            new_group = carried.get((*key, group.subgroup))
            if new_group and group.year_id == demo.id:
                TimetableEntry.create(
                    group=new_group, weekday=entry.weekday, number=entry.number,
                    room=entry.room_id, valid_from=new.starts,
                )  # fmt: skip
        report = generate_lessons(new, *week)
    assert report.created > 200
    first_day = (
        Lesson.select()
        .join(SubjectGroup)
        .where((SubjectGroup.year == new) & (Lesson.date == new.starts))
    )
    assert first_day.count() > 50
    assert seconds < 10, seconds
