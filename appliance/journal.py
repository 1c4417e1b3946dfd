"""The teacher's journal: every change to lessons, marks and attendance, checked and audited.

One function per user action; each runs in one `write()` transaction that stores the
row, its audit entry and its outbox entry (§4.1). Checks raise `JournalError` with a
Russian message and change nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

from . import grading
from .db import snapshot, write
from .groups import same_subject_groups
from .models import (
    Assignment,
    Attendance,
    AuditEntry,
    Lesson,
    LessonTeacherChange,
    Mark,
    Person,
    PlanLesson,
    School,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    Unlock,
    User,
    WorkType,
    now,
)
from .publishing import published_at_for_new_change


class JournalError(ValueError):
    """A journal change refused for a reason the teacher can act on (Russian)."""

    status = 400


class NotYourLesson(JournalError):
    """Outside the teacher's scope: another teacher's group (the web answers 403)."""

    status = 403


# --- who may change what ------------------------------------------------------------


def teaches(person: Person, group: SubjectGroup) -> bool:
    return (
        SubjectGroupTeacher.select()
        .where((SubjectGroupTeacher.group == group) & (SubjectGroupTeacher.teacher == person))
        .exists()
    )


def may_write_lesson(person: Person, lesson: Lesson) -> bool:
    """The group's teachers, and whoever the lesson was given to (a substitute)."""
    return lesson.teacher_id == person.id or teaches(person, lesson.group)


def active_unlock(entity_type: str, entity_uuid: str) -> Unlock | None:
    return (
        Unlock.select()
        .where(
            (Unlock.entity_type == entity_type)
            & (Unlock.entity_uuid == entity_uuid)
            & (Unlock.expires_at > now())
            & Unlock.used_at.is_null()
        )
        .first()
    )


def edit_deadline(lesson: Lesson, school: School) -> dt.date:
    """The last day a lesson can be changed without the deputy's unlock."""
    return lesson.date + dt.timedelta(days=school.past_edit_days)


def check_lesson_writable(
    lesson: Lesson, person: Person, *, today: dt.date | None = None, held: bool = False
) -> None:
    """Raise JournalError unless `person` may change this lesson now.

    `held`: the change (a mark, attendance) only makes sense once the lesson took place.
    """
    today = today or dt.date.today()
    if not may_write_lesson(person, lesson):
        raise NotYourLesson("Это урок другого учителя: изменить его нельзя.")
    if lesson.group.year.read_only:
        raise JournalError("Учебный год закрыт: журнал доступен только для чтения.")
    if lesson.state == "cancelled":
        raise JournalError("Урок отменён.")
    if held and lesson.date > today:
        raise JournalError(
            f"Урок {lesson.date:%d.%m.%Y} ещё не прошёл: оценки и посещаемость ставятся после него."
        )
    school = School.get()
    if edit_deadline(lesson, school) < today and active_unlock("Lesson", lesson.uuid) is None:
        raise JournalError(
            f"Урок {lesson.date:%d.%m.%Y} старше {school.past_edit_days} дней: "
            "изменить его можно после разрешения заместителя директора."
        )


def lesson_students(lesson: Lesson) -> list[Person]:
    """Members of the lesson's group on the lesson's date, alphabetically."""
    return list(
        Person.select()
        .join(SubjectGroupStudent, on=SubjectGroupStudent.student)
        .where(
            (SubjectGroupStudent.group == lesson.group)
            & (SubjectGroupStudent.starts <= lesson.date)
            & (SubjectGroupStudent.ends.is_null() | (SubjectGroupStudent.ends >= lesson.date))
        )
        .order_by(Person.last_name, Person.first_name, Person.middle_name)
    )


def _student_of(lesson: Lesson, student_id: int) -> Person:
    """The student if a member of the lesson's group on its date (one query, not the roll)."""
    student = (
        Person.select()
        .join(SubjectGroupStudent, on=SubjectGroupStudent.student)
        .where(
            (Person.id == student_id)
            & (SubjectGroupStudent.group == lesson.group_id)
            & (SubjectGroupStudent.starts <= lesson.date)
            & (SubjectGroupStudent.ends.is_null() | (SubjectGroupStudent.ends >= lesson.date))
        )
        .first()
    )
    if student is None:
        raise JournalError("Этого ученика нет в группе на дату урока.")
    return student


def lesson_scale(lesson: Lesson) -> str:
    group = lesson.group
    return grading.scale_of(group.subject.scale, group.school_class.graded)


def cell_uuid(row_uuid: str, student: Person) -> str:
    """One stable id per journal cell (assignment × student, lesson × student).

    A mark cleared and typed again is the same cell: its history stays in one place,
    and АСУ РСО sees one natural key however often the cell changes.
    """
    return str(uuid.uuid5(uuid.UUID(row_uuid), student.uuid))


