"""Period marks (§7.4): suggestions, scales, the deadline and the deputy's one-mark unlock."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from appliance import journal_control, period_marks, terms
from appliance.journal import JournalError, NotYourLesson
from appliance.models import (
    Assignment,
    AuditEntry,
    Lesson,
    Mark,
    OutboxEntry,
    PeriodMark,
    School,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    Term,
    Unlock,
    WorkType,
)

from .factories import PASSWORD

TODAY = dt.date.today()
DAY = dt.timedelta(days=1)


def add_term(school, number, starts, ends, deadline, kind="quarter", grades=(2, 9)):
    return Term.create(
        year=school.year,
        kind=kind,
        number=number,
        name=f"{number} четверть" if kind == "quarter" else "Год",
        starts=starts,
        ends=ends,
        grade_from=grades[0],
        grade_to=grades[1],
        mark_deadline=deadline,
    )


def give(group, day, student, *marks):
    """Marks of one student on a new lesson of ``day``: (value, weight) pairs."""
    number = Lesson.select().where((Lesson.group == group) & (Lesson.date == day)).count() + 1
    lesson = Lesson.create(group=group, date=day, number=number, state="held")
    work = WorkType.get_or_create(name="Работа", defaults={"weight": 1})[0]
    for value, weight in marks:
        assignment = Assignment.create(lesson=lesson, work_type=work, weight=weight)
        Mark.create(assignment=assignment, student=student, value=value)


@pytest.fixture
def pm(school):
    """A closed first quarter (deadline passed) and the current second quarter."""
    closed = add_term(school, 1, TODAY - 80 * DAY, TODAY - 20 * DAY, TODAY - 15 * DAY)
    current = add_term(school, 2, TODAY - 10 * DAY, TODAY + 40 * DAY, TODAY + 45 * DAY)
    ivanov, petrova, sidorov = school.students["5А"]
    return {
        "school": school,
        "group": school.group,
        "teacher": school.users["teacher"],
        "deputy": school.users["deputy"],
        "closed": terms.period_of(school.group, "term", closed.id),
        "current": terms.period_of(school.group, "term", current.id),
        "ivanov": ivanov,
        "petrova": petrova,
        "sidorov": sidorov,
    }


def row_of(sheet, student):
    return next(r for r in sheet.rows if r.student.id == student.id)


def save(pm, period, values, today=TODAY):
    return period_marks.save_period_marks(
        pm["group"], period, values, user=pm["teacher"], ip="10.0.0.5", today=today
    )


# --- suggestions ------------------------------------------------------------------------


def test_suggestion_rounds_by_the_school_threshold(pm):
    day = TODAY - 5 * DAY
    # 4·10 + 4·3 + 3·9 = 79 over 22 → 3.59 → 3 with the threshold 0.60
    give(pm["group"], day, pm["ivanov"], ("4", 10), ("4", 3), ("3", 9))
    # 4, 4, 4, 3, 3 → 3.60 → 4
    give(pm["group"], day, pm["petrova"], ("4", 1), ("4", 1), ("4", 1), ("3", 1), ("3", 1))
    sheet = period_marks.period_sheet(pm["group"], pm["current"], TODAY)
    assert row_of(sheet, pm["ivanov"]).average == Decimal("3.59")
    assert row_of(sheet, pm["ivanov"]).suggestion == "3"
    assert (row_of(sheet, pm["petrova"]).average, row_of(sheet, pm["petrova"]).count) == (
        Decimal("3.60"),
        5,
    )
    assert row_of(sheet, pm["petrova"]).suggestion == "4"
    School.update(rounding_threshold=Decimal("0.50")).execute()
    sheet = period_marks.period_sheet(pm["group"], pm["current"], TODAY)
    assert row_of(sheet, pm["ivanov"]).suggestion == "4"


def test_suggestion_is_na_below_the_minimum_number_of_marks(pm):
    give(pm["group"], TODAY - 2 * DAY, pm["ivanov"], ("5", 1), ("4", 1))
    sheet = period_marks.period_sheet(pm["group"], pm["current"], TODAY)
    assert row_of(sheet, pm["ivanov"]).suggestion == "н/а"  # school minimum: 3
    assert row_of(sheet, pm["sidorov"]).suggestion == "н/а"  # no marks at all
    School.update(min_marks_for_period=2).execute()
    sheet = period_marks.period_sheet(pm["group"], pm["current"], TODAY)
    assert row_of(sheet, pm["ivanov"]).suggestion == "4"  # 4.50 → 4


def test_marks_outside_the_period_do_not_count(pm):
    give(pm["group"], TODAY - 30 * DAY, pm["ivanov"], ("2", 1), ("2", 1), ("2", 1))
    give(pm["group"], TODAY - 1 * DAY, pm["ivanov"], ("5", 1), ("5", 1), ("5", 1))
    sheet = period_marks.period_sheet(pm["group"], pm["current"], TODAY)
    assert row_of(sheet, pm["ivanov"]).suggestion == "5"
    assert row_of(sheet, pm["ivanov"]).count == 3


def test_pass_fail_subject_takes_zach_and_nezach(pm):
    group = pm["group"]
    Subject.update(scale="pass_fail").execute()
    group = SubjectGroup.get_by_id(group.id)
    give(group, TODAY - DAY, pm["ivanov"], ("зач", 1), ("незач", 1), ("зач", 1))
    sheet = period_marks.period_sheet(group, pm["current"], TODAY)
    assert sheet.scale == "pass_fail" and row_of(sheet, pm["ivanov"]).suggestion == "зач"
    assert row_of(sheet, pm["ivanov"]).average is None
    pm["group"] = group
    assert save(pm, pm["current"], {pm["ivanov"].id: "незачёт", pm["petrova"].id: "осв"}) == 2
    with pytest.raises(JournalError, match="Сидоров И.: «5» — не отметка"):
        save(pm, pm["current"], {pm["sidorov"].id: "5"})


def test_grade_one_gets_no_period_marks(pm):
    SchoolClass.update(grade=1).execute()
    group = SubjectGroup.get_by_id(pm["group"].id)
    period = terms.whole_year(group, "year")
    sheet = period_marks.period_sheet(group, period, TODAY)
    assert sheet.scale == "none" and {r.suggestion for r in sheet.rows} == {""}
    pm["group"] = group
    with pytest.raises(JournalError, match="безотметочное"):
        save(pm, period, {pm["ivanov"].id: "5"})


def test_year_mark_is_suggested_from_all_term_marks(pm):
    for period, value in ((pm["closed"], "5"), (pm["current"], "4")):
        PeriodMark.create(
            uuid=period_marks.period_mark_uuid(pm["group"], pm["ivanov"], period),
            group=pm["group"], student=pm["ivanov"], kind="term", term=period.term, value=value,
        )  # fmt: skip
    PeriodMark.create(
        group=pm["group"], student=pm["petrova"], kind="term", term=pm["closed"].term, value="4"
    )
    year = terms.whole_year(pm["group"], "year")
    sheet = period_marks.period_sheet(pm["group"], year, TODAY)
    assert row_of(sheet, pm["ivanov"]).term_marks == ["5", "4"]
    assert row_of(sheet, pm["ivanov"]).suggestion == "4"  # (5 + 4) / 2 = 4.50 → 4
    assert row_of(sheet, pm["petrova"]).suggestion == "н/а"  # a term is still missing


def test_year_deadline_is_the_last_terms_unless_the_school_sets_one(pm):
    year = terms.whole_year(pm["group"], "year")
    assert year.deadline == TODAY + 45 * DAY and year.term is None
    add_term(pm["school"], 1, TODAY - 80 * DAY, TODAY + 40 * DAY, TODAY + 50 * DAY, "year", (1, 11))
    assert terms.whole_year(pm["group"], "year").deadline == TODAY + 50 * DAY


# --- saving -------------------------------------------------------------------------------


def test_a_period_mark_is_stored_audited_queued_and_published(pm):
    assert save(pm, pm["current"], {pm["ivanov"].id: " 4 "}) == 1
    mark = PeriodMark.get(PeriodMark.student == pm["ivanov"])
    assert (mark.value, mark.kind, mark.term_id) == ("4", "term", pm["current"].term_id)
    assert mark.uuid == period_marks.period_mark_uuid(pm["group"], pm["ivanov"], pm["current"])
    assert mark.published_at is not None
    audit = AuditEntry.get(AuditEntry.entity_uuid == mark.uuid)
    assert audit.action == "period_mark.set" and audit.username == "smirnova.ev"
    assert OutboxEntry.get(OutboxEntry.entity_uuid == mark.uuid).op == "upsert"
    assert save(pm, pm["current"], {pm["ivanov"].id: "4"}) == 0  # unchanged: nothing written
    assert save(pm, pm["current"], {pm["ivanov"].id: ""}) == 1
    assert not PeriodMark.select().exists()
    ops = [o.op for o in OutboxEntry.select().where(OutboxEntry.entity_uuid == mark.uuid)]
    assert ops == ["upsert", "delete"]


def test_year_and_final_marks_have_their_own_rows(pm):
    SchoolClass.update(grade=9).execute()
    group = SubjectGroup.get_by_id(pm["group"].id)
    pm["group"] = group
    year, final = terms.whole_year(group, "year"), terms.whole_year(group, "final")
    save(pm, year, {pm["ivanov"].id: "4"})
    save(pm, final, {pm["ivanov"].id: "5"})
    assert {(m.kind, m.term_id, m.value) for m in PeriodMark.select()} == {
        ("year", None, "4"),
        ("final", None, "5"),
    }
    sheet = period_marks.period_sheet(group, final, TODAY)
    assert row_of(sheet, pm["ivanov"]).suggestion == "4"  # the final follows the year mark


def test_one_bad_value_saves_nothing(pm):
    before = AuditEntry.select().count()
    with pytest.raises(JournalError, match="Петрова А.: «7» — не оценка"):
        save(pm, pm["current"], {pm["ivanov"].id: "4", pm["petrova"].id: "7"})
    assert not PeriodMark.select().exists() and AuditEntry.select().count() == before


def test_a_student_of_another_class_is_refused(pm):
    with pytest.raises(JournalError, match="нет в группе"):
        save(pm, pm["current"], {pm["school"].students["5Б"][0].id: "5"})


def test_another_teachers_group_is_refused(pm):
    other = pm["school"].users["class_teacher"]
    with pytest.raises(NotYourLesson) as refused:
        period_marks.save_period_marks(
            pm["group"], pm["current"], {pm["ivanov"].id: "5"}, user=other, ip=""
        )
    assert refused.value.status == 403


def test_accept_suggestions_fills_only_empty_marks(pm):
    give(pm["group"], TODAY - DAY, pm["ivanov"], ("5", 1), ("5", 1), ("4", 1))
    give(pm["group"], TODAY - DAY, pm["petrova"], ("3", 1), ("3", 1), ("3", 1))
    save(pm, pm["current"], {pm["petrova"].id: "4"})  # the teacher decided otherwise
    count = period_marks.accept_suggestions(
        pm["group"], pm["current"], user=pm["teacher"], ip="", today=TODAY
    )
    assert count == 2  # Иванов 5, Сидоров н/а; Петрова keeps her 4
    got = {m.student_id: m.value for m in PeriodMark.select()}
    assert got == {pm["ivanov"].id: "5", pm["petrova"].id: "4", pm["sidorov"].id: "н/а"}


# --- the deadline and the deputy's unlock ----------------------------------------------------


def test_period_mark_locked_after_deadline(pm):
    with pytest.raises(JournalError, match="Срок выставления отметок за 1 четверть истёк") as exc:
        save(pm, pm["closed"], {pm["ivanov"].id: "5"})
    assert "с разрешения заместителя директора" in str(exc.value)
    assert not PeriodMark.select().exists()
    # On the deadline day itself the teacher still may.
    assert save(pm, pm["closed"], {pm["ivanov"].id: "5"}, today=pm["closed"].deadline) == 1


def test_deputy_unlocks_one_mark_and_the_teacher_changes_it_once(pm):
    closed = pm["closed"]
    save(pm, closed, {pm["ivanov"].id: "3", pm["petrova"].id: "4"}, today=closed.deadline)
    unlock = journal_control.unlock_period_mark(
        pm["group"], closed, pm["ivanov"].id, "Исправление ошибки по заявлению учителя",
        user=pm["deputy"], ip="10.0.0.2", today=TODAY,
    )  # fmt: skip
    key = period_marks.period_mark_uuid(pm["group"], pm["ivanov"], closed)
    assert unlock.entity_type == "PeriodMark" and unlock.entity_uuid == key
    sheet = period_marks.period_sheet(pm["group"], closed, TODAY)
    assert row_of(sheet, pm["ivanov"]).unlocked and not row_of(sheet, pm["petrova"]).unlocked

    with pytest.raises(JournalError, match="Петрова"):  # the other mark stays locked
        save(pm, closed, {pm["petrova"].id: "5"})
    assert save(pm, closed, {pm["ivanov"].id: "4"}) == 1
    assert Unlock.get_by_id(unlock.id).used_at is not None
    with pytest.raises(JournalError, match="Срок выставления"):  # used up
        save(pm, closed, {pm["ivanov"].id: "5"})
    assert PeriodMark.get(PeriodMark.student == pm["ivanov"]).value == "4"
    actions = [e.action for e in AuditEntry.select().order_by(AuditEntry.seq)]
    assert actions[-4:] == ["unlock.grant", "period_mark.unlock", "unlock.use", "period_mark.set"]
    listed = journal_control.recent_unlocks()[0]
    assert listed.what == "Математика — 5А: Иванов П., 1 четверть"
    assert (listed.granted_by, listed.state) == ("Белова О.С.", "использовано")


def test_an_unlock_lets_a_forgotten_mark_be_set(pm):
    journal_control.unlock_period_mark(
        pm["group"], pm["closed"], pm["sidorov"].id, "Забыли выставить отметку",
        user=pm["deputy"], ip="", today=TODAY,
    )  # fmt: skip
    assert save(pm, pm["closed"], {pm["sidorov"].id: "3"}) == 1


def test_unlock_needs_a_reason_and_a_locked_period(pm):
    args = {"user": pm["deputy"], "ip": "", "today": TODAY}
    with pytest.raises(JournalError, match="Укажите причину"):
        journal_control.unlock_period_mark(pm["group"], pm["closed"], pm["ivanov"].id, "", **args)
    with pytest.raises(JournalError, match="Срок ещё не истёк"):
        journal_control.unlock_period_mark(
            pm["group"], pm["current"], pm["ivanov"].id, "Причина изменения", **args
        )
    assert not Unlock.select().exists()


# --- the pages ------------------------------------------------------------------------------


def test_teacher_sees_the_sheet_and_saves_by_form_and_htmx(pm, browser):
    give(pm["group"], TODAY - DAY, pm["ivanov"], ("5", 1), ("4", 1), ("5", 1))
    browser.login("smirnova.ev", PASSWORD)
    url = f"/periods/{pm['group'].id}"
    page = browser.get(f"{url}?term={pm['current'].term_id}").get_data(as_text=True)
    assert "2 четверть" in page and "4.66" in page and 'name="mark_' in page
    response = browser.post(
        url, {"kind": "term", "term": pm["current"].term_id, f"mark_{pm['ivanov'].id}": "5"},
        token_from=url,
    )  # fmt: skip
    assert response.status_code == 302
    response = browser.post(
        url, {"kind": "term", "term": pm["current"].term_id, f"mark_{pm['petrova'].id}": "7"},
        token_from=url, headers={"HX-Request": "true"},
    )  # fmt: skip
    row = response.get_data(as_text=True)
    assert response.status_code == 400 and row.lstrip().startswith("<tr") and "не оценка" in row
    assert 'value="7"' in row  # what the teacher typed stays in the cell
    response = browser.post(
        url, {"kind": "term", "term": pm["current"].term_id, f"mark_{pm['petrova'].id}": "4"},
        token_from=url, headers={"HX-Request": "true"},
    )  # fmt: skip
    assert response.status_code == 200 and 'value="4"' in response.get_data(as_text=True)
    assert {m.value for m in PeriodMark.select()} == {"5", "4"}


def test_teacher_after_deadline_gets_a_russian_refusal(pm, browser):
    browser.login("smirnova.ev", PASSWORD)
    url = f"/periods/{pm['group'].id}"
    response = browser.post(
        url, {"kind": "term", "term": pm["closed"].term_id, f"mark_{pm['ivanov'].id}": "5"},
        token_from=url,
    )  # fmt: skip
    assert response.status_code == 400
    assert "Срок выставления отметок за 1 четверть истёк" in response.get_data(as_text=True)
    assert not PeriodMark.select().exists()


def test_another_teachers_group_looks_missing(pm, browser):
    subject = Subject.create(name="История")
    other = SubjectGroup.create(
        year=pm["school"].year, school_class=pm["school"].classes["5А"], subject=subject
    )
    SubjectGroupTeacher.create(group=other, teacher=pm["school"].users["class_teacher"].person)
    SubjectGroupStudent.create(group=other, student=pm["ivanov"], starts=TODAY - 90 * DAY)
    browser.login("smirnova.ev", PASSWORD)
    assert browser.get(f"/periods/{other.id}").status_code == 404
    response = browser.post(
        f"/periods/{other.id}", {"kind": "year", f"mark_{pm['ivanov'].id}": "5"}
    )
    assert response.status_code == 404 and not PeriodMark.select().exists()
    assert "Иванов" not in response.get_data(as_text=True)


def test_deputy_unlocks_from_the_sheet(pm, browser):
    browser.login("belova.os", PASSWORD)
    url = f"/periods/{pm['group'].id}?term={pm['closed'].term_id}"
    page = browser.get(url).get_data(as_text=True)
    assert "истёк" in page and "Разрешить" in page and 'name="mark_' not in page
    response = browser.post(
        "/control/unlock/period-mark",
        {"group": pm["group"].id, "kind": "term", "term": pm["closed"].term_id,
         "student": pm["ivanov"].id, "reason": "Ошибка при вводе"},
        token_from=url,
    )  # fmt: skip
    assert response.status_code == 302
    assert Unlock.get().entity_uuid == period_marks.period_mark_uuid(
        pm["group"], pm["ivanov"], pm["closed"]
    )
    browser.logout()
    browser.login("smirnova.ev", PASSWORD)
    page = browser.get(url).get_data(as_text=True)
    assert page.count('name="mark_') == 1 and "разрешено заместителем" in page


def test_class_teacher_reads_but_cannot_write(pm, browser):
    browser.login("kuznetsov.ap", PASSWORD, role=pm["school"].role_key("class_teacher"))
    assert browser.get(f"/periods/{pm['group'].id}").status_code == 200
    response = browser.post(f"/periods/{pm['group'].id}", {"kind": "year"})
    assert response.status_code == 403
