"""`ezh backup` and `ezh restore`: database backups from the console (thin: the work is
in `appliance.backup.dbbackup`)."""

from __future__ import annotations

from pathlib import Path

import click

DATA_HELP = "Каталог данных школы (база, файлы, ключи)."


def _open(data: str):
    from .cli import _open as open_data  # late: cli imports this module to attach commands

    return open_data(data)


@click.command("backup")
@click.option("--data", required=True, help=DATA_HELP)
@click.option(
    "--to",
    "to",
    default=None,
    type=click.Path(file_okay=False, path_type=Path),
    help="Папка на флешке для второй копии (иначе — EZH_MEDIA, если флешка вставлена).",
)
def backup(data: str, to: Path | None) -> None:
    """Сделать зашифрованную резервную копию базы (на диск коробки и на флешку)."""
    from .backup import crypto, dbbackup, keys

    settings, db = _open(data)
    try:
        result = dbbackup.make_backup(settings, to=to)
    except (keys.KeysMissing, dbbackup.BackupError, crypto.CryptoError) as exc:
        raise click.ClickException(str(exc)) from exc
    dbbackup.record_backup(result, None, "console")
    db.close()
    click.echo(f"Копия {result.name}: {result.size} байт.")
    for path in result.copies:
        click.echo(f"  записана: {path}")
    if result.media_note:
        click.echo(f"  на флешку не записана: {result.media_note}")
    if result.removed:
        click.echo(f"  удалены старые копии: {', '.join(result.removed)}")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--identity",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Файл с секретным ключом с листа ключа (AGE-SECRET-KEY-1…).",
)
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--yes", is_flag=True, help="Не спрашивать подтверждения.")
def restore(file: Path, identity: Path, data: str, yes: bool) -> None:
    """Восстановить базу из резервной копии (службы ЭЖ-box должны быть остановлены)."""
    from .backup import crypto, dbbackup
    from .config import load_settings

    settings = load_settings(data)
    if not yes:
        click.confirm(
            f"Текущая база {settings.db_path} будет заменена копией {file.name} "
            "(текущая сохранится рядом). Продолжить?",
            abort=True,
        )
    try:
        result = dbbackup.restore(settings, file, identity.read_text(encoding="utf-8"))
    except (dbbackup.BackupError, crypto.CryptoError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"База восстановлена из {file.name}.")
    if result.kept_as:
        click.echo(f"Прежняя база сохранена как {result.kept_as}.")
    if result.applied:
        click.echo(f"Применены миграции: {', '.join(result.applied)}.")
    click.echo(f"Новый идентификатор экземпляра: {result.instance_id}.")
    click.echo(
        "Журнал изменений: цепочка цела."
        if result.chain_ok
        else "ВНИМАНИЕ: цепочка журнала изменений нарушена — сообщите администратору."
    )
    click.echo("Запустите службы ЭЖ-box снова (sudo systemctl start ezh-web ezh-worker).")
