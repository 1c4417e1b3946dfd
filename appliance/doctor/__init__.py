"""Self-diagnosis of the box (`ezh doctor`, the «Самопроверка» page): what is wrong, what to do.

The school has no IT staff: a check says in one plain Russian line what is wrong and
the command or page that fixes it. Checks only read (they never create, migrate or
repair anything) and never raise: a check that breaks becomes a failure with its
reason, and the checks that need the database are skipped (warned) when it cannot be
opened, so the report still comes out on a box whose database is gone.

Statuses: ``ok``, ``warn`` (look at it soon), ``fail`` (act now). `exit_code` maps the
worst of them to the console's 0 / 1 / 2 (see docs/doctor.md). The checks of the box
itself (data dir, database, disk, clock) are in `box`, those of what it keeps and
talks to (archive stick, keys, backups, sync, worker) in `services`.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import pwd
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..config import Settings, load_settings
from ..models import now

log = logging.getLogger(__name__)

OK, WARN, FAIL = "ok", "warn", "fail"
RANK = {OK: 0, WARN: 1, FAIL: 2}
MARKS = {OK: "✓", WARN: "!", FAIL: "✗"}
LABELS = {OK: "в порядке", WARN: "внимание", FAIL: "нужно действие"}
NOT_CHECKED = "Не проверено: база данных не открывается или не обновлена (см. выше)."


@dataclass(frozen=True)
class Check:
    code: str
    title: str
    status: str  # ok / warn / fail
    message: str

    @property
    def mark(self) -> str:
        return MARKS[self.status]


@dataclass
class Context:
    """What every check may look at; `db_ready` says the models can be queried."""

    settings: Settings
    at: dt.datetime
    db_ready: bool = False
    probe_upstream: bool = True
    full_integrity: bool = False  # the console: integrity_check; the page: quick_check
    health: dict = field(default_factory=dict)
    clock: Callable[[], dt.datetime] = now  # read again after a network probe


Result = tuple[str, str]  # (status, message)


def check(code: str, title: str, *, needs_db: bool = False) -> Callable:
    """Make ``fn(ctx) -> (status, message)`` a check that never raises."""

    def decorate(fn: Callable[[Context], Result]) -> Callable[[Context], Check]:
        @functools.wraps(fn)
        def run(ctx: Context) -> Check:
            if needs_db and not ctx.db_ready:
                return Check(code, title, WARN, NOT_CHECKED)
            try:
                status, message = fn(ctx)
            except Exception as exc:  # the report must come out whatever broke
                log.exception("doctor: check %s failed", code)
                status = FAIL
                message = (
                    f"Проверка не выполнилась: {exc.__class__.__name__}: {exc}. "
                    "Пришлите разработчикам вывод sudo ezh doctor и journalctl -u ezh-web -n 100."
                )
            return Check(code, title, status, message)

        return run

    return decorate


def worst(checks: list[Check]) -> str:
    return max((c.status for c in checks), key=RANK.__getitem__, default=OK)


def exit_code(checks: list[Check]) -> int:
    """0 all is well, 1 warnings only, 2 something needs action now."""
    return RANK[worst(checks)]


def combine(problems: list[Result], fine: str) -> Result:
    if not problems:
        return OK, fine
    status = max((s for s, _ in problems), key=RANK.__getitem__)
    return status, " ".join(m for _, m in problems)


def size_text(n: float) -> str:
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} ГБ".replace(".", ",")
    return f"{n / 1024**2:.0f} МБ"


def when(moment: dt.datetime) -> str:
    return moment.strftime("%d.%m.%Y %H:%M")


def duration(delta: dt.timedelta) -> str:
    from ..sync.status import age_text

    return age_text(delta)


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


# --- running them -----------------------------------------------------------------------


def _health(ctx: Context) -> dict:
    """/healthz's report (database reachable, schema versions, free disk): shared, not redone."""
    from ..health import health
    from .box import existing

    try:
        return health(existing(ctx.settings.data_dir))
    except Exception:  # its disk probe raises on a vanished data dir
        log.exception("doctor: health report failed")
        return {}


def run_checks(
    settings: Settings,
    *,
    probe_upstream: bool = True,
    database_bound: bool = True,
    full_integrity: bool = False,
) -> list[Check]:
    """Every check, in the order an admin fixes things; never raises.

    ``database_bound``: the models are bound to ``settings.db_path`` (the web app; the
    console binds it itself when the file is there). ``full_integrity``: the full
    ``integrity_check`` (the console) rather than the page's quick one.
    """
    from . import box, services

    ctx = Context(
        settings=settings,
        at=now(),
        probe_upstream=probe_upstream,
        full_integrity=full_integrity,
        clock=now,
    )
    checks = [box.check_data_dir(ctx), box.check_database(ctx)]
    ctx.health = _health(ctx) if database_bound and settings.db_path.exists() else {}
    checks.append(box.check_schema(ctx))
    ctx.db_ready = checks[-2].status != FAIL and checks[-1].status == OK
    for run in (
        box.check_disk,
        box.check_clock,
        services.check_media,
        services.check_keys,
        services.check_backup,
        services.check_sync,
        services.check_worker,
    ):
        checks.append(run(ctx))
    tls = box.check_tls(ctx)
    if tls is not None:
        checks.append(tls)
    return checks


def _console_settings(data_dir: Path) -> tuple[Settings, str]:
    """The box's settings and "" — or the defaults and a Russian problem when ezh.toml is
    wrong. A secret key is passed so that no ``secret_key`` file is made for a doctor."""
    if not data_dir.is_dir():
        return Settings(data_dir=data_dir), ""
    try:
        return load_settings(data_dir, secret_key="doctor-reads-only"), ""
    except ValueError as exc:  # tomllib's errors are ValueErrors too
        return Settings(data_dir=data_dir), f"Файл {data_dir / 'ezh.toml'} с ошибкой: {exc}"
    except OSError:
        return Settings(data_dir=data_dir), ""  # the data dir check says why


def diagnose(data_dir: str | Path, *, probe_upstream: bool = True) -> list[Check]:
    """`ezh doctor`: bind the database if it is there (never create or migrate it) and check."""
    from ..db import open_database

    settings, problem = _console_settings(Path(data_dir).resolve())
    db = None
    if settings.db_path.is_file():
        try:
            db = open_database(settings.db_path)
            db.connect(reuse_if_open=True)
        except Exception:  # a damaged file: check_database says what it is
            log.debug("doctor: cannot open %s", settings.db_path, exc_info=True)
            db = None
    try:
        checks = run_checks(
            settings,
            probe_upstream=probe_upstream,
            database_bound=db is not None,
            full_integrity=True,
        )
    finally:
        if db is not None and not db.is_closed():
            db.close()
    if problem:
        checks.insert(1, Check("config", "Настройки (ezh.toml)", FAIL, problem + "."))
    return checks


def as_dict(checks: list[Check]) -> dict:
    """The report as JSON data (`ezh doctor --json`)."""
    return {
        "status": worst(checks),
        "exit_code": exit_code(checks),
        "checks": [asdict(c) for c in checks],
    }
