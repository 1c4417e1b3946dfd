"""The diary's marks for a term, the year at a glance and the dynamics chart (§3.2)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from appliance import diary, journal
from appliance.db import write
from appliance.diary import dynamics as charts  # the module
from appliance.grading import weighted_average
from appliance.models import PeriodMark, SchoolClass, Subject, SubjectGroup, Term, now

from .test_diary import as_parent, as_student, lesson, make_work_types, mark


@pytest.fixture
def work_types(school):
    return make_work_types()


def quarters(school):
    return school.add_planning()["terms"]


def period_mark(school, student, value, kind="term", term=None, published=True):
    with write():
        return PeriodMark.create(
            group=school.group,
            student=student,
            kind=kind,
            term=term,
            value=value,
            published_at=now() if published else None,
        )


def first_quarter_marks(school, work_types):
    """5 (weight 3) and 3 (weight 1) published in the 1st quarter, a 2 not yet published,
    and a 2 in the 2nd quarter; a classmate's marks besides."""
    answer, test = work_types
    q1, q2 = quarters(school)[:2]
    ivanov, petrova = school.students["5А"][:2]
    one = lesson(school, q1.starts + dt.timedelta(days=7), 3)
    two = lesson(school, q1.starts + dt.timedelta(days=21), 3)
    later = lesson(school, q2.starts + dt.timedelta(days=2), 3)
    mark(one, ivanov, "5", test)
    mark(two, ivanov, "3", answer)
    mark(one, petrova, "2", test)
    return one, two, later


# --- a term ----------------------------------------------------------------------------


def test_term_average_is_the_journals_over_published_marks(school, work_types):
    one, two, later = first_quarter_marks(school, work_types)
    q1 = quarters(school)[0]
    ivanov = school.students["5А"][0]
    journal_marks = journal.marks_in_period(school.group, q1.starts, q1.ends, ivanov.id)
    mark(two, ivanov, "2", work_types[1], published=False)  # not in the diary's average
    mark(later, ivanov, "2", work_types[1])  # another quarter
    found = diary.term_marks(ivanov, school.classes["5А"], q1.id)
    (row,) = found.subjects
    assert row.subject.name == "Математика"
    assert [(m.value, m.weight, m.date) for m in row.marks] == [
        ("5", 3, one.date),
        ("3", 1, two.date),
    ]
    assert row.average == weighted_average(journal_marks[ivanov.id]) == Decimal("4.50")


def test_term_page_lists_marks_with_dates_weights_and_the_period_mark(browser, school, work_types):
    one, two, later = first_quarter_marks(school, work_types)
    q1, q2 = quarters(school)[:2]
    ivanov = school.students["5А"][0]
    mark(later, ivanov, "2", work_types[0])
    period_mark(school, ivanov, "5", term=q1)
    period_mark(school, ivanov, "4", term=q2, published=False)
    as_student(browser)
    text = browser.get(f"/diary/{ivanov.id}/marks?term={q1.id}").get_data(as_text=True)
    assert "1 четверть:" in text
    assert f'>5</span> <span class="muted">{one.date:%d.%m}, КР, вес 3</span>' in text
    assert f'>3</span> <span class="muted">{two.date:%d.%m}, Отв, вес 1</span>' in text
    assert '<td class="average">4.50</td>' in text
    assert re.search(r'class="period-mark"><strong class="mark" data-mark="5">5</strong>', text)
    q2_page = browser.get(f"/diary/{ivanov.id}/marks?term={q2.id}").get_data(as_text=True)
    assert 'data-mark="4"' not in q2_page  # the unpublished quarter mark
    assert 'data-mark="2"' in q2_page  # the 2nd quarter's mark
    for term in quarters(school):
        assert f'href="/diary/{ivanov.id}/marks?term={term.id}"' in text


def test_term_of_another_grade_or_garbage_is_not_found(browser, school):
    quarters(school)
    half = Term.get((Term.year == school.year) & (Term.kind == "half"))
    ivanov = school.students["5А"][0]
    as_parent(browser)
    assert browser.get(f"/diary/{ivanov.id}/marks").status_code == 200
    for term in (str(half.id), "999999", "abc"):
        assert browser.get(f"/diary/{ivanov.id}/marks?term={term}").status_code == 404, term


