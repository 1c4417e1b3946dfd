"""Background jobs that print a class's journal or summary sheet (never in a request).

Queued from the print page (`appliance.web.printing`) with the class id; the job's
page (`/jobs/<id>`) polls the progress and offers the PDF when it is done.

Whatever goes wrong in the rendering child ends the job with a Russian message: a
table that does not fit the page (`pdf.LayoutError`), a child that died (out of
memory: BrokenProcessPool) or was interrupted. Work folders a killed worker left
behind (`.print-*`, `*.part`) are swept when the next print job starts.
"""

from __future__ import annotations

import logging
import shutil
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from .. import jobs
from ..models import SchoolClass
from ..pdf import LayoutError
from .print_render import CRASHED, RenderInterrupted
from .printing import PrintError, journal_pdf, summary_pdf

log = logging.getLogger(__name__)

JOURNAL_JOB = "print.journal"
SUMMARY_JOB = "print.summary"
DOCUMENTS = {
    JOURNAL_JOB: ("журнал", journal_pdf, "печатаю журнал"),
    SUMMARY_JOB: ("сводная-ведомость", summary_pdf, "печатаю сводную ведомость"),
}


def file_name(prefix: str, school_class: SchoolClass) -> str:
    """«журнал-5А-2026-2027.pdf»: the year's slash cannot be in a file name."""
    return f"{prefix}-{school_class.name}-{school_class.year.name.replace('/', '-')}.pdf"


def sweep_stale_work(jobs_dir: Path, older_than: float) -> list[Path]:
    """Remove print work left by a worker that died mid-print; what was removed.

    Only what was last touched before `older_than` (the running job's start, a Unix
    time) goes: one worker prints at a time, so that is nobody's work any more.
    """
    removed = []
    parts = [p for prefix, _, _ in DOCUMENTS.values() for p in jobs_dir.glob(f"*/{prefix}-*.part")]
    for stale in [*jobs_dir.glob("*/.print-*"), *parts]:
        try:
            if stale.stat().st_mtime >= older_than:
                continue
            if stale.is_dir():
                shutil.rmtree(stale)
            else:
                stale.unlink()
        except OSError:  # gone meanwhile, or not ours to remove: leave it
            continue
        removed.append(stale)
    if removed:
        log.info("removed %d stale print work files", len(removed))
    return removed


def _print(ctx: jobs.JobContext, kind: str) -> str:
    prefix, render, message = DOCUMENTS[kind]
    school_class = SchoolClass.get_or_none(SchoolClass.id == ctx.params.get("class_id"))
    if school_class is None:
        raise jobs.JobError("Класс не найден: возможно, его удалили.")
    path = ctx.output_path(file_name(prefix, school_class))
    if ctx.job.started_at is not None:
        sweep_stale_work(path.parent.parent, ctx.job.started_at.timestamp())
    ctx.progress(0, None, message)
    try:
        pages = render(
            school_class,
            school_class.year,
            path,
            progress=lambda done, total: ctx.progress(done, total, message),
        )
    except (PrintError, LayoutError) as exc:
        raise jobs.JobError(str(exc)) from exc
    except (BrokenProcessPool, RenderInterrupted) as exc:
        log.warning("print job %s: the rendering child failed: %r", ctx.job.id, exc)
        raise jobs.JobError(CRASHED) from exc
    ctx.progress(1, 1, f"листов — {pages}")
    return str(path.relative_to(ctx.settings.data_dir))


@jobs.handler(JOURNAL_JOB, long=True)
def print_journal(ctx: jobs.JobContext) -> str:
    """The class's printed journal for its year (PDF/A-3b with the data attached)."""
    return _print(ctx, JOURNAL_JOB)


@jobs.handler(SUMMARY_JOB, long=True)
def print_summary(ctx: jobs.JobContext) -> str:
    """The class's сводная ведомость учёта успеваемости (PDF/A-3b with the data attached)."""
    return _print(ctx, SUMMARY_JOB)
