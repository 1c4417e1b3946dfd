"""Password hashing (argon2id) and one-time initial passwords."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# The standard profile is argon2-cffi's RFC 9106 "low memory" choice (argon2id,
# 64 MiB, t=3): about 0.3 s on a Raspberry Pi 4. The demo school and the tests
# create a thousand throwaway accounts, so they use a cheap profile; a real login
# re-hashes such a password with the standard costs (`needs_rehash`).
_HASHERS = {
    "standard": PasswordHasher(),
    "fast": PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
}

# No 0/O, 1/l/I: initial passwords are read off a paper slip.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
MIN_LENGTH = 8


def hash_password(password: str, profile: str = "standard") -> str:
    return _HASHERS[profile].hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _HASHERS["standard"].verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str, profile: str = "standard") -> bool:
    return _HASHERS[profile].check_needs_rehash(password_hash)


def generate_initial_password(length: int = 10) -> str:
    """A one-time password for a credential slip: easy to type, hard to guess."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def password_problem(password: str, username: str = "") -> str | None:
    """Why a chosen password is not acceptable (in Russian), or None."""
    if len(password) < MIN_LENGTH:
        return f"Пароль должен быть не короче {MIN_LENGTH} символов."
    if username and password.lower() == username.lower():
        return "Пароль не должен совпадать с логином."
    if password.isdigit():
        return "Пароль не должен состоять только из цифр."
    if len(set(password)) < 4:
        return "Пароль слишком простой: используйте разные символы."
    return None
