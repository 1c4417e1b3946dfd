"""Page speed: the logged-in teacher's dashboard `/` against `/healthz`, same server.

Both are served by one in-process waitress (threads=4, like a small box) to N client
threads, each on its own keep-alive connection and logged in once as a teacher. The
two paths are measured in interleaved rounds (healthz, dashboard, healthz, …) so
that machine noise hits both alike; the figure that matters is the ratio.

    python bench/pages.py [--quick] [--concurrency N] [--rounds R] [--per-client K]

The last line of stdout is one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/pages.py` from anywhere
    sys.path.insert(0, str(ROOT))

from bench._http import (  # noqa: E402
    BenchError,
    Client,
    fill_defaults,
    percentile_ms,
    run_bench,
    served,
)

SERVER_THREADS = 4
DASHBOARD_MARK = "Мой день".encode()


# --- data ----------------------------------------------------------------------------


@dataclass
class Dataset:
    name: str  # "demo" or "factory"
    username: str
    password: str
    note: str = ""


def build_school(data_dir: Path):
    """Create the school to measure against; return (settings, Dataset)."""
    from appliance.config import load_settings, write_settings_file
    from appliance.db import migrate, open_database

    try:
        from appliance.demo import create_demo_school
    except ImportError as exc:
        return _factory_school(data_dir, f"appliance.demo not importable: {exc}")

    write_settings_file(data_dir, password_profile="fast")
    settings = load_settings(data_dir)
    db = open_database(settings.db_path)
    db.connect()
    try:
        migrate(db)
        accounts = create_demo_school(seed=1)
    finally:
        db.close()
    teacher = next((a for a in accounts if a.role == "teacher"), None)
    if teacher is None:
        raise BenchError("the demo school has no teacher account")
    return settings, Dataset("demo", teacher.username, teacher.password)


def _factory_school(data_dir: Path, note: str):
    from appliance.config import load_settings
    from appliance.db import migrate, open_database
    from tests.factories import PASSWORD, SchoolFactory

    settings = load_settings(data_dir, password_profile="fast")
    db = open_database(settings.db_path)
    db.connect()
    try:
        migrate(db)
        factory = SchoolFactory.build()
        username = factory.users["teacher"].username
    finally:
        db.close()
    return settings, Dataset("factory", username, PASSWORD, note)


# --- clients -------------------------------------------------------------------------


def check_dashboard(status: int, page: bytes) -> None:
    if status != 200 or DASHBOARD_MARK not in page:
        raise BenchError(f"GET /: status {status}, not the teacher's «Мой день» page")


def check_healthz(status: int, page: bytes) -> None:
    if status != 200:
        raise BenchError(f"GET /healthz: status {status}: {page[:200]!r}")


CHECKS: dict[str, Callable[[int, bytes], None]] = {"/": check_dashboard, "/healthz": check_healthz}


@dataclass
class Phase:
    path: str = ""
    count: int = 0
    stop: bool = False


@dataclass
class Totals:
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # seconds


class Swarm:
    """N client threads that run each phase together, in lockstep with the caller."""

    def __init__(self, port: int, dataset: Dataset, concurrency: int):
        self.phase = Phase()
        self.start = threading.Barrier(concurrency + 1)
        self.end = threading.Barrier(concurrency + 1)
        self.latencies: list[list[float]] = [[] for _ in range(concurrency)]
        self.errors: list[str] = []
        self.threads = [
            threading.Thread(target=self._work, args=(i, port, dataset), name=f"client-{i}")
            for i in range(concurrency)
        ]
        for thread in self.threads:
            thread.start()

    def _work(self, index: int, port: int, dataset: Dataset) -> None:
        client = Client(port)
        try:
            try:
                # A teacher who is also a class teacher lands on the class page; measure
                # «Мой день».
                client.log_in(dataset.username, dataset.password, role="teacher")
            except Exception as exc:
                self.errors.append(f"client {index}: {exc}")
            while True:
                self.start.wait()
                if self.phase.stop:
                    return
                try:
                    if not self.errors:
                        self._run_phase(client, index)
                except Exception as exc:
                    self.errors.append(f"client {index}: {exc}")
                self.end.wait()
        finally:
            client.close()

    def _run_phase(self, client: Client, index: int) -> None:
        path, check = self.phase.path, CHECKS[self.phase.path]
        latencies = self.latencies[index]
        for _ in range(self.phase.count):
            began = time.perf_counter()
            status, _, page = client.request("GET", path)
            latencies.append(time.perf_counter() - began)
            check(status, page)

    def run(self, path: str, count: int) -> tuple[float, list[float]]:
        """Every client GETs `path` `count` times; return wall seconds and latencies."""
        for own in self.latencies:
            own.clear()
        self.phase.path, self.phase.count = path, count
        self.start.wait()
        began = time.perf_counter()
        self.end.wait()
        seconds = time.perf_counter() - began
        if self.errors:
            raise BenchError("; ".join(self.errors[:3]))
        return seconds, [x for own in self.latencies for x in own]

    def close(self) -> None:
        self.phase.stop = True
        self.start.wait()
        for thread in self.threads:
            thread.join(timeout=10)


def measure(args) -> dict:
    from appliance.web import create_app

    with tempfile.TemporaryDirectory(prefix="ezh-bench-") as tmp:
        began = time.perf_counter()
        settings, dataset = build_school(Path(tmp))
        print(
            f"school ({dataset.name}) built in {time.perf_counter() - began:.1f} s", file=sys.stderr
        )
        app = create_app(settings)
        totals = {"/healthz": Totals(), "/": Totals()}
        with served(app, SERVER_THREADS) as port:
            swarm = Swarm(port, dataset, args.concurrency)
            try:
                for path in totals:  # warm-up: templates compiled, caches filled
                    swarm.run(path, 3)
                for round_no in range(1, args.rounds + 1):
                    for path, total in totals.items():
                        seconds, latencies = swarm.run(path, args.per_client)
                        total.requests += len(latencies)
                        total.seconds += seconds
                        total.latencies += latencies
                        print(
                            f"round {round_no}/{args.rounds} {path:<8} "
                            f"{len(latencies) / seconds:8.1f} req/s",
                            file=sys.stderr,
                        )
            finally:
                swarm.close()

    dash, health = totals["/"], totals["/healthz"]
    dashboard_rps = dash.requests / dash.seconds
    healthz_rps = health.requests / health.seconds
    result = {
        "bench": "pages",
        "quick": args.quick,
        "dataset": dataset.name,
        "dashboard_rps": round(dashboard_rps, 1),
        "healthz_rps": round(healthz_rps, 1),
        "dashboard_vs_healthz_rps": round(dashboard_rps / healthz_rps, 3),
        "dashboard_p50_ms": percentile_ms(dash.latencies, 50),
        "dashboard_p95_ms": percentile_ms(dash.latencies, 95),
        "healthz_p50_ms": percentile_ms(health.latencies, 50),
        "healthz_p95_ms": percentile_ms(health.latencies, 95),
        "requests": dash.requests + health.requests,
        "concurrency": args.concurrency,
        "server_threads": SERVER_THREADS,
        "rounds": args.rounds,
    }
    if dataset.note:
        result["dataset_note"] = dataset.note
    return result


def parse_args(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--concurrency", type=int, default=None, help="client threads")
    parser.add_argument("--rounds", type=int, default=None, help="healthz+dashboard rounds")
    parser.add_argument("--per-client", type=int, default=None, help="requests per phase")
    args = parser.parse_args(argv)
    quick = {"concurrency": 4, "rounds": 4, "per_client": 40}
    full = {"concurrency": 8, "rounds": 8, "per_client": 80}
    return fill_defaults(args, quick, full)


def main(argv: list[str] | None = None) -> int:
    return run_bench("pages", measure, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
