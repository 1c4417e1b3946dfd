"""Marking rules as plain functions: scales, codes, weighted averages, suggestions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance import grading
from appliance.grading import GradingError


@pytest.mark.parametrize("raw", ["2", "3", " 4 ", "5"])
def test_five_point_marks_are_accepted(raw):
    assert grading.parse_mark(raw, "five") == raw.strip()


@pytest.mark.parametrize("raw", ["7", "1", "0", "4+", "пять", "5.0"])
def test_other_marks_are_refused_in_russian(raw):
    with pytest.raises(GradingError, match="допустимы 2, 3, 4, 5"):
        grading.parse_mark(raw, "five")


def test_pass_fail_subjects_take_zach_and_nezach():
    assert grading.parse_mark("Зачёт", "pass_fail") == "зач"
    assert grading.parse_mark("незач", "pass_fail") == "незач"
    with pytest.raises(GradingError, match="«зач» или «незач»"):
        grading.parse_mark("5", "pass_fail")


def test_grade_one_has_no_marks():
    assert grading.scale_of("five", graded_class=False) == "none"
    with pytest.raises(GradingError, match="безотметочное"):
        grading.parse_mark("5", "none")


@pytest.mark.parametrize(
    ("raw", "code"),
    [("н", "Н"), ("Н", "Н"), ("б", "Б"), ("уп", "УП"), ("оп", "ОП"), ("осв", "ОСВ")],
)
def test_attendance_codes(raw, code):
    assert grading.parse_attendance(raw) == code


def test_unknown_attendance_code_is_refused():
    with pytest.raises(GradingError, match="н, б, уп, оп или осв"):
        grading.parse_attendance("ж")


def test_weighted_average_is_sum_of_mark_times_weight_over_weights():
    # (5·1 + 3·3) / (1 + 3) = 14 / 4 = 3.5
    assert grading.weighted_average([("5", 1), ("3", 3)]) == Decimal("3.50")
    assert grading.weighted_average([("зач", 1)]) is None
    assert grading.weighted_average([]) is None


@pytest.mark.parametrize(
    ("average", "expected"),
    [("3.59", 3), ("3.60", 4), ("4.61", 5), ("2.00", 2), ("4.99", 5), ("4.59", 4)],
)
def test_rounding_by_the_school_threshold(average, expected):
    assert grading.round_mark(Decimal(average), Decimal("0.60")) == expected


def test_suggestion_needs_the_minimum_number_of_marks():
    marks = [("5", 1), ("4", 1)]
    assert grading.suggest_period_mark(marks, "five", Decimal("0.6"), 3) == "н/а"
    assert grading.suggest_period_mark([*marks, ("4", 2)], "five", Decimal("0.6"), 3) == "4"


def test_pass_fail_suggestion():
    marks = [("зач", 1), ("зач", 1), ("незач", 1)]
    assert grading.suggest_period_mark(marks, "pass_fail", Decimal("0.6"), 3) == "зач"


def test_period_mark_values():
    assert grading.parse_period_mark("н/а", "five") == "н/а"
    assert grading.parse_period_mark("осв", "five") == "осв"
    assert grading.parse_period_mark("4", "five") == "4"
    with pytest.raises(GradingError):
        grading.parse_period_mark("6", "five")


@given(st.lists(st.tuples(st.sampled_from(grading.FIVE_POINT), st.integers(1, 10)), min_size=1))
def test_average_stays_within_the_marks(marks):
    average = grading.weighted_average(marks)
    values = [int(v) for v, _ in marks]
    assert min(values) <= average <= max(values)
    suggested = int(grading.suggest_period_mark(marks, "five", Decimal("0.6"), 1))
    assert min(values) <= suggested <= max(values)


def test_the_suggestion_rounds_the_exact_average_not_the_displayed_one():
    # 4·(10+10+5) + 3·(10+5+2) = 151 over 42 = 3.5952…: a «3», and shown as 3.59.
    marks = [("4", 10), ("4", 10), ("4", 5), ("3", 10), ("3", 5), ("3", 2)]
    assert grading.weighted_average(marks) == Decimal("3.59")
    assert grading.suggest_period_mark(marks, "five", Decimal("0.60"), 3) == "3"
