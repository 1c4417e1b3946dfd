"""Settings of one box: where its data lives and how it behaves.

Everything is derived from the data directory; an optional ``ezh.toml`` in it
overrides the defaults (see docs/config.md).
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path


@dataclass
class Settings:
    data_dir: Path
    secret_key: str = ""
    idle_timeout_minutes: int = 30
    # Account lockout: N failures within the window lock the account for lockout_minutes.
    max_failures_per_account: int = 5
    max_failures_per_address: int = 20
    failure_window_minutes: int = 15
    lockout_minutes: int = 15
    # "standard" argon2id costs; "fast" only for the throwaway demo school and tests.
    password_profile: str = "standard"
    max_upload_mb: int = 10
    upstream_url: str = ""
    base_url: str = ""  # printed on credential slips; guessed from the request if empty
    extra: dict = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "ezh.sqlite3"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"


def _read_secret(data_dir: Path) -> str:
    """The Flask secret key, created once, readable only by the box's user."""
    path = data_dir / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip()


def load_settings(data_dir: str | Path, **overrides) -> Settings:
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    values: dict = {}
    toml_path = data_dir / "ezh.toml"
    if toml_path.exists():
        known = {f.name for f in fields(Settings)}
        for key, value in tomllib.loads(toml_path.read_text(encoding="utf-8")).items():
            if key not in known or key == "data_dir":
                raise ValueError(f"Неизвестный параметр в {toml_path}: {key}")
            values[key] = value
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings(data_dir=data_dir, **values)
    if not settings.secret_key:
        settings.secret_key = _read_secret(data_dir)
    settings.files_dir.mkdir(exist_ok=True)
    return settings


def write_settings_file(data_dir: Path, **values) -> None:
    """Persist a few settings into ezh.toml (used by `ezh demo` for its fast hashes)."""
    lines = []
    for key, value in values.items():
        if isinstance(value, str):
            lines.append(f'{key} = "{value}"')
        else:
            lines.append(f"{key} = {value}")
    (data_dir / "ezh.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
