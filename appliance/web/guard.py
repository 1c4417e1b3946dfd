"""Route guards: every view declares what it touches; one check enforces it.

`requires("journal", "write")` lets a view run only for roles the access matrix
allows; `public` marks the few views open without login. A view with neither is a
bug, and the access-matrix test fails on it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import abort, current_app, g, request

from .. import access


def requires(obj: str, mode: str) -> Callable:
    if mode not in access.MATRIX.get(obj, {}):
        raise ValueError(f"access matrix has no {obj}.{mode}")

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if g.get("user") is None:
                abort(401)
            if not access.allowed(g.role.role, obj, mode):
                abort(403)
            return view(*args, **kwargs)

        wrapper.access = (obj, mode)
        return wrapper

    return decorate


def public(view: Callable) -> Callable:
    view.access = ("public", None)
    return view


def client_ip() -> str:
    # waitress sits directly on the LAN; no proxy headers are trusted.
    return request.remote_addr or ""


def is_htmx() -> bool:
    """An HTMX request (flask-htmx reads the HX-Request header; htmx partials answer it)."""
    return bool(current_app.htmx)


def may_open(endpoint: str) -> bool:
    """May the active role open the page behind ``endpoint`` (by its @requires)?

    Pages hide links their reader could not follow (a 403 behind a shown link).
    """
    view = current_app.view_functions.get(endpoint)
    rule = getattr(view, "access", None)
    if rule is None:
        return False
    if rule[0] == "public":
        return True
    return g.get("role") is not None and access.allowed(g.role.role, *rule)
