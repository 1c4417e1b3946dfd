"""A background job's page: its progress (polled while it runs) and its file when done."""

from __future__ import annotations

import urllib.parse

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    send_file,
    url_for,
)

from .. import jobs
from . import settings_of
from .guard import is_htmx, requires

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


def _own_job(job_id: int):
    job = jobs.job_for(job_id, g.user)
    if job is None:
        abort(404)
    return job


@bp.route("/<int:job_id>")
@requires("own", "read")
def show(job_id: int):
    job = _own_job(job_id)
    template = "jobs/_status.html" if is_htmx() else "jobs/show.html"
    return render_template(template, job=job, title=jobs.TITLES.get(job.kind, "Задание"))


@bp.route("/<int:job_id>/file")
@requires("own", "read")
def file(job_id: int):
    job = _own_job(job_id)
    data_dir = settings_of(current_app).data_dir.resolve()
    path = (data_dir / job.result_file).resolve() if job.result_file else None
    if job.state != "done" or path is None or not path.is_file():
        flash("Файла у этого задания нет (или ещё нет).", "info")
        return redirect(url_for("jobs.show", job_id=job.id))
    if data_dir / "jobs" not in path.parents:  # a result is always under data/jobs/<id>/
        abort(404)
    response = send_file(path, as_attachment=True, download_name=path.name)
    if not path.name.isascii():
        # The browser takes the Russian name (filename*); older clients and `curl -OJ`
        # take the plain one, which would otherwise come out as «-.xlsx».
        quoted = urllib.parse.quote(path.name)
        response.headers["Content-Disposition"] = (
            f"attachment; filename=\"ezh-{job.id}{path.suffix}\"; filename*=UTF-8''{quoted}"
        )
    return response
