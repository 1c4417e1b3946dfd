"""The background job behind «Скачать XLSX» / «Скачать PDF» on a report page.

Params: ``report`` (a `catalog.REPORTS` key), ``format`` (xlsx / pdf) and ``filters``
(the page's query string). The job builds the same tables the page shows, writes the
file under the job's folder and reports progress for the page that polls it.
"""

from __future__ import annotations

from .. import jobs
from . import catalog

KIND = "reports.export"
FORMATS = {"xlsx": "XLSX", "pdf": "PDF"}


def queue(report: str, fmt: str, filters: dict[str, str], *, user) -> jobs.Job:
    """Check the request, then queue the job (call inside the write transaction)."""
    if report not in catalog.REPORTS:
        raise catalog.ReportError("Такого отчёта нет.")
    if fmt not in FORMATS:
        raise catalog.ReportError("Выберите формат файла: XLSX или PDF.")
    catalog.check(report, filters)  # a wrong filter fails now, not in the worker
    return jobs.enqueue(KIND, {"report": report, "format": fmt, "filters": filters}, user=user)


def file_name(report: str, fmt: str) -> str:
    """«сводная-ведомость.xlsx»: the report's title (each job has its own folder)."""
    return f"{catalog.REPORTS[report].title}.{fmt}".replace(" ", "-").lower()


@jobs.handler(KIND)
def export_report(ctx: jobs.JobContext) -> str:
    params = ctx.params
    report, fmt = params.get("report", ""), params.get("format", "")
    if report not in catalog.REPORTS or fmt not in FORMATS:
        raise jobs.JobError("Неизвестный отчёт или формат файла.")
    ctx.progress(0, 1, "собираю данные")
    try:
        doc = catalog.document(report, params.get("filters") or {})
    except catalog.ReportError as exc:
        raise jobs.JobError(str(exc)) from None
    from . import export  # openpyxl and WeasyPrint load in the worker, not the web server

    steps = len(doc.tables) + 1
    ctx.progress(1, steps, f"готовлю файл {FORMATS[fmt]}")
    path = ctx.output_path(file_name(report, fmt))
    if fmt == "xlsx":
        export.to_xlsx(doc, path, lambda done, _total: ctx.progress(1 + done, steps))
    else:
        path.write_bytes(export.to_pdf(doc))
    ctx.progress(steps, steps, f"{doc.title}, {FORMATS[fmt]}")
    return str(path.relative_to(ctx.settings.data_dir))
