"""The diary's publishing rule (DESIGN.md §3), kept behind one function.

With an upstream (АСУ РСО) configured, a journal change is published once the upstream
has accepted it — the sync worker stamps `published_at` then. With none, at once.
"""

from __future__ import annotations

import datetime as dt

from peewee import Case, fn

from .models import SyncCell, now

_state = {"upstream": False}


def configure(upstream_configured: bool) -> None:
    """Called once at start-up from the settings (`upstream_url`)."""
    _state["upstream"] = upstream_configured


def upstream_configured() -> bool:
    """Is publishing waiting for АСУ РСО? (the diary then says so next to «данные на …»)"""
    return _state["upstream"]


def published_at_for_new_change() -> dt.datetime | None:
    """When a change written now becomes visible to students and parents."""
    return None if _state["upstream"] else now()


def visible(model, at: dt.datetime | None = None):
    """The diary's one publishing rule, as a peewee expression over `model.published_at`.

    A row is shown to students and parents once it carries a `published_at` that is not
    in the future. Every diary query filters (or flags) its journal rows with this, so
    turning the upstream on (`configure(True)`) needs no change in the diary: new
    changes then carry no stamp until the sync worker sets it on acceptance.
    """
    # Microseconds kept: a stamp written this very second is already shown.
    return model.published_at.is_null(False) & (model.published_at <= (at or dt.datetime.now()))


def is_visible(row, at: dt.datetime | None = None) -> bool:
    """`visible` for one row already loaded (the first page's lesson list)."""
    stamp = row.published_at
    return stamp is not None and stamp <= (at or dt.datetime.now())


# --- while a newer edit waits ------------------------------------------------------
# A published value that the teacher changes again loses its stamp until АСУ РСО takes
# the new one. Meanwhile readers keep seeing the value АСУ РСО accepted last: the merge
# base of the cell (`SyncCell`, appliance.sync.bases), never the unaccepted new value.


def agreed(key):
    """The last value АСУ РСО accepted for the cell `key` (an SQL expression; NULL if none)."""
    return SyncCell.select(SyncCell.value).where(SyncCell.entity_uuid == key)


def readable(model):
    """`visible`, or waiting for a newer value with an accepted one to show meanwhile."""
    waiting = model.published_at.is_null() & (fn.COALESCE(agreed(model.uuid), "") != "")
    return visible(model) | waiting


def shown(model, field):
    """The value readers see in a `readable` row: its own once published, else the last
    accepted one."""
    return Case(None, [(visible(model), field)], agreed(model.uuid))


def agreed_field(model, name: str):
    """The last accepted topic or homework of a lesson ("" if none)."""
    return fn.COALESCE(agreed(model.uuid.concat(f":{name}")), "")
