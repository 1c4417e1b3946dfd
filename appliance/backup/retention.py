"""Retention of the archive (§9.2): what is due for destruction, the act, the destruction,
and the yearly verification that the register asks for.

Journals are kept 5 years and then destroyed by an act; summary sheets 25 years. A
unit can be destroyed only after its retention: the act lists the units and the
reason, the commission signs it on paper, and the director confirms on the page.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..config import Settings
from ..db import write
from ..models import ArchiveRecord, School, User, now
from . import archive, crypto, media

VERIFY_EVERY = dt.timedelta(days=365)
ACT_TEMPLATE = "archive/act.html"
REASONS = {
    "journal": "истёк срок хранения 5 лет (п. 9.2 Положения об ЭЖ)",
    "summary": "истёк срок хранения 25 лет (п. 9.2 Положения об ЭЖ)",
}


def due_for_destruction(today: dt.date | None = None) -> list[ArchiveRecord]:
    """Units on some medium whose retention ended before ``today`` (and those whose
    destruction was begun and not finished: the medium failed half-way)."""
    today = today or dt.date.today()
    return list(
        ArchiveRecord.select()
        .where(ArchiveRecord.status.in_(archive.LIVE) & (ArchiveRecord.retain_until < today))
        .order_by(ArchiveRecord.retain_until, ArchiveRecord.register_number)
    )


def verification_due(moment: dt.datetime | None = None) -> list[ArchiveRecord]:
    """Units not checked for over a year (never checked: a year after writing)."""
    limit = (moment or now()) - VERIFY_EVERY
    return list(
        ArchiveRecord.select()
        .where(
            (ArchiveRecord.status == "written")
            & (
                (ArchiveRecord.last_verified_at < limit)
                | (ArchiveRecord.last_verified_at.is_null() & (ArchiveRecord.created_at < limit))
            )
        )
        .order_by(ArchiveRecord.media_label, ArchiveRecord.register_number)
    )


@cache
def _templates() -> Environment:
    from ..web import templates_dir

    return Environment(
        loader=FileSystemLoader(str(templates_dir())), autoescape=select_autoescape(["html"])
    )


def act_number(today: dt.date | None = None) -> str:
    """The next act's number: «1/2031», «2/2031» … (acts already in the register count)."""
    today = today or dt.date.today()
    acts = {
        r.destruction_act
        for r in ArchiveRecord.select(ArchiveRecord.destruction_act).where(
            ArchiveRecord.destruction_act.endswith(f"/{today.year}")
        )
    }
    return f"{len(acts) + 1}/{today.year}"


def act_html(records: list[ArchiveRecord], number: str, today: dt.date | None = None) -> str:
    from ..pdf import FONT_FAMILY

    rows = [(r, REASONS.get(r.unit, "истёк срок хранения")) for r in records]
    return (
        _templates()
        .get_template(ACT_TEMPLATE)
        .render(
            school=School.get(),
            rows=rows,
            number=number,
            today=today or dt.date.today(),
            font_family=FONT_FAMILY,
        )
    )


def act_pdf(records: list[ArchiveRecord], number: str | None = None) -> bytes:
    """«Акт об уничтожении» of these units, for the commission to sign."""
    from ..pdf import render_pdf  # WeasyPrint loads only when an act is printed

    return render_pdf(act_html(records, number or act_number()))


class DestructionError(archive.ArchiveError):
    """A unit cannot be destroyed (not due, or its medium is not here)."""


def destroy(
    settings: Settings,
    record_ids: list[int],
    medium_path: Path | media.Medium,
    act: str,
    user: User | None = None,
    today: dt.date | None = None,
) -> list[ArchiveRecord]:
    """Delete the units' files from the medium and mark them destroyed under ``act``.

    Everything is checked first: every unit must be past retention and on this medium;
    otherwise nothing is deleted. The rows are marked «destroying» under the act BEFORE
    a file is touched, then the files go (each unit's signature last), the folder is
    fsynced, and only then are the rows «destroyed»: a medium that fails half-way
    leaves rows that say so, and the same command finishes the job.
    """
    today = today or dt.date.today()
    if not act.strip():
        raise DestructionError("Укажите номер акта об уничтожении.")
    if not record_ids:
        raise DestructionError("Отметьте единицы, которые уничтожаются по акту.")
    medium = archive._medium(medium_path, create_label=False)
    records = list(ArchiveRecord.select().where(ArchiveRecord.id.in_(record_ids)))
    if len(records) != len(set(record_ids)):
        raise DestructionError("Некоторых единиц нет в реестре.")
    for record in records:
        if record.status not in archive.LIVE or record.retain_until >= today:
            raise DestructionError(
                f"Единица «{record.title}» хранится до {record.retain_until:%d.%m.%Y}: "
                "уничтожать её нельзя."
            )
        if record.media_label != medium.label:
            raise DestructionError(
                f"Единица «{record.title}» записана на носитель «{record.media_label}», "
                f"а вставлен «{medium.label}»."
            )
    act = act.strip()
    _mark(records, "destroying", act, user)
    try:
        folders = set()
        for record in records:
            for path in archive._unit_files(medium, record):  # the signature last
                path.unlink(missing_ok=True)
                folders.add(path.parent)
        for folder in folders:
            media._fsync_dir(folder)
    except OSError as exc:
        raise DestructionError(
            f"Единицы удалены с носителя «{medium.label}» не полностью: "
            f"{crypto.os_reason(exc)}. В реестре они отмечены «уничтожается» по акту № {act}; "
            "вставьте носитель и повторите уничтожение."
        ) from exc
    _mark(records, "destroyed", act, user)
    try:
        archive.write_register(settings, medium)
    except (ValueError, OSError) as exc:
        reason = crypto.os_reason(exc) if isinstance(exc, OSError) else str(exc)
        raise DestructionError(
            f"Единицы уничтожены, но реестр на носителе не обновлён: {reason}"
        ) from exc
    return records


def _mark(records: list[ArchiveRecord], status: str, act: str, user: User | None) -> None:
    """One transaction: the rows get ``status`` under the act (audited)."""
    moment = now()
    with write(user=user) as rec:
        for record in records:
            before = {
                "status": record.status,
                "destroyed_at": record.destroyed_at,
                "destruction_act": record.destruction_act,
            }
            record.status = status
            record.destruction_act = act
            if status == "destroyed":
                record.destroyed_at = moment
            record.save()
            action = "archive.destroy" if status == "destroyed" else "archive.destroying"
            rec.record(action, record, before=before, op="update")
