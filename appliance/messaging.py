"""Messages between people of the school (§5.3, §5.4): threads, participants, unread.

This module is the core every sender uses — a person writing on the messages page,
a teacher's notice to parents, the weekly digest. Who may write to whom is decided
by the messages pages before they call it; the core only stores a thread or a reply
with its participants, inside the caller's write transaction, and audits it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from .db import Recorder
from .models import Message, MessageThread, ThreadParticipant, User

MAX_SUBJECT = 200
MAX_BODY = 10_000


def _moment() -> dt.datetime:
    """To the microsecond: a reply in the same second as a read must still count unread."""
    return dt.datetime.now()


class MessageError(ValueError):
    """A message refused for a reason the user can fix (message in Russian)."""


def _clean(subject: str, body: str) -> tuple[str, str]:
    subject = " ".join((subject or "").split())
    body = (body or "").strip()
    if len(subject) > MAX_SUBJECT:
        raise MessageError(f"Тема слишком длинная: не больше {MAX_SUBJECT} символов.")
    if not body:
        raise MessageError("Напишите текст сообщения.")
    if len(body) > MAX_BODY:
        raise MessageError(f"Сообщение слишком длинное: не больше {MAX_BODY} символов.")
    return subject, body


def start_thread(
    author: User, recipients: Iterable[User | int], subject: str, body: str, *, rec: Recorder
) -> tuple[MessageThread, Message]:
    """A new thread from ``author`` to ``recipients`` with its first message.

    Call inside a write transaction (``rec`` is its recorder). The author reads
    their own message at once; everyone else sees it as unread.
    """
    subject, body = _clean(subject, body)
    ids = sorted({r if isinstance(r, int) else r.id for r in recipients} - {author.id})
    if not ids:
        raise MessageError("Выберите, кому написать.")
    moment = _moment()
    thread = MessageThread.create(
        subject=subject or body.splitlines()[0][:80],
        created_by=author,
        created_at=moment,
        last_message_at=moment,
    )
    ThreadParticipant.insert_many(
        [{"thread": thread.id, "user": author.id, "last_read_at": moment}]
        + [{"thread": thread.id, "user": i, "last_read_at": None} for i in ids]
    ).execute()
    message = Message.create(thread=thread, author=author, body=body, created_at=moment)
    rec.record(
        "message.thread",
        thread,
        after={"subject": thread.subject, "author": author.id, "recipients": ids},
    )
    rec.record("message.send", message)
    return thread, message


def reply(thread: MessageThread, author: User, body: str, *, rec: Recorder) -> Message:
    """Add a message to a thread the author takes part in (checked by the caller)."""
    _, body = _clean("", body)
    moment = _moment()
    message = Message.create(thread=thread, author=author, body=body, created_at=moment)
    MessageThread.update(last_message_at=moment).where(MessageThread.id == thread.id).execute()
    ThreadParticipant.update(last_read_at=moment).where(
        (ThreadParticipant.thread == thread) & (ThreadParticipant.user == author)
    ).execute()
    rec.record("message.send", message)
    return message


def unread_count(user: User) -> int:
    """Threads with a message the user has not read yet."""
    return (
        ThreadParticipant.select()
        .join(MessageThread)
        .where(
            (ThreadParticipant.user == user)
            & (
                ThreadParticipant.last_read_at.is_null()
                | (MessageThread.last_message_at > ThreadParticipant.last_read_at)
            )
        )
        .count()
    )
