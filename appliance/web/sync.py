"""The sync status page (the office), its settings (the admin), and a teacher's own page.

`/sync/` tells whether АСУ РСО receives the journal: what waits and since when, the
last success and the last error, a red box when a person must act, parked changes with
the upstream's reason and conflicts. The admin starts a run («Синхронизировать сейчас»,
a background job), sends parked changes again and sets the address and the account.
`/sync/mine` shows a teacher the changes they made that АСУ РСО has not accepted yet,
and the conflicts in their groups to confirm or replace with АСУ РСО's value.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from .. import jobs, publishing
from ..db import write
from ..models import Job, WorkType
from ..sync import conflicts, credentials, status
from ..sync import settings as sync_settings
from ..sync import tasks as sync_tasks
from ..sync.mapping import DEFAULT_PATHS, DEFAULT_WORK_TYPES, PATH_LABELS
from . import settings_of
from .guard import client_ip, requires

bp = Blueprint("sync", __name__, url_prefix="/sync")


# --- the status page -------------------------------------------------------------------


def _account_login() -> tuple[str, str]:
    """The stored service account's login and a Russian problem with it, if any."""
    try:
        stored = credentials.load(settings_of(current_app).data_dir)
    except credentials.CredentialsError as exc:
        return "", str(exc)
    return (stored[0] if stored else ""), ""


def _active_job() -> Job | None:
    found = jobs.active(sync_tasks.KIND)
    return found[0] if found else None


@bp.route("/", endpoint="status")
@requires("sync", "read")
def status_page():
    login, account_problem = _account_login()
    return render_template(
        "sync/status.html",
        view=status.overview(),
        runs=status.recent_runs(),
        parked=status.parked(),
        conflicts=conflicts.rows(conflicts.open_for(g.user, g.role)),
        config=sync_settings.load(settings_of(current_app)),
        login=login,
        account_problem=account_problem,
        job=_active_job(),
        age_text=status.age_text,
        run_labels=status.RUN_STATUS_LABELS,
        run_label=status.run_label,
        counted=status.counted,
        by_hand=status.by_hand,
    )


@bp.route("/now", methods=["POST"])
@requires("sync", "write")
def now():
    """Queue one sync run, or show the one already queued or running."""
    if request.form.get("start") != "1":
        flash("Нажмите кнопку «Синхронизировать сейчас».", "error")
        return redirect(url_for("sync.status"))
    with write(user=g.user, ip=client_ip()) as rec:
        job = _active_job()
        if job is None:
            job = jobs.enqueue(sync_tasks.KIND, user=g.user)
            rec.record("sync.run", None, after={"job": job.id})
    if job.created_by_id != g.user.id:
        flash("Синхронизация уже запущена: дождитесь её окончания.", "info")
        return redirect(url_for("sync.status"))
    return redirect(url_for("jobs.show", job_id=job.id))


@bp.route("/retry", methods=["POST"])
@requires("sync", "write")
def retry():
    """Send a parked change again (the admin fixed what АСУ РСО objected to)."""
    try:
        count = status.retry_parked(request.form.get("entity_uuid", ""), g.user, client_ip())
    except status.SyncStatusError as exc:
        flash(str(exc), "error")
        return redirect(url_for("sync.status"))
    flash(
        f"Изменение снова в очереди (записей: {count}). Оно уйдёт при следующей синхронизации.",
        "success",
    )
    return redirect(url_for("sync.status"))


# --- settings --------------------------------------------------------------------------


def _settings_page(form: dict, status_code: int = 200):
    login, account_problem = _account_login()
    return render_template(
        "sync/settings.html",
        form=form,
        login=login,
        account_problem=account_problem,
        default_paths=DEFAULT_PATHS,
        path_labels=PATH_LABELS,
        work_types=list(WorkType.select().order_by(WorkType.name)),
        default_work_types=DEFAULT_WORK_TYPES,
    ), status_code


def _current_form() -> dict:
    found = sync_settings.load(settings_of(current_app))
    form = {
        "url": found.url,
        "school": found.school,
        "enabled": "1" if found.enabled else "",
        "roster_from_upstream": "1" if found.roster_from_upstream else "",
        "login": _account_login()[0],
    }
    form.update({f"path_{key}": value for key, value in found.paths.items()})
    for work_type in WorkType.select():
        form[f"wt_{work_type.id}"] = found.work_types.get(work_type.name, "")
    return form


