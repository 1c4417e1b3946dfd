"""КТП versions and review: import, copy, edits, submit, approve, return (§7.4, §7.5)."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.db import write
from appliance.imports import Issue
from appliance.ktp import checks, queries, workflow
from appliance.ktp.importer import KtpPreview
from appliance.ktp.rows import PlanRow, rows_of
from appliance.lesson_page import plan_lessons
from appliance.models import (
    AcademicYear,
    AuditEntry,
    CurriculumLine,
    Lesson,
    NonSchoolDay,
    Plan,
    PlanLesson,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupTeacher,
    UserNotice,
)
from appliance.plan_progress import current_plans
from appliance.years import PlanningError

IP = "127.0.0.1"


def full_year(hours: int = 170) -> list[PlanRow]:
    """A plan of ``hours`` hours: one two-hour topic, the rest one hour each."""
    rows = [PlanRow(topic="Натуральные числа", hours=2, section="Числа")]
    rows += [PlanRow(topic=f"Урок {n}", section="Числа") for n in range(hours - 2)]
    return rows


def imported(school, hours: int = 170, name: str = "ktp.xlsx") -> Plan:
    preview = KtpPreview(filename=name, rows=full_year(hours))
    return workflow.import_plan(school.group, preview, user=school.users["teacher"], ip=IP)


@pytest.fixture
def planned(school):
    """The small school with its curriculum (170 h of maths in grade 5) and approved v1."""
    school.add_planning()
    return school


def test_import_makes_a_new_draft_version_with_its_source_and_audit(planned):
    before = AuditEntry.select().count()
    plan = imported(planned)
    assert (plan.version, plan.state, plan.source) == (2, "draft", "импорт: ktp.xlsx")
    assert [r.position for r in rows_of(plan)] == list(range(1, 170))
    actions = [a.action for a in AuditEntry.select().where(AuditEntry.seq > before)]
    assert actions[0] == "ktp.import" and actions.count("ktp.lesson.create") == 169
    # the approved version 1 stays in force: lessons still follow it
    assert current_plans([planned.group.id])[planned.group.id].version == 1


def test_an_import_with_errors_writes_nothing(planned):
    preview = KtpPreview(filename="ktp.xlsx", rows=full_year())
    preview.errors.append(Issue(3, "не указана тема урока"))
    with pytest.raises(PlanningError, match="ничего не загружено"):
        workflow.import_plan(planned.group, preview, user=planned.users["teacher"], ip=IP)
    assert Plan.select().count() == 1


def test_an_import_failing_half_way_leaves_no_trace(planned, monkeypatch):
    real = PlanLesson.create
    calls = []

    def failing(**fields):
        calls.append(1)
        if len(calls) == 50:
            raise RuntimeError("disk full")
        return real(**fields)

    monkeypatch.setattr(PlanLesson, "create", failing)
    with pytest.raises(RuntimeError):
        imported(planned)
    assert Plan.select().count() == 1 and PlanLesson.select().count() == 3
    assert not AuditEntry.select().where(AuditEntry.action == "ktp.import").exists()


def test_submit_is_refused_while_hours_differ_from_the_curriculum(planned):
    plan = imported(planned, hours=168)
    with pytest.raises(PlanningError, match="168 ч.*170 ч"):
        workflow.submit(planned.group, plan.id, user=planned.users["teacher"], ip=IP)
    assert Plan.get_by_id(plan.id).state == "draft"


def test_submit_then_approve_notifies_and_puts_the_version_in_force(planned):
    teacher, deputy = planned.users["teacher"], planned.users["deputy"]
    plan = imported(planned)
    workflow.submit(planned.group, plan.id, user=teacher, ip=IP, link="/ktp/review")
    plan = Plan.get_by_id(plan.id)
    assert plan.state == "submitted" and plan.submitted_at is not None
    notice = UserNotice.get(UserNotice.user == deputy)
    assert notice.kind == "ktp" and "на проверку" in notice.text and notice.link == "/ktp/review"
    assert not UserNotice.select().where(UserNotice.user == teacher).exists()

    workflow.approve(plan.id, user=deputy, ip=IP, link=f"/ktp/{planned.group.id}")
    plan = Plan.get_by_id(plan.id)
    assert plan.state == "approved" and plan.decided_by_id == deputy.id
    assert "утверждена" in UserNotice.get(UserNotice.user == teacher).text
    assert current_plans([planned.group.id])[planned.group.id].id == plan.id
    lesson = Lesson.select().where(Lesson.group == planned.group).first()
    assert plan_lessons(lesson)[0].topic == "Натуральные числа"
    actions = {a.action for a in AuditEntry.select()}
    assert {"ktp.submit", "ktp.approve"} <= actions


def test_return_needs_a_comment_and_tells_the_teacher(planned):
    teacher, deputy = planned.users["teacher"], planned.users["deputy"]
    plan = imported(planned)
    workflow.submit(planned.group, plan.id, user=teacher, ip=IP)
    with pytest.raises(PlanningError, match="комментари"):
        workflow.return_plan(plan.id, "  ", user=deputy, ip=IP)
    workflow.return_plan(plan.id, "Добавьте контрольные работы.", user=deputy, ip=IP)
    plan = Plan.get_by_id(plan.id)
    assert (plan.state, plan.comment) == ("returned", "Добавьте контрольные работы.")
    assert "Добавьте контрольные работы." in UserNotice.get(UserNotice.user == teacher).text
    with pytest.raises(PlanningError, match="не ждёт"):
        workflow.approve(plan.id, user=deputy, ip=IP)


def test_a_returned_plan_is_edited_as_a_new_version_and_submitted_again(planned):
    teacher, deputy = planned.users["teacher"], planned.users["deputy"]
    plan = imported(planned)
    workflow.submit(planned.group, plan.id, user=teacher, ip=IP)
    workflow.return_plan(plan.id, "Уточните темы.", user=deputy, ip=IP)
    first = rows_of(plan)[0]
    lesson = PlanLesson.get((PlanLesson.plan == plan) & (PlanLesson.position == 1))
    row = PlanRow(topic="Натуральные числа и нуль", hours=2, section=first.section)
    draft = workflow.save_row(planned.group, lesson.id, row, user=teacher, ip=IP)
    assert draft.version == plan.version + 1 and draft.state == "draft"
    assert draft.source == f"изменение версии {plan.version}"
    assert rows_of(draft)[0].topic == "Натуральные числа и нуль"
    assert rows_of(Plan.get_by_id(plan.id))[0].topic == "Натуральные числа"  # kept as it was
    assert Plan.get_by_id(plan.id).comment == "Уточните темы."
    workflow.submit(planned.group, draft.id, user=teacher, ip=IP)
    assert Plan.get_by_id(draft.id).state == "submitted"


def test_changing_an_approved_plan_goes_back_to_review_while_it_stays_in_force(planned):
    teacher, deputy = planned.users["teacher"], planned.users["deputy"]
    approved = Plan.get(Plan.group == planned.group)
    lesson = PlanLesson.get((PlanLesson.plan == approved) & (PlanLesson.position == 2))
    draft = workflow.delete_row(planned.group, lesson.id, user=teacher, ip=IP)
    assert draft.version == 2 and [r.topic for r in rows_of(draft)] == [
        "Натуральные числа",
        "Умножение",
    ]
    assert len(rows_of(approved)) == 3  # never overwritten
    assert current_plans([planned.group.id])[planned.group.id].id == approved.id
    # a second change edits the same draft in place: no version per keystroke
    again = workflow.add_row(planned.group, None, PlanRow(topic="Деление"), user=teacher, ip=IP)
    assert again.id == draft.id and Plan.select().count() == 2
    CurriculumLine.update(hours_year=3).execute()
    workflow.submit(planned.group, draft.id, user=teacher, ip=IP)
    workflow.approve(draft.id, user=deputy, ip=IP)
    assert current_plans([planned.group.id])[planned.group.id].id == draft.id


def test_a_change_that_changes_nothing_makes_no_version(planned):
    approved = Plan.get(Plan.group == planned.group)
    lesson = PlanLesson.get((PlanLesson.plan == approved) & (PlanLesson.position == 1))
    same = rows_of(approved)[0]
    same.position = None
    result = workflow.save_row(planned.group, lesson.id, same, user=planned.users["teacher"], ip=IP)
    assert result is None and Plan.select().count() == 1


def test_rows_are_added_moved_and_deleted_with_positions_kept_in_order(planned):
    teacher = planned.users["teacher"]
    approved = Plan.get(Plan.group == planned.group)
    first = PlanLesson.get((PlanLesson.plan == approved) & (PlanLesson.position == 1))
    draft = workflow.add_row(planned.group, first.id, PlanRow(topic="Нуль"), user=teacher, ip=IP)
    assert [r.topic for r in rows_of(draft)] == [
        "Натуральные числа",
        "Нуль",
        "Сложение и вычитание",
        "Умножение",
    ]
    zero = PlanLesson.get((PlanLesson.plan == draft) & (PlanLesson.topic == "Нуль"))
    workflow.move_row(planned.group, zero.id, -1, user=teacher, ip=IP)
    assert [r.topic for r in rows_of(draft)][:2] == ["Нуль", "Натуральные числа"]
    with pytest.raises(PlanningError, match="первая"):
        workflow.move_row(planned.group, zero.id, -1, user=teacher, ip=IP)
    last = PlanLesson.get((PlanLesson.plan == draft) & (PlanLesson.position == 4))
    workflow.delete_row(planned.group, last.id, user=teacher, ip=IP)
    assert [r.position for r in rows_of(draft)] == [1, 2, 3]
    deleted = AuditEntry.get(AuditEntry.action == "ktp.lesson.delete")
    assert "Умножение" in deleted.before


def test_a_row_of_an_older_version_is_refused_as_out_of_date(planned):
    teacher = planned.users["teacher"]
    approved = Plan.get(Plan.group == planned.group)
    old = PlanLesson.get((PlanLesson.plan == approved) & (PlanLesson.position == 1))
    workflow.delete_row(planned.group, old.id, user=teacher, ip=IP)  # makes version 2
    with pytest.raises(PlanningError, match="обновите страницу"):
        workflow.delete_row(planned.group, old.id, user=teacher, ip=IP)


def test_a_newer_submission_replaces_one_still_waiting(planned):
    teacher = planned.users["teacher"]
    plan = imported(planned)
    workflow.submit(planned.group, plan.id, user=teacher, ip=IP)
    newer = imported(planned, name="ktp-2.xlsx")
    workflow.submit(planned.group, newer.id, user=teacher, ip=IP)
    old = Plan.get_by_id(plan.id)
    assert old.state == "draft" and old.comment == f"Заменена версией {newer.version}."
    assert [i.plan.id for i in queries.review_queue(planned.year)] == [newer.id]


def test_submit_only_the_latest_draft(planned):
    teacher = planned.users["teacher"]
    approved = Plan.get(Plan.group == planned.group)
    with pytest.raises(PlanningError, match="последнюю"):
        workflow.submit(planned.group, approved.id + 100, user=teacher, ip=IP)
    with pytest.raises(PlanningError, match="уже отправлена или проверена"):
        workflow.submit(planned.group, approved.id, user=teacher, ip=IP)


def test_approve_is_refused_when_the_curriculum_changed_after_submission(planned):
    plan = imported(planned)
    workflow.submit(planned.group, plan.id, user=planned.users["teacher"], ip=IP)
    CurriculumLine.update(hours_year=136).execute()
    with pytest.raises(PlanningError, match="Утвердить нельзя"):
        workflow.approve(plan.id, user=planned.users["deputy"], ip=IP)
    assert Plan.get_by_id(plan.id).state == "submitted"


def test_a_closed_year_takes_no_plan_changes(planned):
    AcademicYear.update(read_only=True).execute()
    planned.group.year.read_only = True
    with pytest.raises(PlanningError, match="закрыт"):
        imported(planned)


# --- copies ------------------------------------------------------------------------------


def _other_group(year, letter: str, subject, teacher, dated: bool) -> Plan:
    with write():
        cls = SchoolClass.get_or_none(year=year, grade=5, letter=letter) or SchoolClass.create(
            year=year, grade=5, letter=letter
        )
        group = SubjectGroup.create(year=year, school_class=cls, subject=subject)
        SubjectGroupTeacher.create(group=group, teacher=teacher)
        plan = Plan.create(group=group, version=1, state="approved")
        for n in range(1, 4):
            PlanLesson.create(
                plan=plan,
                position=n,
                section="Повторение",
                topic=f"Тема {letter}{n}",
                planned_date=dt.date(year.starts.year, 9, n + 1) if dated else None,
            )
    return plan


def test_copy_from_last_year_drops_dates_and_from_a_parallel_class_keeps_them(planned):
    year = planned.year
    with write():
        last = AcademicYear.create(
            name=f"{year.starts.year - 1}/{year.starts.year}",
            starts=dt.date(year.starts.year - 1, 9, 1),
            ends=dt.date(year.starts.year, 8, 31),
        )
    math = planned.group.subject
    colleague = planned.users["class_teacher"].person
    old = _other_group(last, "В", math, colleague, dated=True)
    parallel = _other_group(year, "Б", math, colleague, dated=True)
    sources = {s.plan.id: s.kind for s in queries.copy_sources(planned.group)}
    assert sources == {old.id: "last_year", parallel.id: "parallel"}
    teacher = planned.users["teacher"]

    copy = workflow.copy_plan(planned.group, old.id, user=teacher, ip=IP)
    assert copy.state == "draft" and copy.version == 2
    assert [r.topic for r in rows_of(copy)] == ["Тема В1", "Тема В2", "Тема В3"]
    assert all(r.planned_date is None for r in rows_of(copy))
    assert copy.source.startswith("копия: Математика — 5В (Кузнецов А.П.)")

    copy = workflow.copy_plan(planned.group, parallel.id, user=teacher, ip=IP)
    assert rows_of(copy)[0].planned_date == dt.date(year.starts.year, 9, 2)
    assert AuditEntry.select().where(AuditEntry.action == "ktp.copy").count() == 2


def test_a_colleagues_unapproved_plan_is_not_offered_for_copying(planned):
    """A draft is the colleague's unfinished work: copying it would be reading it."""
    colleague = planned.users["class_teacher"].person
    draft = _other_group(planned.year, "Б", planned.group.subject, colleague, dated=False)
    with write():
        Plan.update(state="draft").where(Plan.id == draft.id).execute()
        PlanLesson.update(topic="СЕКРЕТНЫЙ ЧЕРНОВИК").where(PlanLesson.plan == draft).execute()
    teacher = planned.users["teacher"]
    assert queries.copy_sources(planned.group, teacher.person) == []
    with pytest.raises(PlanningError, match="Выберите КТП из списка"):
        workflow.copy_plan(planned.group, draft.id, user=teacher, ip=IP)
    # the colleague sees their own draft among the sources of their other group
    with write():
        SubjectGroupTeacher.create(group=planned.group, teacher=colleague, is_main=False)
    assert [s.plan.id for s in queries.copy_sources(planned.group, colleague)] == [draft.id]


