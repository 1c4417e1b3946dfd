"""One-off changes: applied to the day's lesson, notified, undone, and kept by regeneration."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.db import write
from appliance.lessons import generate_lessons, regenerate_lessons, timetable_meetings
from appliance.models import (
    AcademicYear,
    Assignment,
    AuditEntry,
    Guardian,
    Lesson,
    LessonTeacherChange,
    Mark,
    Person,
    Room,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    TimetableChange,
    TimetableEntry,
    User,
    UserNotice,
    WorkType,
)
from appliance.timetable.changes import ChangeRequest, changes_between, make_change, undo_change
from appliance.years import PlanningError

D = dt.date
TODAY = D(2026, 11, 2)  # a Monday
MON, TUE, WED = D(2026, 11, 9), D(2026, 11, 10), D(2026, 11, 11)


def account(person: Person, username: str) -> User:
    return User.create(person=person, username=username, password_hash="x")


@pytest.fixture
def school(db):
    """5А maths (Орлова) Mon 1st in 204 and Wed 2nd; 5Б physics (Титов) Mon 1st in 305."""
    year = AcademicYear.create(
        name="2026/2027", starts=D(2026, 9, 1), ends=D(2027, 8, 31), is_current=True
    )
    orlova = Person.create(last_name="Орлова", first_name="Анна", is_staff=True)
    titov = Person.create(last_name="Титов", first_name="Иван", is_staff=True)
    sidorova = Person.create(last_name="Сидорова", first_name="Вера", is_staff=True)
    r204, r305, r101 = (Room.create(name=n) for n in ("204", "305", "101"))
    a = SchoolClass.create(year=year, grade=5, letter="А")
    b = SchoolClass.create(year=year, grade=5, letter="Б")
    maths = SubjectGroup.create(year=year, school_class=a, subject=Subject.create(name="Мат"))
    physics = SubjectGroup.create(year=year, school_class=b, subject=Subject.create(name="Физ"))
    SubjectGroupTeacher.create(group=maths, teacher=orlova)
    SubjectGroupTeacher.create(group=physics, teacher=titov)
    ivanov = Person.create(last_name="Иванов", first_name="Пётр")
    petrova = Person.create(last_name="Петрова", first_name="Анна")
    mother = Person.create(last_name="Иванова", first_name="Мария")
    for pupil in (ivanov, petrova):
        SubjectGroupStudent.create(group=maths, student=pupil, starts=year.starts)
    Guardian.create(parent=mother, student=ivanov)
    users = {
        "orlova": account(orlova, "orlova"),
        "titov": account(titov, "titov"),
        "sidorova": account(sidorova, "sidorova"),
        "ivanov": account(ivanov, "ivanov"),
        "mother": account(mother, "mother"),
    }
    entries = {
        "mon": TimetableEntry.create(
            group=maths, weekday=1, number=1, room=r204, valid_from=year.starts
        ),
        "wed": TimetableEntry.create(group=maths, weekday=3, number=2, valid_from=year.starts),
        "physics": TimetableEntry.create(
            group=physics, weekday=1, number=1, room=r305, valid_from=year.starts
        ),
    }
    with write():
        generate_lessons(year, D(2026, 11, 1), D(2026, 11, 30))
    return {
        "year": year,
        "maths": maths,
        "orlova": orlova,
        "titov": titov,
        "sidorova": sidorova,
        "ivanov": ivanov,
        "rooms": {"204": r204, "305": r305, "101": r101},
        "users": users,
        **entries,
    }


def lesson(school, day: dt.date, number: int) -> Lesson | None:
    return Lesson.get_or_none(
        (Lesson.group == school["maths"]) & (Lesson.date == day) & (Lesson.number == number)
    )


def change(school, kind: str, day: dt.date = MON, entry: str = "mon", **fields):
    return make_change(school[entry], day, ChangeRequest(kind, **fields), user=None, ip="10.0.0.9")


def regenerate(school):
    return regenerate_lessons(school["year"], D(2026, 11, 1), D(2026, 11, 30), today=TODAY)


def notified(text_part: str) -> set[str]:
    return {
        n.user.username
        for n in UserNotice.select()
        if text_part in n.text and n.kind == "timetable"
    }


# --- substitution -------------------------------------------------------------------------


def test_substitution_gives_the_lesson_to_the_substitute_and_tells_everyone(school):
    made = change(school, "substitution", teacher=school["sidorova"], reason="больничный")
    moved = lesson(school, MON, 1)
    assert moved.teacher_id == school["sidorova"].id
    assert LessonTeacherChange.get(LessonTeacherChange.lesson == moved).reason == "больничный"
    assert made.teacher_id == school["sidorova"].id
    assert notified("ведёт Сидорова Вера") == {"orlova", "sidorova", "ivanov", "mother"}
    mothers = UserNotice.get(UserNotice.user == school["users"]["mother"])
    assert mothers.link == f"/timetable/?on=2026-11-09&child={school['ivanov'].id}"
    assert (
        "5А, 09.11.2026, 1-й урок (Мат)" in mothers.text and "Причина: больничный" in mothers.text
    )
    actions = {a.action for a in AuditEntry.select()}
    assert {"lesson.substitute", "timetable.change.create"} <= actions


def test_a_busy_substitute_is_refused_and_nothing_changes(school):
    with pytest.raises(PlanningError, match="ведёт другой урок: 5Б Физ"):
        change(school, "substitution", teacher=school["titov"], reason="курсы")
    assert lesson(school, MON, 1).teacher_id == school["orlova"].id
    assert TimetableChange.select().count() == 0 and UserNotice.select().count() == 0


def test_a_substitution_needs_a_reason(school):
    with pytest.raises(PlanningError, match="причину"):
        change(school, "substitution", teacher=school["sidorova"])
    assert LessonTeacherChange.select().count() == 0


# --- cancellation -------------------------------------------------------------------------


def test_a_cancelled_lesson_stays_cancelled_through_regeneration(school):
    change(school, "cancelled", reason="методический день")
    assert lesson(school, MON, 1).state == "cancelled"
    report = regenerate(school)
    assert lesson(school, MON, 1).state == "cancelled"
    assert report.created == 0 and report.deleted == 0
    Lesson.delete().where(Lesson.date == MON).execute()
    with write():
        generate_lessons(school["year"], MON, MON)
    assert lesson(school, MON, 1).state == "cancelled"  # never resurrected as planned


def test_a_lesson_with_marks_cannot_be_cancelled(school):
    held = lesson(school, MON, 1)
    work = WorkType.create(name="Ответ", weight=1)
    Mark.create(
        assignment=Assignment.create(lesson=held, work_type=work, weight=1),
        student=school["ivanov"],
        value="5",
    )
    with pytest.raises(PlanningError, match="уже стоят оценки \\(1\\)"):
        change(school, "cancelled")
    assert lesson(school, MON, 1).state == "planned"
    assert TimetableChange.select().count() == 0


def test_no_change_on_a_day_without_that_lesson(school):
    with pytest.raises(PlanningError, match="10.11.2026 этого урока нет"):
        change(school, "cancelled", day=TUE)


def test_the_same_change_twice_is_refused(school):
    change(school, "cancelled")
    with pytest.raises(PlanningError, match="уже есть"):
        change(school, "cancelled")
    with pytest.raises(PlanningError, match="перенесён или отменён"):
        change(school, "moved", new_date=TUE, new_number=3)


# --- moves --------------------------------------------------------------------------------


def test_a_moved_lesson_moves_and_regeneration_neither_restores_nor_deletes_it(school):
    before = lesson(school, MON, 1)
    change(school, "moved", new_date=TUE, new_number=3, room=school["rooms"]["101"])
    after = Lesson.get_by_id(before.id)
    assert (after.date, after.number, after.room_id) == (TUE, 3, school["rooms"]["101"].id)
    assert lesson(school, MON, 1) is None
    report = regenerate(school)
    assert report.deleted == 0 and report.created == 0
    assert lesson(school, MON, 1) is None and lesson(school, TUE, 3).id == before.id
    assert lesson(school, TUE, 3).room_id == school["rooms"]["101"].id
    meetings = timetable_meetings(school["year"], MON, TUE)
    keys = {(m.date, m.number) for m in meetings if m.group_id == school["maths"].id}
    assert (TUE, 3) in keys and (MON, 1) not in keys
    assert notified("перенесён на 10.11.2026, 3-й урок") == {"orlova", "ivanov", "mother"}


def test_a_move_into_a_busy_room_or_class_slot_is_refused(school):
    TimetableEntry.create(
        group=school["physics"].group, weekday=2, number=2, room=school["rooms"]["305"],
        valid_from=school["year"].starts,
    )  # fmt: skip
    with pytest.raises(PlanningError, match="Кабинет в это время занят: 5Б Физ"):
        change(school, "moved", new_date=TUE, new_number=2, room=school["rooms"]["305"])
    with pytest.raises(PlanningError, match="У этой группы в это время уже есть урок"):
        change(school, "moved", day=WED, entry="wed", new_date=MON, new_number=1)
    with pytest.raises(PlanningError, match="выходной"):
        change(school, "moved", new_date=D(2026, 11, 14), new_number=1)  # a Saturday
    assert TimetableChange.select().count() == 0


def test_a_lesson_not_generated_yet_is_made_and_changed(school):
    december = D(2026, 12, 7)
    assert lesson(school, december, 1) is None
    change(school, "room", day=december, room=school["rooms"]["101"])
    assert lesson(school, december, 1).room_id == school["rooms"]["101"].id


# --- room ---------------------------------------------------------------------------------


def test_a_room_change_survives_regeneration(school):
    change(school, "room", room=school["rooms"]["101"])
    regenerate(school)
    assert lesson(school, MON, 1).room_id == school["rooms"]["101"].id
    with pytest.raises(PlanningError, match="занят: 5Б Физ"):
        change(school, "room", day=D(2026, 11, 16), room=school["rooms"]["305"])


# --- undo ---------------------------------------------------------------------------------


def test_undo_puts_each_kind_back(school):
    cancelled = change(school, "cancelled")
    undo_change(cancelled, user=None)
    assert lesson(school, MON, 1).state == "planned"

    moved = change(school, "moved", new_date=TUE, new_number=3)
    undo_change(moved, user=None)
    back = lesson(school, MON, 1)
    assert back is not None and back.room_id == school["rooms"]["204"].id

    sub = change(school, "substitution", teacher=school["sidorova"], reason="курсы")
    undo_change(sub, user=None)
    assert lesson(school, MON, 1).teacher_id == school["orlova"].id
    assert LessonTeacherChange.select().count() == 0

    room = change(school, "room", room=school["rooms"]["101"])
    undo_change(room, user=None)
    assert lesson(school, MON, 1).room_id == school["rooms"]["204"].id
    assert TimetableChange.select().count() == 0
    assert AuditEntry.select().where(AuditEntry.action == "timetable.change.delete").count() == 4
    assert notified("отменено изменение: 5А, 09.11.2026") >= {"orlova", "ivanov"}


def test_undo_is_refused_once_the_lesson_holds_something_new(school):
    moved = change(school, "moved", new_date=TUE, new_number=3)
    there = lesson(school, TUE, 3)
    there.topic = "Дроби"
    there.save()
    with pytest.raises(PlanningError, match="тема"):
        undo_change(moved, user=None)
    assert TimetableChange.get_or_none(TimetableChange.id == moved.id) is not None
    assert lesson(school, TUE, 3).id == there.id


def test_changes_are_listed_for_a_period(school):
    change(school, "cancelled")
    change(school, "room", day=D(2026, 11, 16), room=school["rooms"]["101"])
    rows = changes_between(school["year"], D(2026, 11, 9), D(2026, 11, 15))
    assert [r.text for r in rows] == ["5А, 09.11.2026, 1-й урок (Мат): урок отменён."]
    assert rows[0].lesson_id == lesson(school, MON, 1).id


def test_a_fresh_generation_gives_the_substitute_the_lesson(school):
    change(school, "substitution", teacher=school["sidorova"], reason="курсы")
    Lesson.delete().where(Lesson.date == MON).execute()
    with write():
        generate_lessons(school["year"], MON, MON)
    assert lesson(school, MON, 1).teacher_id == school["sidorova"].id


def test_grids_show_the_weeks_changes_where_they_happen(school):
    from appliance.timetable.grid import class_grid, room_grid, teacher_grid

    change(school, "substitution", teacher=school["sidorova"], reason="курсы")
    change(school, "moved", day=WED, entry="wed", new_date=D(2026, 11, 13), new_number=4,
           room=school["rooms"]["101"])  # fmt: skip
    a = school["maths"].school_class
    grid = class_grid(a, MON)
    (monday,) = grid.at(1, 1)
    assert monday.notes == ["09.11: замена: Сидорова В."]
    (wednesday,) = grid.at(3, 2)
    assert wednesday.notes == ["11.11: перенесён на 13.11, 4-й урок"]
    (friday,) = grid.at(5, 4)
    assert friday.extra and friday.notes == ["13.11: перенесён с 11.11"]
    assert class_grid(a, D(2026, 11, 16)).at(5, 4) == []  # only that week
    (taken,) = teacher_grid(school["year"], school["sidorova"], MON).at(1, 1)
    assert taken.extra and taken.title == "5А Мат"
    (arrived,) = room_grid(school["year"], school["rooms"]["101"], MON).at(5, 4)
    assert arrived.extra
    assert room_grid(school["year"], school["rooms"]["204"], MON).at(5, 4) == []


# --- undo after a move, what undo says, refusals ----------------------------------------------


def test_undoing_a_substitution_after_a_move_gives_the_moved_lesson_back(school):
    change(school, "moved", new_date=TUE, new_number=3)
    sub = change(school, "substitution", teacher=school["sidorova"], reason="курсы")
    assert lesson(school, TUE, 3).teacher_id == school["sidorova"].id
    assert undo_change(sub, user=None) == "Урок снова ведёт Орлова Анна."
    assert lesson(school, TUE, 3).teacher_id == school["orlova"].id
    assert LessonTeacherChange.select().count() == 0
    assert [c.kind for c in TimetableChange.select()] == ["moved"]


def test_undoing_a_room_change_after_a_move_gives_the_moved_lesson_its_room(school):
    room = change(school, "room", room=school["rooms"]["101"])
    change(school, "moved", new_date=TUE, new_number=3)
    assert lesson(school, TUE, 3).room_id == school["rooms"]["101"].id
    assert undo_change(room, user=None) == "Урок снова в кабинете 204."
    assert lesson(school, TUE, 3).room_id == school["rooms"]["204"].id
    regenerate(school)
    assert lesson(school, TUE, 3).room_id == school["rooms"]["204"].id


def test_undo_without_a_lesson_is_refused_and_keeps_the_change(school):
    cancelled = change(school, "cancelled")
    Lesson.delete().where(Lesson.id == lesson(school, MON, 1).id).execute()
    with pytest.raises(PlanningError, match="Урок этого изменения не найден"):
        undo_change(cancelled, user=None)
    assert TimetableChange.get_or_none(TimetableChange.id == cancelled.id) is not None


def test_undo_says_when_the_lesson_was_left_as_it_is(school):
    from appliance import journal

    cancelled = change(school, "cancelled")
    held = lesson(school, MON, 1)
    held.state = "planned"
    held.save()
    assert undo_change(cancelled, user=None) == "Урок уже не был отменён — его не меняли."
    sub = change(school, "substitution", teacher=school["sidorova"], reason="курсы")
    journal.substitute(lesson(school, MON, 1), school["titov"], "больничный", user=None, ip="")
    assert undo_change(sub, user=None) == "Урок с тех пор передан другому учителю — его не меняли."
    assert lesson(school, MON, 1).teacher_id == school["titov"].id


# --- the room of a moved lesson ----------------------------------------------------------------


def test_regeneration_keeps_the_room_of_a_lesson_moved_without_a_new_room(school):
    change(school, "moved", new_date=TUE, new_number=3)
    assert lesson(school, TUE, 3).room_id == school["rooms"]["204"].id
    report = regenerate(school)
    assert lesson(school, TUE, 3).room_id == school["rooms"]["204"].id
    assert report.updated == 0


def test_a_room_change_after_a_move_wins_over_the_moves_room(school):
    change(school, "moved", new_date=TUE, new_number=3, room=school["rooms"]["101"])
    later = change(school, "room", room=school["rooms"]["305"])
    assert lesson(school, TUE, 3).room_id == school["rooms"]["305"].id
    regenerate(school)
    assert lesson(school, TUE, 3).room_id == school["rooms"]["305"].id
    assert undo_change(later, user=None) == "Урок снова в кабинете 101."
    regenerate(school)
    assert lesson(school, TUE, 3).room_id == school["rooms"]["101"].id


# --- moving onto a cancelled lesson of the same group --------------------------------------


def test_a_move_onto_the_groups_own_cancelled_lesson_is_refused(school):
    change(school, "cancelled")  # Monday's 1st lesson of maths
    with pytest.raises(PlanningError, match="стоит отменённый урок"):
        change(school, "moved", day=WED, entry="wed", new_date=MON, new_number=1)
    assert lesson(school, WED, 2) is not None
    assert [c.kind for c in TimetableChange.select()] == ["cancelled"]
    december = D(2026, 12, 7)  # not generated yet: the timetable's cancelled meeting counts
    change(school, "cancelled", day=december)
    Lesson.delete().where(Lesson.date == december).execute()
    with pytest.raises(PlanningError, match="стоит отменённый урок"):
        change(school, "moved", day=D(2026, 12, 9), entry="wed", new_date=december, new_number=1)


def test_a_clash_the_checks_miss_is_a_russian_refusal_not_a_crash(school, monkeypatch):
    import appliance.timetable.changes as changes_module

    change(school, "cancelled")
    monkeypatch.setattr(changes_module, "check_free", lambda *args, **kwargs: None)
    with pytest.raises(PlanningError, match="в это время у группы уже есть урок"):
        change(school, "moved", day=WED, entry="wed", new_date=MON, new_number=1)
    assert [c.kind for c in TimetableChange.select()] == ["cancelled"]
    assert lesson(school, WED, 2) is not None


# --- queries ----------------------------------------------------------------------------------


def test_grids_and_the_list_read_changes_in_a_fixed_number_of_queries(school):
    from appliance.timetable.grid import class_grid, teacher_grid

    from .test_grid import counted_queries

    a = school["maths"].school_class
    change(school, "cancelled", day=WED, entry="wed")

    def count() -> tuple[int, int, int]:
        with counted_queries() as for_class:
            class_grid(a, MON)
        with counted_queries() as for_teacher:
            teacher_grid(school["year"], school["sidorova"], MON)
        with counted_queries() as listed:
            changes_between(school["year"], MON, D(2026, 11, 22))
        return len(for_class), len(for_teacher), len(listed)

    few = count()
    change(school, "substitution", teacher=school["sidorova"], reason="курсы")
    change(school, "moved", new_date=TUE, new_number=3)
    change(school, "room", room=school["rooms"]["101"])
    change(school, "substitution", day=D(2026, 11, 16), teacher=school["sidorova"], reason="к")
    change(school, "cancelled", entry="physics")
    change(school, "room", day=D(2026, 11, 18), entry="wed", room=school["rooms"]["305"])
    rows = changes_between(school["year"], MON, D(2026, 11, 22))
    assert len(rows) == 7 and all(r.lesson_id for r in rows)
    assert count() == few


# --- timetable edits drop the changes of the meetings they remove -------------------------


def test_deleting_an_entry_undoes_its_changes_with_audit(school):
    from appliance.timetable import editing

    thursday = TimetableEntry.create(
        group=school["maths"], weekday=4, number=3, valid_from=D(2026, 11, 16)
    )
    made = make_change(thursday, D(2026, 11, 19), ChangeRequest("cancelled"), user=None)
    assert lesson(school, D(2026, 11, 19), 3).state == "cancelled"
    assert editing.delete_entry(thursday, D(2026, 11, 16), user=None, today=TODAY) == "deleted"
    assert TimetableChange.get_or_none(TimetableChange.id == made.id) is None
    deleted = AuditEntry.get(AuditEntry.action == "timetable.change.delete")
    assert deleted.entity_uuid == made.uuid and '"cancelled"' in deleted.before
    assert lesson(school, D(2026, 11, 19), 3).state == "planned"  # regeneration may drop it now
    regenerate(school)
    assert lesson(school, D(2026, 11, 19), 3) is None


def test_closing_an_entry_drops_only_its_later_changes(school):
    from appliance.timetable import editing

    early = change(school, "cancelled")
    late = change(school, "cancelled", day=D(2026, 11, 23))
    assert editing.delete_entry(school["mon"], D(2026, 11, 16), user=None, today=TODAY) == "closed"
    assert [c.id for c in TimetableChange.select()] == [early.id]
    assert lesson(school, D(2026, 11, 23), 1).state == "planned"
    assert lesson(school, MON, 1).state == "cancelled"
    assert AuditEntry.select().where(AuditEntry.entity_uuid == late.uuid).count() == 2


def test_an_edit_that_would_lose_a_filled_moved_lesson_is_refused(school):
    from appliance.timetable import editing

    change(school, "moved", day=D(2026, 11, 23), new_date=D(2026, 11, 24), new_number=3)
    moved = lesson(school, D(2026, 11, 24), 3)
    moved.topic = "Дроби"
    moved.save()
    with pytest.raises(PlanningError, match="23.11.2026.*тема"):
        editing.delete_entry(school["mon"], D(2026, 11, 16), user=None, today=TODAY)
    assert TimetableEntry.get_by_id(school["mon"].id).valid_to is None
    assert TimetableChange.select().count() == 1


def test_a_split_carries_the_meetings_changes_and_drops_the_removed_ones(school):
    from appliance.timetable import editing

    kept = change(school, "room", day=D(2026, 11, 23), room=school["rooms"]["101"])
    r310 = Room.create(name="310")
    fields = editing.EntryFields(school["maths"], 1, 1, r310, D(2026, 11, 16))
    same = editing.update_entry(school["mon"], fields, user=None, today=TODAY)
    assert TimetableChange.get_by_id(kept.id).entry_id == same.id
    assert AuditEntry.select().where(AuditEntry.action == "timetable.change.update").count() == 1
    moved_day = editing.EntryFields(school["maths"], 2, 1, None, D(2026, 11, 20))
    editing.update_entry(same, moved_day, user=None, today=TODAY)
    assert TimetableChange.get_or_none(TimetableChange.id == kept.id) is None
    assert lesson(school, D(2026, 11, 23), 1).room_id == r310.id  # its entry's room
