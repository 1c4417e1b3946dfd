"""The service account's credentials: encrypted at rest, key readable by the owner only."""

from __future__ import annotations

import base64
import stat

import pytest
from cryptography.fernet import Fernet

from appliance.sync import credentials
from appliance.sync.credentials import CredentialsError

PASSWORD = "Секрет-Пароль 2026!"


def test_save_and_load_round_trip(tmp_path):
    credentials.save(tmp_path, "sync.service", PASSWORD)
    assert credentials.load(tmp_path) == ("sync.service", PASSWORD)


def test_nothing_stored_loads_as_none(tmp_path):
    assert credentials.load(tmp_path) is None


def test_the_key_and_the_secret_are_readable_by_the_owner_only(tmp_path):
    credentials.save(tmp_path, "sync.service", PASSWORD)
    for name in (credentials.KEY_FILE, credentials.SECRET_FILE):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))


def test_the_stored_file_never_holds_the_password_in_clear(tmp_path):
    credentials.save(tmp_path, "sync.service", PASSWORD)
    stored = (tmp_path / credentials.SECRET_FILE).read_bytes()
    for form in (PASSWORD.encode("utf-8"), PASSWORD.encode("cp1251"), b"sync.service"):
        assert form not in stored
        assert base64.b64encode(form)[:12] not in stored
    assert PASSWORD.encode("unicode_escape") not in stored


def test_a_wrong_key_gives_a_russian_error(tmp_path):
    credentials.save(tmp_path, "sync.service", PASSWORD)
    (tmp_path / credentials.KEY_FILE).write_bytes(Fernet.generate_key())
    with pytest.raises(CredentialsError, match="Не удалось расшифровать"):
        credentials.load(tmp_path)


def test_a_tampered_file_is_refused(tmp_path):
    credentials.save(tmp_path, "sync.service", PASSWORD)
    path = tmp_path / credentials.SECRET_FILE
    token = bytearray(base64.urlsafe_b64decode(path.read_bytes()))
    token[30] ^= 1
    path.write_bytes(base64.urlsafe_b64encode(bytes(token)))
    with pytest.raises(CredentialsError, match="Не удалось расшифровать"):
        credentials.load(tmp_path)


def test_a_missing_key_gives_a_russian_error(tmp_path):
    credentials.save(tmp_path, "sync.service", PASSWORD)
    (tmp_path / credentials.KEY_FILE).unlink()
    with pytest.raises(CredentialsError, match="Нет файла ключа"):
        credentials.load(tmp_path)


def test_saving_again_keeps_the_key(tmp_path):
    credentials.save(tmp_path, "a", "1")
    key = (tmp_path / credentials.KEY_FILE).read_bytes()
    credentials.save(tmp_path, "b", "2")
    assert (tmp_path / credentials.KEY_FILE).read_bytes() == key
    assert credentials.load(tmp_path) == ("b", "2")


def test_a_loose_key_file_is_tightened(tmp_path):
    credentials.save(tmp_path, "a", "1")
    (tmp_path / credentials.KEY_FILE).chmod(0o644)
    assert credentials.load(tmp_path) == ("a", "1")
    assert stat.S_IMODE((tmp_path / credentials.KEY_FILE).stat().st_mode) == 0o600