def test_term_page_without_terms_uses_the_year(browser, school, work_types):
    ivanov = school.students["5А"][0]
    mark(lesson(school, school.year.starts + dt.timedelta(days=3), 3), ivanov, "4", work_types[0])
    found = diary.term_marks(ivanov, school.classes["5А"])
    assert found.term is None and found.label == "год"
    assert found.subjects[0].average == Decimal("4.00")


# --- the year --------------------------------------------------------------------------


def test_year_overview_has_each_terms_average_and_mark_and_the_year_mark(school, work_types):
    _one, _two, later = first_quarter_marks(school, work_types)
    q1, q2 = quarters(school)[:2]
    ivanov = school.students["5А"][0]
    mark(later, ivanov, "2", work_types[0])
    period_mark(school, ivanov, "5", term=q1)
    period_mark(school, ivanov, "4", kind="year")
    overview = diary.year_overview(ivanov, school.classes["5А"])
    assert [t.id for t in overview.terms] == [t.id for t in quarters(school)]
    (row,) = overview.rows
    first = row.terms[0]
    assert (first.average, first.mark, first.count) == (Decimal("4.50"), "5", 2)
    assert (row.terms[1].average, row.terms[1].mark) == (Decimal("2.00"), "")
    assert row.terms[2].average is None
    assert row.year.mark == "4" and row.year.average == Decimal("4.00")  # (5·3+3·1+2·1)/5
    assert overview.has_final is False


def test_year_page_shows_the_final_mark_in_grade_nine(browser, school, work_types):
    with write():
        SchoolClass.update(grade=9).where(SchoolClass.id == school.classes["5А"].id).execute()
    ivanov = school.students["5А"][0]
    quarters(school)
    period_mark(school, ivanov, "5", kind="final")
    as_parent(browser)
    text = browser.get(f"/diary/{ivanov.id}/year").get_data(as_text=True)
    assert "Итоговая</th>" in text and 'data-mark="5">5</strong>' in text


def test_first_grade_has_no_marks_to_show(browser, school):
    with write():
        SchoolClass.update(grade=1).where(SchoolClass.id == school.classes["5А"].id).execute()
    as_parent(browser)
    ivanov = school.students["5А"][0]
    for page in ("marks", "year"):
        text = browser.get(f"/diary/{ivanov.id}/{page}").get_data(as_text=True)
        assert "Безотметочное обучение" in text, page


# --- the dynamics ------------------------------------------------------------------------


def test_checkpoints_are_week_ends_and_the_last_day():
    wednesday = dt.date(2026, 9, 2)
    assert charts.checkpoints(wednesday, dt.date(2026, 9, 15)) == [
        dt.date(2026, 9, 6),
        dt.date(2026, 9, 13),
        dt.date(2026, 9, 15),
    ]
    long = charts.checkpoints(dt.date(2024, 9, 1), dt.date(2026, 8, 31))
    assert len(long) <= charts.MAX_POINTS + 1 and long[-1] == dt.date(2026, 8, 31)


def test_dynamics_is_the_cumulative_weighted_average_week_by_week(school, work_types):
    answer, test = work_types
    ivanov = school.students["5А"][0]
    monday = dt.date(2026, 9, 7)
    mark(lesson(school, monday, 3), ivanov, "5", test)  # week 1: 5
    mark(lesson(school, monday + dt.timedelta(days=8), 3), ivanov, "3", answer)  # 18/4
    mark(lesson(school, monday + dt.timedelta(days=9), 3), ivanov, "2", answer, published=False)
    chart = diary.dynamics_of(ivanov, monday - dt.timedelta(days=7), monday + dt.timedelta(days=20))
    (series,) = chart.series
    assert series.values == [None, Decimal("5.00"), Decimal("4.50"), Decimal("4.50")]
    assert len(series.points) == 3
    assert series.points[0].y == chart.top  # a 5 at the top of the plot
    assert chart.bottom == chart.height - charts.BOTTOM  # where a 2 would be


