"""The school's settings: name, letterhead, the admin's contacts, thresholds (issue 5)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from .. import school_settings
from ..models import School
from ..school_settings import SettingsError
from . import settings_of
from .guard import client_ip, requires

bp = Blueprint("settings", __name__, url_prefix="/admin/school")


def _page(form, status: int = 200):
    return render_template(
        "settings/edit.html",
        form=form,
        texts=school_settings.TEXTS,
        wholes=school_settings.WHOLES,
        fractions=school_settings.FRACTIONS,
        upload_limit_kb=_upload_limit_kb(),
    ), status


def _upload_limit_kb() -> int:
    return settings_of(current_app).max_upload_mb * 1024


@bp.route("")
@requires("school_settings", "read")
def edit():
    return _page(school_settings.form_values(School.get()))


@bp.route("", methods=["POST"])
@requires("school_settings", "write")
def save():
    try:
        changed = school_settings.save(
            request.form, g.user, client_ip(), upload_limit_kb=_upload_limit_kb()
        )
    except SettingsError as exc:
        flash(str(exc), "error")
        return _page(request.form, 400)
    if changed:
        flash("Сохранено: " + ", ".join(changed) + ".", "success")
    else:
        flash("Ничего не изменилось.", "info")
    return redirect(url_for("settings.edit"))
