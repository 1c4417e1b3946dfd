"""Checks of what the box keeps and talks to: the archive stick, the keys, the backups,
the sync with АСУ РСО and the background worker."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path

from ..config import Settings
from ..jobs import HEARTBEAT
from ..models import Job, ScheduleRun
from . import FAIL, OK, RANK, WARN, Context, Result, check, combine, duration, size_text, when
from .box import existing

# Backups (nightly at 03:00).
BACKUP_WARN_AGE = dt.timedelta(days=2)
BACKUP_FAIL_AGE = dt.timedelta(days=7)
# Sync: the oldest change АСУ РСО has not accepted yet.
UNSENT_WARN_AGE = dt.timedelta(hours=1)
UNSENT_FAIL_AGE = dt.timedelta(days=1)
# The worker. A heartbeat row is used when the worker writes one; else its last trace.
HEARTBEAT_FAIL_AGE = dt.timedelta(minutes=5)
QUEUED_FAIL_AGE = dt.timedelta(minutes=15)
WORKER_WARN_AGE = dt.timedelta(hours=26)  # the nightly schedule was missed once
WORKER_FAIL_AGE = dt.timedelta(hours=50)  # … twice
RUNNING_WARN_AGE = dt.timedelta(hours=3)  # more likely stuck than slow (archive, reports)
RUNNING_FAIL_AGE = dt.timedelta(hours=12)


def _media_roots(settings: Settings) -> list[Path]:
    """The stick as configured: EZH_MEDIA (backups) and ``[extra] archive_media`` (archive)."""
    from ..backup import dbbackup

    found: list[Path] = []
    for value in (dbbackup.media_root(settings), settings.extra.get("archive_media")):
        if value and Path(value) not in found:
            found.append(Path(value))
    return found


def _separate_medium(root: Path, data_dir: Path) -> bool:
    """Is ``root`` on another device than the box's data (a stick, not a folder on the card)?"""
    return root.stat().st_dev != existing(data_dir).stat().st_dev


def _write_problem(root: Path) -> str:
    """Why a file cannot be written in ``root`` ("" when it can): a real, removed test file."""
    from ..backup import crypto

    if not os.access(root, os.W_OK):
        return "нет права записи или носитель только для чтения"
    try:
        with tempfile.NamedTemporaryFile(dir=root, prefix=".ezh-doctor-"):
            pass
    except OSError as exc:
        return crypto.os_reason(exc)
    return ""


def _medium_label(root: Path) -> str:
    """The stick's name as the archive register knows it (read only: never written here)."""
    from ..backup import media

    label = media._filesystem_label(root)
    label_file = root / media.LABEL_FILE
    if not label and label_file.is_file():
        lines = label_file.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        label = lines[0].strip() if lines else ""
    return label or "без метки"


def _medium(root: Path, data_dir: Path) -> Result:
    if not root.is_dir():
        return WARN, (
            f"Флешка не вставлена ({root}): ночные копии пишутся только на диск коробки. "
            "Вставьте флешку архива (если она в сейфе — вставьте для копии и архива)."
        )
    if not _separate_medium(root, data_dir):
        if not os.path.ismount(root):  # the empty folder install.sh made: the stick is out
            return WARN, (
                f"Флешка не вставлена: в {root} не смонтирована флешка (это пустая папка на "
                "диске коробки), ночные копии пишутся только на диск коробки. Вставьте "
                "флешку архива с меткой EZH-ARCHIVE; если она вставлена, выполните: "
                "sudo systemctl restart ezh-archive-mount."
            )
        return WARN, (
            f"В {root} не смонтирована флешка: это папка на диске самой коробки, копия туда "
            "не защищает от поломки коробки. Вставьте флешку архива."
        )
    problem = _write_problem(root)
    free = size_text(shutil.disk_usage(root).free)
    label = _medium_label(root)
    if problem:
        return FAIL, (
            f"Флешка «{label}» ({root}) вставлена, но записать на неё нельзя: {problem}. "
            "Извлеките её, проверьте на компьютере (и переключатель защиты записи) и "
            "вставьте снова."
        )
    return OK, f"Флешка «{label}» ({root}): запись возможна, свободно {free}."


