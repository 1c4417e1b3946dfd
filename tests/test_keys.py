"""`ezh keys init`: the director's key goes onto the sheet and nowhere else on the box."""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from pathlib import Path

import pypdf
import pytest

from appliance.backup import crypto, keys, keysheet
from appliance.cli_keys import keys as keys_cli
from appliance.models import AuditEntry, School

needs_age = pytest.mark.skipif(
    shutil.which("age") is None, reason="stock age is not installed (Debian package «age»)"
)
needs_minisign = pytest.mark.skipif(
    shutil.which("minisign") is None, reason="stock minisign is not installed (package «minisign»)"
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def sheet_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages)


def secret_from_sheet(path: Path) -> str:
    """Type the key from the sheet as a person would: the numbered rows, spaces dropped."""
    lines = sheet_text(path).splitlines()
    rows: list[str] = []
    for line in lines[lines.index("Секретный ключ") + 1 :]:
        number, _, rest = line.partition(" ")
        if number != str(len(rows) + 1):
            break
        rows.append(rest)
    return "".join(rows).replace(" ", "")


def init(runner, settings, tmp_path, *args: str):
    return runner.invoke(
        keys_cli,
        ["init", "--data", str(settings.data_dir), "--sheet", str(tmp_path / "sheet.pdf"), *args],
    )


def test_keys_init_prints_the_sheet_and_keeps_only_the_recipient(
    runner, settings, school, tmp_path
):
    result = init(runner, settings, tmp_path)
    assert result.exit_code == 0, result.output
    assert "Распечатайте" in result.output and "shred -u" in result.output
    sheet = tmp_path / "sheet.pdf"
    assert mode(sheet) == 0o600
    folder = settings.data_dir / "keys"
    assert mode(folder) == 0o700 and mode(folder / keys.SIGNING_KEY) == 0o600

    secret = secret_from_sheet(sheet)
    assert secret.startswith("AGE-SECRET-KEY-1") and len(secret) == 74
    [recipient] = keys.recipients(settings)
    assert crypto.recipient_of(secret) == recipient  # the sheet's key opens what the box seals

    # the box forgot the secret: it is nowhere in the data dir (database included)
    for path in settings.data_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"AGE-SECRET-KEY" not in data and secret.lower().encode() not in data, path

    text = sheet_text(sheet)
    status = keys.status(settings)
    assert status["ready"] and status["recipients"] == 1 and status["key_id"] in text
    assert School.get().name in text
    assert "age -d -i key.txt" in text and "minisign -Vm" in text and recipient in text
    assert keys.public_key_text(settings).splitlines()[1] in text
    entry = AuditEntry.select().where(AuditEntry.action == "archive_keys.create").get()
    assert recipient in entry.after and secret not in entry.after


@needs_age
def test_the_key_typed_from_the_sheet_opens_a_file_with_stock_age(
    runner, settings, school, tmp_path
):
    assert init(runner, settings, tmp_path).exit_code == 0
    plain = tmp_path / "unit.txt"
    plain.write_text("сводная ведомость 5А", encoding="utf-8")
    crypto.encrypt_file(plain, tmp_path / "unit.age", keys.recipients(settings))
    key = tmp_path / "key.txt"
    key.write_text(secret_from_sheet(tmp_path / "sheet.pdf") + "\n")
    done = subprocess.run(
        ["age", "-d", "-i", str(key), str(tmp_path / "unit.age")], capture_output=True, check=True
    )
    assert done.stdout.decode() == "сводная ведомость 5А"


def test_the_sheet_carries_a_qr_code_and_groups_of_five(settings):
    secret, recipient = crypto.generate_identity()
    result = keys.InitResult(
        [keys.NewIdentity("директор", secret, recipient)],
        [keys.Recipient(recipient, "директор", "01.09.2026 10:00")],
        "0123456789ABCDEF",
    )
    html = keysheet.key_sheet_html(
        result.identities[0], result, school_name="Школа №1", public_key_text="pub"
    )
    assert 'src="data:image/svg+xml' in html
    rows = keysheet.secret_rows(secret)
    assert len(rows) == 3 and all(len(g) <= 5 for row in rows for g in row)
    assert "".join(g for row in rows for g in row) == secret
    assert not re.search(r'(src|href)="(?!data:)', html)  # nothing to fetch


