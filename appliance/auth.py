"""Logging in: password check, throttling per account and per address, login events.

Every attempt is recorded (§7.2, §8.1). Repeated failures within a window lock the
account for a while, and too many failures from one address refuse that address for a
while, each with a plain Russian message. An unknown login answers exactly like a
known one (same message, same lockout, same hashing cost), so logins cannot be probed.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from . import passwords
from .config import Settings
from .db import write
from .models import LoginEvent, User, now

BAD_CREDENTIALS = "Неверный логин или пароль."


@dataclass
class LoginResult:
    user: User | None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.user is not None


@functools.lru_cache(maxsize=4)
def _dummy_hash(profile: str) -> str:
    """A hash to verify against for unknown logins, at the same cost as real ones."""
    return passwords.hash_password("timing-equaliser", profile)


def _failures(since: dt.datetime, *, ip: str = "", username: str = "") -> int:
    query = LoginEvent.select().where((LoginEvent.success == False) & (LoginEvent.at >= since))  # noqa: E712
    if ip:
        query = query.where(LoginEvent.ip == ip)
    if username:
        query = query.where(
            (LoginEvent.username == username) & (LoginEvent.reason == "bad_credentials")
        )
    return query.count()


def _locked_message(minutes: int) -> str:
    return (
        "Учётная запись временно заблокирована после нескольких неверных паролей. "
        f"Попробуйте через {minutes} мин. или обратитесь к администратору."
    )


def authenticate(username: str, password: str, ip: str, settings: Settings) -> LoginResult:
    """Check one login attempt and record it; returns the user or a Russian message."""
    username = username.strip().lower()
    moment = now()
    window = moment - dt.timedelta(minutes=settings.failure_window_minutes)
    lockout = dt.timedelta(minutes=settings.lockout_minutes)
    user = User.get_or_none(User.username == username)

    def fail(reason: str, message: str) -> LoginResult:
        with write(ip=ip):
            LoginEvent.create(username=username, user=user, ip=ip, success=False, reason=reason)
        return LoginResult(None, message)

    if _failures(window, ip=ip) >= settings.max_failures_per_address:
        return fail(
            "address_throttled",
            "Слишком много неудачных попыток входа с этого компьютера. "
            f"Попробуйте через {settings.failure_window_minutes} минут.",
        )
    if user is not None and user.locked_until and user.locked_until > moment:
        minutes = int((user.locked_until - moment).total_seconds() // 60) + 1
        return fail("account_locked", _locked_message(minutes))
    if user is None and _failures(moment - lockout, username=username) >= (
        settings.max_failures_per_account
    ):
        return fail("account_locked", _locked_message(settings.lockout_minutes))
    # The hash is checked before the write lock is taken: argon2id is slow on purpose.
    stored = user.password_hash if user and user.password_hash else None
    valid = passwords.verify_password(stored or _dummy_hash(settings.password_profile), password)
    if user is None or stored is None or not valid:
        return _bad_password(user, username, ip, settings)
    if user.admin_locked or not user.is_active:
        return fail(
            "admin_locked",
            "Учётная запись заблокирована. Обратитесь к администратору АСУ РСО школы.",
        )
    new_hash = None
    if passwords.needs_rehash(stored, settings.password_profile):
        new_hash = passwords.hash_password(password, settings.password_profile)
    with write(ip=ip):
        changes = {
            User.failures_reset_at: dt.datetime.now(),
            User.locked_until: None,
            User.last_login_at: moment,
        }
        if new_hash:
            changes[User.password_hash] = new_hash
        User.update(changes).where(User.id == user.id).execute()
        LoginEvent.create(username=username, user=user, ip=ip, success=True)
    return LoginResult(User.get_by_id(user.id))


def _bad_password(user: User | None, username: str, ip: str, settings: Settings) -> LoginResult:
    """Record a wrong password; lock the account once failures within the window add up."""
    moment = now()
    since = moment - dt.timedelta(minutes=settings.failure_window_minutes)
    if user is not None and user.failures_reset_at and user.failures_reset_at > since:
        since = user.failures_reset_at
    with write(ip=ip, user=user) as rec:
        LoginEvent.create(
            username=username, user=user, ip=ip, success=False, reason="bad_credentials"
        )
        if _failures(since, username=username) < settings.max_failures_per_account:
            return LoginResult(None, BAD_CREDENTIALS)
        if user is not None:
            user.locked_until = moment + dt.timedelta(minutes=settings.lockout_minutes)
            user.save()
            rec.record("account.lockout", user, after={"until": user.locked_until})
    return LoginResult(None, _locked_message(settings.lockout_minutes))


def change_password(
    user: User, old: str, new: str, repeat: str, *, ip: str, settings: Settings
) -> str | None:
    """Change one's own password; returns a Russian error or None on success."""
    if not passwords.verify_password(user.password_hash, old):
        # A wrong current password counts as a failed login: no guessing here either.
        result = _bad_password(user, user.username, ip, settings)
        if result.message != BAD_CREDENTIALS:
            return result.message
        return "Текущий пароль введён неверно."
    if new != repeat:
        return "Новый пароль и повтор не совпадают."
    if new == old:
        return "Новый пароль должен отличаться от прежнего."
    problem = passwords.password_problem(new, user.username)
    if problem:
        return problem
    new_hash = passwords.hash_password(new, settings.password_profile)
    with write(user=user, ip=ip) as rec:
        user.password_hash = new_hash
        user.must_change_password = False
        user.password_changed_at = now()
        user.save()
        rec.record("password.change", user, after={"username": user.username})
    return None
