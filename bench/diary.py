"""Diary speed: a parent's week of the diary (and the dynamics chart) against `/healthz`.

The box (`ezh serve`) runs in its own process on the bench's own copy of the demo
school. One client, logged in as a parent, GETs `/diary/<child>?week=<week>` — the
child's busiest week in marks — in rounds interleaved with `/healthz` (healthz, week,
dynamics, healthz, week, dynamics …); the figure is the ratio of the median latencies.
The dynamics page (the year's chart for the same child) is measured alongside.

    python bench/diary.py [--quick] [--rounds R] [--per-round K] [--threads T]

The last line of stdout is one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/diary.py` from anywhere
    sys.path.insert(0, str(ROOT))

from bench._http import (  # noqa: E402
    BenchError,
    Client,
    fill_defaults,
    percentile_ms,
    run_bench,
    spawned,
)

SEED = 1
SERVER_THREADS = 8  # `ezh serve`'s default
CANDIDATE_PARENTS = 40  # parent accounts looked at for the busiest week


@dataclass
class Target:
    username: str
    password: str
    child_id: int
    child_name: str
    week: dt.date
    marks: int  # the child's published marks that week


def build_school(data_dir: Path) -> Target:
    """The demo school; the parent whose child has the most marks in one week so far."""
    from appliance.config import load_settings, write_settings_file
    from appliance.db import migrate, open_database
    from appliance.demo import create_demo_school

    write_settings_file(data_dir, password_profile="fast")
    settings = load_settings(data_dir)
    db = open_database(settings.db_path)
    db.connect()
    try:
        migrate(db)
        accounts = create_demo_school(seed=SEED)
        parents = [a for a in accounts if a.role == "parent"][:CANDIDATE_PARENTS]
        if not parents:
            raise BenchError("the demo school has no parent accounts")
        return _busiest_week(parents)
    finally:
        db.close()


def _busiest_week(parents) -> Target:
    from collections import Counter

    from appliance.diary.dates import monday_of
    from appliance.models import Assignment, Guardian, Lesson, Mark, Person, User
    from appliance.publishing import visible

    today = dt.date.today()
    weeks: Counter[tuple[int, str, str, dt.date]] = Counter()
    for account in parents:
        user = User.get(User.username == account.username)
        children = Guardian.select(Guardian.student).where(Guardian.parent == user.person_id)
        rows = (
            Mark.select(Mark.student, Lesson.date)
            .join(Assignment)
            .join(Lesson)
            .where(Mark.student.in_(children) & (Lesson.date <= today) & visible(Mark))
            .tuples()
        )
        for student, day in rows:
            weeks[(student, account.username, account.password, monday_of(day))] += 1
    if not weeks:
        raise BenchError("no child of the first parents has a published mark yet")
    (student, username, password, monday), count = weeks.most_common(1)[0]
    child = Person.get_by_id(student)
    return Target(username, password, student, child.full_name, monday, count)


# --- the run -------------------------------------------------------------------------


@dataclass
class Page:
    url: str
    must_contain: list[bytes]
    latencies: list[float] = field(default_factory=list)


def fetch(client: Client, path: Page) -> None:
    began = time.perf_counter()
    status, _, page = client.request("GET", path.url)
    path.latencies.append(time.perf_counter() - began)
    missing = [m.decode() for m in path.must_contain if m not in page]
    if status != 200 or missing:
        raise BenchError(f"GET {path.url}: status {status}, missing {missing}: {page[:200]!r}")


def measure(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="ezh-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        began = time.perf_counter()
        target = build_school(data_dir)
        print(
            f"demo school built in {time.perf_counter() - began:.1f} s; {target.username} → "
            f"{target.child_name}, week of {target.week:%d.%m.%Y} ({target.marks} marks)",
            file=sys.stderr,
        )
        name = target.child_name.encode()
        paths = {
            "healthz": Page("/healthz", []),
            "diary": Page(
                f"/diary/{target.child_id}?week={target.week.isoformat()}",
                ["Дневник".encode(), name, b'class="mark"'],
            ),
            "dynamics": Page(
                f"/diary/{target.child_id}/dynamics", [name, b'<svg class="dynamics-chart"']
            ),
        }
        with spawned(data_dir, args.threads, Path(tmp) / "serve.log") as port:
            client = Client(port)
            try:
                client.log_in(target.username, target.password)
                for path in paths.values():  # warm-up: templates compiled, caches filled
                    for _ in range(3):
                        fetch(client, path)
                    path.latencies.clear()
                for round_no in range(1, args.rounds + 1):
                    for path in paths.values():
                        for _ in range(args.per_round):
                            fetch(client, path)
                    medians = "  ".join(
                        f"{label} {statistics.median(p.latencies) * 1000:6.1f} ms"
                        for label, p in paths.items()
                    )
                    print(f"round {round_no}/{args.rounds}  {medians}", file=sys.stderr)
            finally:
                client.close()

    health, week, chart = (paths[k].latencies for k in ("healthz", "diary", "dynamics"))
    return {
        "bench": "diary",
        "quick": args.quick,
        "dataset": "demo",
        "diary_p50_vs_healthz": round(statistics.median(week) / statistics.median(health), 2),
        "diary_p50_ms": percentile_ms(week, 50),
        "diary_p95_ms": percentile_ms(week, 95),
        "dynamics_p50_vs_healthz": round(statistics.median(chart) / statistics.median(health), 2),
        "dynamics_p50_ms": percentile_ms(chart, 50),
        "dynamics_p95_ms": percentile_ms(chart, 95),
        "healthz_p50_ms": percentile_ms(health, 50),
        "healthz_p95_ms": percentile_ms(health, 95),
        "requests": len(health) + len(week) + len(chart),
        "week_marks": target.marks,
        "rounds": args.rounds,
        "per_round": args.per_round,
        "server_threads": args.threads,
        "server": "ezh serve",
    }


def parse_args(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds")
    parser.add_argument("--per-round", type=int, default=None, help="requests per path a round")
    parser.add_argument("--threads", type=int, default=SERVER_THREADS, help="server threads")
    args = parser.parse_args(argv)
    quick = {"rounds": 4, "per_round": 25}
    full = {"rounds": 10, "per_round": 60}
    return fill_defaults(args, quick, full)


def main(argv: list[str] | None = None) -> int:
    return run_bench("diary", measure, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
