"""`ezh keys init`: the director's key goes onto the sheet and nowhere else on the box."""

from __future__ import annotations

import os
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


# --- review fixes -----------------------------------------------------------------------


def _dark_cells(svg: str) -> set[tuple[int, int]]:
    """The dark modules drawn by segno's SVG path (``M``/``m`` moves, ``h`` runs)."""
    path = re.search(r"<path[^>]*class='qrline'[^>]*d='([^']+)'", svg) or re.search(
        r"<path[^>]*d='([^']+)'[^>]*class='qrline'", svg
    )
    assert path, "no QR path in the SVG"
    cells: set[tuple[int, int]] = set()
    x = y = 0.0
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?:\s(-?[\d.]+))?", path.group(1)):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            cells.update((int(x) + i, int(y)) for i in range(int(float(a))))
            x += float(a)
    return cells


def test_the_pdf_gets_a_real_inline_svg_qr_of_the_secret(settings, tmp_path, monkeypatch):
    """What WeasyPrint receives holds the QR as inline SVG path data, and it is the key."""
    import urllib.parse

    import segno

    from appliance import pdf

    seen: list[str] = []
    monkeypatch.setattr(pdf, "render_pdf", lambda html, **kw: seen.append(html) or b"%PDF-")
    secret, recipient = crypto.generate_identity()
    result = keys.InitResult(
        [keys.NewIdentity("директор", secret, recipient)],
        [keys.Recipient(recipient, "директор", "01.09.2026 10:00")],
        "0123456789ABCDEF",
    )
    keysheet.write_sheets(
        result, [tmp_path / "s.pdf"], school_name="Школа №1", public_key_text="pub"
    )
    [html] = seen
    uri = re.search(r'<img src="(data:image/svg\+xml[^"]+)"', html).group(1)
    svg = urllib.parse.unquote(uri.split(",", 1)[1])
    assert svg.startswith("<svg") and "<path" in svg
    qr = segno.make(secret, error="m")
    quiet = qr.default_border_size  # the light margin around the code
    expected = {
        (x + quiet, y + quiet)
        for y, row in enumerate(qr.matrix)
        for x, dark in enumerate(row)
        if dark
    }
    assert _dark_cells(svg) == expected and len(expected) > 300  # the secret, module by module


def test_the_sheet_and_the_page_print_commands_that_run(settings):
    secret, recipient = crypto.generate_identity()
    result = keys.InitResult(
        [keys.NewIdentity("директор", secret, recipient)],
        [keys.Recipient(recipient, "директор", "01.09.2026 10:00")],
        "0123456789ABCDEF",
    )
    html = keysheet.key_sheet_html(
        result.identities[0],
        result,
        school_name="Ш",
        public_key_text="pub",
        data_dir="/var/lib/ezh",
    )
    assert "sudo ezh restore ФАЙЛ --identity - --data /var/lib/ezh --yes &lt; key.txt" in html
    assert "ezh restore ФАЙЛ --identity key.txt</span>" not in html