def test_keys_init_refuses_to_replace_keys_without_force(runner, settings, school, tmp_path):
    assert init(runner, settings, tmp_path).exit_code == 0
    first = keys.recipients(settings)
    pub = keys.public_key_text(settings)
    (tmp_path / "sheet.pdf").unlink()  # printed and deleted, as told
    again = init(runner, settings, tmp_path)
    assert again.exit_code != 0 and "уже созданы" in again.output and "--force" in again.output
    assert keys.recipients(settings) == first and not (tmp_path / "sheet.pdf").exists()

    forced = init(runner, settings, tmp_path, "--force")
    assert forced.exit_code == 0, forced.output
    assert keys.recipients(settings) != first
    [aside] = (settings.data_dir / "keys").glob("recipients.replaced-*.txt")
    assert first[0] in aside.read_text()
    assert keys.public_key_text(settings) == pub  # the signing key stays: old signatures hold


def test_keys_init_will_not_overwrite_an_unprinted_sheet(runner, settings, school, tmp_path):
    (tmp_path / "sheet.pdf").write_bytes(b"old sheet")
    result = init(runner, settings, tmp_path)
    assert result.exit_code != 0 and "уже есть" in result.output
    assert (tmp_path / "sheet.pdf").read_bytes() == b"old sheet"
    with pytest.raises(keys.KeysMissing):
        keys.recipients(settings)


def test_deputy_and_extra_recipients(runner, settings, school, tmp_path):
    _, extra = crypto.generate_identity()
    result = init(runner, settings, tmp_path, "--deputy", "--recipient", extra)
    assert result.exit_code == 0, result.output
    deputy_sheet = tmp_path / "sheet-deputy.pdf"
    assert mode(deputy_sheet) == 0o600
    director, deputy = secret_from_sheet(tmp_path / "sheet.pdf"), secret_from_sheet(deputy_sheet)
    assert director != deputy
    assert keys.recipients(settings) == [
        crypto.recipient_of(director),
        crypto.recipient_of(deputy),
        extra,
    ]
    labels = [r["label"] for r in keys.status(settings)["recipient_list"]]
    assert labels == ["директор", "заместитель директора", "дополнительный ключ"]
    assert "заместитель директора" in sheet_text(deputy_sheet)


def test_a_bad_recipient_is_refused_and_nothing_is_made(runner, settings, school, tmp_path):
    result = init(runner, settings, tmp_path, "--recipient", "age1notakey")
    assert result.exit_code != 0 and "повреждён" in result.output
    assert not (tmp_path / "sheet.pdf").exists()
    assert keys.status(settings)["recipients"] == 0


def test_add_recipient_and_status_commands(runner, settings, school, tmp_path):
    assert init(runner, settings, tmp_path).exit_code == 0
    _, extra = crypto.generate_identity()
    data = ["--data", str(settings.data_dir)]
    added = runner.invoke(keys_cli, ["add-recipient", *data, "--label", "завуч", extra])
    assert added.exit_code == 0, added.output
    again = runner.invoke(keys_cli, ["add-recipient", *data, extra])
    assert again.exit_code != 0 and "уже есть" in again.output
    shown = runner.invoke(keys_cli, ["status", *data])
    assert "завуч" in shown.output and extra in shown.output
    assert runner.invoke(keys_cli, ["public-key", *data]).output == keys.public_key_text(settings)


def test_missing_keys_say_what_to_run(settings):
    with pytest.raises(keys.KeysMissing, match="Ключи архива не созданы: выполните ezh keys init"):
        keys.recipients(settings)
    status = keys.status(settings)
    assert not status["ready"] and "ezh keys init" in status["message"]
    assert status["recipients"] == 0 and status["created_at"] is None


@needs_minisign
def test_the_box_signs_on_first_use_and_stock_minisign_agrees(settings, tmp_path):
    path = tmp_path / "tagmanifest-sha256.txt"
    path.write_text("abc  data/x.pdf\n")
    keys.sign(settings, path, tmp_path / "tag.minisig", "ЭЖ-box 5А 2026/2027")
    folder = settings.data_dir / "keys"
    assert mode(folder / keys.SIGNING_KEY) == 0o600
    pub = tmp_path / "box.pub"
    pub.write_text(keys.public_key_text(settings))
    assert pub.read_text() == (folder / keys.PUBLIC_KEY).read_text()
    subprocess.run(
        ["minisign", "-Vm", str(path), "-x", str(tmp_path / "tag.minisig"), "-p", str(pub)],
        check=True,
        capture_output=True,
    )
    key_id = keys.status(settings)["key_id"]
    assert key_id and key_id in pub.read_text()
    keys.sign(settings, path, tmp_path / "again.minisig", "x")  # the same key next time
    crypto.verify_file(path, tmp_path / "again.minisig", pub.read_text())
