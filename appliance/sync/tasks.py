"""The «Синхронизировать сейчас» job: one sync run in the worker, progress on the job page.

The web server never talks to АСУ РСО itself (a slow or hanging upstream would hold a
request thread): the status page queues this job and shows `/jobs/<id>`, which polls
the progress the engine reports. A run that did not succeed fails the job with the
engine's Russian message, so the page says plainly what is wrong; the changes stay
queued either way.
"""

from __future__ import annotations

from .. import jobs

KIND = "sync.now"


@jobs.handler(KIND, title="Синхронизация с АСУ РСО")
def sync_now(ctx: jobs.JobContext) -> str | None:
    from . import engine  # the engine pulls in the client; only the worker needs it

    seen = {"done": 0}

    def progress(done: int, total: int, message: str) -> None:
        seen["done"] = done
        ctx.progress(done, total, message)

    result = engine.run_once(ctx.settings, progress=progress)
    if result.status != "ok":
        raise jobs.JobError(result.message or "Синхронизация не выполнена.")
    # The job page says «Готово: …» itself; the engine's summary starts with it too.
    summary = (result.message or "").removeprefix("Готово: ").rstrip(".")
    ctx.progress(seen["done"], None, summary or f"отправлено {result.pushed}")
    return None
