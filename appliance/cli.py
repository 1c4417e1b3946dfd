"""`ezh`: the box's console commands. Thin: each command calls the library."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import __version__

DATA_HELP = "Каталог данных школы (база, файлы, ключи)."


def _open(data: str, **overrides):
    """Settings + an open, migrated database for a console command."""
    from .config import load_settings
    from .db import migrate, open_database

    settings = load_settings(data, **overrides)
    db = open_database(settings.db_path)
    db.connect(reuse_if_open=True)
    migrate(db)
    return settings, db


def _serve(settings, host: str, port: int, threads: int, trusted_proxy: str = "") -> None:
    from waitress import serve

    from .web import create_app

    app = create_app(settings)
    click.echo(f"ЭЖ-box {__version__}: http://{host}:{port}/  (остановить: Ctrl+C)")
    # Behind the HTTPS proxy (docs/tls.md) the client's address comes in X-Forwarded-For;
    # it is believed only from that proxy, so the audit and the login lockout see the
    # teacher's computer, not 127.0.0.1.
    proxy = (
        {
            "trusted_proxy": trusted_proxy,
            "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"},
            "clear_untrusted_proxy_headers": True,
        }
        if trusted_proxy
        else {}
    )
    serve(app, host=host, port=port, threads=threads, ident="ezh", **proxy)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ezh", message="%(prog)s %(version)s")
def main() -> None:
    """ЭЖ-box: электронный журнал и дневник школы в локальной сети."""


@main.command()
@click.option("--data", default="./demo-data", show_default=True, help=DATA_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Адрес, на котором слушать.")
@click.option("--port", default=8080, show_default=True, help="Порт.")
@click.option("--seed", default=1, show_default=True, help="Зерно генератора демо-школы.")
@click.option("--threads", default=8, show_default=True, help="Потоков веб-сервера.")
@click.option("--no-serve", is_flag=True, help="Только создать демо-школу, не запускать сервер.")
@click.option(
    "--with-emulator",
    is_flag=True,
    help="Запустить рядом эмулятор АСУ РСО и синхронизироваться с ним "
    "(после первого раза включается сам).",
)
@click.option("--emulator-port", default=8090, show_default=True, help="Порт эмулятора АСУ РСО.")
def demo(
    data: str,
    host: str,
    port: int,
    seed: int,
    threads: int,
    no_serve: bool,
    with_emulator: bool,
    emulator_port: int,
) -> None:
    """Создать демо-школу (один раз) и запустить её."""
    from .config import write_settings_file
    from .demo import create_demo_school, write_accounts_csv
    from .models import School

    data_dir = Path(data)
    data_dir.mkdir(parents=True, exist_ok=True)
    if not (data_dir / "ezh.toml").exists():
        # Throwaway demo accounts use cheap hashes; real logins re-hash them.
        write_settings_file(data_dir, password_profile="fast")
        # A folder beside the data stands in for the archive's USB stick.
        stick = data_dir.resolve().parent / f"{data_dir.resolve().name}-флешка"
        stick.mkdir(exist_ok=True)
        with open(data_dir / "ezh.toml", "a", encoding="utf-8") as toml:
            toml.write(f"\n[extra]\narchive_media = {json.dumps(str(stick), ensure_ascii=False)}\n")
    settings, db = _open(data)
    accounts_csv = settings.data_dir / "demo-accounts.csv"
    if School.select().exists():
        click.echo(f"Демо-школа уже создана в {settings.data_dir}.")
    else:
        click.echo("Создаю демо-школу… (несколько секунд; на Raspberry Pi — до минуты)")
        accounts = create_demo_school(seed=seed)
        write_accounts_csv(accounts_csv, accounts)
        click.echo(f"Готово: {len(accounts)} учётных записей, все в {accounts_csv}")
    _print_demo_accounts(accounts_csv)
    db.close()
    emulator_app = None
    if with_emulator or _demo_emulator_dir(settings).exists():
        emulator_app = _prepare_demo_emulator(settings, emulator_port)
    if not no_serve:
        if emulator_app is not None:
            _start_demo_emulator(emulator_app, emulator_port)
        _start_worker_thread(settings)
        _serve(settings, host, port, threads)


EMULATOR_HOST = "127.0.0.1"


def _demo_emulator_dir(settings) -> Path:
    return settings.data_dir / "emulator"


def _prepare_demo_emulator(settings, port: int):
    """Seed the demo's АСУ РСО emulator (once) and point the box's sync at it.

    Sticky on purpose: once the demo's marks wait for the emulator, a later start
    without it would leave them unpublished, so the emulator comes back every time
    its data directory exists. It listens on loopback only, whatever `--host` says:
    its fault switches are not for the school's network. Returns its WSGI app.
    """
    from .sync.emulator import create_emulator

    emulator_dir = seed_demo_emulator(settings)
    point_demo_sync(settings, f"http://{EMULATOR_HOST}:{port}")
    return create_emulator(emulator_dir)


def seed_demo_emulator(settings) -> Path:
    """Seed `DATA/emulator` from the demo school unless it is seeded; return the folder."""
    from .sync.emulator import DB_NAME, EmulatorStore, seed_from_box
    from .sync.emulator.seed import DEFAULT_LOGIN, DEFAULT_PASSWORD

    emulator_dir = _demo_emulator_dir(settings)
    if not (emulator_dir / DB_NAME).exists():
        emulator_dir.mkdir(parents=True, exist_ok=True)
        store = EmulatorStore(emulator_dir / DB_NAME)
        seed_from_box(store, settings.db_path, DEFAULT_LOGIN, DEFAULT_PASSWORD)
        click.echo(f"Эмулятор АСУ РСО засеян из демо-школы: {emulator_dir}")
    return emulator_dir


def point_demo_sync(settings, url: str) -> None:
    """The box syncs with the emulator at `url` as its service account; publishing
    then waits for АСУ РСО (the web app reads this at start-up)."""
    from .sync import settings as sync_settings
    from .sync.emulator.seed import DEFAULT_LOGIN, DEFAULT_PASSWORD

    sync_settings.save(
        settings, url=url, school="1", login=DEFAULT_LOGIN, password=DEFAULT_PASSWORD
    )


def _start_demo_emulator(app, port: int) -> None:
    """Serve the emulator beside the box, in this process (a daemon thread)."""
    import threading

    from waitress import create_server

    host = EMULATOR_HOST

    try:
        server = create_server(app, host=host, port=port, threads=2, ident="ezh-emulator")
    except OSError as exc:
        raise click.ClickException(
            f"Порт {port} для эмулятора АСУ РСО занят ({exc}); укажите --emulator-port."
        ) from exc
    threading.Thread(target=server.run, name="ezh-emulator", daemon=True).start()
    faults = f"http://{host}:{port}/_emulator/faults"
    click.echo(f"Эмулятор АСУ РСО: http://{host}:{port}/webapi — отметки в дневнике")
    click.echo("родителей появляются, только когда эмулятор их принял.")
    click.echo("  «Отключить» АСУ РСО (технические работы):")
    click.echo(f"    curl -X POST {faults} -d '{{\"maintenance\": true}}'")
    click.echo("  Снова включить:")
    click.echo(f"    curl -X POST {faults} -d '{{\"maintenance\": false}}'")
    click.echo(f"  Что принял эмулятор: curl http://{host}:{port}/_emulator/state")
    click.echo("  После включения изменения уходят сами (повтор — от 10 секунд до 5 минут).")


def _start_worker_thread(settings) -> None:
    """The demo runs its background jobs beside the web server, in the same process
    (a school runs `ezh worker` as its own service: deploy/raspi)."""
    import threading

    from . import jobs, tasks  # noqa: F401  (tasks registers the job handlers)

    stop = threading.Event()
    thread = threading.Thread(
        target=jobs.work, args=(settings, stop), name="ezh-worker", daemon=True
    )
    thread.start()
    _start_sync_thread(settings, stop)
    click.echo("Фоновые задания и синхронизация: запущены в этом же процессе.")


def _print_demo_accounts(path: Path) -> None:
    import csv

    from .access import ROLES

    if not path.exists():
        return
    shown: dict[str, dict] = {}
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            shown.setdefault(row["role"], row)
    click.echo("")
    click.echo(f"{'Роль':<32} {'Логин':<18} {'Пароль':<12} ФИО")
    for role, label in ROLES.items():
        row = shown.get(role)
        if row:
            click.echo(
                f"{label:<32} {row['username']:<18} {row['password']:<12} {row['full_name']}"
            )
    click.echo("")


@main.command()
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--school-name", default="", help="Полное название школы (можно ввести позже).")
def init(data: str, school_name: str) -> None:
    """Создать пустую школу; администратора создаст мастер при первом входе в браузере."""
    from .school_setup import init_school, setup_pending

    settings, db = _open(data)
    if not setup_pending():
        raise click.ClickException("Школа в этом каталоге уже настроена.")
    code = init_school(settings.data_dir, school_name)
    click.echo(f"Школа создана в {settings.data_dir}.")
    click.echo("Откройте адрес сервера в браузере и введите код настройки:")
    click.echo(f"    {code}")
    click.echo("Код одноразовый; повторный запуск «ezh init» выдаст новый.")


@main.command()
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--host", default="0.0.0.0", show_default=True, help="Адрес, на котором слушать.")
@click.option("--port", default=8080, show_default=True, help="Порт.")
@click.option("--threads", default=8, show_default=True, help="Потоков веб-сервера.")
@click.option(
    "--trusted-proxy",
    default="",
    help="Адрес прокси HTTPS (nginx), которому верить X-Forwarded-For (например, 127.0.0.1).",
)
def serve(data: str, host: str, port: int, threads: int, trusted_proxy: str) -> None:
    """Запустить веб-сервер школы (waitress)."""
    settings, db = _open(data)
    db.close()
    _serve(settings, host, port, threads, trusted_proxy)


@main.command()
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--once", is_flag=True, help="Выполнить задания из очереди и выйти.")
def worker(data: str, once: bool) -> None:
    """Фоновые задания (сводки родителям, письма, отчёты) и синхронизация с АСУ РСО."""
    import signal
    import threading

    from . import jobs, tasks  # noqa: F401  (tasks registers the job handlers)

    settings, _ = _open(data)
    if once:
        jobs.recover()
        jobs.schedule_due()
        done = jobs.run_pending(settings)
        click.echo(f"Выполнено заданий: {len(done)}.")
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"Фоновые задания: {settings.data_dir} (Ctrl+C — остановить)")
    sync = _start_sync_thread(settings, stop)
    jobs.work(settings, stop)
    # A run in progress sends no new batch once `stop` is set; the batch in flight is
    # awaited and recorded (within systemd's TimeoutStopSec=20). Should it not finish,
    # the next start reads its cells back before writing: nothing is sent twice.
    sync.join(timeout=SYNC_STOP_WAIT)


SYNC_STOP_WAIT = 15.0  # seconds the stopping worker waits for the sync run in progress


def _start_sync_thread(settings, stop):
    """The sync loop beside the jobs: it idles until АСУ РСО is configured."""
    import threading

    from .sync import engine

    thread = threading.Thread(
        target=engine.loop, args=(settings, stop), name="ezh-sync", daemon=True
    )
    thread.start()
    return thread


@main.command("migrate")
@click.option("--data", required=True, help=DATA_HELP)
def migrate_command(data: str) -> None:
    """Применить недостающие миграции базы данных."""
    from .config import load_settings
    from .db import migrate, open_database, schema_version

    settings = load_settings(data)
    db = open_database(settings.db_path)
    applied = migrate(db)
    for name in applied:
        click.echo(f"применена {name}")
    click.echo(f"Версия схемы: {schema_version(db)}")


@main.group()
def users() -> None:
    """Учётные записи: создать, сбросить пароль, заблокировать, разблокировать."""


@users.command("list")
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--role", default="", help="Только с этой ролью.")
def users_list(data: str, role: str) -> None:
    """Показать учётные записи."""
    from .admin_queries import account_rows

    _open(data)
    for row in account_rows("", role):
        state = "заблокирована" if row.account.admin_locked else "активна"
        click.echo(
            f"{row.account.username:<20} {row.person.full_name:<40} {','.join(row.roles)} {state}"
        )


@users.command("create")
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--last-name", required=True, help="Фамилия.")
@click.option("--first-name", required=True, help="Имя.")
@click.option("--middle-name", default="", help="Отчество.")
@click.option("--position", default="", help="Должность.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(["director", "deputy", "admin", "teacher", "inspector"]),
    help="Роль (можно несколько раз).",
)
def users_create(data, last_name, first_name, middle_name, position, roles) -> None:
    """Создать сотрудника и выдать ему одноразовый пароль."""
    from . import people

    settings, _ = _open(data)
    data_ = {
        "last_name": last_name,
        "first_name": first_name,
        "middle_name": middle_name,
        "position": position,
    }
    try:
        person = people.create_staff(data_, [(r, None) for r in roles], user=None, ip="console")
        [issued] = people.issue_credentials(
            [person], {}, user=None, ip="console", profile=settings.password_profile
        )
    except people.PeopleError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Создан {person.full_name}: логин {issued.username}, пароль {issued.password}")
    click.echo("Пароль одноразовый: при первом входе его нужно сменить.")


def _account(username: str):
    from .models import User

    account = User.get_or_none(User.username == username.strip().lower())
    if account is None:
        raise click.ClickException(f"Учётной записи «{username}» нет.")
    return account


@users.command("reset-password")
@click.option("--data", required=True, help=DATA_HELP)
@click.argument("username")
def users_reset(data: str, username: str) -> None:
    """Выдать новый одноразовый пароль."""
    from . import people

    settings, _ = _open(data)
    account = _account(username)
    [issued] = people.issue_credentials(
        [account.person], {}, user=None, ip="console", profile=settings.password_profile
    )
    click.echo(f"Новый одноразовый пароль для {issued.username}: {issued.password}")


@users.command("lock")
@click.option("--data", required=True, help=DATA_HELP)
@click.argument("username")
def users_lock(data: str, username: str) -> None:
    """Заблокировать учётную запись."""
    from . import people

    _open(data)
    people.set_admin_lock(_account(username), True, user=None, ip="console")
    click.echo(f"{username}: заблокирована.")


@users.command("unlock")
@click.option("--data", required=True, help=DATA_HELP)
@click.argument("username")
def users_unlock(data: str, username: str) -> None:
    """Разблокировать учётную запись (и снять временную блокировку)."""
    from . import people

    _open(data)
    people.set_admin_lock(_account(username), False, user=None, ip="console")
    click.echo(f"{username}: разблокирована.")


from .cli_year import year as year_group  # noqa: E402  (the group imports cli lazily)

main.add_command(year_group)

from .cli_emulator import emulator as emulator_command  # noqa: E402

main.add_command(emulator_command)

from .cli_sync import sync as sync_command  # noqa: E402

main.add_command(sync_command)

from .cli_keys import keys as keys_group  # noqa: E402

main.add_command(keys_group)

from .cli_backup import backup as backup_command  # noqa: E402
from .cli_backup import restore as restore_command  # noqa: E402

main.add_command(backup_command)
main.add_command(restore_command)

from .cli_archive import archive as archive_command  # noqa: E402

main.add_command(archive_command)

from .cli_doctor import doctor as doctor_command  # noqa: E402

main.add_command(doctor_command)
