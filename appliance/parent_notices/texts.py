"""The Russian words of notices: the message, the letter and the weekly digest.

Kept apart from the rules so that the school can read (and ask to change) the
wording in one place. Plain, short sentences: a parent reads this on a phone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from ..models import Person
from .risk import FAILING, Risk

KIND_LABELS = {
    "failing": "Неуспеваемость",
    "absences": "Пропуски без уважительной причины",
    "digest": "Итоги недели",
}
CHANNEL_LABELS = {"app": "в приложении", "letter": "письмо", "email": "эл. почта"}


def plural(n: int, one: str, few: str, many: str) -> str:
    """1 урок, 2 урока, 5 уроков (Russian plural forms)."""
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def ru_date(day: dt.date) -> str:
    return day.strftime("%d.%m.%Y")


def ru_decimal(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:.2f}".replace(".", ",")


def greeting(parents: list[Person]) -> str:
    """«Здравствуйте, Ольга Ивановна и Сергей Петрович!» — a family reads one message."""
    names = [" ".join(p for p in (x.first_name, x.middle_name) if p) for x in parents]
    names = [n for n in names if n]
    return f"Здравствуйте, {' и '.join(names)}!" if names else "Здравствуйте!"


def _verb(student: Person, masculine: str, feminine: str) -> str:
    """«пропустил» / «пропустила» by the student's recorded gender, else both."""
    if student.gender == "м":
        return masculine
    if student.gender == "ж":
        return feminine
    return f"{masculine}(а)"


def sender_title(risk: Risk, role: str) -> str:
    """How the sender signs: «учитель (Математика)» or «классный руководитель 5А»."""
    if role == "class_teacher":
        return f"классный руководитель {risk.school_class.name}"
    return f"учитель ({risk.subject_name})" if risk.group else "учитель"


def subject_line(risk: Risk) -> str:
    student = risk.student.short_name
    if risk.kind == FAILING:
        return f"Успеваемость: {student}, {risk.subject_name}"
    return f"Пропуски уроков: {student}"


def facts(risk: Risk) -> str:
    """What happened, with the numbers behind it."""
    student = f"{risk.student.full_name} ({risk.school_class.name} класс)"
    period = risk.period
    span = f"{period.label} (с {ru_date(period.starts)} по {ru_date(period.ends)})"
    if risk.kind == FAILING:
        lines = [f"{student} не успевает по предмету «{risk.subject_name}» за {span}."]
        if risk.average is not None:
            lines.append(
                f"Средневзвешенный балл: {ru_decimal(risk.average)} (отметок: {risk.marks})."
            )
        if risk.predicted and risk.predicted != "н/а":
            lines.append(f"Ожидаемая отметка за период: «{risk.predicted}».")
        return " ".join(lines)
    lessons = plural(risk.absences, "урок", "урока", "уроков")
    where = f" по предмету «{risk.subject_name}»" if risk.group else ""
    verb = _verb(risk.student, "пропустил", "пропустила")
    return f"{student} {verb} без уважительной причины {risk.absences} {lessons}{where} за {span}."


def advice(kind: str, channel: str) -> str:
    """What the parent can do now (a letter cannot be answered in the app)."""
    if kind == FAILING:
        text = (
            "Пожалуйста, поговорите с ребёнком и проверьте, как он готовит домашние задания. "
            "Чтобы договориться о консультации или задать вопрос, "
        )
        return text + (
            "ответьте на это сообщение."
            if channel == "app"
            else "позвоните классному руководителю или приходите в школу."
        )
    text = (
        "Пожалуйста, сообщите классному руководителю причину пропусков и передайте "
        "подтверждающие документы (справку), если они есть."
    )
    return text + (" Ответить можно на это сообщение." if channel == "app" else "")


def notice_body(risk: Risk, parents: list[Person], channel: str, sender: Person, title: str) -> str:
    """The whole text. A message is signed in the text; a letter gets a signature line."""
    parts = [greeting(parents), facts(risk), advice(risk.kind, channel)]
    if channel == "app":
        parts.append(f"{sender.full_name}, {title}")
    return "\n\n".join(parts)


# --- the weekly digest ---------------------------------------------------------------------

ATTENDANCE_WORDS = {
    "Н": "без уважительной причины",
    "Б": "по болезни",
    "УП": "по уважительной причине",
    "ОП": "опоздание",
}


def short_date(day: dt.date) -> str:
    return day.strftime("%d.%m")


def digest_subject(student: Person, week_start: dt.date) -> str:
    week_end = week_start + dt.timedelta(days=6)
    return f"Итоги недели: {student.short_name}, {short_date(week_start)}–{short_date(week_end)}"


def digest_body(
    student: Person,
    class_name: str,
    week_start: dt.date,
    marks: list[tuple[dt.date, str, str, str]],
    absences: list[tuple[dt.date, str, str]],
    homework: list[tuple[dt.date, str, str]],
    missed: Sequence[tuple[dt.date, str, str]] = (),
) -> str:
    """marks: (date, subject, value, work type); absences: (date, subject, code);
    homework: (date given, subject, text); missed: (date, subject, homework) of the lessons
    missed that had homework — each in the order to show."""
    week_end = week_start + dt.timedelta(days=6)
    parts = [
        f"Итоги недели с {ru_date(week_start)} по {ru_date(week_end)}\n"
        f"{student.full_name}, {class_name} класс"
    ]
    by_subject: dict[str, list[str]] = {}
    for day, subject, value, work_type in marks:
        by_subject.setdefault(subject, []).append(f"{value} ({work_type}, {short_date(day)})")
    if by_subject:
        lines = [f"• {subject}: {', '.join(items)}" for subject, items in by_subject.items()]
        parts.append("Оценки:\n" + "\n".join(lines))
    else:
        parts.append("Оценок за неделю нет.")
    if absences:
        lines = [
            f"• {short_date(day)}, {subject}: {code} — {ATTENDANCE_WORDS.get(code, code)}"
            for day, subject, code in absences
        ]
        parts.append("Пропуски и опоздания:\n" + "\n".join(lines))
    else:
        parts.append("Пропусков нет.")
    if missed:
        lines = [f"• {subject} {short_date(day)} — {text}" for day, subject, text in missed]
        parts.append("Пропущены уроки с заданием:\n" + "\n".join(lines))
    if homework:
        lines = [f"• {subject} ({short_date(day)}): {text}" for day, subject, text in homework]
        parts.append("Задано на этой неделе (к следующим урокам):\n" + "\n".join(lines))
    parts.append(
        "Сводка составлена автоматически по электронному журналу. "
        "Вопрос можно задать, ответив на это сообщение."
    )
    return "\n\n".join(parts)
