"""`ezh keys …`: the archive keys from the console (thin: `appliance.backup.keys` works).

Failures the admin can act on (a sheet folder that is not there, no rights, a full
disk, a lost signing key) are Russian messages, never tracebacks.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

DATA_HELP = "Каталог данных школы (база, файлы, ключи)."
DEFAULT_SHEET = "ezh-key-director.pdf"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def keys() -> None:
    """Ключи электронного архива и резервных копий."""


def _open(data: str):
    from .cli import _open as open_data  # late: cli imports this module to attach the group

    return open_data(data)


@contextmanager
def _plain_errors(what: str) -> Iterator[None]:
    """Key, key-file and disk errors as one Russian line."""
    from .backup import crypto
    from .backup import keys as box_keys

    try:
        yield
    except (box_keys.KeysExist, box_keys.SigningKeyLost, crypto.CryptoError) as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        raise click.ClickException(f"{what}: {crypto.os_reason(exc)}{where}.") from exc


def _check_sheet_folder(path: Path) -> None:
    """Refuse before any key is made when the sheet cannot be written there."""
    folder = path.parent
    if not folder.is_dir():
        raise click.ClickException(
            f"Папки {folder} нет: укажите в --sheet существующую папку, например "
            "--sheet /dev/shm/ezh-key-director.pdf"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise click.ClickException(
            f"В папку {folder} нельзя записать лист ключа (нет прав у пользователя ЭЖ-box): "
            "укажите другую, например --sheet /dev/shm/ezh-key-director.pdf"
        )


def _school_name() -> str:
    from .models import School

    school = School.get_or_none()
    return school.name if school else ""


@keys.command("init")
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--deputy", is_flag=True, help="Сделать второй ключ — для заместителя директора.")
@click.option(
    "--sheet",
    default=DEFAULT_SHEET,
    show_default=True,
    help="Куда записать лист ключа (PDF) директора; лист заместителя — рядом, с -deputy.",
)
@click.option(
    "--recipient",
    "extra",
    multiple=True,
    help="Добавить уже имеющийся открытый ключ age1… (можно несколько раз).",
)
@click.option("--force", is_flag=True, help="Заменить уже созданные ключи.")
def keys_init(data: str, deputy: bool, sheet: str, extra: tuple[str, ...], force: bool) -> None:
    """Создать ключ архива директора, напечатать лист ключа и забыть секрет."""
    from .backup import keys as box_keys
    from .backup import keysheet
    from .db import write

    paths = keysheet.sheet_paths(Path(sheet).absolute(), deputy)
    _check_sheet_folder(paths[0])
    taken = [str(p) for p in paths if p.exists()]
    if taken:
        raise click.ClickException(
            f"Файл листа ключа уже есть: {', '.join(taken)}. Распечатайте и удалите его "
            "или укажите другой --sheet."
        )
    with _plain_errors("Ключи не созданы"):
        settings, db = _open(data)
    school_name = _school_name()

    def write_sheets(result: box_keys.InitResult) -> list[Path]:
        return keysheet.write_sheets(
            result,
            paths,
            school_name=school_name,
            public_key_text=box_keys.public_key_text(settings),
            data_dir=str(settings.data_dir),
        )

    with _plain_errors("Ключи не созданы"):
        result = box_keys.init_keys(
            settings, deputy=deputy, extra=list(extra), force=force, write_sheets=write_sheets
        )
    with write(user=None, ip="console") as rec:
        rec.record(
            "archive_keys.create",
            after={
                "recipients": [r.recipient for r in result.recipients],
                "key_id": result.key_id,
                "replaced": str(result.replaced or ""),
            },
        )
    db.close()
    click.echo(f"Ключи архива созданы. Ключ подписи коробки: {result.key_id}.")
    for item in result.recipients:
        click.echo(f"  {item.label}: {item.recipient}")
    if result.replaced:
        click.echo(f"Прежние открытые ключи сохранены в {result.replaced}.")
    click.echo("")
    for identity, path in zip(result.identities, result.sheets, strict=True):
        click.echo(f"Лист ключа ({identity.label}): {path}")
    names = " ".join(f"'{p}'" for p in result.sheets)
    click.echo(f"Распечатайте лист(ы) (например: sudo lp {names}), проверьте печать")
    click.echo("и УДАЛИТЕ файл(ы):")
    click.echo(f"    sudo shred -u {names}")
    click.echo("Секретного ключа в коробке нет: лист — единственная копия. Храните его в сейфе.")


@keys.command("add-recipient")
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--label", default="", help="Чей это ключ (например: заместитель директора).")
@click.argument("recipient")
def keys_add_recipient(data: str, label: str, recipient: str) -> None:
    """Добавить имеющийся открытый ключ age1… к получателям архива."""
    from .backup import keys as box_keys
    from .db import write

    with _plain_errors("Ключ не добавлен"):
        settings, db = _open(data)
        item = box_keys.add_recipient(settings, recipient, label)
    with write(user=None, ip="console") as rec:
        rec.record("archive_keys.add_recipient", after={"recipient": item.recipient})
    db.close()
    click.echo(f"Добавлен открытый ключ ({item.label}): {item.recipient}")


@keys.command("status")
@click.option("--data", required=True, help=DATA_HELP)
def keys_status(data: str) -> None:
    """Показать, какие ключи есть в коробке."""
    from .backup import keys as box_keys
    from .config import load_settings

    with _plain_errors("Ключи не прочитаны"):
        info = box_keys.status(load_settings(data))
    if not info["ready"]:
        click.echo(info["message"])
    if info["signing_message"]:
        click.echo(info["signing_message"])
    for item in info["recipient_list"]:
        click.echo(f"{item['label']} ({item['added']}): {item['recipient']}")
    if info["key_id"]:
        click.echo(f"Ключ подписи коробки: {info['key_id']}")


@keys.command("public-key")
@click.option("--data", required=True, help=DATA_HELP)
def keys_public_key(data: str) -> None:
    """Напечатать открытый ключ подписи коробки (файл box.minisign.pub)."""
    from .backup import keys as box_keys
    from .config import load_settings

    with _plain_errors("Ключ подписи не прочитан"):
        text = box_keys.public_key_text(load_settings(data))
    click.echo(text, nl=False)