@check("media", "Флешка архива")
def check_media(ctx: Context) -> Result:
    roots = _media_roots(ctx.settings)
    if not roots:
        return WARN, (
            "Флешка для архива и резервных копий не задана: копии базы хранятся только на "
            "самой коробке. Задайте её путь (EZH_MEDIA и [extra] archive_media в ezh.toml), "
            "см. docs/doctor.md."
        )
    results = [_medium(root, ctx.settings.data_dir) for root in roots]
    status = max((s for s, _ in results), key=RANK.__getitem__)
    return status, " ".join(dict.fromkeys(m for _, m in results))


@check("keys", "Ключи архива")
def check_keys(ctx: Context) -> Result:
    from ..backup import keys

    found = keys.status(ctx.settings)
    data = ctx.settings.data_dir
    if not found["ready"]:
        missing = found["message"] == str(keys.KeysMissing())
        what = "Ключи архива не созданы" if missing else found["message"].rstrip(".")
        return FAIL, (
            f"{what}: без них не делаются ни резервные копии, ни архив. Выполните: "
            f"sudo ezh keys init --data {data} --sheet /dev/shm/ezh-key-director.pdf (в памяти, "
            'не на карте), затем sudo install -o "$USER" -m 600 /dev/shm/ezh-key-director.pdf '
            "~/, перенесите на свой компьютер (scp), распечатайте лист для сейфа директора и "
            "удалите все копии: sudo shred -u /dev/shm/ezh-key-director.pdf ~/ezh-key-director.pdf "
            "(и файл на компьютере)."
        )
    if found["signing_message"]:
        return WARN, found["signing_message"]
    since = f", созданы {when(found['created_at'])}" if found["created_at"] else ""
    key_id = f", ключ подписи {found['key_id']}" if found["key_id"] else ""
    return OK, f"Получателей архива: {found['recipients']}{since}{key_id}."


@check("backup", "Резервная копия")
def check_backup(ctx: Context) -> Result:
    from ..backup import dbbackup

    items = dbbackup.all_backups(ctx.settings)
    make_one = (
        "Проверьте ключи архива и службу ezh-worker (systemctl status ezh-worker) и сделайте "
        "копию сейчас: страница «Резервные копии» или "
        f"sudo ezh backup --data {ctx.settings.data_dir}."
    )
    if not items:
        return FAIL, f"Резервных копий базы нет. {make_one}"
    last = items[0]
    age = max(ctx.at - last.taken_at, dt.timedelta(0))
    text = f"Последняя копия — {when(last.taken_at)} ({last.place}), {duration(age)} назад."
    problems: list[Result] = []
    if age > BACKUP_FAIL_AGE:
        problems.append((FAIL, f"{text} Ночные копии не делаются больше недели. {make_one}"))
    elif age > BACKUP_WARN_AGE:
        problems.append((WARN, f"{text} Ночная копия не сделана две ночи подряд. {make_one}"))
    stick = dbbackup.last_stick_problem() if ctx.db_ready else ""
    if stick:
        problems.append((WARN, f"Последняя копия не записана на флешку: {stick}"))
    return combine(problems, text)


# --- sync and the worker ----------------------------------------------------------------


@check("sync", "Синхронизация с АСУ РСО", needs_db=True)
def check_sync(ctx: Context) -> Result:
    from ..sync import settings as sync_settings
    from ..sync import status as sync_status

    config = sync_settings.load(ctx.settings)
    view = sync_status.overview(at=ctx.at)
    if not config.configured:
        state = "выключена" if config.url else "не настроена"
        if view.pending:
            return WARN, (
                f"Синхронизация {state}, а изменений ждут отправки: {view.pending}. Включите "
                "её на странице «Синхронизация» или подтвердите, что школа не ведёт АСУ РСО."
            )
        return OK, f"Синхронизация {state}: журнал виден родителям сразу, в АСУ РСО не уходит."
    page = "Откройте страницу «Синхронизация»."
    problems: list[Result] = []
    if view.needs_action is not None:
        problems.append(
            (
                FAIL,
                f"АСУ РСО ждёт действия человека: {view.needs_action.message or 'вход не удался'}. "
                f"Исправьте настройки синхронизации и нажмите «Синхронизировать сейчас». {page}",
            )
        )
    age = view.oldest_pending_age
    if age is not None and age > UNSENT_WARN_AGE:
        level = FAIL if age > UNSENT_FAIL_AGE else WARN
        reason = ""
        if view.error_is_current and view.last_error is not None:
            reason = f" Последняя ошибка: {view.last_error.message or view.last_error.status}."
        problems.append(
            (
                level,
                f"Самое старое неотправленное изменение ждёт {duration(age)} "
                f"(с {when(view.oldest_pending_at)}), всего ждут {view.pending}.{reason} "
                "Проверьте связь с АСУ РСО. " + page,
            )
        )
    if view.parked:
        problems.append(
            (WARN, f"АСУ РСО не приняла изменений: {view.parked}. Разберите их: {page}")
        )
    success = view.last_success
    last = (
        f"последняя удачная синхронизация — {when(success.finished_at or success.started_at)}"
        if success is not None
        else "удачной синхронизации ещё не было"
    )
    queue = (
        f"Ждут отправки: {view.pending}, самое старое — {duration(age)}"
        if view.pending and age is not None
        else "Очередь отправки пуста"
    )
    return combine(problems, f"{queue}; {last}.")