def test_copy_only_from_the_same_subject_and_grade(planned):
    history = Subject.create(name="История")
    other = _other_group(planned.year, "Б", history, planned.users["teacher"].person, False)
    assert queries.copy_sources(planned.group) == []
    with pytest.raises(PlanningError, match="Выберите КТП из списка"):
        workflow.copy_plan(planned.group, other.id, user=planned.users["teacher"], ip=IP)


# --- checks ----------------------------------------------------------------------------------


def _context(school, **changes) -> checks.CheckContext:
    ctx = checks.context_for(school.group)
    for key, value in changes.items():
        setattr(ctx, key, value)
    return ctx


def test_latin_only_topics_are_warned_except_in_foreign_languages(planned):
    rows = [PlanRow("Present Simple", position=1), PlanRow("Глагол to be", position=2)]
    found = checks.check_rows(rows, _context(planned, annual_hours=2))
    assert [str(f) for f in found] == [
        "№ 1: тема «Present Simple» написана не по-русски: записи в журнале ведутся "
        "на русском языке (§7.4)"
    ]
    assert found[0].level == "warning"
    assert checks.check_rows(rows, _context(planned, annual_hours=2, foreign_language=True)) == []


def test_dates_outside_the_year_on_holidays_and_backwards_are_warned(planned):
    start = planned.year.starts
    holiday = NonSchoolDay.get().date
    saturday = start + dt.timedelta(days=(5 - start.weekday()) % 7)
    rows = [
        PlanRow("Урок 1", planned_date=start - dt.timedelta(days=3), position=1),
        PlanRow("Урок 2", planned_date=holiday, position=2),
        PlanRow("Урок 3", planned_date=saturday, position=3),
        PlanRow("Урок 4", planned_date=start, position=4),
    ]
    found = [str(f) for f in checks.check_rows(rows, _context(planned, annual_hours=4))]
    assert found[0].startswith("№ 1: дата") and "вне" in found[0]
    assert (
        found[1]
        == f"№ 2: {holiday:%d.%m.%Y} у 5 класса уроков нет (выходной, праздник или каникулы)"
    )
    assert found[2].startswith(f"№ 3: {saturday:%d.%m.%Y} у 5 класса уроков нет")
    assert "раньше даты предыдущего урока" in found[3]


