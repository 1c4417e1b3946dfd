"""`ezh backup` and `ezh restore`: database backups from the console (thin: the work is
in `appliance.backup.dbbackup`). Every failure the admin can act on is a Russian
message, never a traceback."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click

DATA_HELP = "Каталог данных школы (база, файлы, ключи)."


def _open(data: str):
    from .cli import _open as open_data  # late: cli imports this module to attach commands

    return open_data(data)


def _os_failure(exc: OSError, what: str) -> click.ClickException:
    from .backup import crypto

    return click.ClickException(f"{what}: {crypto.os_reason(exc)} ({exc.filename or ''}).")


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

    try:
        settings, db = _open(data)
        result = dbbackup.make_backup(settings, to=to)
        dbbackup.record_backup(result, None, "console")
        db.close()
    except (keys.KeysMissing, dbbackup.BackupError, crypto.CryptoError) as exc:
        raise click.ClickException(str(exc)) from exc
    except sqlite3.OperationalError as exc:  # the data disk is full, the database locked
        raise click.ClickException(
            f"Копия не сделана: база данных недоступна для записи ({exc}). "
            "Проверьте место на диске коробки и повторите."
        ) from exc
    except OSError as exc:
        raise _os_failure(exc, "Копия не сделана") from exc
    click.echo(f"Копия {result.name}: {result.size} байт.")
    for path in result.copies:
        click.echo(f"  записана: {path}")
    if result.media_note:
        click.echo(f"ВНИМАНИЕ: на флешку не записана. {result.media_note}", err=True)
    if result.removed:
        click.echo(f"  удалены старые копии: {', '.join(result.removed)}")


def read_identity(identity: str) -> str:
    """The key text from a file, or from standard input for ``-`` (``< key.txt``: the
    file is read by the admin's shell, not by the box's user)."""
    if identity == "-":
        text = sys.stdin.read()
    else:
        path = Path(identity)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            from .backup import crypto

            raise click.ClickException(
                f"Файл ключа {path} не прочитан: {crypto.os_reason(exc)}. Можно подать ключ "
                "на вход команды: --identity - < key.txt"
            ) from exc
        except UnicodeDecodeError as exc:
            raise click.ClickException(
                f"Файл ключа {path} — не текст: наберите в нём ключ с листа (AGE-SECRET-KEY-1…)."
            ) from exc
    return text


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--identity",
    required=True,
    help="Файл с секретным ключом с листа ключа (AGE-SECRET-KEY-1…); «-» — со стандартного входа.",
)
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--yes", is_flag=True, help="Не спрашивать подтверждения.")
def restore(file: Path, identity: str, data: str, yes: bool) -> None:
    """Восстановить базу из резервной копии (службы ЭЖ-box должны быть остановлены).

    FILE — файл копии; копия, разбитая на части на флешке FAT32, задаётся первой частью
    (….age.001) или общим именем.
    """
    from .backup import crypto, dbbackup
    from .config import load_settings

    try:
        settings = load_settings(data)
        parts = dbbackup.backup_parts(file)
    except dbbackup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise _os_failure(exc, "Восстановление не сделано") from exc
    if identity == "-" and not yes:
        raise click.ClickException("С ключом на стандартном входе добавьте --yes.")
    if not yes:
        click.confirm(
            f"Текущая база {settings.db_path} будет заменена копией {parts[0].name} "
            "(текущая сохранится рядом). Продолжить?",
            abort=True,
        )
    key = read_identity(identity)
    try:
        result = dbbackup.restore(settings, file, key)
    except (dbbackup.BackupError, crypto.CryptoError) as exc:
        raise click.ClickException(str(exc)) from exc
    except sqlite3.Error as exc:
        raise click.ClickException(f"Восстановление не сделано: ошибка SQLite ({exc}).") from exc
    except OSError as exc:
        raise _os_failure(exc, "Восстановление не сделано") from exc
    click.echo(
        f"База восстановлена из {parts[0].name}"
        + (f" (частей: {len(parts)})." if len(parts) > 1 else ".")
    )
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
