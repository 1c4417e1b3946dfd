"""The box's self-diagnosis on a page (issue 8): the checks of `ezh doctor` as a table.

The director and the admin open it when something seems wrong; each row says what is
wrong and what to do. It only reads (a failing check never breaks the page).
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from .. import doctor
from . import settings_of
from .guard import requires

bp = Blueprint("doctor", __name__, url_prefix="/doctor")


@bp.route("/")
@requires("system_health", "read")
def index():
    settings = settings_of(current_app)
    checks = doctor.run_checks(settings)
    return render_template(
        "doctor/index.html",
        checks=checks,
        overall=doctor.worst(checks),
        labels=doctor.LABELS,
        data_dir=settings.data_dir,
    )
