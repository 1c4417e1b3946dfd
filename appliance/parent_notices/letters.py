"""Printable letters to parents without an account (§4.3): one A4 page per letter.

The background worker renders them (never a request: DESIGN §3) from the
`Notification` rows of one notice action, on the school's letterhead text, with the
facts stored when the notice was sent, the sender's name and a line to sign on.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cache

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .. import jobs
from ..models import Notification, Person, School, User
from .log import notices_with_people

LETTERS_JOB = "parent_notices.letters"
TEMPLATE = "letters/letter.html"
HEADINGS = {
    "failing": "Уведомление о неуспеваемости",
    "absences": "Уведомление о пропусках уроков без уважительной причины",
}


@dataclass(frozen=True)
class Letter:
    heading: str
    date: dt.date
    parent: Person
    student: Person
    class_name: str
    paragraphs: list[str]
    sender_name: str
    sender_title: str


def letter_of(notice: Notification) -> Letter:
    payload = json.loads(notice.payload or "{}")
    sender: User | None = notice.created_by
    return Letter(
        heading=HEADINGS.get(notice.kind, "Уведомление"),
        date=notice.sent_at.date() if notice.sent_at else dt.date.today(),
        parent=notice.recipient,
        student=notice.student,
        class_name=payload.get("class", ""),
        paragraphs=[p for p in notice.body.split("\n\n") if p.strip()],
        sender_name=sender.person.short_name if sender else "",
        sender_title=payload.get("sender_title", ""),
    )


@cache
def _templates() -> Environment:
    """Jinja outside Flask: the worker renders letters with no request around."""
    from ..web import templates_dir  # the web package imports this module (via tasks)

    return Environment(
        loader=FileSystemLoader(str(templates_dir())),
        autoescape=select_autoescape(["html"]),
    )


def letters_html(notices: list[Notification], school: School) -> str:
    from ..pdf import FONT_FAMILY

    template = _templates().get_template(TEMPLATE)
    return template.render(
        school=school, letters=[letter_of(n) for n in notices], font_family=FONT_FAMILY
    )


def letters_pdf(notices: list[Notification]) -> bytes:
    from ..pdf import render_pdf  # WeasyPrint loads in the worker only, when needed

    return render_pdf(letters_html(notices, School.get()))


def letter_notices(ids: list[int]) -> list[Notification]:
    """The letter rows among ``ids`` with their people, in the order they were sent."""
    return list(
        notices_with_people()
        .where(Notification.id.in_(ids) & (Notification.channel == "letter"))
        .order_by(Notification.id)
    )


@jobs.handler(LETTERS_JOB)
def make_letters(ctx: jobs.JobContext) -> str:
    """The job behind a notice: all its letters in one PDF, offered on the job's page."""
    notices = letter_notices([int(i) for i in ctx.params.get("notifications", [])])
    if not notices:
        raise jobs.JobError("Писем для печати нет: уведомления не найдены.")
    ctx.progress(0, len(notices), "готовлю письма")
    path = ctx.output_path("письма-родителям.pdf")
    path.write_bytes(letters_pdf(notices))
    ctx.progress(len(notices), len(notices), f"писем для печати — {len(notices)}")
    return str(path.relative_to(ctx.settings.data_dir))
