"""In-app help for each role (issue 5, §6.1.2 of the regulation).

The texts live in templates (`templates/help/<role>.html`), one page per role: the
active role's page is shown. Links to the real pages appear only when the role may
open them, so the help never points at a 403.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, render_template, request, url_for
from werkzeug.routing import BuildError

from . import settings_of
from .guard import may_open, requires

bp = Blueprint("help", __name__, url_prefix="/help")

# The box announces itself over mDNS (deploy/raspi): its usual name on the school LAN.
NAME_EXAMPLE = "http://ezh.local/"


def page_link(endpoint: str, **values) -> str | None:
    """The page's address if the active role may open it (None: show no link)."""
    if not may_open(endpoint):
        return None
    try:
        return url_for(endpoint, **values)
    except BuildError:  # a page that needs more than the help can give it
        return None


@bp.route("/")
@requires("own", "read")
def index():
    return render_template(
        f"help/{g.role.role}.html",
        page_link=page_link,
        contact=g.school.admin_contact,
        address=settings_of(current_app).base_url or request.host_url,
        name_example=NAME_EXAMPLE,
    )
