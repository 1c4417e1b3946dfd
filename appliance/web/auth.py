"""Login, logout, changing one's password and switching the active role."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from .. import access, sessions
from .. import auth as auth_rules
from . import clear_session, settings_of
from .guard import client_ip, public, requires

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this box: no scheme, no host, nothing a browser would strip."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not any(ch == "\\" or ch.isspace() or ord(ch) < 32 for ch in target)
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if g.get("user") is not None:
        return redirect(url_for("home.index"))
    if request.method == "POST":
        result = auth_rules.authenticate(
            request.form.get("username", ""),
            request.form.get("password", ""),
            client_ip(),
            settings_of(current_app),
        )
        if not result.ok:
            flash(result.message, "error")
            return render_template("auth/login.html", username=request.form.get("username")), 401
        user = result.user
        clear_session()  # a new sid: no session fixation
        session["sid"] = sessions.start_session(user, client_ip())
        roles = access.grants_of(user)
        if roles:
            session["role"] = roles[0].key
        if user.must_change_password:
            flash("Это первый вход с выданным паролем. Придумайте свой пароль.", "info")
            return redirect(url_for("auth.change_password"))
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", username="")


@bp.route("/logout", methods=["POST"])
@public
def logout():
    sessions.end_session(session.get("sid", ""))
    clear_session()
    flash("Вы вышли из системы.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@requires("own", "write")
def change_password():
    if request.method == "POST":
        error = auth_rules.change_password(
            g.user,
            request.form.get("old", ""),
            request.form.get("new", ""),
            request.form.get("repeat", ""),
            ip=client_ip(),
            settings=settings_of(current_app),
        )
        if error:
            flash(error, "error")
            return render_template("auth/password.html"), 400
        sessions.end_sessions(g.user, keep_sid=session.get("sid", ""))
        flash("Пароль изменён. На других устройствах нужно войти заново.", "success")
        return redirect(url_for("home.index"))
    return render_template("auth/password.html")


@bp.route("/role", methods=["POST"])
@requires("own", "write")
def switch_role():
    try:
        wanted = access.ActiveRole.parse(request.form.get("role", ""))
    except ValueError:
        wanted = None
    if wanted not in g.roles:
        flash("У вас нет такой роли.", "error")
        return render_template("error.html", code=400, message="У вас нет такой роли."), 400
    session["role"] = wanted.key
    return redirect(url_for("home.index"))
