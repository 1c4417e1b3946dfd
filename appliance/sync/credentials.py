"""The АСУ РСО service account's login and password, encrypted at rest.

The secret is a Fernet token (`cryptography`: AES-128-CBC with HMAC-SHA256) in
`data_dir/sync.credentials`; the key is `data_dir/sync.key`, created with mode 0600 so
only the box's user reads it. A missing or wrong key, or a tampered file, is refused
with a Russian message: the admin types the password again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "sync.key"
SECRET_FILE = "sync.credentials"


class CredentialsError(ValueError):
    """The stored credentials cannot be used (message in Russian)."""


# --- files -----------------------------------------------------------------------


def _write_private(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write `data` into a file only the owner can read (atomically unless exclusive)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    target = path if exclusive else path.with_name(path.name + ".tmp")
    fd = os.open(target, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    if not exclusive:
        os.replace(target, path)


def key_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / KEY_FILE


def secret_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / SECRET_FILE


def ensure_key(data_dir: str | Path) -> bytes:
    """The box's key, created (mode 0600) on first use."""
    path = key_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        try:
            _write_private(path, Fernet.generate_key(), exclusive=True)
        except FileExistsError:
            pass  # another process made it first
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)  # readable by others: tighten at once
    key = path.read_bytes().strip()
    if len(key) != 44:
        raise CredentialsError(f"Файл ключа {path.name} повреждён.")
    return key


def save(data_dir: str | Path, login: str, password: str) -> None:
    """Store the service account's login and password, encrypted with the box's key."""
    token = Fernet(ensure_key(data_dir)).encrypt(
        json.dumps({"login": login, "password": password}, ensure_ascii=False).encode("utf-8")
    )
    _write_private(secret_path(data_dir), token)


def load(data_dir: str | Path) -> tuple[str, str] | None:
    """(login, password), or None when none are stored."""
    path = secret_path(data_dir)
    if not path.exists():
        return None
    keyfile = key_path(data_dir)
    if not keyfile.exists():
        raise CredentialsError(
            "Нет файла ключа sync.key: сохранённый пароль АСУ РСО не расшифровать. "
            "Введите логин и пароль служебной учётной записи заново."
        )
    try:
        data = json.loads(Fernet(_read_key(keyfile)).decrypt(path.read_bytes().strip()))
    except (InvalidToken, ValueError) as exc:
        raise CredentialsError(
            "Не удалось расшифровать пароль АСУ РСО: ключ sync.key не подходит или файл "
            "повреждён. Введите логин и пароль служебной учётной записи заново."
        ) from exc
    return str(data["login"]), str(data["password"])
