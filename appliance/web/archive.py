"""The year-end archive page (§9.2): the register, writing and checking the medium, keys,
and destruction of units past retention (the director confirms)."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from .. import jobs
from ..backup import archive as archive_lib
from ..backup import keys, retention
from ..backup import tasks as archive_tasks
from ..backup.crypto import os_reason
from ..db import write
from ..models import AcademicYear, ArchiveRecord
from ..numbers import is_number
from ..school_calendar import current_year
from . import settings_of
from .guard import client_ip, requires

bp = Blueprint("archive", __name__, url_prefix="/archive")


def _default_media() -> str:
    """The medium's folder the form starts with (`[extra] archive_media` in ezh.toml)."""
    settings = settings_of(current_app)
    return str(getattr(settings, "archive_media", "") or settings.extra.get("archive_media", ""))


def _register() -> list[tuple[AcademicYear, list[ArchiveRecord]]]:
    """The register grouped by year, newest year first."""
    by_year: dict[int, tuple[AcademicYear, list[ArchiveRecord]]] = {}
    query = ArchiveRecord.select().order_by(ArchiveRecord.register_number)
    for record in query:
        by_year.setdefault(record.year_id, (record.year, []))[1].append(record)
    return sorted(by_year.values(), key=lambda item: item[0].starts, reverse=True)


def _page(status: int = 200):
    year = current_year()
    return render_template(
        "archive/index.html",
        register=_register(),
        years=list(AcademicYear.select().order_by(AcademicYear.starts.desc())),
        current=year,
        keys_status=keys.status(settings_of(current_app)),
        verify_due=retention.verification_due(),
        due=retention.due_for_destruction(),
        next_act=retention.act_number(),
        media_default=_default_media(),
        form=request.form,
    ), status


@bp.route("/")
@requires("archive", "read")
def index():
    return _page()


def _queue(kind: str, params: dict):
    with write(user=g.user, ip=client_ip()):
        job = jobs.enqueue(kind, params, user=g.user)
    return redirect(url_for("jobs.show", job_id=job.id))


@bp.route("/build", methods=["POST"])
@requires("archive", "write")
def build():
    """«Записать архив за год»: queue the job (it prints, packs and writes every class)."""
    year_id = request.form.get("year", "")
    media = request.form.get("media", "").strip()
    year = AcademicYear.get_or_none(AcademicYear.id == int(year_id)) if is_number(year_id) else None
    if year is None or not media:
        flash("Выберите учебный год и укажите папку носителя.", "error")
        return _page(400)
    if not keys.status(settings_of(current_app))["ready"]:
        flash("Сначала создайте ключи архива: ezh keys init (см. ниже).", "error")
        return _page(400)
    checked = _medium_path(media)
    if checked is None:
        return _page(400)
    return _queue(archive_tasks.BUILD, {"year_id": year.id, "media": str(checked)})


def _medium_path(text: str) -> Path | None:
    """The medium folder from the form if it is a removable medium (see
    `archive.check_medium_path`); else None with the reason flashed."""
    try:
        return archive_lib.check_medium_path(settings_of(current_app), text)
    except ValueError as exc:
        flash(str(exc), "error")
        return None


@bp.route("/verify", methods=["POST"])
@requires("archive", "write")
def verify():
    """«Проверить носитель» без ключа директора (подписи, размеры, суммы)."""
    media = request.form.get("media", "").strip()
    if not media:
        flash("Укажите папку носителя.", "error")
        return _page(400)
    checked = _medium_path(media)
    if checked is None:
        return _page(400)
    return _queue(archive_tasks.VERIFY, {"media": str(checked)})


@bp.route("/act.pdf")
@requires("archive", "read")
def act():
    """The «Акт об уничтожении» of every unit past retention, for the commission."""
    due = retention.due_for_destruction()
    if not due:
        flash("Единиц с истёкшим сроком хранения нет: акт не нужен.", "info")
        return redirect(url_for("archive.index"))
    number = retention.act_number()
    pdf = retention.act_pdf(due, number)
    name = f"act-{number.replace('/', '-')}.pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.route("/destroy", methods=["POST"])
@requires("archive_destroy", "write")
def destroy():
    """The director confirms the signed act: the units are deleted and marked destroyed."""
    ids = [int(v) for v in request.form.getlist("record") if is_number(v)]
    if request.form.get("confirm") != "1":
        flash("Подтвердите, что акт подписан комиссией.", "error")
        return _page(400)
    media = request.form.get("media", "").strip()
    if not media:
        flash("Укажите папку носителя, на котором записаны эти единицы.", "error")
        return _page(400)
    checked = _medium_path(media)
    if checked is None:
        return _page(400)
    try:
        done = retention.destroy(
            settings_of(current_app),
            ids,
            checked,
            request.form.get("act", ""),
            user=g.user,
        )
    except ValueError as exc:
        flash(str(exc), "error")
        return _page(400)
    except OSError as exc:  # the medium itself: never a 500
        flash(f"Ничего не уничтожено: {os_reason(exc)}.", "error")
        return _page(400)
    flash(f"Уничтожено по акту № {done[0].destruction_act}: {len(done)} ед.", "success")
    return redirect(url_for("archive.index"))
