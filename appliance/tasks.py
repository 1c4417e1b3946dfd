"""Every background job handler, imported by `ezh worker` so that they register.

Each area keeps its handlers next to its code and lists them here; the web app
imports this module too, so a page can queue any job kind.
"""

from __future__ import annotations

from . import jobs
from .backup import dbbackup as _backup  # noqa: F401  (nightly backup, «Сделать копию сейчас»)
from .backup import print_tasks as _print_tasks  # noqa: F401  (printed journals, summary sheets)
from .backup import tasks as _archive_tasks  # noqa: F401  (archive.build, archive.verify)
from .parent_notices import digest, letters  # noqa: F401  (weekly digest, letters to parents)
from .reports import tasks as _report_tasks  # noqa: F401  (report files: XLSX, PDF)
from .sync import tasks as _sync_tasks  # noqa: F401  («Синхронизировать сейчас»)


@jobs.handler("test")
def _test_job(ctx: jobs.JobContext) -> str | None:
    """A job that does nothing: `ezh worker` answers with it in the tests and doctor."""
    ctx.progress(1, 1)
    return None
