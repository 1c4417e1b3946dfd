"""Background jobs of the archive: writing a year to the medium and checking a medium.

Both are long (every class is printed, packed and encrypted), so the page queues them
and polls the progress the handlers report per unit (DESIGN §3, background work).
"""

from __future__ import annotations

from pathlib import Path

from .. import jobs
from ..models import AcademicYear
from . import archive, crypto, keys, media

BUILD = "archive.build"
VERIFY = "archive.verify"


def _medium(params: dict, *, create_label: bool = True) -> media.Medium:
    return media.open_medium(Path(params.get("media", "")), create_label=create_label)


@jobs.handler(BUILD, long=True)
def build_job(ctx: jobs.JobContext) -> str | None:
    """Write the year's archive: params ``year_id`` and ``media`` (the medium's folder)."""
    params = ctx.params
    year = AcademicYear.get_or_none(AcademicYear.id == params.get("year_id"))
    if year is None:
        raise jobs.JobError("Такого учебного года нет.")
    try:
        archive.build(
            ctx.settings, year, _medium(params), user=ctx.job.created_by, progress=ctx.progress
        )
    except (ValueError, keys.KeysMissing) as exc:  # archive, media and key errors
        raise jobs.JobError(str(exc)) from exc
    except OSError as exc:  # the medium itself (opening it): never a traceback
        raise jobs.JobError(f"Архив не записан: {crypto.os_reason(exc)}.") from exc
    return None


@jobs.handler(VERIFY, long=True)
def verify_job(ctx: jobs.JobContext) -> str | None:
    """Check the medium without the key (signatures, sizes, sums); fail naming every bad
    unit and every stray file — and when no unit of the register is found on it."""
    try:
        medium = _medium(ctx.params, create_label=False)  # a check writes nothing
        report = archive.verify(
            ctx.settings, medium, user=ctx.job.created_by, progress=ctx.progress
        )
    except ValueError as exc:
        raise jobs.JobError(str(exc)) from exc
    except OSError as exc:
        raise jobs.JobError(f"Носитель не проверен: {crypto.os_reason(exc)}.") from exc
    if not report.ok:
        raise jobs.JobError(report.summary())
    ctx.progress(len(report.checks), len(report.checks), report.summary())
    return None
