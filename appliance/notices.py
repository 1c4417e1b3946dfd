"""Short notices on a person's first page: a cancelled lesson, a returned КТП …

Whoever changes something that concerns other people (the deputy moving a lesson,
approving a plan) adds `UserNotice` rows in the same transaction; the person sees
them on their first page until they mark them read.
"""

from __future__ import annotations

from collections.abc import Iterable

from .db import write
from .models import User, UserNotice, now

SHOWN = 20


def notify(users: Iterable[User | int], kind: str, text: str, link: str = "") -> int:
    """Add one notice per distinct user (call inside the change's write transaction)."""
    ids = sorted({u if isinstance(u, int) else u.id for u in users})
    rows = [{"user": i, "kind": kind, "text": text, "link": link} for i in ids]
    if rows:
        UserNotice.insert_many(rows).execute()
    return len(rows)


def unread(user: User, limit: int = SHOWN) -> list[UserNotice]:
    return list(
        UserNotice.select()
        .where((UserNotice.user == user) & UserNotice.read_at.is_null())
        .order_by(UserNotice.created_at.desc(), UserNotice.id.desc())
        .limit(limit)
    )


def unread_count(user: User) -> int:
    return (
        UserNotice.select().where((UserNotice.user == user) & UserNotice.read_at.is_null()).count()
    )


def mark_read(user: User, notice_id: int | None = None, *, ip: str = "") -> int:
    """Mark one of the user's notices read (or all of them when no id is given)."""
    with write(user=user, ip=ip):
        query = UserNotice.update(read_at=now()).where(
            (UserNotice.user == user) & UserNotice.read_at.is_null()
        )
        if notice_id is not None:
            query = query.where(UserNotice.id == notice_id)
        return query.execute()
