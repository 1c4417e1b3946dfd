"""The messages pages' writes: a new message, a reply, a message to a class's parents.

Each is one user action. The recipients are checked against `appliance.messages_rules`
first and the text is checked; then the files are written; then one write transaction
stores the threads, messages, file rows and their audit. A refusal anywhere leaves
nothing behind — no thread, no message, no file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import messages_rules
from .access import ActiveRole
from .db import write
from .messages_files import Upload, create_attachment, kept_files
from .messaging import MessageError, clean_text, reply, start_thread
from .models import Message, MessageThread, SchoolClass, User

FOLDER = "messages"
MAX_FILES = 5


class OutOfScope(LookupError):
    """A class the sender may not write to as a whole: the page answers 404."""


def _check_files(uploads: Sequence[Upload]) -> None:
    if len(uploads) > MAX_FILES:
        raise MessageError(f"Можно приложить не больше {MAX_FILES} файлов.")


def send(
    sender: User,
    role: ActiveRole,
    recipient_ids: Iterable[int],
    subject: str,
    body: str,
    uploads: Sequence[Upload],
    files_dir: Path,
    *,
    ip: str = "",
) -> list[MessageThread]:
    """A new message to the chosen people: one thread, or one per family (see the rules).

    Every recipient must be someone the sender's active role may write to; one outside
    that scope (a forged form) refuses the whole message.
    """
    wanted = set(recipient_ids) - {sender.id}
    if not wanted:
        raise MessageError("Выберите, кому написать.")
    allowed = messages_rules.allowed_among(sender, role, wanted)
    if wanted - allowed:
        raise MessageError(
            "Среди адресатов есть люди, которым вы не можете написать. Выберите их из списка."
        )
    clean_text(subject, body)
    _check_files(uploads)
    recipients = list(User.select().where(User.id.in_(allowed)).order_by(User.id))
    threads = messages_rules.split_by_family(recipients)
    at = dt.datetime.now() if len(threads) > 1 else None
    with kept_files(uploads, files_dir / FOLDER) as stored, write(user=sender, ip=ip) as rec:
        files = [create_attachment(item, files_dir, sender, rec) for item in stored]
        return [
            start_thread(sender, people, subject, body, rec=rec, attachments=files, at=at)[0]
            for people in threads
        ]


def answer(
    thread: MessageThread,
    sender: User,
    body: str,
    uploads: Sequence[Upload],
    files_dir: Path,
    *,
    ip: str = "",
) -> Message:
    """A reply in a thread: any participant may always answer within it."""
    clean_text("", body)
    _check_files(uploads)
    with kept_files(uploads, files_dir / FOLDER) as stored, write(user=sender, ip=ip) as rec:
        files = [create_attachment(item, files_dir, sender, rec) for item in stored]
        return reply(thread, sender, body, rec=rec, attachments=files)


@dataclass
class ClassSent:
    threads: list[MessageThread]
    families: list[messages_rules.ClassFamily]

    @property
    def unreachable(self) -> list[messages_rules.ClassFamily]:
        return [f for f in self.families if not f.parents]


def send_to_class_parents(
    sender: User,
    role: ActiveRole,
    school_class: SchoolClass,
    subject: str,
    body: str,
    uploads: Sequence[Upload],
    files_dir: Path,
    *,
    ip: str = "",
) -> ClassSent:
    """One message to all parents of a class: each family gets its own thread.

    Parents never see each other's names or addresses; families with no account are
    returned for a printed letter (the notices to parents print them).
    """
    families = messages_rules.class_families(sender, role, school_class)
    if families is None:
        raise OutOfScope(school_class.id)
    reachable = [f for f in families if f.parents]
    if not reachable:
        raise MessageError("Ни у кого из родителей нет учётной записи: написать некому.")
    clean_text(subject, body)
    _check_files(uploads)
    at = dt.datetime.now()
    with kept_files(uploads, files_dir / FOLDER) as stored, write(user=sender, ip=ip) as rec:
        files = [create_attachment(item, files_dir, sender, rec) for item in stored]
        threads = [
            start_thread(sender, f.parents, subject, body, rec=rec, attachments=files, at=at)[0]
            for f in reachable
        ]
    return ClassSent(threads, families)
