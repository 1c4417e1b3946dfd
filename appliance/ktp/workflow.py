"""КТП versions and their review (§7.4, §7.5): draft → submitted → approved or returned.

A version is never overwritten once it left the teacher's hands: changing a submitted,
approved or returned version makes a new draft version (a copy of its rows), and the
approved one stays in force — lessons follow it — until the new one is approved. Only a
draft is edited in place. Each step is one write transaction with its audit entries,
and the notices it sends (deputies on submit, the group's teachers on a decision).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from ..db import Recorder, snapshot, write
from ..models import Plan, PlanLesson, RoleGrant, SubjectGroup, SubjectGroupTeacher, User, now
from ..notices import notify
from ..numbers import is_number
from ..years import PlanningError, ensure_editable
from .checks import check_rows, context_for, errors
from .columns import parse_plan_date
from .importer import KtpPreview, read_plan_file
from .queries import copy_sources, latest_plan
from .rows import MAX_HOMEWORK, MAX_HOURS, MAX_SECTION, MAX_TOPIC, PlanRow, lessons_of, rows_of

SOURCE_LENGTH = 255


# --- new versions ---------------------------------------------------------------------------


def _next_version(group: SubjectGroup) -> int:
    latest = latest_plan(group)
    return latest.version + 1 if latest else 1


def _new_version(
    group: SubjectGroup, rows: Iterable[PlanRow], source: str, rec: Recorder, action: str
) -> Plan:
    """A new draft version holding ``rows`` (call inside the write transaction)."""
    plan = Plan.create(
        group=group, version=_next_version(group), state="draft", source=source[:SOURCE_LENGTH]
    )
    rec.record(action, plan, op="create")
    for position, row in enumerate(rows, 1):
        lesson = PlanLesson.create(plan=plan, position=position, **row.fields())
        rec.record("ktp.lesson.create", lesson, op="create")
    return plan


def preview_import(group: SubjectGroup, filename: str, data: bytes) -> KtpPreview:
    """Read a file for this group and run the plan checks on what it would create."""
    preview = read_plan_file(filename, data, group.year.starts)
    if preview.ok:
        preview.findings = check_rows(preview.rows, context_for(group))
    return preview


def import_plan(group: SubjectGroup, preview: KtpPreview, *, user: User, ip: str) -> Plan:
    """Store a checked import as a new draft version: every row or none."""
    ensure_editable(group.year)
    if not preview.ok:
        raise PlanningError("В файле есть ошибки — ничего не загружено. Исправьте файл.")
    with write(user=user, ip=ip) as rec:
        return _new_version(group, preview.rows, f"импорт: {preview.filename}", rec, "ktp.import")


def copy_plan(group: SubjectGroup, source_id: int, *, user: User, ip: str) -> Plan:
    """A new draft version copied from last year's or a parallel group's plan.

    Last year's dates mean nothing this year, so they are left out; a parallel group's
    dates are kept for the teacher to adjust.
    """
    ensure_editable(group.year)
    sources = copy_sources(group, user.person)
    source = next((s for s in sources if s.plan.id == source_id), None)
    if source is None:
        raise PlanningError("Выберите КТП из списка: той, что указана, нет среди подходящих.")
    rows = rows_of(source.plan)
    if source.kind == "last_year":
        for row in rows:
            row.planned_date = None
    who = f" ({source.teachers})" if source.teachers else ""
    label = (
        f"копия: {source.group.name}{who}, {source.group.year.name}, версия {source.plan.version}"
    )
    with write(user=user, ip=ip) as rec:
        return _new_version(group, rows, label, rec, "ktp.copy")


# --- editing rows --------------------------------------------------------------------------


def row_from_form(form: Mapping[str, str], group: SubjectGroup) -> PlanRow:
    """A row typed on the edit page, checked; the message says what to fix."""
    topic = " ".join(form.get("topic", "").split())
    if not topic:
        raise PlanningError("Укажите тему урока.")
    if len(topic) > MAX_TOPIC:
        raise PlanningError(f"Тема урока длиннее {MAX_TOPIC} знаков.")
    section = " ".join(form.get("section", "").split())
    if len(section) > MAX_SECTION:
        raise PlanningError(f"Название раздела длиннее {MAX_SECTION} знаков.")
    hours_raw = form.get("hours", "").strip() or "1"
    if not is_number(hours_raw, 2) or not 1 <= int(hours_raw) <= MAX_HOURS:
        raise PlanningError(f"Количество часов — целое число от 1 до {MAX_HOURS}.")
    homework = form.get("homework_hint", "").strip()
    if len(homework) > MAX_HOMEWORK:
        raise PlanningError(f"Домашнее задание длиннее {MAX_HOMEWORK} знаков.")
    return PlanRow(
        topic=topic,
        hours=int(hours_raw),
        section=section,
        homework_hint=homework,
        planned_date=_date_from_form(form.get("planned_date", ""), group),
    )


def _date_from_form(raw: str, group: SubjectGroup) -> dt.date | None:
    text = raw.strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)  # <input type="date">
    except ValueError:
        pass
    try:
        return parse_plan_date(text, group.year.starts)
    except ValueError:
        raise PlanningError(f"Дата «{text}» не понятна: нужно ДД.ММ.ГГГГ.") from None


def _working_draft(group: SubjectGroup, rec: Recorder) -> tuple[Plan, dict[int, PlanLesson]]:
    """The version to edit: the latest if it is a draft, else a new draft copied from it.

    Returns the draft and its rows by the id of the row they came from.
    """
    latest = latest_plan(group)
    if latest is None:
        return _new_version(group, [], "создана вручную", rec, "ktp.create"), {}
    if latest.state == "draft":
        return latest, {x.id: x for x in lessons_of(latest)}
    old = lessons_of(latest)
    source = f"изменение версии {latest.version}"
    draft = _new_version(group, rows_of(latest), source, rec, "ktp.version")
    return draft, dict(zip([x.id for x in old], lessons_of(draft), strict=True))


def _current_row(group: SubjectGroup, lesson_id: int) -> PlanLesson:
    """A row of the latest version, as the page showed it; else the page is out of date."""
    latest = latest_plan(group)
    lesson = PlanLesson.get_or_none(PlanLesson.id == lesson_id)
    if lesson is None or latest is None or lesson.plan_id != latest.id:
        raise PlanningError("КТП уже изменилась: обновите страницу и повторите.")
    return lesson


def save_row(
    group: SubjectGroup, lesson_id: int, row: PlanRow, *, user: User, ip: str
) -> Plan | None:
    """Change one row; None when nothing changed (no new version for nothing)."""
    ensure_editable(group.year)
    with write(user=user, ip=ip) as rec:
        current = _current_row(group, lesson_id)
        if all(getattr(current, k) == v for k, v in row.fields().items()):
            return None
        draft, rows = _working_draft(group, rec)
        lesson = rows[current.id]
        before = snapshot(lesson)
        for key, value in row.fields().items():
            setattr(lesson, key, value)
        lesson.updated_at = now()
        lesson.save()
        rec.record("ktp.lesson.update", lesson, before=before, op="update")
        return draft


def add_row(
    group: SubjectGroup, after_id: int | None, row: PlanRow, *, user: User, ip: str
) -> Plan:
    """Insert a row after the given one (at the end when None)."""
    ensure_editable(group.year)
    with write(user=user, ip=ip) as rec:
        current = _current_row(group, after_id) if after_id is not None else None
        draft, rows = _working_draft(group, rec)
        if current is not None:
            position = rows[current.id].position + 1
        else:
            position = (max((x.position for x in rows.values()), default=0)) + 1
        _shift(draft, position, +1)
        lesson = PlanLesson.create(plan=draft, position=position, **row.fields())
        rec.record("ktp.lesson.create", lesson, op="create")
        return draft


def delete_row(group: SubjectGroup, lesson_id: int, *, user: User, ip: str) -> Plan:
    ensure_editable(group.year)
    with write(user=user, ip=ip) as rec:
        current = _current_row(group, lesson_id)
        draft, rows = _working_draft(group, rec)
        lesson = rows[current.id]
        rec.record("ktp.lesson.delete", lesson, before=snapshot(lesson), op="delete")
        lesson.delete_instance()
        _shift(draft, lesson.position + 1, -1)
        return draft


def move_row(group: SubjectGroup, lesson_id: int, step: int, *, user: User, ip: str) -> Plan:
    """Swap a row with the one above (step -1) or below (+1)."""
    ensure_editable(group.year)
    if step not in (-1, 1):
        raise PlanningError("Строку можно сдвинуть только на одну вверх или вниз.")
    with write(user=user, ip=ip) as rec:
        current = _current_row(group, lesson_id)
        draft, rows = _working_draft(group, rec)
        lesson = rows[current.id]
        other = PlanLesson.get_or_none(
            (PlanLesson.plan == draft) & (PlanLesson.position == lesson.position + step)
        )
        if other is None:
            raise PlanningError("Строка уже первая." if step < 0 else "Строка уже последняя.")
        swapped = ((lesson, other.position), (other, lesson.position))
        for item, position in swapped:
            before = snapshot(item)
            item.position = position
            item.save()
            rec.record("ktp.lesson.move", item, before=before, op="update")
        return draft


def _shift(plan: Plan, from_position: int, by: int) -> None:
    """Renumber the rows from a position on (after an insert or a delete)."""
    PlanLesson.update(position=PlanLesson.position + by).where(
        (PlanLesson.plan == plan) & (PlanLesson.position >= from_position)
    ).execute()


# --- submit and review -----------------------------------------------------------------------


def _teacher_users(group: SubjectGroup) -> list[User]:
    return list(
        User.select()
        .join(SubjectGroupTeacher, on=(User.person == SubjectGroupTeacher.teacher))
        .where((SubjectGroupTeacher.group == group) & User.is_active)
    )


def _deputy_users() -> list[User]:
    return list(
        User.select()
        .join(RoleGrant)
        .where((RoleGrant.role == "deputy") & User.is_active)
        .distinct()
    )


def _set_state(plan: Plan, rec: Recorder, action: str, **changes: object) -> None:
    before = snapshot(plan)
    for key, value in changes.items():
        setattr(plan, key, value)
    plan.updated_at = now()
    plan.save()
    rec.record(action, plan, before=before, op="update")


def submit(group: SubjectGroup, plan_id: int, *, user: User, ip: str, link: str = "") -> Plan:
    """Send the latest draft to the deputy; refused while the checks find errors."""
    ensure_editable(group.year)
    with write(user=user, ip=ip) as rec:
        plan = latest_plan(group)
        if plan is None or plan.id != plan_id:
            raise PlanningError("Отправить можно только последнюю версию КТП: обновите страницу.")
        if plan.state != "draft":
            raise PlanningError(f"Версия {plan.version} уже отправлена или проверена.")
        problems = errors(check_rows(rows_of(plan), context_for(group)))
        if problems:
            more = f" (и ещё {len(problems) - 3})" if len(problems) > 3 else ""
            raise PlanningError(
                "КТП не отправлена — исправьте ошибки: "
                + "; ".join(str(p) for p in problems[:3])
                + more
            )
        stale = Plan.select().where(
            (Plan.group == group) & (Plan.state == "submitted") & (Plan.id != plan.id)
        )
        for old in stale:  # a newer version replaces one still waiting for review
            _set_state(
                old, rec, "ktp.withdraw", state="draft", comment=f"Заменена версией {plan.version}."
            )
        _set_state(plan, rec, "ktp.submit", state="submitted", submitted_at=now(), comment="")
        notify(
            _deputy_users(),
            "ktp",
            f"КТП на проверку: {group.name}, версия {plan.version} ({user.person.short_name}).",
            link,
        )
        return plan


def _decidable(plan_id: int) -> Plan:
    plan = Plan.get_or_none(Plan.id == plan_id)
    if plan is None or plan.state != "submitted":
        raise PlanningError("Эта версия КТП уже не ждёт проверки.")
    return plan


def approve(plan_id: int, *, user: User, ip: str, comment: str = "", link: str = "") -> Plan:
    """Approve a submitted version: from now on lessons follow it."""
    with write(user=user, ip=ip) as rec:
        plan = _decidable(plan_id)
        group = plan.group
        ensure_editable(group.year)
        problems = errors(check_rows(rows_of(plan), context_for(group)))
        if problems:
            raise PlanningError(
                f"Утвердить нельзя: {problems[0]} Верните КТП учителю с комментарием."
            )
        _set_state(
            plan,
            rec,
            "ktp.approve",
            state="approved",
            decided_at=now(),
            decided_by=user,
            comment=comment.strip(),
        )
        text = f"КТП утверждена: {group.name}, версия {plan.version}."
        notify(
            _teacher_users(group), "ktp", text + (f" {comment.strip()}" if comment else ""), link
        )
        return plan


def return_plan(plan_id: int, comment: str, *, user: User, ip: str, link: str = "") -> Plan:
    """Send a submitted version back to the teacher with what to fix (a comment is required)."""
    comment = comment.strip()
    if not comment:
        raise PlanningError("Напишите учителю, что исправить: без комментария вернуть нельзя.")
    with write(user=user, ip=ip) as rec:
        plan = _decidable(plan_id)
        group = plan.group
        ensure_editable(group.year)
        _set_state(
            plan,
            rec,
            "ktp.return",
            state="returned",
            decided_at=now(),
            decided_by=user,
            comment=comment,
        )
        notify(
            _teacher_users(group),
            "ktp",
            f"КТП возвращена на доработку: {group.name}, версия {plan.version}. {comment}",
            link,
        )
        return plan
