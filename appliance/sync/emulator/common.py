"""Helpers shared by the emulator's route modules."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from .store import EmulatorStore


def dropped() -> Response:
    """Headers promise bytes that never come: waitress closes the socket mid-answer."""
    response = Response(iter([b""]), status=200, mimetype="application/json")
    response.headers["Content-Length"] = "64"
    response.direct_passthrough = True
    return response


def error(status: int, message: str, **extra: Any) -> Response:
    response = jsonify({"message": message, **extra})
    response.status_code = status
    return response


def day(value: str) -> str:
    """A date as NetSchool writes it: `YYYY-MM-DDT00:00:00`."""
    return f"{value[:10]}T00:00:00"


def current_session() -> dict[str, Any]:
    """The session the fault/session hook attached to this request."""
    return request.environ["emulator.session"]


def current_year(store: EmulatorStore) -> dict[str, Any]:
    rows = store.query("SELECT * FROM year ORDER BY id DESC LIMIT 1")
    return rows[0] if rows else {"id": 0, "name": "", "starts": "", "ends": ""}
