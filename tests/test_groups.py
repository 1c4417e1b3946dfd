"""Subject groups (§7.5): from the curriculum, teachers, subgroups, and moves that keep marks."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance import groups, people, period_marks, subgroups, terms
from appliance.db import write
from appliance.grid.table import load_grid
from appliance.models import (
    Assignment,
    AuditEntry,
    CurriculumLine,
    Enrollment,
    Lesson,
    Mark,
    PeriodMark,
    Person,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    TimetableChange,
    TimetableEntry,
    UserNotice,
    WorkType,
)
from appliance.years import PlanningError

DAY = dt.timedelta(days=1)


@pytest.fixture
def setup(school):
    """5А with six students, a curriculum for grade 5 and the planning calendar."""
    planning = school.add_planning()
    year = school.year
    five_a = school.classes["5А"]
    for last, first in (("Абрамов", "Олег"), ("Яковлева", "Софья"), ("Борисова", "Ева")):
        student = Person.create(last_name=last, first_name=first)
        Enrollment.create(student=student, school_class=five_a, starts=year.starts)
    english = Subject.create(name="Английский язык", is_foreign_language=True, sort_order=5)
    russian = Subject.create(name="Русский язык", sort_order=1)
    for subject, week in ((english, 3), (russian, 5)):
        CurriculumLine.create(
            year=year, grade=5, subject=subject, hours_week=week, hours_year=week * 34
        )
    return {
        "school": school,
        "year": year,
        "class": five_a,
        "english": english,
        "russian": russian,
        "deputy": school.users["deputy"],
        "terms": planning["terms"],
    }


def names(people):
    return [p.last_name for p in people]


def english_groups(setup):
    return list(
        SubjectGroup.select()
        .where(
            (SubjectGroup.school_class == setup["class"])
            & (SubjectGroup.subject == setup["english"])
        )
        .order_by(SubjectGroup.subgroup)
    )


def created(setup):
    groups.create_from_curriculum(setup["year"], [setup["class"]], user=setup["deputy"], ip="")
    return english_groups(setup)


def give(group, day, student, value, weight=1):
    number = Lesson.select().where((Lesson.group == group) & (Lesson.date == day)).count() + 1
    lesson = Lesson.create(group=group, date=day, number=number, state="held")
    work = WorkType.get_or_create(name="Работа", defaults={"weight": 1})[0]
    assignment = Assignment.create(lesson=lesson, work_type=work, weight=weight)
    return Mark.create(assignment=assignment, student=student, value=value)


# --- creating ---------------------------------------------------------------------------


def test_groups_from_curriculum_split_a_foreign_language_alphabetically(setup):
    result = groups.create_from_curriculum(
        setup["year"], [setup["class"]], user=setup["deputy"], ip=""
    )
    assert len(result.groups) == 3  # Russian for the class, English in two subgroups
    first, second = english_groups(setup)
    on = setup["year"].starts
    roster = names(groups.class_roster(setup["class"], on))
    assert names(groups.members_on(first, on)) == roster[:3]
    assert names(groups.members_on(second, on)) == roster[3:]
    assert (first.subgroup, second.subgroup) == (1, 2)
    russian = SubjectGroup.get(SubjectGroup.subject == setup["russian"])
    assert russian.subgroup is None and len(groups.members_on(russian, on)) == 6
    # Математика already had its group: it was not doubled
    assert SubjectGroup.select().where(SubjectGroup.school_class == setup["class"]).count() == 4
    assert AuditEntry.select().where(AuditEntry.action == "group.create").count() == 3


def test_second_run_creates_nothing_and_says_so(setup):
    created(setup)
    with pytest.raises(PlanningError, match="уже есть"):
        groups.create_from_curriculum(setup["year"], [setup["class"]], user=setup["deputy"], ip="")


def test_no_curriculum_for_the_grade_is_explained(setup):
    five_b = setup["school"].classes["5Б"]
    CurriculumLine.delete().execute()
    with pytest.raises(PlanningError, match="Нет учебного плана для параллелей: 5"):
        groups.create_from_curriculum(setup["year"], [five_b], user=setup["deputy"], ip="")


def test_closed_year_refuses_groups(setup):
    setup["year"].read_only = True
    setup["year"].save()
    with pytest.raises(PlanningError, match="закрыт"):
        created(setup)


# --- teachers and drafts ----------------------------------------------------------------


def test_teachers_are_set_with_a_main_one_and_notified(setup):
    first, _ = created(setup)
    smirnova = setup["school"].users["teacher"]
    kuznetsov = setup["school"].users["class_teacher"]
    change = groups.set_teachers(
        first, smirnova.person_id, [kuznetsov.person_id], user=setup["deputy"], ip=""
    )
    assert {p.id for p in change.added} == {smirnova.person_id, kuznetsov.person_id}
    assert groups.main_teacher(first).id == smirnova.person_id
    assert UserNotice.select().where(UserNotice.user == kuznetsov).exists()
    change = groups.set_teachers(first, kuznetsov.person_id, [], user=setup["deputy"], ip="")
    assert names(change.removed) == ["Смирнова"]
    assert groups.main_teacher(first).id == kuznetsov.person_id
    assert SubjectGroupTeacher.select().where(SubjectGroupTeacher.group == first).count() == 1


def test_only_teachers_can_teach_a_group(setup):
    first, _ = created(setup)
    director = setup["school"].users["director"]
    with pytest.raises(PlanningError, match="«Учитель»"):
        groups.set_teachers(first, director.person_id, [], user=setup["deputy"], ip="")
    with pytest.raises(PlanningError, match="основного"):
        groups.set_teachers(
            first, None, [setup["school"].users["teacher"].person_id], user=setup["deputy"], ip=""
        )


def test_drafts_are_confirmed_one_by_one_or_all(setup):
    created(setup)
    SubjectGroup.update(is_draft=True).execute()  # as the rollover leaves them
    first, _ = english_groups(setup)
    assert groups.confirm_groups([first], user=setup["deputy"], ip="") == 1
    assert not SubjectGroup.get_by_id(first.id).is_draft
    rest = SubjectGroup.select().where(SubjectGroup.school_class == setup["class"])
    assert groups.confirm_groups(rest, user=setup["deputy"], ip="") == 3
    assert not SubjectGroup.select().where(SubjectGroup.is_draft).exists()


# --- subgroups --------------------------------------------------------------------------


def test_split_keeps_the_journal_in_the_first_subgroup(setup):
    math = setup["school"].group
    on = setup["year"].starts + 30 * DAY
    ivanov = setup["school"].students["5А"][0]
    mark = give(math, on - 5 * DAY, ivanov, "5")
    before = {p.id for p in groups.members_on(math, on)}
    created_groups = subgroups.split_group(math, 2, on, user=setup["deputy"], ip="")
    math = SubjectGroup.get_by_id(math.id)
    assert math.subgroup == 1 and len(created_groups) == 1
    second = created_groups[0]
    after = {p.id for p in groups.members_on(math, on)} | {
        p.id for p in groups.members_on(second, on)
    }
    assert after == before
    assert Mark.get_by_id(mark.id)  # nothing of the journal moved or vanished
    with pytest.raises(PlanningError, match="уже разделена"):
        subgroups.split_group(math, 2, on, user=setup["deputy"], ip="")


def test_merge_is_refused_while_marks_would_be_lost(setup):
    first, second = created(setup)
    on = setup["year"].starts + 40 * DAY
    student = groups.members_on(second, on)[0]
    give(second, on - 3 * DAY, student, "4")
    with pytest.raises(PlanningError, match="отметки \\(1\\).*пропали бы"):
        subgroups.merge_groups(first, on, user=setup["deputy"], ip="")
    assert SubjectGroup.get_or_none(SubjectGroup.id == second.id) is not None


def test_merge_without_marks_makes_one_whole_class_group(setup):
    first, second = created(setup)
    on = setup["year"].starts + 40 * DAY
    keeper = subgroups.merge_groups(second, on, user=setup["deputy"], ip="")
    assert keeper.id == first.id and keeper.subgroup is None
    assert SubjectGroup.get_or_none(SubjectGroup.id == second.id) is None
    assert len(groups.members_on(keeper, on)) == 6


def test_set_members_moves_from_the_other_subgroup(setup):
    first, second = created(setup)
    on = setup["year"].starts + 10 * DAY
    moving = groups.members_on(second, on)[0]
    wanted = [p.id for p in groups.members_on(first, on)] + [moving.id]
    change = subgroups.set_members(first, wanted, on, user=setup["deputy"], ip="")
    assert [p.id for p in change.added] == [moving.id]
    assert change.moved[0][1].id == second.id
    assert moving.id not in {p.id for p in groups.members_on(second, on)}
    # taken out of the first one, she is in no subgroup: the deputy is told
    change = subgroups.set_members(first, wanted[:-1], on + DAY, user=setup["deputy"], ip="")
    assert [p.id for p in change.without_group] == [moving.id]
    view = groups.group_view(first, on + DAY)
    assert moving.id in {p.id for p in view.unplaced}


def test_a_newcomer_joins_whole_class_groups_and_is_flagged_for_subgroups(setup):
    created(setup)
    newcomer = people.enroll_student(
        {"last_name": "Новикова", "first_name": "Дарья"},
        setup["class"],
        user=setup["deputy"],
        ip="",
        starts=setup["year"].starts + DAY,
    )
    on = setup["year"].starts + 2 * DAY
    russian = SubjectGroup.get(SubjectGroup.subject == setup["russian"])
    assert newcomer.id in {p.id for p in groups.members_on(russian, on)}
    with_today = groups.year_groups(setup["year"], [setup["class"]])[0]
    flagged = with_today.unplaced.get("Английский язык", [])
    assert [p.id for p in flagged] == [newcomer.id]


def test_members_must_be_of_the_class(setup):
    first, _ = created(setup)
    stranger = setup["school"].students["5Б"][0]
    with pytest.raises(PlanningError, match="не из этого класса"):
        subgroups.set_members(
            first, [stranger.id], setup["year"].starts, user=setup["deputy"], ip=""
        )


# --- moving a student keeps their marks -----------------------------------------------------


def test_moved_student_marks_stay_and_count_in_the_new_subgroup(setup):
    first, second = created(setup)
    q1, q2 = setup["terms"][0], setup["terms"][1]
    student = groups.members_on(first, q1.starts)[0]
    move_day = q2.starts + 20 * DAY
    give(first, q1.starts + 5 * DAY, student, "5")  # first quarter, old subgroup
    old = give(first, q2.starts + 3 * DAY, student, "5", weight=2)  # before the move
    give(second, move_day + 2 * DAY, student, "3")  # after the move, new subgroup
    PeriodMark.create(group=first, student=student, kind="term", term=q1, value="5")

    subgroups.move_student(student, first, second, move_day, user=setup["deputy"], ip="")

    links = list(
        SubjectGroupStudent.select()
        .where(SubjectGroupStudent.student == student)
        .order_by(SubjectGroupStudent.starts)
    )
    english = [link for link in links if link.group_id in (first.id, second.id)]
    assert (english[0].group_id, english[0].ends) == (first.id, move_day - DAY)
    assert (english[1].group_id, english[1].starts, english[1].ends) == (second.id, move_day, None)
    assert Mark.get_by_id(old.id).assignment.lesson.group_id == first.id  # stayed where given

    quarter = terms.period_of(second, "term", q2.id)
    sheet = period_marks.period_sheet(second, quarter, today=move_day)
    row = next(r for r in sheet.rows if r.student.id == student.id)
    assert row.count == 2 and str(row.average) == "4.33"  # (5·2 + 3·1) / 3
    # the period mark is given in the new subgroup only
    old_sheet = period_marks.period_sheet(first, terms.period_of(first, "term", q2.id))
    assert student.id not in {r.student.id for r in old_sheet.rows}
    q1_sheet = period_marks.period_sheet(first, terms.period_of(first, "term", q1.id))
    assert student.id in {r.student.id for r in q1_sheet.rows}
    # the year sheet in the new subgroup sees the first-quarter mark given in the old one
    year_sheet = period_marks.period_sheet(second, terms.period_of(second, "year", None))
    year_row = next(r for r in year_sheet.rows if r.student.id == student.id)
    assert year_row.term_marks[0] == "5"
    # the old subgroup's journal still shows the mark on the day they were there
    grid = load_grid(first, q2.id, today=move_day)
    grid_row = next(r for r in grid.rows if r.student.id == student.id)
    assert "5" in grid_row.cells
    # and the new subgroup's journal row averages both subgroups, as the period sheet does
    new_grid = load_grid(second, q2.id, today=move_day + 3 * DAY)
    new_row = next(r for r in new_grid.rows if r.student.id == student.id)
    assert (new_row.marks_count, str(new_row.average)) == (2, "4.33")
    assert AuditEntry.select().where(AuditEntry.action == "group.move").exists()


def test_move_before_marks_in_the_old_subgroup_is_refused(setup):
    first, second = created(setup)
    q2 = setup["terms"][1]
    student = groups.members_on(first, q2.starts)[0]
    give(first, q2.starts + 10 * DAY, student, "4")
    with pytest.raises(PlanningError, match="не раньше"):
        subgroups.move_student(student, first, second, q2.starts, user=setup["deputy"], ip="")
    assert groups.members_on(first, q2.starts + 10 * DAY)[0].id == student.id


def test_move_checks_the_groups_and_the_date(setup):
    first, second = created(setup)
    russian = SubjectGroup.get(SubjectGroup.subject == setup["russian"])
    student = groups.members_on(first, setup["year"].starts)[0]
    deputy = setup["deputy"]
    with pytest.raises(PlanningError, match="того же класса и предмета"):
        subgroups.move_student(student, first, russian, setup["year"].starts, user=deputy, ip="")
    with pytest.raises(PlanningError, match="вне"):
        subgroups.move_student(student, first, second, setup["year"].ends + DAY, user=deputy, ip="")
    outsider = groups.members_on(second, setup["year"].starts)[0]
    with pytest.raises(PlanningError, match="не учится"):
        subgroups.move_student(outsider, first, second, setup["year"].starts, user=deputy, ip="")


def test_a_move_on_the_first_day_leaves_no_empty_link(setup):
    first, second = created(setup)
    day = setup["year"].starts
    student = groups.members_on(first, day)[0]
    subgroups.move_student(student, first, second, day, user=setup["deputy"], ip="")
    links = SubjectGroupStudent.select().where(
        (SubjectGroupStudent.student == student) & (SubjectGroupStudent.group == first)
    )
    assert links.count() == 0
    # and back again the next day: the old link is not duplicated
    subgroups.move_student(student, second, first, day + DAY, user=setup["deputy"], ip="")
    assert [p.id for p in groups.members_on(first, day + DAY)].count(student.id) == 1


# --- deleting -------------------------------------------------------------------------------


def test_a_group_with_a_journal_cannot_be_deleted(setup):
    math = setup["school"].group
    give(math, setup["year"].starts + DAY, setup["school"].students["5А"][0], "5")
    with pytest.raises(PlanningError, match="удалить нельзя"):
        groups.delete_group(math, user=setup["deputy"], ip="")
    first, _ = created(setup)
    groups.delete_group(first, user=setup["deputy"], ip="")
    assert SubjectGroup.get_or_none(SubjectGroup.id == first.id) is None


def test_a_held_lesson_blocks_deleting_and_an_empty_group_goes_with_an_audit_trail(setup):
    first, _ = created(setup)
    day = setup["year"].starts + DAY
    with write():
        held = Lesson.create(group=first, date=day, number=1, state="held")
        entry = TimetableEntry.create(group=first, weekday=2, number=3, valid_from=day)
        TimetableChange.create(date=day, entry=entry, kind="cancelled")
    with pytest.raises(PlanningError, match="отметкой о проведении"):
        groups.delete_group(first, user=setup["deputy"], ip="")
    with write():
        Lesson.update(state="planned").where(Lesson.id == held.id).execute()
    groups.delete_group(first, user=setup["deputy"], ip="")
    assert SubjectGroup.get_or_none(SubjectGroup.id == first.id) is None
    audited = {
        a.action
        for a in AuditEntry.select().where(
            AuditEntry.action.in_(
                ["lesson.delete", "timetable.entry.delete", "timetable.change.delete"]
            )
        )
    }
    assert audited == {"lesson.delete", "timetable.entry.delete", "timetable.change.delete"}
