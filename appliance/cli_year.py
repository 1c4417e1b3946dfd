"""`ezh year …`: the year rollover from the console (thin: `appliance.rollover` does the work)."""

from __future__ import annotations

import click

DATA_HELP = "Каталог данных школы (база, файлы, ключи)."


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def year() -> None:
    """Учебные годы: перевод на следующий год и переход на него."""


def _open(data: str):
    from .cli import _open as open_data  # late: cli imports this module to attach the group

    return open_data(data)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@year.command("list")
@click.option("--data", required=True, help=DATA_HELP)
def year_list(data: str) -> None:
    """Показать учебные годы и их состояние."""
    from .rollover import year_rows

    _, db = _open(data)
    for row in year_rows():
        click.echo(
            f"{row.year.name}  {row.state:<10} классов: {row.classes:<3} периодов: {row.terms:<3} "
            f"групп-черновиков: {row.draft_groups}"
        )
    db.close()


@year.command("rollover")
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--from", "source_name", required=True, help="Текущий год, например 2026/2027.")
@click.option(
    "--graduating",
    multiple=True,
    help="Выпускной класс кроме 11-х, например 9А (можно несколько раз).",
)
def year_rollover(data: str, source_name: str, graduating: tuple[str, ...]) -> None:
    """Шаг 1: подготовить следующий учебный год (классы, ученики, группы-черновики)."""
    from .rollover import open_classes, prepare_next_year, year_by_name
    from .years import PlanningError

    _, db = _open(data)
    try:
        source = year_by_name(source_name)
        by_name = {c.name.casefold(): c.id for c in open_classes(source)}
        unknown = [n for n in graduating if n.strip().casefold() not in by_name]
        if unknown:
            raise PlanningError(f"В {source.name} году нет открытых классов: {', '.join(unknown)}.")
        ids = [by_name[n.strip().casefold()] for n in graduating]
        result = prepare_next_year(source, ids, user=None, ip="console")
    except PlanningError as exc:
        raise _fail(exc) from exc
    finally:
        db.close()
    click.echo(f"Подготовлен {result.year.name} учебный год.")
    click.echo("Переведены: " + (", ".join(f"{a} → {b}" for a, b in result.promoted) or "нет"))
    click.echo("Выпускные: " + (", ".join(result.graduating) or "нет"))
    click.echo(
        f"Учеников: {result.enrolments}; групп-черновиков: {result.groups}; "
        f"строк учебного плана: {result.curriculum}; периодов: {result.terms}."
    )
    for warning in result.warnings:
        click.echo(f"Внимание: {warning}")
    click.echo("Дальше: подтвердите группы и сверьте календарь, затем «ezh year switch».")


@year.command("switch")
@click.option("--data", required=True, help=DATA_HELP)
@click.option("--to", "target_name", required=True, help="Новый год, например 2027/2028.")
@click.option("--yes", is_flag=True, help="Не спрашивать подтверждения.")
@click.option("--early", is_flag=True, help="Перейти, хотя текущий год ещё идёт.")
def year_switch(data: str, target_name: str, yes: bool, early: bool) -> None:
    """Шаг 2: сделать новый год текущим, а прежний — закрытым (только чтение)."""
    from .rollover import switch_year, year_by_name
    from .years import PlanningError

    _, db = _open(data)
    try:
        target = year_by_name(target_name)
        if not yes:
            click.confirm(
                f"Сделать {target.name} год текущим? Прежний год станет только для чтения.",
                abort=True,
            )
        result = switch_year(target, user=None, ip="console", early=early)
    except PlanningError as exc:
        raise _fail(exc) from exc
    finally:
        db.close()
    click.echo(f"{result.year.name} учебный год — текущий.")
    if result.previous is not None:
        click.echo(f"{result.previous.name} учебный год закрыт (только чтение).")
    click.echo("Закрыты классы: " + (", ".join(result.closed) or "нет"))
    click.echo("Классное руководство: " + ("; ".join(result.moved) or "без изменений"))
