"""Logging in: password check, throttling per account and per address, login events.

Every attempt is recorded (§7.2, §8.1). Repeated failures lock the account for a
while, and too many failures from one address refuse that address for a while,
each with a plain Russian message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import passwords
from .config import Settings
from .db import write
from .models import LoginEvent, User, now

_DUMMY_HASH = passwords.hash_password("timing-equaliser", "fast")


@dataclass
class LoginResult:
    user: User | None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.user is not None


def _minutes_left(until: dt.datetime) -> int:
    return max(1, int((until - now()).total_seconds() // 60) + 1)


def _address_failures(ip: str, since: dt.datetime) -> int:
    return (
        LoginEvent.select()
        .where((LoginEvent.ip == ip) & (LoginEvent.success == False) & (LoginEvent.at >= since))  # noqa: E712
        .count()
    )


def authenticate(username: str, password: str, ip: str, settings: Settings) -> LoginResult:
    """Check one login attempt and record it; returns the user or a Russian message."""
    username = username.strip().lower()
    window = dt.timedelta(minutes=settings.failure_window_minutes)
    with write(ip=ip) as rec:
        moment = now()
        user = User.get_or_none(User.username == username)

        def fail(reason: str, message: str) -> LoginResult:
            LoginEvent.create(username=username, user=user, ip=ip, success=False, reason=reason)
            return LoginResult(None, message)

        if _address_failures(ip, moment - window) >= settings.max_failures_per_address:
            return fail(
                "address_throttled",
                "Слишком много неудачных попыток входа с этого компьютера. "
                f"Попробуйте через {settings.failure_window_minutes} минут.",
            )
        if user is not None and user.locked_until and user.locked_until > moment:
            return fail(
                "account_locked",
                "Учётная запись временно заблокирована после нескольких неверных паролей. "
                f"Попробуйте через {_minutes_left(user.locked_until)} мин. "
                "или обратитесь к администратору.",
            )
        valid = passwords.verify_password(user.password_hash if user else _DUMMY_HASH, password)
        if user is None or not valid:
            if user is not None:
                user.failed_attempts += 1
                if user.failed_attempts >= settings.max_failures_per_account:
                    user.locked_until = moment + dt.timedelta(minutes=settings.lockout_minutes)
                    user.failed_attempts = 0
                    rec.user = user
                    rec.record("account.lockout", user, after={"until": user.locked_until})
                user.save()
            return fail("bad_credentials", "Неверный логин или пароль.")
        if user.admin_locked or not user.is_active:
            return fail(
                "admin_locked",
                "Учётная запись заблокирована. Обратитесь к администратору АСУ РСО школы.",
            )
        user.failed_attempts = 0
        user.locked_until = None
        user.last_login_at = moment
        if passwords.needs_rehash(user.password_hash, settings.password_profile):
            user.password_hash = passwords.hash_password(password, settings.password_profile)
        user.save()
        LoginEvent.create(username=username, user=user, ip=ip, success=True)
        return LoginResult(user)


def change_password(
    user: User, old: str, new: str, repeat: str, *, ip: str, settings: Settings
) -> str | None:
    """Change one's own password; returns a Russian error or None on success."""
    if not passwords.verify_password(user.password_hash, old):
        return "Текущий пароль введён неверно."
    if new != repeat:
        return "Новый пароль и повтор не совпадают."
    if new == old:
        return "Новый пароль должен отличаться от прежнего."
    problem = passwords.password_problem(new, user.username)
    if problem:
        return problem
    with write(user=user, ip=ip) as rec:
        user.password_hash = passwords.hash_password(new, settings.password_profile)
        user.must_change_password = False
        user.password_changed_at = now()
        user.save()
        rec.record("password.change", user, after={"username": user.username})
    return None