def test_keys_init_into_a_missing_folder_says_so_and_makes_nothing(runner, settings, school):
    result = runner.invoke(
        keys_cli, ["init", "--data", str(settings.data_dir), "--sheet", "/nonexistent/x.pdf"]
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "Папки /nonexistent нет" in result.output and "Traceback" not in result.output
    assert keys.status(settings)["recipients"] == 0
    assert not (settings.data_dir / "keys" / keys.SIGNING_KEY).exists()


def test_no_rights_is_a_russian_message_not_a_traceback(
    runner, settings, school, tmp_path, monkeypatch
):
    import errno

    def denied(settings):
        raise PermissionError(errno.EACCES, "Permission denied", str(settings.data_dir / "keys"))

    monkeypatch.setattr(keys, "keys_dir", denied)
    result = init(runner, settings, tmp_path)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "Ключи не созданы: нет прав" in result.output and "keys" in result.output
    _, extra = crypto.generate_identity()
    added = runner.invoke(keys_cli, ["add-recipient", "--data", str(settings.data_dir), extra])
    assert added.exit_code == 1 and "нет прав" in added.output


def test_a_lost_signing_key_is_not_made_again_silently(runner, settings, school, tmp_path):
    assert init(runner, settings, tmp_path).exit_code == 0
    folder = settings.data_dir / "keys"
    old_pub = keys.public_key_text(settings)
    (folder / keys.SIGNING_KEY).unlink()  # a half-restored box: recipients, no secret
    os.utime(folder / keys.PUBLIC_KEY, (1e9, 1e9))  # made long ago, not a moment ago
    target = tmp_path / "unit.tar.age"
    target.write_bytes(b"x")
    with pytest.raises(keys.SigningKeyLost, match="ezh keys init --force") as lost:
        keys.sign(settings, target, tmp_path / "unit.minisig", "ЭЖ-box")
    assert "старом листе" in str(lost.value)
    assert not (folder / keys.SIGNING_KEY).exists() and keys.public_key_text(settings) == old_pub
    assert "пропал" in keys.status(settings)["signing_message"]
    _, extra = crypto.generate_identity()
    added = runner.invoke(keys_cli, ["add-recipient", "--data", str(settings.data_dir), extra])
    assert added.exit_code == 1 and "пропал" in added.output

    (tmp_path / "sheet.pdf").unlink()
    forced = init(runner, settings, tmp_path, "--force")
    assert forced.exit_code == 0, forced.output
    assert keys.public_key_text(settings) != old_pub  # a new pair, made on purpose
    [aside] = folder.glob("box.minisign.replaced-*.pub")
    assert aside.read_text() == old_pub
    keys.sign(settings, target, tmp_path / "unit.minisig", "ЭЖ-box")


def test_the_signing_key_is_made_once_even_by_two_processes_at_once(settings):
    import threading

    made: list[str] = []
    start = threading.Barrier(4)

    def first_use() -> None:
        start.wait()
        made.append(keys.signing_key(settings).key_id)

    threads = [threading.Thread(target=first_use) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    key = crypto.load_secret_key((settings.data_dir / "keys" / keys.SIGNING_KEY).read_text())
    assert made == [key.key_id] * 4
    assert crypto.load_public_key(keys.public_key_text(settings))[0] == key.keynum
    assert mode(settings.data_dir / "keys" / keys.SIGNING_KEY) == 0o600
    assert not list((settings.data_dir / "keys").glob(".*.tmp"))


def test_a_new_box_gets_the_old_recipient_back_and_a_new_signing_key(runner, settings, school):
    """Recovery (docs/archive-keys.md): the recipient from the sheet, nothing else needed."""
    _, recipient = crypto.generate_identity()
    data = ["--data", str(settings.data_dir)]
    added = runner.invoke(keys_cli, ["add-recipient", *data, "--label", "директор", recipient])
    assert added.exit_code == 0, added.output
    assert keys.recipients(settings) == [recipient]
    assert (settings.data_dir / "keys" / keys.SIGNING_KEY).exists()
    assert keys.status(settings)["ready"] and not keys.status(settings)["signing_message"]


def test_a_public_key_written_a_moment_ago_waits_for_its_secret(settings):
    """Another process linked the public key and is about to link the secret: take it."""
    import threading

    folder = keys.keys_dir(settings)
    other = crypto.generate_signing_key()
    (folder / keys.PUBLIC_KEY).write_text(other.public_key_text())
    late = threading.Timer(
        0.3, lambda: (folder / keys.SIGNING_KEY).write_text(other.secret_key_text())
    )
    late.start()
    try:
        assert keys.signing_key(settings).key_id == other.key_id
    finally:
        late.join()
    with pytest.raises(FileExistsError):  # a key file is never overwritten
        keys._link_new(folder / keys.SIGNING_KEY, "другой ключ", 0o600)
    assert crypto.load_secret_key((folder / keys.SIGNING_KEY).read_text()).key_id == other.key_id
