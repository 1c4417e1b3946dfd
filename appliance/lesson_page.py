"""The lesson page: who may open a lesson, and everything its one screen shows.

Queries only: the class list with attendance and marks, the group's КТП with the
suggested next topic, teachers for a substitution. The page's writes live in
`appliance.lesson_form`; marks, attendance, topic and homework in `appliance.journal`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import access, journal
from .models import (
    Assignment,
    Attendance,
    Lesson,
    LessonTeacherChange,
    Mark,
    Person,
    Plan,
    PlanLesson,
    RoleGrant,
    User,
    WorkType,
)

READ_ANY_LESSON = frozenset({"director", "deputy", "inspector"})
FIELD_NAME = re.compile(r"^(?:att-([0-9]{1,12})|mark-([0-9]{1,12})-([0-9]{1,12}))$")


# --- scope ----------------------------------------------------------------------------


def may_read_lesson(person: Person, active: access.ActiveRole, lesson: Lesson) -> bool:
    """A teacher: own groups and lessons given to them; a class teacher: their class too."""
    if active.role in READ_ANY_LESSON:
        return True
    if active.role == "teacher":
        return journal.may_write_lesson(person, lesson)
    if active.role == "class_teacher":
        in_class = lesson.group.school_class_id == active.class_id
        return in_class or journal.may_write_lesson(person, lesson)
    return False


def readable_lesson(lesson_id: int, person: Person, active: access.ActiveRole) -> Lesson | None:
    lesson = Lesson.get_or_none(Lesson.id == lesson_id)
    if lesson is None or not may_read_lesson(person, active, lesson):
        return None
    return lesson


def write_refusal(lesson: Lesson, person: Person, today: dt.date | None = None) -> str | None:
    """Why `person` cannot change this lesson now (Russian), or None if they can."""
    try:
        journal.check_lesson_writable(lesson, person, today=today)
    except journal.JournalError as exc:
        return str(exc)
    return None


# --- the КТП --------------------------------------------------------------------------


def plan_lessons(lesson: Lesson) -> list[PlanLesson]:
    """The group's КТП in order: the newest approved version, else the newest of any state."""
    plans = list(Plan.select().where(Plan.group == lesson.group_id))
    if not plans:
        return []
    plan = max(plans, key=lambda p: (p.state == "approved", p.version))
    return list(PlanLesson.select().where(PlanLesson.plan == plan).order_by(PlanLesson.position))


def _earlier_lessons(lesson: Lesson):
    return Lesson.select().where(
        (Lesson.group == lesson.group_id)
        & (Lesson.id != lesson.id)
        & (Lesson.state != "cancelled")
        & Lesson.plan_lesson.is_null(False)
        & (
            (Lesson.date < lesson.date)
            | ((Lesson.date == lesson.date) & (Lesson.number < lesson.number))
        )
    )


def next_plan_lesson(lesson: Lesson, items: list[PlanLesson] | None = None) -> PlanLesson | None:
    """The КТП topic that continues where the group's previous lessons left off.

    A plan lesson of several hours stays next until that many lessons took it; a
    skipped topic is not suggested again (the teacher chose to move on).
    """
    items = plan_lessons(lesson) if items is None else items
    if not items:
        return None
    last = _earlier_lessons(lesson).order_by(Lesson.date.desc(), Lesson.number.desc()).first()
    if last is None:
        return items[0]
    positions = {item.id: i for i, item in enumerate(items)}
    if last.plan_lesson_id not in positions:  # linked to an older version of the plan
        return _first_untaken(lesson, items)
    index = positions[last.plan_lesson_id]
    taken = _earlier_lessons(lesson).where(Lesson.plan_lesson == last.plan_lesson_id).count()
    if taken < items[index].hours:
        return items[index]
    return items[index + 1] if index + 1 < len(items) else None


def _first_untaken(lesson: Lesson, items: list[PlanLesson]) -> PlanLesson | None:
    taken = {row.plan_lesson_id for row in _earlier_lessons(lesson)}
    return next((item for item in items if item.id not in taken), None)


def words(text: str) -> str:
    """Text compared as a teacher reads it: case and spacing aside."""
    return " ".join(text.split()).casefold()


def match_plan_lesson(lesson: Lesson, topic: str) -> int | None:
    """The КТП row a typed topic names word for word (picked from the list), if any."""
    matches = [item for item in plan_lessons(lesson) if words(item.topic) == words(topic)]
    if not matches:
        return None
    if lesson.plan_lesson_id in {item.id for item in matches}:
        return lesson.plan_lesson_id
    suggestion = next_plan_lesson(lesson)
    if suggestion is not None and suggestion in matches:
        return suggestion.id
    return matches[0].id


# --- what the page shows -----------------------------------------------------------------


def attendance_name(student_id: int) -> str:
    return f"att-{student_id}"


def mark_name(assignment_id: int, student_id: int) -> str:
    return f"mark-{assignment_id}-{student_id}"