def test_hours_against_the_curriculum_and_empty_plans(planned):
    ctx = _context(planned)
    assert [f.level for f in checks.check_rows(full_year(170), ctx)] == []
    more = checks.check_rows(full_year(172), ctx)
    assert more[0].is_error and "лишних 2 ч" in more[0].text
    assert checks.check_rows([], ctx)[0].text == "В КТП нет ни одного урока."
    no_line = checks.check_rows(full_year(5), _context(planned, annual_hours=None))
    assert no_line[0].level == "warning" and "сверить 5 ч КТП не с чем" in no_line[0].text
    empty_topic = checks.check_rows([PlanRow(" ", position=7)], _context(planned, annual_hours=1))
    assert str(empty_topic[0]) == "№ 7: не указана тема урока" and empty_topic[0].is_error


def test_scope_teacher_sees_own_groups_office_sees_all(planned):
    from appliance.access import ActiveRole

    teacher = planned.users["teacher"].person
    other = planned.users["class_teacher"].person
    year = planned.year
    assert queries.groups_of(teacher, ActiveRole("teacher"), year) == [planned.group]
    assert queries.groups_of(other, ActiveRole("teacher"), year) == []
    assert queries.groups_of(other, ActiveRole("deputy"), year) == [planned.group]
    assert queries.groups_of(other, ActiveRole("parent"), year) == []
    assert queries.writable_group(planned.group.id, other, ActiveRole("teacher")) is None
    assert queries.readable_group(planned.group.id, other, ActiveRole("inspector")) is not None


def test_a_group_without_a_plan_gets_version_1_from_its_first_row(school):
    draft = workflow.add_row(
        school.group, None, PlanRow(topic="Вводный урок"), user=school.users["teacher"], ip=IP
    )
    assert (draft.version, draft.state, draft.source) == (1, "draft", "создана вручную")
    assert [r.topic for r in rows_of(draft)] == ["Вводный урок"]
    assert workflow.row_from_form({"topic": "  Урок   2 ", "hours": ""}, school.group).topic == (
        "Урок 2"
    )
    with pytest.raises(PlanningError, match="не понятна"):
        workflow.row_from_form({"topic": "X", "planned_date": "завтра"}, school.group)