def marks_in_period(
    group: SubjectGroup, starts: dt.date, ends: dt.date, student_id: int | None = None
) -> dict[int, list[tuple[str, int]]]:
    """Each student's (value, weight) marks in the group's subject over a period.

    The one definition behind the grid's and the period sheet's averages (lessons in the
    dates, not cancelled); the class overview applies the same criteria to all its
    groups in one query (`class_overview.class_overview`). Lessons of every subgroup of
    the class and subject count: a student moved between subgroups keeps their marks
    where they were given, and they still count in the new subgroup (`groups`).
    """
    query = (
        Mark.select(Mark.student, Mark.value, Assignment.weight)
        .join(Assignment)
        .join(Lesson)
        .where(
            Lesson.group.in_(same_subject_groups(group))
            & Lesson.date.between(starts, ends)
            & (Lesson.state != "cancelled")
        )
    )
    if student_id is not None:
        query = query.where(Mark.student == student_id)
    found: dict[int, list[tuple[str, int]]] = {}
    for student, value, weight in query.tuples():
        found.setdefault(student, []).append((value, weight))
    return found


# --- lesson content -----------------------------------------------------------------


def _save_lesson(lesson: Lesson, action: str, *, user: User, ip: str, **changes) -> Lesson:
    with write(user=user, ip=ip) as rec:
        before = snapshot(lesson)
        for key, value in changes.items():
            setattr(lesson, key, value)
        lesson.updated_at = now()
        lesson.published_at = published_at_for_new_change()
        # Only the fields this change is about: the object may be older than the row
        # (a pull may have taken a topic from АСУ РСО meanwhile).
        touched = [getattr(Lesson, key) for key in changes]
        lesson.save(only=[*touched, Lesson.updated_at, Lesson.published_at])
        rec.record(action, lesson, before=before, sync=True)
    return lesson


def set_topic(
    lesson: Lesson, topic: str, *, user: User, ip: str, plan_lesson_id: int | None = None
) -> Lesson:
    """The lesson's topic, free text or from the group's КТП (§7.4)."""
    check_lesson_writable(lesson, user.person)
    topic = " ".join(topic.split())
    plan_lesson = None
    if plan_lesson_id is not None:
        plan_lesson = PlanLesson.get_or_none(PlanLesson.id == plan_lesson_id)
        if plan_lesson is None or plan_lesson.plan.group_id != lesson.group_id:
            raise JournalError("Эта тема не из КТП этой группы.")
        topic = topic or plan_lesson.topic
    if len(topic) > 500:
        raise JournalError("Тема слишком длинная (не больше 500 символов).")
    return _save_lesson(
        lesson, "lesson.topic", user=user, ip=ip, topic=topic, plan_lesson=plan_lesson
    )


def set_homework(lesson: Lesson, text: str, *, user: User, ip: str) -> Lesson:
    check_lesson_writable(lesson, user.person)
    text = text.strip()
    if len(text) > 2000:
        raise JournalError("Домашнее задание слишком длинное (не больше 2000 символов).")
    return _save_lesson(lesson, "lesson.homework", user=user, ip=ip, homework=text)


# --- assignments, marks, attendance ----------------------------------------------------


def add_assignment(
    lesson: Lesson,
    work_type_id: int,
    *,
    user: User,
    ip: str,
    weight: int | None = None,
    title: str = "",
) -> Assignment:
    """A graded task of the lesson: its work type and weight (the deputy sets defaults)."""
    check_lesson_writable(lesson, user.person)
    if lesson_scale(lesson) == "none":
        raise JournalError("В этом классе оценки не ставятся (безотметочное обучение).")
    work_type = WorkType.get_or_none(WorkType.id == work_type_id)
    if work_type is None:
        raise JournalError("Такого вида работы нет.")
    weight = work_type.weight if weight is None else weight
    if not 1 <= weight <= 10:
        raise JournalError("Вес работы — от 1 до 10.")
    with write(user=user, ip=ip) as rec:
        assignment = Assignment.create(
            lesson=lesson,
            work_type=work_type,
            weight=weight,
            title=title.strip()[:200],
            published_at=published_at_for_new_change(),
        )
        rec.record("assignment.create", assignment, sync=True)
    return assignment


def default_assignment(lesson: Lesson, *, user: User, ip: str) -> Assignment:
    """The lesson's first assignment, made with the default work type if there is none."""
    with write(user=user, ip=ip):  # looked up and made under one lock: never two
        first = (
            Assignment.select().where(Assignment.lesson == lesson).order_by(Assignment.id).first()
        )
        if first is not None:
            return first
        work_type = (
            WorkType.select().order_by(WorkType.is_default.desc(), WorkType.sort_order).first()
        )
        if work_type is None:
            raise JournalError("Заместитель директора ещё не задал виды работ.")
        return add_assignment(lesson, work_type.id, user=user, ip=ip)


def set_mark(
    assignment: Assignment, student_id: int, raw: str, *, user: User, ip: str
) -> Mark | None:
    """Put, change or (with an empty value) clear one mark; returns the mark or None."""
    lesson = assignment.lesson
    check_lesson_writable(lesson, user.person, held=True)
    student = _student_of(lesson, student_id)
    value = grading.parse_mark(raw, lesson_scale(lesson)) if raw.strip() else ""
    with write(user=user, ip=ip) as rec:
        # Read under the write lock: two saves of one cell (a retry, a double key press)
        # then update one row in turn instead of both inserting it.
        existing = Mark.get_or_none((Mark.assignment == assignment) & (Mark.student == student))
        fresh = Mark(
            uuid=cell_uuid(assignment.uuid, student),
            assignment=assignment,
            student=student,
            created_by=user,
        )
        return _put_cell(rec, "mark", existing, fresh, "value", value)


