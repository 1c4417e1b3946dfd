"""`ezh archive`: the year-end electronic archive from the console (build, verify, open,
retention). Thin: every command calls `appliance.backup.archive` / `retention`."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import click

DATA_HELP = "Каталог данных ЭЖ-box."


@click.group("archive")
def archive() -> None:
    """Электронный архив журналов и сводных ведомостей на съёмном носителе (§9.2)."""


def _open(data: str):
    from .cli import _open as open_box

    return open_box(data)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


def os_reason(exc: OSError) -> str:
    from .backup.crypto import os_reason as reason

    return reason(exc)


def find_year(text: str):
    """The academic year named «2025/2026», «2025-2026» or by its first year «2025»."""
    from .models import AcademicYear

    value = text.strip().replace("-", "/")
    year = AcademicYear.get_or_none(AcademicYear.name == value)
    if year is None and value.isdigit():
        year = next(
            (y for y in AcademicYear.select() if y.starts.year == int(value)),
            None,
        )
    if year is None:
        names = ", ".join(y.name for y in AcademicYear.select().order_by(AcademicYear.starts))
        raise click.ClickException(f"Учебного года «{text}» нет. Есть: {names or 'никаких'}.")
    return year


def _medium(path: str, fat32: bool, part_size: int | None, *, create_label: bool = True):
    from .backup import media

    return media.open_medium(
        Path(path),
        fstype="vfat" if fat32 else None,
        part_size=part_size,
        create_label=create_label,
    )


@archive.command("build")
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--year", "year_name", required=True, help="Учебный год, например 2025/2026.")
@click.option("--media", "media_path", required=True, help="Папка на флешке (носителе архива).")
@click.option("--fat32", is_flag=True, help="Делить файлы как для FAT32 (определяется само).")
@click.option("--part-size", type=int, default=None, hidden=True)
def build(data: str, year_name: str, media_path: str, fat32: bool, part_size: int | None) -> None:
    """Записать архив учебного года: по каждому классу журнал и сводную ведомость."""
    from .backup import archive as archive_lib
    from .backup.keys import KeysMissing

    settings, _ = _open(data)
    year = find_year(year_name)

    def progress(done: int, total: int, message: str) -> None:
        click.echo(f"[{done}/{total}] {message}")

    try:
        records = archive_lib.build(
            settings, year, _medium(media_path, fat32, part_size), progress=progress
        )
    except (archive_lib.ArchiveError, KeysMissing, ValueError) as exc:
        raise _fail(exc) from exc
    except OSError as exc:
        raise _fail(ValueError(f"Архив не записан: {os_reason(exc)}.")) from exc
    total = sum(r.size for r in records)
    click.echo(f"Готово: {len(records)} ед., {total / 1024 / 1024:.1f} МБ.")


@archive.command("verify")
@click.argument("media_path")
@click.option("--data", required=True, help=DATA_HELP)
@click.option(
    "--identity",
    type=click.Path(exists=True, dir_okay=False),
    help="Файл с секретным ключом директора: тогда единицы ещё и расшифровываются.",
)
def verify(media_path: str, data: str, identity: str | None) -> None:
    """Проверить архив на носителе (без ключа — подписи и суммы; с ключом — всё)."""
    from .backup import archive as archive_lib

    settings, _ = _open(data)
    key = Path(identity).read_text(encoding="utf-8") if identity else None
    try:
        medium = _medium(media_path, False, None, create_label=False)  # writes nothing
        report = archive_lib.verify(settings, medium, key)
    except ValueError as exc:
        raise _fail(exc) from exc
    except OSError as exc:
        raise _fail(ValueError(f"Носитель не читается: {os_reason(exc)}.")) from exc
    click.echo(report.summary())
    raise SystemExit(0 if report.ok else 1)  # no unit found is a failure too


@archive.command("open")
@click.argument("unit", type=click.Path(dir_okay=False))
@click.option("--identity", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "to_dir", required=True, help="Куда распаковать.")
@click.option("--data", default=None, help=DATA_HELP + " Его ключ подписи проверяет единицу.")
@click.option(
    "--public-key",
    "public_key",
    type=click.Path(exists=True, dir_okay=False),
    help="Открытый ключ подписи ЭЖ-box с листа ключа (если нет --data).",
)
def open_(unit: str, identity: str, to_dir: str, data: str | None, public_key: str | None) -> None:
    """Расшифровать, распаковать и проверить единицу архива (ключ подписи — свой или с
    листа ключа; ключу с носителя не верим)."""
    from .backup import archive as archive_lib
    from .config import Settings

    key = Path(identity).read_text(encoding="utf-8")
    public = Path(public_key).read_text(encoding="utf-8") if public_key else None
    with tempfile.TemporaryDirectory() as scratch:
        settings = _open(data)[0] if data else Settings(data_dir=Path(scratch))
        try:
            folder = archive_lib.open_unit(settings, Path(unit), key, Path(to_dir), public)
        except ValueError as exc:
            raise _fail(exc) from exc
        except OSError as exc:
            raise _fail(ValueError(f"Единица не открыта: {os_reason(exc)}.")) from exc
    click.echo(f"Открыто и проверено: {folder}")


@archive.command("due")
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--date", "on", default=None, help="На дату ДД.ММ.ГГГГ (по умолчанию сегодня).")
def due(data: str, on: str | None) -> None:
    """Единицы, срок хранения которых истёк, и единицы, давно не проверявшиеся."""
    from .backup import retention

    _open(data)
    today = _date(on)
    items = retention.due_for_destruction(today)
    click.echo(f"К уничтожению: {len(items)}")
    for r in items:
        until = f"до {r.retain_until:%d.%m.%Y}"
        click.echo(f"  {r.id}\t{r.register_number}\t{r.title}\t{until}\t«{r.media_label}»")
    stale = retention.verification_due()
    click.echo(f"Не проверялись больше года: {len(stale)}")
    for r in stale:
        click.echo(f"  {r.id}\t{r.register_number}\t{r.title}\t«{r.media_label}»")


def _date(text: str | None) -> dt.date:
    if not text:
        return dt.date.today()
    try:
        return dt.datetime.strptime(text, "%d.%m.%Y").date()
    except ValueError as exc:
        raise click.ClickException(f"Дата «{text}» — не ДД.ММ.ГГГГ.") from exc


@archive.command("destroy")
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--media", "media_path", required=True, help="Носитель с этими единицами.")
@click.option(
    "--unit", "units", type=int, multiple=True, help="Номер единицы (из ezh archive due)."
)
@click.option("--act", default=None, help="Номер акта (по умолчанию следующий).")
@click.option("--act-pdf", type=click.Path(dir_okay=False), help="Сохранить акт в PDF сюда.")
@click.option("--yes", is_flag=True, help="Подтверждаю: акт подписан, уничтожить.")
def destroy(
    data: str,
    media_path: str,
    units: tuple[int, ...],
    act: str | None,
    act_pdf: str | None,
    yes: bool,
) -> None:
    """Акт об уничтожении и удаление единиц с истёкшим сроком хранения."""
    from .backup import retention

    settings, _ = _open(data)
    due_ids = {r.id for r in retention.due_for_destruction()}
    chosen = list(units) or sorted(due_ids)
    number = act or retention.act_number()
    records = [r for r in retention.due_for_destruction() if r.id in chosen]
    if act_pdf:
        Path(act_pdf).write_bytes(retention.act_pdf(records, number))
        click.echo(f"Акт № {number} сохранён: {act_pdf}")
    if not yes:
        click.echo("Ничего не уничтожено: после подписания акта повторите с --yes.")
        return
    try:
        medium = _medium(media_path, False, None, create_label=False)
        done = retention.destroy(settings, chosen, medium, number)
    except ValueError as exc:
        raise _fail(exc) from exc
    except OSError as exc:
        raise _fail(ValueError(f"Ничего не уничтожено: {os_reason(exc)}.")) from exc
    click.echo(f"Уничтожено по акту № {number}: {len(done)} ед.")
