"""Messages between people of the school (§5.3, §5.4): threads, participants, unread.

This module is the core every sender uses — a person writing on the messages page,
a teacher's notice to parents, the weekly digest. Who may write to whom is decided
by `appliance.messages_rules` before they call it; the core only stores a thread or a
reply with its participants (and attached files), inside the caller's write
transaction, and audits it. It also reads them back: a person's threads page by page,
one thread with its messages and files.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from peewee import fn

from .db import Recorder, write
from .models import (
    Attachment,
    Message,
    MessageAttachment,
    MessageThread,
    Person,
    ThreadParticipant,
    User,
)

MAX_SUBJECT = 200
MAX_BODY = 10_000


def _moment() -> dt.datetime:
    """To the microsecond: a reply in the same second as a read must still count unread."""
    return dt.datetime.now()


class MessageError(ValueError):
    """A message refused for a reason the user can fix (message in Russian)."""


def clean_text(subject: str, body: str) -> tuple[str, str]:
    """Subject and body as stored; a `MessageError` when they cannot be sent."""
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
    author: User,
    recipients: Iterable[User | int],
    subject: str,
    body: str,
    *,
    rec: Recorder,
    attachments: Sequence[Attachment] = (),
    at: dt.datetime | None = None,
) -> tuple[MessageThread, Message]:
    """A new thread from ``author`` to ``recipients`` with its first message.

    Call inside a write transaction (``rec`` is its recorder). The author reads
    their own message at once; everyone else sees it as unread. Threads sent together
    (one per family) share ``at``: the sender's list shows them as one item.
    """
    subject, body = clean_text(subject, body)
    ids = sorted({r if isinstance(r, int) else r.id for r in recipients} - {author.id})
    if not ids:
        raise MessageError("Выберите, кому написать.")
    moment = at or _moment()
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
    _attach(message, attachments, rec)
    return thread, message


def reply(
    thread: MessageThread,
    author: User,
    body: str,
    *,
    rec: Recorder,
    attachments: Sequence[Attachment] = (),
) -> Message:
    """Add a message to a thread the author takes part in; nobody is ever added to one."""
    _, body = clean_text("", body)
    if thread_of(author, thread.id) is None:
        raise MessageError("Отвечать могут только участники переписки.")
    moment = _moment()
    message = Message.create(thread=thread, author=author, body=body, created_at=moment)
    MessageThread.update(last_message_at=moment).where(MessageThread.id == thread.id).execute()
    ThreadParticipant.update(last_read_at=moment).where(
        (ThreadParticipant.thread == thread) & (ThreadParticipant.user == author)
    ).execute()
    rec.record("message.send", message)
    _attach(message, attachments, rec)
    return message


def _attach(message: Message, attachments: Sequence[Attachment], rec: Recorder) -> None:
    for attachment in attachments:
        link = MessageAttachment.create(message=message, attachment=attachment)
        rec.record("message.attach", link)


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


# --- reading: the list of threads, one thread -----------------------------------------

PAGE_SIZE = 30


@dataclass
class ThreadRow:
    """One thread in a person's list: who else is in it, and whether it has news."""

    thread: MessageThread
    others: list[str]
    unread: bool


@dataclass
class InboxItem:
    """A line of the list: one thread, or the threads one message became (one per family)."""

    threads: list[ThreadRow] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return self.threads[0].thread.subject

    @property
    def last_message_at(self) -> dt.datetime:
        return max(row.thread.last_message_at for row in self.threads)

    @property
    def unread(self) -> int:
        return sum(row.unread for row in self.threads)

    @property
    def is_batch(self) -> bool:
        return len(self.threads) > 1


@dataclass
class InboxPage:
    items: list[InboxItem]
    page: int
    has_next: bool