def test_dynamics_page_draws_an_accessible_svg_with_the_numbers_in_a_table(
    browser, school, work_types
):
    answer, test = work_types
    ivanov = school.students["5А"][0]
    monday = dt.date(2026, 9, 7)
    mark(lesson(school, monday, 3), ivanov, "4", test)
    mark(lesson(school, monday + dt.timedelta(days=7), 3), ivanov, "5", test)
    with write():
        pe = Subject.create(name="Физкультура", scale="pass_fail")
        gym = SubjectGroup.create(year=school.year, school_class=school.classes["5А"], subject=pe)
    mark(lesson(school, monday, 4, group=gym), ivanov, "зач", answer)
    as_parent(browser)
    text = browser.get(
        f"/diary/{ivanov.id}/dynamics?from={monday}&to={monday + dt.timedelta(days=13)}"
    ).get_data(as_text=True)
    svg = re.search(r"<svg[^>]*>.*?</svg>", text, re.S).group(0)
    assert 'role="img"' in svg
    assert re.search(r'aria-label="Средний взвешенный балл[^"]*Математика"', svg)
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 2
    assert "style=" not in text  # CSP: no inline styles
    table = text.split('class="dynamics-table"', 1)[1]
    assert f"{monday + dt.timedelta(days=6):%d.%m.%Y}</th><td>4.00</td>" in table
    assert f"{monday + dt.timedelta(days=13):%d.%m.%Y}</th><td>4.50</td>" in table
    assert "Без среднего балла (зачёт/незачёт): Физкультура" in text


def test_dynamics_dates_are_checked_in_russian(browser, school):
    ivanov = school.students["5А"][0]
    as_student(browser)
    response = browser.get(f"/diary/{ivanov.id}/dynamics?from=01.09.2026")
    assert response.status_code == 400
    assert "Начало периода: «01.09.2026» — не дата" in response.get_data(as_text=True)
    response = browser.get(f"/diary/{ivanov.id}/dynamics?from=2026-10-01&to=2026-09-01")
    assert response.status_code == 400
    assert "Начало периода позже его конца." in response.get_data(as_text=True)
    response = browser.get(f"/diary/{ivanov.id}/dynamics?from=0001-01-01&to=9999-12-31")
    assert response.status_code == 400
    assert "слишком далёкая дата" in response.get_data(as_text=True)


def test_dynamics_without_marks_says_so(browser, school):
    as_student(browser)
    text = browser.get(f"/diary/{school.students['5А'][0].id}/dynamics").get_data(as_text=True)
    assert "опубликованных оценок нет" in text and "<svg" not in text


def test_dynamics_draws_only_the_chosen_subjects_in_their_own_colours(browser, school, work_types):
    ivanov = school.students["5А"][0]
    monday = dt.date(2026, 9, 7)
    with write():
        russian = Subject.create(name="Русский язык", sort_order=0)
        group = SubjectGroup.create(
            year=school.year, school_class=school.classes["5А"], subject=russian
        )
    mark(lesson(school, monday, 3), ivanov, "4", work_types[0])
    mark(lesson(school, monday, 4, group=group), ivanov, "3", work_types[0])
    period = (monday, monday + dt.timedelta(days=6))
    everything = diary.dynamics_of(ivanov, *period)
    assert [(s.subject.name, s.css_class) for s in everything.series] == [
        ("Русский язык", "series-0"),
        ("Математика", "series-1"),
    ]
    maths = diary.dynamics_of(ivanov, *period, chosen={school.group.subject_id})
    assert [(s.subject.name, s.css_class) for s in maths.series] == [("Математика", "series-1")]
    as_parent(browser)
    url = f"/diary/{ivanov.id}/dynamics?from={period[0]}&to={period[1]}"
    text = browser.get(f"{url}&subject={russian.id}").get_data(as_text=True)
    assert 'aria-label="Средний взвешенный балл' in text and "Математика</th>" not in text
    assert f'name="subject" value="{russian.id}" checked' in text
    assert f'name="subject" value="{school.group.subject_id}">' in text
    assert "Отметьте хотя бы один предмет" in browser.get(f"{url}&subject=0").get_data(as_text=True)
