"""`/healthz`: JSON for monitoring and the admin."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from ..health import health
from . import settings_of
from .guard import public

bp = Blueprint("health", __name__)


@bp.route("/healthz")
@public
def healthz():
    report = health(settings_of(current_app).data_dir)
    return jsonify(report), 200 if report["ok"] else 503
