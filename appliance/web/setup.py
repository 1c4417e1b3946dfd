"""The first-visit setup wizard of an empty school."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from ..people import PeopleError
from ..school_setup import complete_setup, setup_pending
from . import settings_of
from .guard import client_ip, public

bp = Blueprint("setup", __name__, url_prefix="/setup")


@bp.route("/", methods=["GET", "POST"])
@public
def wizard():
    if not setup_pending():
        return redirect(url_for("auth.login"))
    form = request.form
    if request.method == "POST":
        settings = settings_of(current_app)
        try:
            complete_setup(
                settings.data_dir,
                code=form.get("code", ""),
                school_name=form.get("school_name", ""),
                school_short_name=form.get("school_short_name", ""),
                admin={k: form.get(k, "") for k in ("last_name", "first_name", "middle_name")},
                username=form.get("username", ""),
                password=form.get("password", ""),
                repeat=form.get("repeat", ""),
                ip=client_ip(),
                profile=settings.password_profile,
            )
        except PeopleError as exc:
            flash(str(exc), "error")
            return render_template("setup/wizard.html", form=form), 400
        flash("Школа настроена. Войдите под учётной записью администратора.", "success")
        return redirect(url_for("auth.login"))
    return render_template("setup/wizard.html", form=form)
