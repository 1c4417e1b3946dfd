"""How far the year's plan has come: the deputy's checklist from an empty year to lessons.

Each step says what exists, what is missing and where to fix it, in the order the work
is done before 1 September (§7.4, §7.5): calendar → curriculum → classes → groups →
timetable → lessons → КТП. One query or two per step; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from peewee import fn

from .groups import without_teacher
from .models import (
    AcademicYear,
    Bell,
    BellSchedule,
    CurriculumLine,
    Lesson,
    NonSchoolDay,
    Plan,
    SchoolClass,
    SubjectGroup,
    Term,
    TimetableEntry,
)
from .plan_progress import current_plans

ALL_GRADES = range(1, 12)


@dataclass
class Step:
    key: str
    title: str
    state: str  # ok / warn / todo
    facts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _grades_without_terms(year: AcademicYear, grades: set[int]) -> list[int]:
    covered: set[int] = set()
    for term in Term.select(Term.grade_from, Term.grade_to).where(Term.year == year):
        covered.update(range(term.grade_from, term.grade_to + 1))
    return sorted(grades - covered)


def _state(facts_exist: bool, problems: list[str]) -> str:
    if not facts_exist:
        return "todo"
    return "warn" if problems else "ok"


def calendar_step(year: AcademicYear, grades: set[int]) -> Step:
    terms = Term.select().where(Term.year == year).count()
    days = NonSchoolDay.select().where(NonSchoolDay.year == year).count()
    bells = Bell.select().join(BellSchedule).where(BellSchedule.is_default).count()
    problems = []
    missing = _grades_without_terms(year, grades or set(ALL_GRADES))
    if terms and missing:
        problems.append("Нет учебных периодов для классов: " + ", ".join(map(str, missing)) + ".")
    no_deadline = Term.select().where((Term.year == year) & Term.mark_deadline.is_null()).count()
    if no_deadline:
        problems.append(f"Не задан срок выставления отметок у периодов: {no_deadline}.")
    if not bells:
        problems.append("Не задано расписание звонков.")
    if terms and not days:
        problems.append("Не внесены праздники и каникулы.")
    facts = [f"Учебных периодов: {terms}", f"Праздничных и каникулярных дней: {days}"]
    return Step(
        "calendar", "Календарь, периоды и звонки", _state(terms > 0, problems), facts, problems
    )


def curriculum_step(year: AcademicYear, grades: set[int]) -> Step:
    rows = list(
        CurriculumLine.select(CurriculumLine.grade, fn.COUNT(CurriculumLine.id))
        .where(CurriculumLine.year == year)
        .group_by(CurriculumLine.grade)
        .tuples()
    )
    planned = {grade for grade, _ in rows}
    problems = []
    lacking = sorted(grades - planned)
    if rows and lacking:
        problems.append("Нет учебного плана для параллелей: " + ", ".join(map(str, lacking)) + ".")
    facts = [f"Строк учебного плана: {sum(n for _, n in rows)}, параллелей: {len(planned)}"]
    return Step("curriculum", "Учебный план", _state(bool(rows), problems), facts, problems)


def classes_step(year: AcademicYear) -> Step:
    count = SchoolClass.select().where((SchoolClass.year == year) & ~SchoolClass.closed).count()
    no_teacher = (
        SchoolClass.select()
        .where(
            (SchoolClass.year == year) & ~SchoolClass.closed & SchoolClass.class_teacher.is_null()
        )
        .count()
    )
    problems = [f"Классов без классного руководителя: {no_teacher}."] if no_teacher else []
    return Step(
        "classes", "Классы и предметы", _state(count > 0, problems), [f"Классов: {count}"], problems
    )


def groups_step(year: AcademicYear) -> Step:
    groups = SubjectGroup.select().where(SubjectGroup.year == year)
    total = groups.count()
    drafts = groups.where(SubjectGroup.is_draft).count()
    no_teacher = without_teacher(year)
    empty_classes = (
        SchoolClass.select()
        .where(
            (SchoolClass.year == year)
            & ~SchoolClass.closed
            & SchoolClass.id.not_in(
                SubjectGroup.select(SubjectGroup.school_class).where(SubjectGroup.year == year)
            )
        )
        .count()
    )
    problems = []
    if drafts:
        problems.append(f"Черновиков групп (не подтверждены, уроков у них не будет): {drafts}.")
    if no_teacher:
        problems.append(f"Групп без учителя: {no_teacher}.")
    if total and empty_classes:
        problems.append(f"Классов без групп: {empty_classes}.")
    return Step(
        "groups",
        "Группы: предмет, учитель, ученики",
        _state(total > 0, problems),
        [f"Групп: {total}"],
        problems,
    )


def timetable_step(year: AcademicYear) -> Step:
    """Entries, conflicts, weekly hours against the curriculum and the deputy's «checked»."""
    from .timetable.checks import check_status, weekly_hours
    from .timetable.conflicts import year_conflicts
    from .timetable.entries import default_day

    entries = TimetableEntry.select().join(SubjectGroup).where(SubjectGroup.year == year).count()
    problems = []
    if entries:
        conflicts = len(year_conflicts(year))
        if conflicts:
            problems.append(f"Накладок в расписании: {conflicts}.")
        hours = len(weekly_hours(year, default_day(year)))
        if hours:
            problems.append(f"Групп, у которых часы в неделю расходятся с учебным планом: {hours}.")
        status = check_status(year)
        if not status.checked:
            problems.append(
                "Расписание изменено после проверки."
                if status.changed_since
                else "Расписание ещё не отмечено как проверенное."
            )
    facts = [f"Уроков в неделю по расписанию: {entries}"]
    return Step("timetable", "Расписание", _state(entries > 0, problems), facts, problems)


def lessons_step(year: AcademicYear) -> Step:
    lessons = Lesson.select().join(SubjectGroup).where(SubjectGroup.year == year).count()
    facts = [f"Уроков в журнале на год: {lessons}"]
    return Step("lessons", "Уроки в журнале по расписанию", "ok" if lessons else "todo", facts)


def ktp_step(year: AcademicYear) -> Step:
    groups = [
        g.id
        for g in SubjectGroup.select(SubjectGroup.id).where(
            (SubjectGroup.year == year) & ~SubjectGroup.is_draft
        )
    ]
    in_force = current_plans(groups) if groups else {}
    approved = sum(1 for p in in_force.values() if p.state == "approved")
    submitted = (
        Plan.select().where(Plan.group.in_(groups) & (Plan.state == "submitted")).count()
        if groups
        else 0
    )
    missing = len(groups) - len(in_force)
    problems = []
    if missing:
        problems.append(f"Групп без КТП: {missing}.")
    if submitted:
        problems.append(f"КТП ждут проверки: {submitted}.")
    if len(in_force) - approved:
        problems.append(f"КТП не утверждены: {len(in_force) - approved}.")
    facts = [f"КТП утверждено: {approved} из {len(groups)}"]
    return Step("ktp", "КТП", _state(approved > 0, problems), facts, problems)


def year_status(year: AcademicYear) -> list[Step]:
    grades = {
        c.grade
        for c in SchoolClass.select(SchoolClass.grade).where(
            (SchoolClass.year == year) & ~SchoolClass.closed
        )
    }
    return [
        calendar_step(year, grades),
        curriculum_step(year, grades),
        classes_step(year),
        groups_step(year),
        timetable_step(year),
        lessons_step(year),
        ktp_step(year),
    ]