def inbox(user: User, page: int = 1) -> InboxPage:
    """The user's threads, newest first, a page at a time (three queries whatever the size).

    Threads started together by one person (a message to a class's parents) share
    their start time and come as one item, so a teacher sees one line per message.
    """
    page = max(1, page)
    batch = (MessageThread.created_by, MessageThread.created_at)
    keys = list(
        MessageThread.select(*batch, fn.MAX(MessageThread.last_message_at).alias("latest"))
        .join(ThreadParticipant)
        .where(ThreadParticipant.user == user)
        .group_by(*batch)
        .order_by(fn.MAX(MessageThread.last_message_at).desc(), MessageThread.created_at.desc())
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
        .tuples()
    )
    has_next, keys = len(keys) > PAGE_SIZE, keys[:PAGE_SIZE]
    wanted = {(by, at) for by, at, _ in keys}
    rows = [
        r
        for r in MessageThread.select(MessageThread, ThreadParticipant.last_read_at)
        .join(ThreadParticipant)
        .where(
            (ThreadParticipant.user == user)
            & MessageThread.created_at.in_([at for _, at, _ in keys])
        )
        .order_by(MessageThread.last_message_at.desc(), MessageThread.id.desc())
        .objects()
        if (r.created_by_id, r.created_at) in wanted
    ]
    others = _others(user, [r.id for r in rows])
    items: dict[tuple, InboxItem] = {(by, at): InboxItem() for by, at, _ in keys}
    for r in rows:
        unread = r.last_read_at is None or r.last_message_at > r.last_read_at
        items[(r.created_by_id, r.created_at)].threads.append(
            ThreadRow(r, others.get(r.id, []), unread)
        )
    return InboxPage([i for i in items.values() if i.threads], page, has_next)


def _others(user: User, thread_ids: list[int]) -> dict[int, list[str]]:
    """Thread id → names of its other participants."""
    if not thread_ids:
        return {}
    query = (
        ThreadParticipant.select(
            ThreadParticipant.thread, Person.last_name, Person.first_name, Person.middle_name
        )
        .join(User)
        .join(Person)
        .where(ThreadParticipant.thread.in_(thread_ids) & (ThreadParticipant.user != user))
        .order_by(Person.last_name, Person.first_name)
        .tuples()
    )
    names: dict[int, list[str]] = defaultdict(list)
    for thread_id, last, first, middle in query:
        initials = "".join(f"{p[0]}." for p in (first, middle) if p)
        names[thread_id].append(f"{last} {initials}".strip())
    return names


def thread_of(user: User, thread_id: int) -> MessageThread | None:
    """The thread, if the user takes part in it (anyone else gets nothing: a 404)."""
    return (
        MessageThread.select()
        .join(ThreadParticipant)
        .where((MessageThread.id == thread_id) & (ThreadParticipant.user == user))
        .first()
    )


def mark_read(thread: MessageThread, user: User, *, ip: str = "") -> bool:
    """Mark the thread read for the user; False (and no write at all) when nothing was new.

    Reading is the reader's own state, not school data: it is not audited (like the
    first page's notices).
    """
    mine = (
        (ThreadParticipant.thread == thread)
        & (ThreadParticipant.user == user)
        & (
            ThreadParticipant.last_read_at.is_null()
            | (ThreadParticipant.last_read_at < thread.last_message_at)
        )
    )
    if not ThreadParticipant.select().where(mine).exists():
        return False
    with write(user=user, ip=ip):
        return ThreadParticipant.update(last_read_at=_moment()).where(mine).execute() > 0


@dataclass
class Conversation:
    """One thread as its page shows it: participants, then messages with their files."""

    thread: MessageThread
    participants: list[User]
    messages: list[Message]
    files: dict[int, list[tuple[int, Attachment]]]  # message id → (link id, file)


def conversation(thread: MessageThread) -> Conversation:
    participants = list(
        User.select(User, Person)
        .join(Person)
        .switch(User)
        .join(ThreadParticipant)
        .where(ThreadParticipant.thread == thread)
        .order_by(Person.last_name, Person.first_name)
    )
    authors = {u.id: u for u in participants}
    messages = list(
        Message.select().where(Message.thread == thread).order_by(Message.created_at, Message.id)
    )
    for message in messages:
        if message.author_id in authors:  # spare a query per message
            message.author = authors[message.author_id]
    files: dict[int, list[tuple[int, Attachment]]] = defaultdict(list)
    links = (
        MessageAttachment.select(MessageAttachment, Attachment)
        .join(Attachment)
        .where(MessageAttachment.message.in_([m.id for m in messages]))
        .order_by(MessageAttachment.id)
    )
    for link in links:
        files[link.message_id].append((link.id, link.attachment))
    return Conversation(thread, participants, messages, dict(files))


def attachment_of(user: User, thread_id: int, file_id: int) -> Attachment | None:
    """A file of a thread's message, for a participant of that thread only."""
    if thread_of(user, thread_id) is None:
        return None
    link = (
        MessageAttachment.select(MessageAttachment, Attachment)
        .join(Attachment)
        .switch(MessageAttachment)
        .join(Message)
        .where((MessageAttachment.id == file_id) & (Message.thread == thread_id))
        .first()
    )
    return link.attachment if link else None
