"""`ezh emulator`: run the АСУ РСО / NetSchool emulator (for tests and the demo)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .sync.emulator import DB_NAME, EmulatorStore, Faults, create_emulator, seed_from_box
from .sync.emulator.seed import DEFAULT_LOGIN, DEFAULT_PASSWORD

BOX_DB_NAME = "ezh.sqlite3"


@click.command("emulator")
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(file_okay=False),
    help="Каталог данных эмулятора (своя база SQLite).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8090, show_default=True, type=int)
@click.option(
    "--seed-from",
    "seed_from",
    type=click.Path(exists=True),
    help="Каталог данных ЭЖ-box (или файл базы), из которого засеять эмулятор.",
)
@click.option(
    "--login", default=DEFAULT_LOGIN, show_default=True, help="Логин служебной учётной записи."
)
@click.option("--password", default=DEFAULT_PASSWORD, help="Пароль служебной учётной записи.")
@click.option(
    "--student-password",
    default=None,
    help="Создать входы учеников (логины как в ЭЖ-box) с этим паролем.",
)
@click.option(
    "--faults",
    "faults",
    default=None,
    help="Сбои: JSON-объект или путь к JSON-файлу (см. appliance.sync.emulator.faults).",
)
@click.option("--threads", default=4, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Только подготовить данные и выйти.")
def emulator(
    data: str,
    host: str,
    port: int,
    seed_from: str | None,
    login: str,
    password: str,
    student_password: str | None,
    faults: str | None,
    threads: int,
    no_serve: bool,
) -> None:
    """Эмулятор АСУ РСО (NetSchool web API) со своей базой и имитацией сбоев."""
    data_dir = Path(data)
    try:
        fault_set = Faults.load(faults)
    except (OSError, ValueError, TypeError) as error:
        raise click.ClickException(f"Не удалось прочитать сбои: {error}") from error
    if seed_from:
        box_db = Path(seed_from)
        if box_db.is_dir():
            box_db = box_db / BOX_DB_NAME
        store = EmulatorStore(data_dir / DB_NAME)
        try:
            counts = seed_from_box(store, box_db, login, password, student_password)
        except ValueError as error:
            raise click.ClickException(str(error)) from error
        click.echo(f"Эмулятор засеян из {box_db}: {json.dumps(counts, ensure_ascii=False)}")
    app = create_emulator(data_dir, faults=fault_set)
    if no_serve:
        return
    from waitress import serve

    click.echo(f"Эмулятор АСУ РСО: http://{host}:{port}/webapi (служебный вход: {login})")
    serve(app, host=host, port=port, threads=threads)