def set_attendance(
    lesson: Lesson, student_id: int, raw: str, *, user: User, ip: str
) -> Attendance | None:
    """Mark a student absent / late / excused on a lesson, or (empty) present."""
    check_lesson_writable(lesson, user.person, held=True)
    student = _student_of(lesson, student_id)
    code = grading.parse_attendance(raw) if raw.strip() else ""
    with write(user=user, ip=ip) as rec:
        existing = Attendance.get_or_none(
            (Attendance.lesson == lesson) & (Attendance.student == student)
        )
        if (code or existing is not None) and lesson.state != "held":
            # The roll was called: the lesson took place (audited and sent like any change).
            _save_lesson(lesson, "lesson.held", user=user, ip=ip, state="held")
        fresh = Attendance(
            uuid=cell_uuid(lesson.uuid, student),
            lesson=lesson,
            student=student,
            created_by=user,
        )
        return _put_cell(rec, "attendance", existing, fresh, "code", code)


def _put_cell(rec, kind: str, existing, fresh, field: str, value: str):
    """Set, change or (empty value) clear one journal cell; audited and queued.

    Runs inside the caller's write transaction; `fresh` is the row to insert when the
    cell is empty. Returns the stored row, or None for a cleared cell.
    """
    if not value:
        if existing is not None:
            before = snapshot(existing)
            existing.delete_instance()
            rec.record(f"{kind}.delete", existing, before=before, sync=True, op="delete")
        return None
    if existing is not None and getattr(existing, field) == value:
        return existing
    before = snapshot(existing)
    row = existing or fresh
    setattr(row, field, value)
    row.updated_at = now()
    row.published_at = published_at_for_new_change()
    row.save()
    rec.record(f"{kind}.set", row, before=before, sync=True)
    return row


def mark_attendance_taken(lesson: Lesson, *, user: User, ip: str) -> Lesson:
    """«Все присутствуют»: the roll was called, nobody absent."""
    check_lesson_writable(lesson, user.person, held=True)
    return _save_lesson(lesson, "lesson.held", user=user, ip=ip, state="held")


# --- substitutions and unlocks (the deputy) ------------------------------------------


def substitute(lesson: Lesson, teacher: Person, reason: str, *, user: User, ip: str) -> Lesson:
    """Give one lesson to another teacher: it appears in their day; the change is audited."""
    if lesson.group.year.read_only:
        raise JournalError("Учебный год закрыт: журнал доступен только для чтения.")
    if not teacher.is_staff:
        raise JournalError("Заменять урок может только сотрудник школы.")
    if not reason.strip():
        raise JournalError("Укажите причину замены.")
    if lesson.teacher_id == teacher.id:
        raise JournalError("Урок уже ведёт этот учитель.")
    with write(user=user, ip=ip) as rec:
        before = snapshot(lesson)
        LessonTeacherChange.create(
            lesson=lesson,
            old_teacher=lesson.teacher,
            new_teacher=teacher,
            changed_at=now(),
            reason=reason.strip(),
        )
        lesson.teacher = teacher
        lesson.updated_at = now()
        lesson.published_at = published_at_for_new_change()
        lesson.save()
        rec.record("lesson.substitute", lesson, before=before, sync=True)
    return lesson


def grant_unlock(
    entity_type: str, entity_uuid: str, reason: str, *, user: User, ip: str, hours: int = 24
) -> Unlock:
    """The deputy lets one locked lesson or period mark be changed, with a reason."""
    if len(reason.strip()) < 5:
        raise JournalError("Укажите причину разрешения (хотя бы несколько слов).")
    with write(user=user, ip=ip) as rec:
        unlock = Unlock.create(
            entity_type=entity_type,
            entity_uuid=entity_uuid,
            granted_by=user,
            reason=reason.strip(),
            granted_at=now(),
            expires_at=now() + dt.timedelta(hours=hours),
        )
        rec.record(
            "unlock.grant",
            unlock,
            after={"entity_type": entity_type, "entity_uuid": entity_uuid, "reason": reason},
        )
    return unlock


@dataclass
class HistoryEntry:
    at: dt.datetime
    username: str
    ip: str
    action: str
    before: dict | None
    after: dict | None


def history(entity_uuid: str, limit: int = 100) -> list[HistoryEntry]:
    """Every audited change of one row or cell, newest first (who, when, before → after)."""
    entries = (
        AuditEntry.select()
        .where(AuditEntry.entity_uuid == entity_uuid)
        .order_by(AuditEntry.seq.desc())
        .limit(limit)
    )
    return [
        HistoryEntry(
            e.at,
            e.username or "система",
            e.ip,
            e.action,
            json.loads(e.before) if e.before else None,
            json.loads(e.after) if e.after else None,
        )
        for e in entries
    ]