def _latest(query) -> dt.datetime | None:
    row = query.first()
    return row[0] if row is not None else None


def _worker_trace() -> dt.datetime | None:
    """The worker's last trace: a periodic job queued, a job started or finished."""
    moments = [
        _latest(
            ScheduleRun.select(ScheduleRun.last_run_at)
            .where(ScheduleRun.name != HEARTBEAT)
            .order_by(ScheduleRun.last_run_at.desc())
            .tuples()
        ),
        _latest(
            Job.select(Job.started_at)
            .where(Job.started_at.is_null(False))
            .order_by(Job.started_at.desc())
            .tuples()
        ),
        _latest(
            Job.select(Job.finished_at)
            .where(Job.finished_at.is_null(False))
            .order_by(Job.finished_at.desc())
            .tuples()
        ),
    ]
    return max((m for m in moments if isinstance(m, dt.datetime)), default=None)


RESTART = (
    "Выполните: sudo systemctl restart ezh-worker; причина — в journalctl -u ezh-worker -n 50."
)


def _busy(ctx: Context) -> Result | None:
    """A job in hand: the worker's loop (and its heartbeat) waits for it, queued jobs too."""
    running = (
        Job.select(Job.kind, Job.started_at)
        .where((Job.state == "running") & Job.started_at.is_null(False))
        .order_by(Job.started_at)
        .tuples()
        .first()
    )
    if running is None:
        return None
    kind, started = running
    busy_for = max(ctx.at - started, dt.timedelta(0))
    text = f"Служба выполняет задание «{kind}» с {when(started)} ({duration(busy_for)})."
    if busy_for > RUNNING_FAIL_AGE:
        return FAIL, f"{text} Так долго задания не идут: служба зависла или упала. {RESTART}"
    if busy_for > RUNNING_WARN_AGE:
        return WARN, f"{text} Это долго: если не закончится, перезапустите службу. {RESTART}"
    return OK, text


@check("worker", "Фоновые задания (ezh-worker)", needs_db=True)
def check_worker(ctx: Context) -> Result:
    beat = ScheduleRun.get_or_none(ScheduleRun.name == HEARTBEAT)
    if beat is not None and ctx.at - beat.last_run_at <= HEARTBEAT_FAIL_AGE:
        return OK, f"Служба работает: последний сигнал {when(beat.last_run_at)}."
    busy = _busy(ctx)
    if busy is not None:
        return busy
    if beat is not None:
        silent = duration(ctx.at - beat.last_run_at)
        return FAIL, f"Служба не отвечает {silent} (с {when(beat.last_run_at)}). {RESTART}"
    waiting = (
        Job.select(Job.created_at).where(Job.state == "queued").order_by(Job.id).tuples().first()
    )
    if waiting is not None and ctx.at - waiting[0] > QUEUED_FAIL_AGE:
        return FAIL, (
            f"Задания ждут в очереди с {when(waiting[0])}: служба фоновых заданий не работает "
            f"(не делаются ночные копии, сводки родителям, отчёты). {RESTART}"
        )
    trace = _worker_trace()
    if trace is None:
        return FAIL, f"Служба фоновых заданий ни разу не работала с этой базой. {RESTART}"
    age = max(ctx.at - trace, dt.timedelta(0))
    text = (
        f"Последний признак работы — {when(trace)} (по последнему плановому или выполненному "
        "заданию: отдельного сигнала служба не пишет)."
    )
    if age > WORKER_FAIL_AGE:
        return FAIL, f"{text} Две ночи подряд служба ничего не делала. {RESTART}"
    if age > WORKER_WARN_AGE:
        return WARN, f"{text} Ночью служба не запускала плановые задания. {RESTART}"
    return OK, text


# --- running them -----------------------------------------------------------------------
