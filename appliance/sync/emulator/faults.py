"""Fault injection for the emulator: latency, 5xx, dropped connections, drop-after-commit,
session expiry, 429 rate limiting and maintenance windows. Deterministic for a seed.

Knobs (all optional; JSON object, a file holding one, or `POST /_emulator/faults`):

- ``latency_ms``: sleep this long before every `/webapi` answer.
- ``error_rate``: probability of a 500 answer (nothing applied).
- ``drop_rate``: probability that the connection is dropped before anything is applied.
- ``drop_after_commit_rate``: probability that a write is applied and its answer dropped.
- ``session_every``: a session expires after this many authenticated requests (0 = never).
- ``session_ttl_s``: a session expires this many seconds after login (0 = never).
- ``rate_limit_rate``: probability of a 429 answer with ``Retry-After: retry_after_s``.
- ``maintenance``: true → every `/webapi` call answers 503 with a Russian message.
- ``maintenance_windows``: daily local windows ``["HH:MM-HH:MM", …]`` answering 503.
- ``esia_forced``: the region forces Gosuslugi login (logindata ``esiaMainAuth: true``,
  login refused with 403 ``{message, esiaMainAuth: true}``).
- ``seed``: the random seed; the same seed and request order give the same faults.

A dropped connection is a response whose ``Content-Length`` promises more bytes than are
sent: waitress closes the socket and the client gets a protocol/connection error, never
a usable answer.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

MAINTENANCE_MESSAGE = "Ведутся технические работы. Сервис временно недоступен, попробуйте позже."


@dataclass
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    drop_after_commit_rate: float = 0.0
    session_every: int = 0
    session_ttl_s: float = 0.0
    rate_limit_rate: float = 0.0
    retry_after_s: int = 1
    maintenance: bool = False
    maintenance_windows: list[str] = field(default_factory=list)
    esia_forced: bool = False
    seed: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault knobs: {', '.join(sorted(unknown))}")
        return cls(**data)

    @classmethod
    def load(cls, source: str | Path | dict[str, Any] | Faults | None) -> Faults:
        """From a Faults, a dict, a JSON string or a path to a JSON file."""
        if source is None:
            return cls()
        if isinstance(source, Faults):
            return source
        if isinstance(source, dict):
            return cls.from_dict(source)
        text = str(source).strip()
        if not text.startswith("{"):
            text = Path(text).read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def in_maintenance(self, now: dt.datetime | None = None) -> bool:
        if self.maintenance:
            return True
        clock = (now or dt.datetime.now()).time()
        for window in self.maintenance_windows:
            start, _, end = window.partition("-")
            begin, finish = dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip())
            inside = (
                begin <= clock < finish if begin <= finish else clock >= begin or clock < finish
            )
            if inside:
                return True
        return False


class FaultDice:
    """The faults in force plus a seeded random source shared by all request threads."""

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self.set(faults)

    def set(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._random = random.Random(faults.seed)

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            return self._random.random() < rate