@bp.route("/settings")
@requires("sync", "write")
def settings_form():
    return _settings_page(_current_form())


@bp.route("/settings", methods=["POST"])
@requires("sync", "write")
def settings_save():
    """Store the address, the school, the account and the paths (one audited change)."""
    form = {key: value for key, value in request.form.items() if key != "password"}
    if "url" not in request.form:
        flash("Форма пуста: ничего не изменено.", "error")
        return _settings_page(_current_form(), 400)
    data = settings_of(current_app)
    before = sync_settings.load(data)
    old_login = _account_login()[0]
    password = request.form.get("password", "")
    login = request.form.get("login", "").strip()
    paths = {key: request.form.get(f"path_{key}", "") for key in DEFAULT_PATHS}
    work_types = None  # a form without the section keeps what is stored
    if any(key.startswith("wt_") for key in request.form):
        work_types = {w.name: request.form.get(f"wt_{w.id}", "") for w in WorkType.select()}
    try:
        with write(user=g.user, ip=client_ip()) as rec:
            found = sync_settings.save(
                data,
                url=request.form.get("url", ""),
                school=request.form.get("school", ""),
                enabled=request.form.get("enabled") == "1",
                paths=paths,
                login=login,
                password=password,
                roster_from_upstream=request.form.get("roster_from_upstream") == "1",
                work_types=work_types,
            )
            rec.record(
                "sync.setup",
                None,
                before={
                    "url": before.url,
                    "school": before.school,
                    "enabled": before.enabled,
                    "roster_from_upstream": before.roster_from_upstream,
                    "paths": before.paths,
                    "work_types": before.work_types,
                    "login": old_login,
                },
                after={
                    "url": found.url,
                    "school": found.school,
                    "enabled": found.enabled,
                    "roster_from_upstream": found.roster_from_upstream,
                    "paths": found.paths,
                    "work_types": found.work_types,
                    "login": login or old_login,
                    "password_changed": bool(password),
                },
            )
    except (sync_settings.SyncSettingsError, credentials.CredentialsError) as exc:
        flash(str(exc), "error")
        return _settings_page(form, 400)
    publishing.configure(found.configured)
    flash("Настройки синхронизации сохранены.", "success")
    return redirect(url_for("sync.status"))


# --- a teacher's own page --------------------------------------------------------------


def _mine_page(status_code: int = 200):
    return render_template(
        "sync/mine.html",
        own=status.own_waiting(g.user),
        sending=status.sending(),
        advice=status.parked_advice,
        conflicts=conflicts.rows(conflicts.mine(g.user)),
        age_text=status.age_text,
    ), status_code


@bp.route("/mine")
@requires("journal", "write")  # the people who write the journal: teachers
def mine():
    return _mine_page()


def _my_conflict():
    """The conflict named in the form: None if none named; 404 outside the user's groups."""
    raw = request.form.get("conflict", "").strip()
    if not raw:
        return None
    conflict = conflicts.find_mine(raw, g.user)
    if conflict is None:
        abort(404)
    return conflict


def _resolve(action, done: str):
    """Resolve the conflict named in the form with `action`; errors back on the page."""
    conflict = _my_conflict()
    if conflict is None:
        flash("Не выбрано расхождение.", "error")
        return _mine_page(400)
    try:
        action(conflict, g.user, client_ip())
    except conflicts.ConflictError as exc:
        flash(str(exc), "error")
        return _mine_page(exc.status)
    flash(f"{done}: {conflict.description}.", "success")
    return redirect(url_for("sync.mine"))


@bp.route("/mine/confirm", methods=["POST"])
@requires("journal", "write")
def confirm():
    """«Оставить моё» / «Оставить из АСУ РСО»: the journal's value stays as it is."""
    return _resolve(conflicts.confirm, "Оставлено значение, которое сейчас в журнале")


@bp.route("/mine/take-remote", methods=["POST"])
@requires("journal", "write")
def take_remote():
    """«Взять из АСУ РСО»: АСУ РСО's value goes into the journal (an ordinary edit)."""
    return _resolve(conflicts.take_remote, "В журнал взято значение из АСУ РСО")


@bp.route("/mine/take-local", methods=["POST"])
@requires("journal", "write")
def take_local():
    """«Вернуть моё»: the box's earlier value goes back into the journal and to АСУ РСО."""
    return _resolve(conflicts.take_local, "В журнал возвращено ваше значение")
