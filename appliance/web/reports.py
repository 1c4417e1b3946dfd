"""Reports (§8, §9.1, §7.1): one page per report with its filters, and the file export.

Every page reads its filters from the query string (`reports.catalog.read_filters`)
and shows the report's tables; «Скачать XLSX» / «Скачать PDF» POST the same filters,
which queue a background job and lead to its page (`/jobs/<id>`) with the file.
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from .. import access, journal_control
from ..db import write
from ..models import AcademicYear
from ..reports import catalog, filling, progress, tasks
from ..reports.table import text
from ..school_classes import year_classes
from .guard import client_ip, requires

bp = Blueprint("reports", __name__, url_prefix="/reports")

ENDPOINTS = {
    "control": "reports.control",
    "filling": "reports.filling_report",
    "progress": "reports.progress_report",
    "summary": "reports.summary",
    "activity": "reports.activity",
}


@bp.app_template_filter("report_cell")
def report_cell(value) -> str:
    """A report cell as XLSX and PDF print it (dates dd.mm.yyyy, decimals with a comma)."""
    return text(value)


@bp.app_template_filter("role_name")
def role_name(role: str) -> str:
    return access.ROLES.get(role, role)


def _index(status: int = 200):
    return render_template(
        "reports/index.html", reports=catalog.REPORTS.values(), endpoints=ENDPOINTS
    ), status


@bp.route("/")
@requires("reports", "read")
def index():
    return _index()


def _choices(filters: catalog.Filters) -> dict:
    """What the filter form offers for the chosen year."""
    year = filters.year
    return {
        "years": list(AcademicYear.select().order_by(AcademicYear.starts.desc())),
        "periods": progress.period_choices(year),
        "months": [(m, filling.month_label(m)) for m in filling.year_months(year)],
        "classes": year_classes(year),
        "teachers": journal_control.teachers(),
        "roles": access.ROLES,
    }


def _page(name: str):
    """Read the filters, build the report and render its page (400 on wrong filters)."""
    info = catalog.REPORTS[name]
    status = 200
    try:
        filters = catalog.read_filters(name, request.args)
    except catalog.ReportError as exc:
        flash(str(exc), "error")
        status = 400
        try:
            filters = catalog.read_filters(name, {})
        except catalog.ReportError:  # no academic year at all
            return _index(400)
    report, doc = None, None
    if name != "summary" or filters.school_class is not None:
        report = catalog.build(name, filters)
        doc = catalog.DOCUMENTS[name](report)
    return render_template(
        f"reports/{name}.html" if name == "control" else "reports/report.html",
        info=info,
        filters=filters,
        params=filters.params(),
        report=report,
        doc=doc,
        **_choices(filters),
    ), status


@bp.route("/control")
@requires("reports", "read")
def control():
    return _page("control")


@bp.route("/filling")
@requires("reports", "read")
def filling_report():
    return _page("filling")


@bp.route("/progress")
@requires("reports", "read")
def progress_report():
    return _page("progress")


@bp.route("/summary")
@requires("reports", "read")
def summary():
    return _page("summary")


@bp.route("/activity")
@requires("reports", "read")
def activity():
    return _page("activity")


@bp.route("/export", methods=["POST"])
@requires("reports", "write")
def export():
    """Queue the file of a report with the page's filters; the job's page offers it."""
    report, fmt = request.form.get("report", ""), request.form.get("format", "")
    filters = {key: request.form[key] for key in catalog.FILTER_KEYS if request.form.get(key)}
    back = url_for(ENDPOINTS[report], **filters) if report in ENDPOINTS else url_for(".index")
    try:
        with write(user=g.user, ip=client_ip()) as rec:
            job = tasks.queue(report, fmt, filters, user=g.user)
            rec.record(
                "report.export", None, after={"job": job.id, "report": report, "format": fmt}
            )
    except catalog.ReportError as exc:
        flash(str(exc), "error")
        return redirect(back)
    return redirect(url_for("jobs.show", job_id=job.id))
