"""Server-side login sessions: the cookie holds a random id, the row decides.

Logging out, a password change or reset, and an admin lock end sessions for real:
a copied cookie is worth nothing afterwards.
"""

from __future__ import annotations

import datetime as dt
import secrets

from .models import User, UserSession, now

TOUCH_EVERY = dt.timedelta(seconds=60)  # refresh the idle clock without a write per request


def start_session(user: User, ip: str) -> str:
    sid = secrets.token_urlsafe(32)
    UserSession.create(sid=sid, user=user, ip=ip)
    return sid


def resume_session(sid: str, idle_minutes: int) -> tuple[User | None, bool]:
    """The session's user, or None; the flag says it just expired from idleness."""
    found = (
        UserSession.select(UserSession, User)
        .join(User)
        .where((UserSession.sid == sid) & UserSession.ended_at.is_null())
        .first()
    )
    if found is None:
        return None, False
    moment = now()
    if moment - found.last_seen_at > dt.timedelta(minutes=idle_minutes):
        found.ended_at = moment
        found.save()
        return None, True
    if moment - found.last_seen_at > TOUCH_EVERY:
        UserSession.update(last_seen_at=moment).where(UserSession.id == found.id).execute()
    return found.user, False


def end_session(sid: str) -> None:
    UserSession.update(ended_at=now()).where(
        (UserSession.sid == sid) & UserSession.ended_at.is_null()
    ).execute()


def end_sessions(user: User, keep_sid: str = "") -> None:
    """End every open session of the user (but the one they act from, if given)."""
    UserSession.update(ended_at=now()).where(
        (UserSession.user == user) & UserSession.ended_at.is_null() & (UserSession.sid != keep_sid)
    ).execute()