@dataclass
class Field:
    """One input: what is stored, what was typed but not stored, and why it was refused."""

    name: str
    saved: str
    typed: str | None = None
    error: str = ""

    @property
    def value(self) -> str:
        return self.saved if self.typed is None else self.typed

    @property
    def state(self) -> str:
        if self.error:
            return "error"
        if self.typed is None or self.typed.strip() == self.saved.strip():
            return "saved"
        return "unsaved"


@dataclass
class Column:
    """A mark column: one assignment; id 0 is the first one, made with the first mark."""

    id: int
    title: str
    short: str
    weight: int | None = None


@dataclass
class StudentRow:
    student: Person
    attendance: Field
    marks: list[Field]


@dataclass
class LessonView:
    lesson: Lesson
    held: bool  # attendance and marks only once the lesson took place
    scale: str
    topic: Field
    homework: Field
    columns: list[Column]
    rows: list[StudentRow]
    plan: list[PlanLesson]
    suggestion: PlanLesson | None
    work_types: list[WorkType]
    substitutions: list[LessonTeacherChange] = field(default_factory=list)

    @property
    def homework_hint(self) -> str:
        """The КТП's homework for the lesson's topic (or the suggested one)."""
        item = self.lesson.plan_lesson if self.lesson.plan_lesson_id else self.suggestion
        return item.homework_hint if item else ""

    def find(self, name: str) -> tuple[str, Field, StudentRow | None, int]:
        """A field by its form name: (kind, field, its student row, its column index)."""
        if name in ("topic", "plan_lesson"):
            return "topic", self.topic, None, 0
        if name == "homework":
            return "homework", self.homework, None, 0
        match = FIELD_NAME.match(name)
        student_id = int(match.group(1) or match.group(3)) if match else 0
        row = next((r for r in self.rows if r.student.id == student_id), None)
        if match is None or row is None:
            raise KeyError(name)
        if match.group(1):
            return "attendance", row.attendance, row, 0
        wanted = int(match.group(2)) or (self.columns[0].id if self.columns else -1)
        for index, column in enumerate(self.columns):
            if column.id in (wanted, 0):
                return "mark", row.marks[index], row, index
        raise KeyError(name)

    def keep_typed(self, form: Mapping[str, str], errors: Mapping[str, str]) -> None:
        """Show what was typed (nothing of a refused form was stored) and why it was refused."""
        for name, value in form.items():
            try:
                _, found, _, _ = self.find(name)
            except KeyError:
                continue
            if name != "plan_lesson":
                found.typed = value
        for name, message in errors.items():
            try:
                self.find(name)[1].error = message
            except KeyError:
                continue


def lesson_view(lesson: Lesson, today: dt.date | None = None) -> LessonView:
    """Everything the lesson page shows, in a handful of queries."""
    today = today or dt.date.today()
    students = journal.lesson_students(lesson)
    codes = {a.student_id: a.code for a in Attendance.select().where(Attendance.lesson == lesson)}
    assignments = list(
        Assignment.select(Assignment, WorkType)
        .join(WorkType)
        .where(Assignment.lesson == lesson)
        .order_by(Assignment.id)
    )
    marks = {
        (m.assignment_id, m.student_id): m.value
        for m in Mark.select().where(Mark.assignment.in_([a.id for a in assignments]))
    }
    scale = journal.lesson_scale(lesson)
    columns = [
        Column(a.id, a.work_type.name, a.work_type.short_name or a.work_type.name, a.weight)
        for a in assignments
    ]
    if scale == "none":
        columns = []
    elif not columns:
        columns = [Column(0, "Оценка", "Оценка")]
    rows = [
        StudentRow(
            s,
            Field(attendance_name(s.id), codes.get(s.id, "")),
            [Field(mark_name(c.id, s.id), marks.get((c.id, s.id), "")) for c in columns],
        )
        for s in students
    ]
    plan = plan_lessons(lesson)
    return LessonView(
        lesson=lesson,
        held=lesson.date <= today,
        scale=scale,
        topic=Field("topic", lesson.topic),
        homework=Field("homework", lesson.homework),
        columns=columns,
        rows=rows,
        plan=plan,
        suggestion=None if lesson.plan_lesson_id else next_plan_lesson(lesson, plan),
        work_types=list(WorkType.select().order_by(WorkType.sort_order, WorkType.name)),
        substitutions=list(
            LessonTeacherChange.select()
            .where(LessonTeacherChange.lesson == lesson)
            .order_by(LessonTeacherChange.changed_at)
        ),
    )


def substitute_candidates(lesson: Lesson) -> list[Person]:
    """Staff with the teacher role, except the one who has the lesson now."""
    query = (
        Person.select()
        .join(User, on=(User.person == Person.id))
        .join(RoleGrant, on=(RoleGrant.user == User.id))
        .where(Person.is_staff & (RoleGrant.role == "teacher") & User.is_active)
        .distinct()
        .order_by(Person.last_name, Person.first_name, Person.middle_name)
    )
    return [person for person in query if person.id != lesson.teacher_id]
