"""Reports (§8, §9.1, §7.1): one page per report with its filters, and the file export.

Every page reads its filters from the query string (`reports.catalog.read_filters`)
and shows the report's tables; «Скачать XLSX» / «Скачать PDF» POST the same filters,
which queue a background job and lead to its page (`/jobs/<id>`) with the file. Wrong
filters answer 400 with the page and one Russian message; nothing is queued.

The activity report (§8.1) is personal data of students and parents: its page and its
files need `user_activity` read (director, deputy), not only `reports`.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from .. import access, journal_control
from ..db import write
from ..models import AcademicYear
from ..reports import catalog, filling, progress, tasks
from ..reports import control as control_report
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


def _allowed(info: catalog.ReportInfo) -> bool:
    """May the active role open this report (its own access object, read)?"""
    return access.allowed(g.role.role, info.access, "read")


def _index(status: int = 200):
    reports = [info for info in catalog.REPORTS.values() if _allowed(info)]
    return render_template("reports/index.html", reports=reports, endpoints=ENDPOINTS), status


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
        "months": [(m, filling.month_label(m)) for m in catalog.offered_months(year)],
        "classes": year_classes(year),
        "teachers": journal_control.teachers(),
        "roles": access.ROLES,
    }


def _control_links(report: control_report.ControlReport, year_id: int) -> dict[str, list]:
    """Per table of the control page, each row's link to its detailed report."""
    month = f"{report.month:%Y-%m}"
    return {
        "Учителя": [
            url_for(".filling_report", year_id=year_id, month=month, staff_id=t.teacher.id)
            if t.teacher
            else None
            for t in report.teachers_behind
        ],
        "Классы": [
            url_for(
                ".progress_report",
                year_id=year_id,
                period=control_report.period_key(report, c.school_class),
                class_id=c.school_class.id,
            )
            for c in report.classes_failing
        ],
        "Угроза неуспеваемости": [
            url_for(".progress_report", year_id=year_id, class_id=r.school_class.id)
            for r in report.risks
        ],
    }


def _page(name: str, args: Mapping[str, str], status: int = 200, errors: tuple[str, ...] = ()):
    """Read the filters, build the report and render its page (400 on wrong filters).

    ``errors``: messages from the caller (a refused export); each message is shown once
    even when the filters fail again for the same reason.
    """
    info = catalog.REPORTS[name]
    messages = list(errors)
    try:
        filters = catalog.read_filters(name, args)
    except catalog.ReportError as exc:
        messages.append(str(exc))
        status = 400
        try:
            filters = catalog.read_filters(name, {})
        except catalog.ReportError:  # no academic year at all
            filters = None
    for message in dict.fromkeys(messages):
        flash(message, "error")
    if filters is None:
        return _index(400)
    report, doc, links = None, None, {}
    if name != "summary" or filters.school_class is not None:
        report = catalog.build(name, filters)
        doc = catalog.DOCUMENTS[name](report)
    if name == "control":
        links = _control_links(report, filters.year.id)
    return render_template(
        f"reports/{name}.html" if name == "control" else "reports/report.html",
        info=info,
        filters=filters,
        params=filters.params(),
        report=report,
        doc=doc,
        links=links,
        **_choices(filters),
    ), status


@bp.route("/control")
@requires("reports", "read")
def control():
    return _page("control", request.args)


@bp.route("/filling")
@requires("reports", "read")
def filling_report():
    return _page("filling", request.args)


@bp.route("/progress")
@requires("reports", "read")
def progress_report():
    return _page("progress", request.args)


@bp.route("/summary")
@requires("reports", "read")
def summary():
    return _page("summary", request.args)


@bp.route("/activity")
@requires("user_activity", "read")
def activity():
    return _page("activity", request.args)


@bp.route("/export", methods=["POST"])
@requires("reports", "write")
def export():
    """Queue the file of a report with the page's filters; the job's page offers it.

    Everything is checked before the job is queued: wrong input answers 400 with the
    report's page (or the list of reports) and the message, and no job is made.
    """
    report, fmt = request.form.get("report", ""), request.form.get("format", "")
    filters = {key: request.form[key] for key in catalog.FILTER_KEYS if request.form.get(key)}
    info = catalog.REPORTS.get(report)
    if info is not None and not _allowed(info):
        abort(403)  # the activity report's files: user_activity, not only reports
    try:
        with write(user=g.user, ip=client_ip()) as rec:
            job = tasks.queue(report, fmt, filters, user=g.user)
            rec.record(
                "report.export", None, after={"job": job.id, "report": report, "format": fmt}
            )
    except catalog.ReportError as exc:
        if info is None:
            flash(str(exc), "error")
            return _index(400)
        return _page(report, filters, 400, (str(exc),))
    return redirect(url_for("jobs.show", job_id=job.id))
