"""`ezh sync`: the sync with АСУ РСО from the command line (run, status, settings)."""

from __future__ import annotations

import signal
import threading

import click

DATA_HELP = "Каталог данных ЭЖ-box."


@click.group("sync")
def sync() -> None:
    """Синхронизация с АСУ РСО."""


def _open(data: str):
    from .cli import _open as open_box

    return open_box(data)


@sync.command("run")
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--once", is_flag=True, help="Одна синхронизация, затем выход (код 0 — успешно).")
@click.option("--no-pull", is_flag=True, help="Только отправить, журналы из АСУ РСО не сверять.")
def run(data: str, once: bool, no_pull: bool) -> None:
    """Отправить изменения в АСУ РСО (и сверить журналы); без --once — работать постоянно."""
    from .sync import engine

    settings, _ = _open(data)
    if once:
        result = engine.run_once(settings, pull=not no_pull)
        click.echo(result.message or result.status)
        raise SystemExit(0 if result.status == "ok" else 1)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo(f"Синхронизация с АСУ РСО: {settings.data_dir} (Ctrl+C — остановить)")
    engine.loop(settings, stop, pull_every=float("inf") if no_pull else engine.PULL_EVERY)


@sync.command("configure")
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--url", required=True, help="Адрес АСУ РСО, например https://asurso.ru")
@click.option("--school", required=True, help="Номер школы в АСУ РСО (scid) или её название.")
@click.option("--login", required=True, help="Логин служебной учётной записи.")
@click.option("--password", prompt=True, hide_input=True, help="Пароль (спросит, если не указан).")
def configure(data: str, url: str, school: str, login: str, password: str) -> None:
    """Сохранить адрес АСУ РСО и служебную учётную запись (пароль — зашифрованным)."""
    from .sync import settings as sync_settings

    settings, _ = _open(data)
    try:
        sync_settings.save(settings, url=url, school=school, login=login, password=password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("Сохранено. Изменения станут видны родителям после приёма в АСУ РСО.")


@sync.command("status")
@click.option("--data", required=True, help=DATA_HELP)
def status(data: str) -> None:
    """Сколько изменений ждёт отправки, что отложено, как прошла последняя синхронизация."""
    from .models import OutboxEntry, SyncRun
    from .sync import outbox

    _open(data)
    counts = outbox.counts()
    click.echo(
        f"Ждут отправки: {counts['pending']}; отложено: {counts['parked']}; "
        f"принято: {counts['accepted']}."
    )
    oldest = (
        OutboxEntry.select().where(OutboxEntry.state == "pending").order_by(OutboxEntry.seq).first()
    )
    if oldest is not None:
        click.echo(f"Самое старое неотправленное: {oldest.created_at:%d.%m.%Y %H:%M}.")
    last = SyncRun.select().order_by(SyncRun.id.desc()).first()
    if last is not None:
        click.echo(f"Последняя синхронизация {last.started_at:%d.%m.%Y %H:%M}: {last.message}")
