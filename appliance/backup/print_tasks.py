"""Background jobs that print a class's journal or summary sheet (never in a request).

Queued from the print page (`appliance.web.printing`) with the class id; the job's
page (`/jobs/<id>`) polls the progress and offers the PDF when it is done.
"""

from __future__ import annotations

from .. import jobs
from ..models import SchoolClass
from .printing import PrintError, journal_pdf, summary_pdf

JOURNAL_JOB = "print.journal"
SUMMARY_JOB = "print.summary"
DOCUMENTS = {
    JOURNAL_JOB: ("журнал", journal_pdf, "печатаю журнал"),
    SUMMARY_JOB: ("сводная-ведомость", summary_pdf, "печатаю сводную ведомость"),
}


def file_name(prefix: str, school_class: SchoolClass) -> str:
    """«журнал-5А-2026-2027.pdf»: the year's slash cannot be in a file name."""
    return f"{prefix}-{school_class.name}-{school_class.year.name.replace('/', '-')}.pdf"


def _print(ctx: jobs.JobContext, kind: str) -> str:
    prefix, render, message = DOCUMENTS[kind]
    school_class = SchoolClass.get_or_none(SchoolClass.id == ctx.params.get("class_id"))
    if school_class is None:
        raise jobs.JobError("Класс не найден: возможно, его удалили.")
    path = ctx.output_path(file_name(prefix, school_class))
    ctx.progress(0, None, message)
    try:
        pages = render(
            school_class,
            school_class.year,
            path,
            progress=lambda done, total: ctx.progress(done, total, message),
        )
    except PrintError as exc:
        raise jobs.JobError(str(exc)) from exc
    ctx.progress(1, 1, f"готово: листов — {pages}")
    return str(path.relative_to(ctx.settings.data_dir))


@jobs.handler(JOURNAL_JOB)
def print_journal(ctx: jobs.JobContext) -> str:
    """The class's printed journal for its year (PDF/A-3b with the data attached)."""
    return _print(ctx, JOURNAL_JOB)


@jobs.handler(SUMMARY_JOB)
def print_summary(ctx: jobs.JobContext) -> str:
    """The class's сводная ведомость учёта успеваемости (PDF/A-3b with the data attached)."""
    return _print(ctx, SUMMARY_JOB)
