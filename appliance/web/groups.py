"""Subject groups: class × subject × teachers × students, subgroups (issue 4)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("groups", __name__, url_prefix="/planning/groups")
