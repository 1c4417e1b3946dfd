"""`ezh doctor`: the box's self-diagnosis in the console (checks: appliance.doctor)."""

from __future__ import annotations

import json
import sys

import click

from . import __version__

DATA_HELP = "Каталог данных школы (база, файлы, ключи)."
SUMMARY = {
    "ok": "Итог: всё в порядке.",
    "warn": "Итог: есть предупреждения — посмотрите на строки с «!».",
    "fail": "Итог: нужно действие — исправьте строки с «✗» (подробно: docs/doctor.md).",
}


@click.command("doctor")
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--json", "as_json", is_flag=True, help="Вывести отчёт в формате JSON.")
@click.option(
    "--no-network",
    is_flag=True,
    help="Не сверять часы с АСУ РСО (без обращения к её адресу).",
)
def doctor(data: str, as_json: bool, no_network: bool) -> None:
    """Проверить коробку: каталог и права, базу, место, часы, флешку, ключи, копии,
    синхронизацию, фоновые задания.

    Код выхода: 0 — всё в порядке, 1 — есть предупреждения, 2 — нужно действие.
    """
    from . import doctor as checks_module
    from .models import now

    checks = checks_module.diagnose(data, probe_upstream=not no_network)
    code = checks_module.exit_code(checks)
    if as_json:
        report = checks_module.as_dict(checks)
        report.update(app_version=__version__, data_dir=data, checked_at=now().isoformat())
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(f"ЭЖ-box {__version__}: самопроверка {data} ({now():%d.%m.%Y %H:%M})")
        for item in checks:
            click.echo(f"{item.mark} {item.title}: {item.message}")
        click.echo(SUMMARY[checks_module.worst(checks)])
    sys.exit(code)
