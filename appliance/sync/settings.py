"""Where the box syncs to: the АСУ РСО address, the school, paths, and the account.

Kept in the data directory, not in the database: `sync.json` (address, school, path
overrides, on/off) and the encrypted `sync.credentials` (`credentials.py`). A restored
database backup therefore never carries the service account's password, and the worker
(a separate process) reads the same files as the web server.

`ezh.toml`'s `upstream_url` still works as the address when `sync.json` has none.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..config import Settings
from . import credentials
from .mapping import DEFAULT_PATHS, Mapping
from .netschool import NetSchoolClient

FILE = "sync.json"


class SyncSettingsError(ValueError):
    """The sync settings cannot be saved as entered (message in Russian)."""


@dataclass
class SyncSettings:
    url: str = ""
    school: str = ""  # the school's id in АСУ РСО (scid) or its exact name
    enabled: bool = True
    paths: dict[str, str] = field(default_factory=dict)  # overrides of DEFAULT_PATHS
    batch_size: int = 200  # changes per request
    # The school keeps its class lists in АСУ РСО: new students there come into the box.
    roster_from_upstream: bool = False
    # work type here → АСУ РСО's assignment type (name or abbreviation) where names differ
    work_types: dict[str, str] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        """Is publishing waiting for АСУ РСО? (an address is set and sync is on)"""
        return bool(self.url) and self.enabled

    def mapping(self) -> Mapping:
        return Mapping().with_overrides({"paths": self.paths, "work_types": self.work_types})


def path(settings: Settings) -> Path:
    return settings.data_dir / FILE


def load(settings: Settings) -> SyncSettings:
    """The saved sync settings (defaults, and `upstream_url` from ezh.toml, if none)."""
    found = SyncSettings(url=settings.upstream_url)
    file = path(settings)
    if file.exists():
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except ValueError:
            data = {}
        if isinstance(data, dict):
            found.url = str(data.get("url") or settings.upstream_url or "")
            found.school = str(data.get("school") or "")
            found.enabled = bool(data.get("enabled", True))
            found.roster_from_upstream = bool(data.get("roster_from_upstream", False))
            paths = data.get("paths") if isinstance(data.get("paths"), dict) else {}
            found.paths = {str(k): str(v) for k, v in paths.items()}
            kinds = data.get("work_types") if isinstance(data.get("work_types"), dict) else {}
            found.work_types = {str(k): str(v) for k, v in kinds.items() if str(v).strip()}
            try:
                found.batch_size = max(1, min(1000, int(data.get("batch_size") or 200)))
            except (TypeError, ValueError):
                pass
    return found


def validate_url(url: str) -> str:
    url = url.strip().rstrip("/")
    parsed = urllib.parse.urlparse(url)
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise SyncSettingsError("В адресе АСУ РСО не должно быть пробелов.")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise SyncSettingsError(
            "Адрес АСУ РСО должен начинаться с https:// (например, https://asurso.ru)."
        )
    return url


def save(
    settings: Settings,
    *,
    url: str,
    school: str,
    enabled: bool = True,
    paths: dict[str, Any] | None = None,
    login: str | None = None,
    password: str | None = None,
    roster_from_upstream: bool | None = None,
    work_types: dict[str, str] | None = None,
) -> SyncSettings:
    """Check and store the settings (and the account when a password is given).
    `None` for `roster_from_upstream` or `work_types`: keep what is stored."""
    url = validate_url(url) if url.strip() else ""
    school = " ".join(school.split())
    if url and not school:
        raise SyncSettingsError("Укажите номер школы в АСУ РСО (scid) или её точное название.")
    clean_paths: dict[str, str] = {}
    for key, value in (paths or {}).items():
        if key not in DEFAULT_PATHS:
            raise SyncSettingsError(f"Неизвестный путь «{key}».")
        value = str(value).strip()
        if value and not value.startswith("/"):
            raise SyncSettingsError(f"Путь «{key}» должен начинаться с «/».")
        if value and value != DEFAULT_PATHS[key]:
            clean_paths[key] = value
    if password is not None and password != "":
        if not (login or "").strip():
            raise SyncSettingsError("Укажите логин служебной учётной записи.")
    elif login is not None and login.strip():
        stored = credentials.load(settings.data_dir)
        if stored is None or stored[0] != login.strip():
            raise SyncSettingsError("Для нового логина введите и пароль.")
    current = load(settings)
    found = SyncSettings(
        url=url,
        school=school,
        enabled=enabled,
        paths=clean_paths,
        batch_size=current.batch_size,
        roster_from_upstream=(
            current.roster_from_upstream if roster_from_upstream is None else roster_from_upstream
        ),
        work_types=(
            current.work_types
            if work_types is None
            else {
                " ".join(str(k).split()): " ".join(str(v).split())
                for k, v in work_types.items()
                if str(v).strip()
            }
        ),
    )
    if password:
        credentials.save(settings.data_dir, (login or "").strip(), password)
    target = path(settings)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(asdict(found), ensure_ascii=False, indent=2), encoding="utf-8")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return found


def client(settings: Settings, timeout: float = 20.0) -> NetSchoolClient | None:
    """A client for the configured upstream, or None when sync is off or has no account.

    Raises `credentials.CredentialsError` when the stored password cannot be read.
    """
    found = load(settings)
    if not found.configured:
        return None
    account = credentials.load(settings.data_dir)
    if account is None:
        return None
    login, password = account
    return NetSchoolClient(
        found.url,
        login,
        password,
        found.school,
        timeout=timeout,
        mapping=found.mapping(),
    )
