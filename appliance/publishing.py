"""The diary's publishing rule (DESIGN.md §3), kept behind one function.

With an upstream (АСУ РСО) configured, a journal change is published once the upstream
has accepted it — the sync worker stamps `published_at` then. With none, at once.
"""

from __future__ import annotations

import datetime as dt

from .models import now

_state = {"upstream": False}


def configure(upstream_configured: bool) -> None:
    """Called once at start-up from the settings (`upstream_url`)."""
    _state["upstream"] = upstream_configured


def published_at_for_new_change() -> dt.datetime | None:
    """When a change written now becomes visible to students and parents."""
    return None if _state["upstream"] else now()
