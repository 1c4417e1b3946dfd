"""The deputy's print page: a class's printed journal and summary sheet as PDF (§9.1, §9.2).

Printing a year takes minutes, so the page queues a background job
(`appliance.backup.print_tasks`) and leads to its page, which offers the file.
Everyone who reads reports sees the page; those who may write reports print. A
second click on the same document while the first job is still queued or running
leads to that job instead of printing the year twice.
"""

from __future__ import annotations

import json

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from .. import jobs
from ..backup.print_tasks import JOURNAL_JOB, SUMMARY_JOB
from ..db import write
from ..models import AcademicYear, Job, SchoolClass
from ..numbers import is_number
from ..school_calendar import current_year
from ..school_classes import year_classes
from .guard import client_ip, requires

bp = Blueprint("printing", __name__, url_prefix="/print")

DOCUMENTS = {"journal": JOURNAL_JOB, "summary": SUMMARY_JOB}
DOCUMENT_LABELS = {JOURNAL_JOB: "Классный журнал", SUMMARY_JOB: "Сводная ведомость"}
RECENT_JOBS = 10


def _chosen_year() -> AcademicYear | None:
    raw = request.args.get("year", "")
    if is_number(raw):
        return AcademicYear.get_or_none(AcademicYear.id == int(raw))
    return current_year() or AcademicYear.select().order_by(AcademicYear.starts.desc()).first()


def _page(year: AcademicYear | None, status: int = 200):
    recent = list(
        Job.select()
        .where((Job.created_by == g.user) & Job.kind.in_(list(DOCUMENTS.values())))
        .order_by(Job.id.desc())
        .limit(RECENT_JOBS)
    )
    class_ids = {json.loads(job.params or "{}").get("class_id") for job in recent}
    names = {c.id: c.name for c in SchoolClass.select().where(SchoolClass.id.in_(class_ids))}
    return render_template(
        "print/index.html",
        year=year,
        years=list(AcademicYear.select().order_by(AcademicYear.starts.desc())),
        classes=year_classes(year) if year else [],
        recent=[(job, names.get(json.loads(job.params).get("class_id"), "")) for job in recent],
        labels=DOCUMENT_LABELS,
    ), status


@bp.route("/")
@requires("reports", "read")
def index():
    year = _chosen_year()
    if year is None and request.args.get("year"):
        abort(404)
    return _page(year)


def _pending_job(kind: str, school_class: SchoolClass) -> Job | None:
    """The reader's own job printing this very document, still queued or running."""
    for job in jobs.active(kind, g.user):
        if json.loads(job.params or "{}").get("class_id") == school_class.id:
            return job
    return None


@bp.route("/classes/<int:class_id>", methods=["POST"])
@requires("reports", "write")
def queue(class_id: int):
    """Queue the printing of one class's journal or summary sheet; go to the job's page."""
    school_class = SchoolClass.get_or_none(SchoolClass.id == class_id)
    if school_class is None:
        abort(404)
    kind = DOCUMENTS.get(request.form.get("document", ""))
    if kind is None:
        flash("Выберите, что напечатать: журнал или сводную ведомость.", "error")
        return _page(school_class.year, 400)
    running = _pending_job(kind, school_class)
    if running is not None:
        flash("Этот документ уже печатается: дождитесь, пока задание закончится.", "info")
        return redirect(url_for("jobs.show", job_id=running.id))
    with write(user=g.user, ip=client_ip()) as rec:
        job = jobs.enqueue(kind, {"class_id": school_class.id}, user=g.user)
        rec.record(
            "report.print",
            school_class,
            after={"job": job.id, "document": kind, "class": school_class.name},
        )
    return redirect(url_for("jobs.show", job_id=job.id))
