"""`ezh archive build | verify | open | due | destroy` from the console."""

from __future__ import annotations

import datetime as dt

from appliance.backup import keys
from appliance.cli_archive import archive as archive_cli
from appliance.models import ArchiveRecord

from .archive_support import make_keys, other_identity


def _data(settings) -> list[str]:
    return ["--data", str(settings.data_dir)]


def test_build_verify_open_from_the_console(runner, app, school, settings, tmp_path, monkeypatch):
    from appliance.backup import bag

    from .archive_support import stub_printer

    monkeypatch.setattr(bag, "default_printer", stub_printer)
    key = make_keys(settings, tmp_path)
    stick = tmp_path / "usb"
    stick.mkdir()
    year = school.year.name.replace("/", "-")
    built = runner.invoke(
        archive_cli, ["build", *_data(settings), "--year", year, "--media", str(stick)]
    )
    assert built.exit_code == 0, built.output
    assert "[0/4] Записываю: 5А, журнал" in built.output and "Готово: 4 ед." in built.output
    checked = runner.invoke(archive_cli, ["verify", str(stick), *_data(settings)])
    assert checked.exit_code == 0 and "с ошибками: 0" in checked.output
    full = runner.invoke(
        archive_cli, ["verify", str(stick), *_data(settings), "--identity", str(key)]
    )
    assert full.exit_code == 0 and "Проверено с ключом: 4" in full.output
    wrong = runner.invoke(
        archive_cli,
        ["verify", str(stick), *_data(settings), "--identity", str(other_identity(tmp_path))],
    )
    assert wrong.exit_code == 1 and "Ключ не подходит" in wrong.output
    unit = stick / ArchiveRecord.get().file_name
    # away from the box (no --data) the signing key must come from the key sheet:
    # the one on the stick proves nothing (H3)
    lone = ["open", str(unit), "--identity", str(key), "--to", str(tmp_path / "o")]
    refused = runner.invoke(archive_cli, lone)
    assert refused.exit_code == 1 and "--public-key" in refused.output
    assert "Traceback" not in refused.output and not (tmp_path / "o").exists()
    sheet_key = tmp_path / "ключ-подписи.pub"
    sheet_key.write_text(keys.public_key_text(settings), encoding="utf-8")
    opened = runner.invoke(archive_cli, [*lone, "--public-key", str(sheet_key)])
    assert opened.exit_code == 0, opened.output
    assert "Открыто и проверено" in opened.output
    assert (tmp_path / "o" / f"5А-журнал-{year}" / "bagit.txt").is_file()
    again = runner.invoke(
        archive_cli,
        ["open", str(unit), "--identity", str(key), "--to", str(tmp_path / "o2"), *_data(settings)],
    )
    assert again.exit_code == 0, again.output  # on the box: the box's own key


def test_verify_writes_nothing_and_an_empty_medium_fails(runner, app, school, settings, tmp_path):
    """M2: a check never creates a label file; no unit found is a failure, not «0 errors»."""
    make_keys(settings, tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    result = runner.invoke(archive_cli, ["verify", str(empty), *_data(settings)])
    assert result.exit_code == 1 and "нет единиц архива" in result.output
    assert list(empty.iterdir()) == []


def test_build_refuses_an_unknown_year_and_a_missing_medium(
    runner, app, school, settings, tmp_path
):
    make_keys(settings, tmp_path)
    result = runner.invoke(
        archive_cli, ["build", *_data(settings), "--year", "1999", "--media", str(tmp_path)]
    )
    assert result.exit_code != 0 and "Учебного года «1999» нет" in result.output
    result = runner.invoke(
        archive_cli,
        ["build", *_data(settings), "--year", school.year.name, "--media", str(tmp_path / "no")],
    )
    assert result.exit_code != 0 and "Носитель не найден" in result.output


def test_due_and_destroy_from_the_console(runner, app, school, settings, tmp_path):
    from appliance.backup import archive

    from .archive_support import stub_printer

    make_keys(settings, tmp_path)
    stick = tmp_path / "usb"
    stick.mkdir()
    records = archive.build(settings, school.year, stick, printer=stub_printer)
    journal = records[0]
    ArchiveRecord.update(retain_until=dt.date.today() - dt.timedelta(days=1)).where(
        ArchiveRecord.id == journal.id
    ).execute()
    due = runner.invoke(archive_cli, ["due", *_data(settings)])
    assert due.exit_code == 0 and "К уничтожению: 1" in due.output and "5А, журнал" in due.output
    act = tmp_path / "act.pdf"
    dry = runner.invoke(
        archive_cli, ["destroy", *_data(settings), "--media", str(stick), "--act-pdf", str(act)]
    )
    assert dry.exit_code == 0 and "Ничего не уничтожено" in dry.output
    assert act.read_bytes().startswith(b"%PDF") and (stick / journal.file_name).exists()
    done = runner.invoke(archive_cli, ["destroy", *_data(settings), "--media", str(stick), "--yes"])
    assert done.exit_code == 0 and "Уничтожено по акту" in done.output, done.output
    assert not (stick / journal.file_name).exists()
    assert ArchiveRecord.get_by_id(journal.id).status == "destroyed"


def test_stock_age_opens_a_unit_with_the_key_typed_from_the_sheet(
    runner, app, school, settings, tmp_path, monkeypatch
):
    """The whole console path of the issue: `ezh keys init` prints the sheet, `ezh archive
    build` writes the stick, and the stock age decrypts with the key typed from the sheet."""
    import subprocess

    import pypdf

    from appliance.backup import bag
    from appliance.cli_keys import keys as keys_cli

    from .archive_support import need, stub_printer

    age = need("age")
    monkeypatch.setattr(bag, "default_printer", stub_printer)
    sheet = tmp_path / "sheet.pdf"
    made = runner.invoke(keys_cli, ["init", *_data(settings), "--sheet", str(sheet)])
    assert made.exit_code == 0, made.output
    lines = "\n".join(p.extract_text() for p in pypdf.PdfReader(sheet).pages).splitlines()
    rows: list[str] = []
    for line in lines[lines.index("Секретный ключ") + 1 :]:
        number, _, rest = line.partition(" ")
        if number != str(len(rows) + 1):
            break
        rows.append(rest)
    key = tmp_path / "ключ.txt"
    key.write_text("".join(rows).replace(" ", "") + "\n")
    stick = tmp_path / "usb"
    stick.mkdir()
    built = runner.invoke(
        archive_cli,
        ["build", *_data(settings), "--year", school.year.name, "--media", str(stick)],
    )
    assert built.exit_code == 0, built.output
    unit = stick / ArchiveRecord.get(ArchiveRecord.unit == "summary").file_name
    listing = subprocess.run(
        f"{age} -d -i '{key}' '{unit}' | tar tf -", shell=True, capture_output=True, text=True
    )
    assert listing.returncode == 0, listing.stderr
    assert "README.txt" in listing.stdout and "tagmanifest-sha256.txt.minisig" in listing.stdout
