"""The timetable's rules: conflicts, weekly hours, editing with validity dates."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.db import write
from appliance.models import (
    AcademicYear,
    AuditEntry,
    CurriculumLine,
    Lesson,
    Person,
    Room,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    TimetableEntry,
)
from appliance.timetable import checks, editing
from appliance.timetable.conflicts import class_gaps, find_conflicts, year_conflicts
from appliance.timetable.entries import EntryRow, load_entries
from appliance.years import PlanningError

D = dt.date
YEAR = (D(2026, 9, 1), D(2027, 8, 31))


def row(
    id_: int,
    *,
    cls: int = 1,
    group: int | None = None,
    subgroup: int | None = None,
    teachers: tuple[int, ...] = (),
    room: int | None = None,
    slot: tuple[int, int] = (1, 1),
    since: dt.date = YEAR[0],
    until: dt.date | None = None,
) -> EntryRow:
    return EntryRow(
        id_,
        group or id_,
        cls,
        f"{cls}А",
        cls,
        group or id_,
        f"Предмет {group or id_}",
        subgroup,
        False,
        slot[0],
        slot[1],
        room,
        str(room) if room else "",
        since,
        until,
        teachers,
    )


def kinds(conflicts) -> list[tuple[str, tuple[int, int]]]:
    return [(c.kind, c.entry_ids) for c in conflicts]


# --- conflicts over plain rows ------------------------------------------------------------


def test_a_teacher_in_two_classes_at_once_is_a_conflict():
    found = find_conflicts([row(1, cls=1, teachers=(7,)), row(2, cls=2, teachers=(7,))])
    assert kinds(found) == [("teacher", (1, 2))]
    assert "учитель № 7 сразу в двух местах: 1А Предмет 1 и 2А Предмет 2" in found[0].text


def test_a_room_twice_at_once_is_a_conflict():
    found = find_conflicts([row(1, cls=1, room=204), row(2, cls=2, room=204), row(3, cls=3)])
    assert kinds(found) == [("room", (1, 2))]
    assert found[0].text.startswith("Пн, 1-й урок: кабинет 204 занят дважды")


def test_a_class_with_two_whole_class_lessons_at_once_is_a_conflict():
    found = find_conflicts([row(1), row(2), row(3, slot=(1, 2))])
    assert kinds(found) == [("class", (1, 2))]


def test_subgroups_of_one_class_may_meet_in_parallel():
    members = {1: [(100, YEAR[0], None)], 2: [(200, YEAR[0], None)]}
    entries = [row(1, subgroup=1, teachers=(7,)), row(2, subgroup=2, teachers=(8,))]
    assert find_conflicts(entries, memberships=lambda ids: members) == []


def test_a_subgroup_beside_the_whole_class_is_a_conflict():
    assert kinds(find_conflicts([row(1, subgroup=1), row(2)])) == [("class", (1, 2))]


def test_subgroups_sharing_a_student_are_a_conflict_while_both_hold_them():
    members = {
        1: [(100, YEAR[0], None), (300, YEAR[0], D(2026, 10, 31))],
        2: [(200, YEAR[0], None), (300, D(2026, 11, 1), None)],  # moved: never in both
    }
    entries = [row(1, subgroup=1), row(2, subgroup=2)]
    assert find_conflicts(entries, memberships=lambda ids: members) == []
    members[2].append((100, D(2027, 1, 10), None))  # Иванов joins the second too
    names = {100: "Иванов П."}
    found = find_conflicts(
        entries, memberships=lambda ids: members, names=lambda ids: names, start=YEAR[0]
    )
    assert kinds(found) == [("class", (1, 2))]
    assert found[0].shared == ("Иванов П.",) and found[0].since == D(2027, 1, 10)
    assert "(в обеих подгруппах: Иванов П.)" in found[0].text and "с 10.01.2027" in found[0].text


def test_validity_ranges_that_do_not_overlap_never_clash():
    before = row(1, teachers=(7,), room=5, until=D(2026, 10, 31))
    after = row(2, teachers=(7,), room=5, since=D(2026, 11, 1))
    assert find_conflicts([before, after]) == []
    overlapping = row(3, cls=2, teachers=(7,), since=D(2026, 10, 20), until=D(2026, 12, 1))
    found = find_conflicts([before, after, overlapping], start=YEAR[0], end=YEAR[1])
    assert sorted(kinds(found)) == [("teacher", (1, 3)), ("teacher", (2, 3))]
    assert {(c.since, c.until) for c in found} == {
        (D(2026, 10, 20), D(2026, 10, 31)),
        (D(2026, 11, 1), D(2026, 12, 1)),
    }


def test_checking_one_week_ignores_entries_outside_it():
    early = row(1, teachers=(7,), until=D(2026, 9, 30))
    late = row(2, cls=2, teachers=(7,), since=D(2026, 9, 15))
    assert find_conflicts([early, late], start=D(2026, 10, 5), end=D(2026, 10, 10)) == []
    assert len(find_conflicts([early, late], start=D(2026, 9, 14), end=D(2026, 9, 19))) == 1


def test_gaps_are_listed_per_class_and_day():
    entries = [row(1, slot=(1, 1)), row(2, slot=(1, 4)), row(3, slot=(2, 2))]
    assert class_gaps(entries, YEAR[0]) == ["1А, Пн: окно (2, 3)"]


# --- the year in the database ----------------------------------------------------------------


@pytest.fixture
def year(db):
    return AcademicYear.create(name="2026/2027", starts=YEAR[0], ends=YEAR[1], is_current=True)


@pytest.fixture
def school(year):
    """5А: maths (Орлова), English in two subgroups (Титов, Орлова); 5Б: maths (Орлова)."""
    orlova = Person.create(last_name="Орлова", first_name="Анна", middle_name="Ивановна")
    titov = Person.create(last_name="Титов", first_name="Иван", is_staff=True)
    a = SchoolClass.create(year=year, grade=5, letter="А")
    b = SchoolClass.create(year=year, grade=5, letter="Б")
    maths, english = Subject.create(name="Математика"), Subject.create(name="Английский язык")
    groups = {
        "maths_a": SubjectGroup.create(year=year, school_class=a, subject=maths),
        "maths_b": SubjectGroup.create(year=year, school_class=b, subject=maths),
        "eng1": SubjectGroup.create(year=year, school_class=a, subject=english, subgroup=1),
        "eng2": SubjectGroup.create(year=year, school_class=a, subject=english, subgroup=2),
    }
    for key, teacher in (("maths_a", orlova), ("maths_b", orlova), ("eng1", titov)):
        SubjectGroupTeacher.create(group=groups[key], teacher=teacher)
    SubjectGroupTeacher.create(group=groups["eng2"], teacher=orlova)
    pupils = [Person.create(last_name=f"Ученик{i}", first_name="Пётр") for i in range(4)]
    for i, pupil in enumerate(pupils):
        SubjectGroupStudent.create(
            group=groups["eng1" if i < 2 else "eng2"], student=pupil, starts=year.starts
        )
    room = Room.create(name="204")
    return {
        "year": year,
        "a": a,
        "b": b,
        "orlova": orlova,
        "room": room,
        "pupils": pupils,
        **groups,
    }


def put(group, weekday, number, room=None, since=YEAR[0], until=None) -> TimetableEntry:
    return TimetableEntry.create(
        group=group, weekday=weekday, number=number, room=room, valid_from=since, valid_to=until
    )


def test_year_check_finds_the_teacher_twice_by_name(school):
    put(school["maths_a"], 1, 1)
    put(school["maths_b"], 1, 1)
    put(school["eng1"], 1, 2)
    put(school["eng2"], 1, 2)
    found = year_conflicts(school["year"])
    assert kinds(found) == [("teacher", tuple(sorted(found[0].entry_ids)))]
    assert "учитель Орлова А.И." in found[0].text and found[0].period == ""


def test_year_check_flags_a_student_in_both_subgroups(school):
    put(school["eng1"], 2, 1)
    put(school["eng2"], 2, 1)
    assert year_conflicts(school["year"]) == []
    SubjectGroupStudent.create(
        group=school["eng2"], student=school["pupils"][0], starts=D(2026, 12, 1)
    )
    found = year_conflicts(school["year"])
    assert [c.kind for c in found] == ["class"]
    assert "Ученик0 П." in found[0].text and "с 01.12.2026" in found[0].text


def test_load_entries_reads_teachers_rooms_and_dates(school):
    entry = put(school["maths_a"], 3, 2, room=school["room"], until=D(2026, 12, 31))
    (loaded,) = load_entries(school["year"])
    assert loaded.id == entry.id and loaded.teacher_ids == (school["orlova"].id,)
    assert (loaded.class_name, loaded.room, loaded.valid_to) == ("5А", "204", D(2026, 12, 31))
    assert load_entries(school["year"], start=D(2027, 1, 1)) == []


# --- weekly hours against the curriculum ----------------------------------------------------


def test_weekly_hours_list_too_few_too_many_and_each_subgroup(school):
    year = school["year"]
    CurriculumLine.create(
        year=year, grade=5, subject=school["maths_a"].subject, hours_week=2, hours_year=68
    )
    CurriculumLine.create(
        year=year, grade=5, subject=school["eng1"].subject, hours_week=1, hours_year=34
    )
    put(school["maths_a"], 1, 1)
    put(school["maths_a"], 2, 1)
    put(school["maths_b"], 1, 2)
    put(school["eng1"], 3, 1)
    put(school["eng1"], 4, 1)  # subgroup 1: one too many; subgroup 2: none
    rows = {(r.class_name, r.group_label): (r.planned, r.needed, r.status) for r in
            checks.weekly_hours(year, D(2026, 9, 7))}  # fmt: skip
    assert rows == {
        ("5Б", "Математика"): (1, 2, "мало"),
        ("5А", "Английский язык, 1 подгр."): (2, 1, "много"),
        ("5А", "Английский язык, 2 подгр."): (0, 1, "мало"),
    }


def test_a_subject_missing_from_the_curriculum_is_listed_when_it_meets(school):
    put(school["maths_a"], 1, 1)
    (only,) = checks.weekly_hours(school["year"], D(2026, 9, 7))
    assert (only.group_label, only.status) == ("Математика", "нет в учебном плане")


# --- editing with validity dates ----------------------------------------------------------


def fields(group, weekday=1, number=1, room=None, since=YEAR[0], until=None):
    return editing.EntryFields(group, weekday, number, room, since, until)


def test_editing_before_the_year_starts_changes_the_entry_in_place(school):
    entry = put(school["maths_a"], 1, 1)
    saved = editing.update_entry(
        entry, fields(school["maths_a"], room=school["room"]), user=None, today=D(2026, 8, 20)
    )
    assert saved.id == entry.id and saved.room_id == school["room"].id
    assert TimetableEntry.select().count() == 1
    assert AuditEntry.get(AuditEntry.action == "timetable.entry.update").before


def test_editing_an_entry_in_force_closes_it_and_starts_a_new_one(school):
    entry = put(school["maths_a"], 1, 1)
    Lesson.create(group=school["maths_a"], date=D(2026, 9, 7), number=1, timetable_entry=entry)
    new = editing.update_entry(
        entry,
        fields(school["maths_a"], weekday=2, room=school["room"], since=D(2026, 11, 9)),
        user=None,
        today=D(2026, 11, 2),
    )
    old = TimetableEntry.get_by_id(entry.id)
    assert old.valid_to == D(2026, 11, 8) and old.weekday == 1
    assert (new.weekday, new.valid_from, new.room_id) == (2, D(2026, 11, 9), school["room"].id)
    actions = [a.action for a in AuditEntry.select().order_by(AuditEntry.seq)]
    assert actions == ["timetable.entry.close", "timetable.entry.create"]


def test_a_second_entry_of_one_group_in_one_slot_is_refused(school):
    put(school["maths_a"], 1, 1)
    with pytest.raises(PlanningError, match="уже стоит урок"):
        editing.add_entry(school["a"], fields(school["maths_a"]), user=None)
    later = fields(school["maths_a"], since=D(2027, 1, 1))
    put(school["maths_b"], 5, 5, until=D(2026, 12, 31))
    assert editing.add_entry(school["b"], fields(school["maths_b"], 5, 5, since=D(2027, 1, 1)),
                             user=None).id  # fmt: skip
    with pytest.raises(PlanningError):
        editing.add_entry(school["a"], later, user=None)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weekday": 7}, "День недели"),
        ({"number": 0}, "Номер урока"),
        ({"since": D(2027, 9, 1)}, "в пределах"),
        ({"until": D(2026, 8, 1)}, "не раньше"),
    ],
)
def test_impossible_entries_are_refused_in_russian(school, change, message):
    with pytest.raises(PlanningError, match=message):
        editing.add_entry(school["a"], fields(school["maths_a"], **change), user=None)
    assert TimetableEntry.select().count() == 0


def test_a_group_of_another_class_cannot_be_put_on_this_class(school):
    with pytest.raises(PlanningError, match="класса 5А"):
        editing.add_entry(school["a"], fields(school["maths_b"]), user=None)


def test_removing_an_entry_keeps_its_past_and_deletes_an_unused_one(school):
    used = put(school["maths_a"], 1, 1)
    unused = put(school["maths_a"], 2, 1, since=D(2026, 12, 1))
    today = D(2026, 11, 2)
    assert editing.delete_entry(used, D(2026, 11, 3), user=None, today=today) == "closed"
    assert TimetableEntry.get_by_id(used.id).valid_to == D(2026, 11, 2)
    assert editing.delete_entry(unused, D(2026, 12, 1), user=None, today=today) == "deleted"
    assert TimetableEntry.get_or_none(TimetableEntry.id == unused.id) is None


def mondays(group, start: dt.date, end: dt.date) -> list[dt.date]:
    from appliance.lessons import timetable_meetings

    return [m.date for m in timetable_meetings(group.year, start, end) if m.group_id == group.id]


def test_an_edit_from_a_later_date_before_the_year_starts_keeps_the_days_before(school):
    """From 01.10 means from 01.10: September keeps its Monday lesson, even in August."""
    entry = put(school["maths_a"], 1, 1)
    new = editing.update_entry(
        entry,
        fields(school["maths_a"], room=school["room"], since=D(2026, 10, 1)),
        user=None,
        today=D(2026, 8, 20),
    )
    assert new.id != entry.id and new.valid_from == D(2026, 10, 1)
    assert TimetableEntry.get_by_id(entry.id).valid_to == D(2026, 9, 30)
    assert mondays(school["maths_a"], D(2026, 9, 1), D(2026, 9, 30)) == [
        D(2026, 9, 7), D(2026, 9, 14), D(2026, 9, 21), D(2026, 9, 28)
    ]  # fmt: skip


def test_removing_from_a_later_date_before_the_year_starts_closes_the_entry(school):
    entry = put(school["maths_a"], 1, 1)
    assert editing.delete_entry(entry, D(2026, 10, 1), user=None, today=D(2026, 8, 20)) == "closed"
    assert TimetableEntry.get_by_id(entry.id).valid_to == D(2026, 9, 30)
    assert len(mondays(school["maths_a"], D(2026, 9, 1), D(2026, 9, 30))) == 4


def test_an_entry_in_force_is_neither_rewritten_nor_deleted_from_its_start(school):
    entry = put(school["maths_a"], 1, 1)
    today = D(2026, 11, 2)
    with pytest.raises(PlanningError, match="по ней уже шли уроки.*с 03.11.2026"):
        editing.update_entry(entry, fields(school["maths_a"], weekday=2), user=None, today=today)
    with pytest.raises(PlanningError, match="по ней уже шли уроки"):
        editing.delete_entry(entry, YEAR[0], user=None, today=today)
    with pytest.raises(PlanningError, match="по ней уже шли уроки"):  # earlier still: no either
        editing.delete_entry(entry, D(2026, 8, 1), user=None, today=today)
    kept = TimetableEntry.get_by_id(entry.id)
    assert (kept.weekday, kept.valid_from, kept.valid_to) == (1, YEAR[0], None)
    assert AuditEntry.select().count() == 0


def test_an_entry_with_a_past_lesson_is_in_force_even_if_it_starts_later(school):
    entry = put(school["maths_a"], 1, 1, since=D(2026, 11, 9))
    Lesson.create(group=school["maths_a"], date=D(2026, 9, 7), number=1, timetable_entry=entry)
    with pytest.raises(PlanningError, match="по ней уже шли уроки"):
        editing.delete_entry(entry, D(2026, 11, 9), user=None, today=D(2026, 11, 2))


def test_a_closed_year_cannot_be_edited(school):
    year = school["year"]
    year.read_only = True
    year.save()
    with pytest.raises(PlanningError, match="закрыт"):
        editing.add_entry(school["a"], fields(school["maths_a"]), user=None)


def test_entry_conflicts_name_the_clash_an_edit_made(school):
    put(school["maths_b"], 1, 1)
    entry = editing.add_entry(school["a"], fields(school["maths_a"]), user=None)
    (clash,) = editing.entry_conflicts(entry)
    assert clash.kind == "teacher" and entry.id in clash.entry_ids


# --- the «checked» mark -----------------------------------------------------------------------


def test_checked_only_without_conflicts_and_until_the_next_edit(school):
    year = school["year"]
    with pytest.raises(PlanningError, match="пусто"):
        checks.mark_checked(year, user=None)
    put(school["maths_a"], 1, 1)
    clash = put(school["maths_b"], 1, 1)
    with pytest.raises(PlanningError, match="накладки \\(1\\)"):
        checks.mark_checked(year, user=None)
    assert checks.check_status(year).checked is False
    with write():
        clash.number = 2
        clash.save()
    assert checks.mark_checked(year, user=None) == 2
    assert checks.check_status(year).checked
    put(school["eng1"], 4, 4)
    status = checks.check_status(year)
    assert not status.checked and status.changed_since
