"""Database backups and the archive keys' status (issue 7, item 9).

The director and the admin see the backups (date, size, where), how old the last one
is and whether the archive keys exist; the admin queues «Сделать копию сейчас» (a
background job). There is no restore here on purpose: it needs the key from the safe
and a stopped box, so the page explains the console command instead.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from .. import jobs
from ..backup import dbbackup, keys
from ..db import write
from ..models import Job
from ..sync.status import age_text
from . import settings_of
from .guard import client_ip, requires

bp = Blueprint("backup", __name__, url_prefix="/backup")


def _active_job() -> Job | None:
    found = jobs.active(dbbackup.JOB_KIND)
    return found[0] if found else None


@bp.route("/")
@requires("backup", "read")
def index():
    settings = settings_of(current_app)
    return render_template(
        "backup/index.html",
        view=dbbackup.overview(settings),
        keys=keys.status(settings),
        job=_active_job(),
        age_text=age_text,
        data_dir=settings.data_dir,
    )


@bp.route("/run", methods=["POST"])
@requires("backup", "write")
def run():
    """Queue one backup now, or show the one already queued or running."""
    if request.form.get("start") != "1":
        flash("Нажмите кнопку «Сделать копию сейчас».", "error")
        return redirect(url_for("backup.index"))
    status = keys.status(settings_of(current_app))
    if not status["ready"]:
        flash(status["message"], "error")
        return redirect(url_for("backup.index"))
    with write(user=g.user, ip=client_ip()) as rec:
        job = _active_job()
        if job is None:
            job = jobs.enqueue(dbbackup.JOB_KIND, user=g.user)
            rec.record("backup.run", None, after={"job": job.id})
    if job.created_by_id != g.user.id:
        flash("Копия уже делается: дождитесь окончания.", "info")
        return redirect(url_for("backup.index"))
    return redirect(url_for("jobs.show", job_id=job.id))
