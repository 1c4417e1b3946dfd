"""Footprint: memory of `ezh serve` + `ezh worker` under 50 users, and the start-up time.

The box runs as the school's services run it (deploy/raspi): `ezh serve --threads 8`
and `ezh worker` as two processes on the bench's own copy of the demo school (not
`ezh demo`, which runs the worker as a thread of the web process). A sampler reads
every 0.2 s the RSS (/proc/<pid>/status VmRSS; of a descendant, only its private
memory) and the PSS (/proc/<pid>/smaps_rollup) of both process trees: idle, while 50
users log in, while they work, and after.

The users, each a different demo account, work without pause for `--seconds`:
teachers open their journal grid and save a mark in it, parents open their child's
diary week, the deputy opens the progress report and keeps the worker busy with real
work: a PDF, then an XLSX export of that report, queued through the page's own
«Скачать» form, the next as soon as the last is done.

Start-up: process start → the first 200 on `/login`, in rounds alternating with the
baseline, a bare Flask app served by waitress in the same interpreter and timed the
same way: what the box cannot avoid (Python, Flask, waitress) against what it adds
(its imports, the app, the database check, the login page).

    python bench/footprint.py [--quick] [--users N] [--seconds S] [--threads T]
                              [--sqlite-cache-kib K] [--env NAME=VALUE] [--no-bytecode-cache]

The last three are what-ifs for finding where the memory goes, not the figure.

The last line of stdout is one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/footprint.py` from anywhere
    sys.path.insert(0, str(ROOT))

from appliance.db import PRAGMAS  # noqa: E402
from bench._http import (  # noqa: E402
    HOST,
    BenchError,
    Client,
    ezh_command,
    fill_defaults,
    free_port,
    percentile_ms,
    run_bench,
    started,
    tail,
)
from bench.journal import Writer, _writers, seeded_demo, write_action  # noqa: E402

SEED = 1
SERVER_THREADS = 8  # `ezh serve`'s default, as the systemd unit runs it
TARGET_MB = 300  # web + worker together on a 2 GB Pi (issue 8)
SAMPLE_S = 0.2
EDIT_DAYS = 365  # every held lesson of the year can take a mark
REPORT = "progress"  # the deputy's report page and the worker's export
REPORT_TITLE = "Отчёт об успеваемости".encode()
MAX_ERROR_SHARE = 0.01  # more failed requests than this: the bench measured errors, fail

BARE_APP = """
import sys
from flask import Flask
from waitress import serve

app = Flask("bare")


@app.get("/login")
def login():
    return "<!doctype html><title>Вход</title><form method=post></form>"


serve(app, host=sys.argv[1], port=int(sys.argv[2]), threads=int(sys.argv[3]), ident="bare")
"""


# --- the school ----------------------------------------------------------------------


@dataclass
class Cast:
    """Who logs in: the deputy, teachers (each with a group to write in), parents."""

    deputy: tuple[str, str]
    teachers: list[Writer]
    parents: list[tuple[str, str, int]]  # username, password, child id


def build_school(data_dir: Path, users: int) -> Cast:
    """The demo school with a year-long edit window; the accounts the users log in as."""

    def cast(accounts) -> Cast:
        passwords = {a.username: a.password for a in accounts}
        deputy = next(a for a in accounts if a.role == "deputy")
        teachers = _writers(passwords, (users - 1) // 2)
        parents = _parents(accounts, users - 1 - len(teachers))
        return Cast((deputy.username, deputy.password), teachers, parents)

    return seeded_demo(data_dir, cast)


def _parents(accounts, count: int) -> list[tuple[str, str, int]]:
    """`count` parent accounts, each with the id of one of their children."""
    from appliance.models import Guardian, User

    found = []
    for account in accounts:
        if account.role != "parent" or len(found) == count:
            continue
        person = User.get(User.username == account.username).person_id
        child = Guardian.select(Guardian.student).where(Guardian.parent == person).scalar()
        if child is not None:
            found.append((account.username, account.password, child))
    if len(found) < count:
        raise BenchError(f"the demo school has only {len(found)} parents with a child")
    return found


# --- processes and their memory ------------------------------------------------------


def tree(pid: int) -> list[int]:
    """`pid` and its descendants (a worker may render in a child process)."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as fh:
                    stack += [int(child) for child in fh.read().split()]
        except OSError:  # gone meanwhile
            continue
    return found


def _kib(path: str, *keys: str) -> int:
    """The sum of these fields (kB) of a /proc file; 0 when the process is gone."""
    total = 0
    try:
        with open(path) as fh:
            for line in fh:
                if line.startswith(keys):
                    total += int(line.split()[1])
    except OSError:
        pass
    return total


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of the process tree in MiB."""
    return memory_of(tree(pid))


def memory_of(pids: list[int]) -> tuple[float, float]:
    """(RSS, PSS) of a process tree (root first) in MiB.

    RSS: the root's VmRSS plus what each descendant alone holds (Private_Clean +
    Private_Dirty). A child just forked shares all its parent's pages until it execs
    (ctypes.util.find_library forks `gcc`/`ldconfig` when WeasyPrint loads): its VmRSS
    would count the worker twice, memory nobody uses. PSS shares every page out, so it
    is summed as is.
    """
    root, descendants = pids[0], pids[1:]
    rss = _kib(f"/proc/{root}/status", "VmRSS:")
    rss += sum(
        _kib(f"/proc/{p}/smaps_rollup", "Private_Clean:", "Private_Dirty:") for p in descendants
    )
    pss = sum(_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in pids)
    return rss / 1024, pss / 1024


def command_line(pid: int) -> str:
    """A child's program and first argument, e.g. `gcc -Wl,-t` (ctypes finding a library)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    return " ".join([Path(argv[0]).name, *argv[1:2]])[:60] or "?"


@dataclass
class Sample:
    phase: str
    web_rss: float
    web_pss: float
    worker_rss: float
    worker_pss: float

    @property
    def rss(self) -> float:
        return self.web_rss + self.worker_rss

    @property
    def pss(self) -> float:
        return self.web_pss + self.worker_pss


class Sampler:
    """Samples both process trees every 0.2 s, each sample tagged with the current phase."""

    def __init__(self, web: int, worker: int):
        self.web, self.worker = web, worker
        self.phase = "idle"
        self.samples: list[Sample] = []
        self.children: Counter[str] = Counter()  # child command lines, samples seen in
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            web, worker = tree(self.web), tree(self.worker)
            for pid in web[1:] + worker[1:]:
                self.children[command_line(pid)] += 1
            self.samples.append(Sample(self.phase, *memory_of(web), *memory_of(worker)))
            self._stop.wait(max(0.0, SAMPLE_S - (time.monotonic() - began)))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def of(self, *phases: str) -> list[Sample]:
        return [s for s in self.samples if s.phase in phases]


def service_env(args, root: Path) -> dict[str, str]:
    """The services' environment. As on the box (pip compiles on install), Python keeps
    its bytecode, here under the bench's temporary folder so the checkout stays clean,
    even when the shell sets PYTHONDONTWRITEBYTECODE; `--no-bytecode-cache` measures
    a box that compiles every module of ЭЖ-box from source on each start. Plus `--env`."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if args.no_bytecode_cache:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
    return {**env, **args.env}


def first_page(port: int, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    """Wait for the first 200 on `/login` (polling every 10 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{process.args[0]} exited with {process.returncode}: {tail(log)}")
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        try:
            conn.request("GET", "/login")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.01)
        finally:
            conn.close()
    raise BenchError(f"no 200 on /login within {timeout:.0f} s: {tail(log)}")


def ezh(args) -> list[str]:
    """`ezh`, or with `--sqlite-cache-kib` a what-if: the same CLI with SQLite's page
    cache per connection set to that size (appliance.db.PRAGMAS, patched before use)."""
    if args.sqlite_cache_kib is None:
        return ezh_command()
    patch = (
        f"import appliance.db as db; db.PRAGMAS['cache_size'] = -{args.sqlite_cache_kib}; "
        "from appliance.cli import main; main()"
    )
    return [sys.executable, "-c", patch]


def serve_command(args, data_dir: Path, port: int) -> list[str]:
    command = [*ezh(args), "serve", "--data", str(data_dir), "--host", HOST]
    return command + ["--port", str(port), "--threads", str(args.threads)]


def bare_command(port: int, threads: int) -> list[str]:
    return [sys.executable, "-c", BARE_APP, HOST, str(port), str(threads)]


def time_start(
    command: Callable[[int], list[str]], log: Path, env: dict[str, str]
) -> tuple[float, float]:
    """(seconds from process start to the first 200 on /login, its RSS then in MiB)."""
    port = free_port()
    began = time.perf_counter()
    with started(command(port), log, env) as process:
        first_page(port, process, log)
        seconds = time.perf_counter() - began
        return seconds, memory_mb(process.pid)[0]


def startup(data_dir: Path, args, env: dict[str, str], logs: Path) -> dict:
    """Interleaved rounds: the bare Flask app, then `ezh serve`; medians.

    Round 0 is a warm-up, not in the medians: the first start fills the bytecode cache
    (`startup_first_s`), as the first start after an install would.
    """
    box: list[tuple[float, float]] = []
    bare: list[tuple[float, float]] = []
    rounds = args.startup_rounds
    for round_no in range(rounds + 1):
        bare.append(time_start(lambda port: bare_command(port, args.threads), logs / "b.log", env))
        box.append(
            time_start(lambda port: serve_command(args, data_dir, port), logs / "s.log", env)
        )
        print(
            f"start-up round {round_no}/{rounds}: bare Flask {bare[-1][0]:.2f} s "
            f"({bare[-1][1]:.0f} MiB), ezh serve {box[-1][0]:.2f} s ({box[-1][1]:.0f} MiB)"
            + ("  (warm-up)" if round_no == 0 else ""),
            file=sys.stderr,
        )
    first = box[0][0]
    box, bare = box[1:], bare[1:]
    box_s = statistics.median(s for s, _ in box)
    bare_s = statistics.median(s for s, _ in bare)
    return {
        "startup_s": round(box_s, 3),
        "startup_baseline_s": round(bare_s, 3),
        "startup_vs_baseline": round(box_s / bare_s, 2),
        "startup_first_s": round(first, 3),
        "startup_rss_mb_web": round(statistics.median(m for _, m in box), 1),
        "baseline_rss_mb": round(statistics.median(m for _, m in bare), 1),
        "startup_rounds": rounds,
    }


# --- the users -----------------------------------------------------------------------


@dataclass
class Tally:
    """What the users did: latencies per kind of request, and what went wrong."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def timed(self, kind: str, call: Callable[[], None]) -> None:
        began = time.perf_counter()
        try:
            call()
        except (BenchError, OSError, http.client.HTTPException) as exc:
            with self.lock:
                self.errors.append(f"{kind}: {type(exc).__name__}: {exc}"[:240])
        finally:
            with self.lock:
                self.latencies[kind].append(time.perf_counter() - began)


def get_page(client: Client, path: str, *must: bytes) -> bytes:
    try:
        status, _, page = client.request("GET", path)
    except (OSError, http.client.HTTPException):
        client.close()  # http.client reconnects on the next request
        raise
    missing = [m.decode() for m in must if m not in page]
    if status != 200 or missing:
        raise BenchError(f"GET {path}: status {status}, missing {missing}: {page[:160]!r}")
    return page


class Exports:
    """The deputy's report files, queued through the page's form one after another."""

    FORM = re.compile(rb'<form method="post" action="/reports/export".*?</form>', re.S)
    FIELD = re.compile(rb'name="([^"]+)" value="([^"]*)"')

    def __init__(self, db_path: Path):
        self.db_path = db_path
        self.jobs: list[int] = []
        self.formats = ["pdf", "xlsx"]

    def state(self, job_id: int) -> tuple[str, str]:
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10) as conn:
            row = conn.execute("SELECT state, message FROM job WHERE id = ?", (job_id,)).fetchone()
        return row if row else ("missing", "")

    def step(self, client: Client, page: bytes) -> None:
        """Queue the next export when none is pending; a failed one is an error."""
        if self.jobs:
            get_page(client, f"/jobs/{self.jobs[-1]}")
            state, message = self.state(self.jobs[-1])
            if state == "failed":
                raise BenchError(f"export job {self.jobs[-1]} failed: {message}")
            if state != "done":
                return
        form = self.FORM.search(page)
        if form is None:
            raise BenchError("the report page has no «Скачать» form")
        fields = {k.decode(): v.decode() for k, v in self.FIELD.findall(form.group(0))}
        fields["format"] = self.formats[len(self.jobs) % len(self.formats)]
        status, headers, _ = client.request("POST", "/reports/export", fields)
        where = headers.get("Location", "")
        found = re.search(r"/jobs/(\d+)", where)
        if status != 302 or found is None:
            raise BenchError(f"POST /reports/export: status {status} → {where or '-'}")
        self.jobs.append(int(found.group(1)))


class Visitor(threading.Thread):
    """One logged-in user who repeats their round of pages until told to stop."""

    def __init__(self, port: int, login: tuple[str, str], role: str | None, work, tally: Tally):
        super().__init__(daemon=True)
        self.client = Client(port, timeout=120)
        self.login, self.role, self.work, self.tally = login, role, work, tally
        self.logged_in = threading.Event()
        self.go = threading.Event()
        self.stop = threading.Event()

    def _log_in(self) -> None:
        self.client.log_in(*self.login, role=self.role)
        self.client.token = self.client.csrf_token("/")  # for the X-CSRFToken header

    def run(self) -> None:
        try:
            self.tally.timed("login", self._log_in)
            self.logged_in.set()
            self.go.wait()
            while not self.stop.is_set():
                self.work(self.client, self.tally)
        except Exception as exc:  # a bug in the bench: counted, and this user stops
            with self.tally.lock:
                self.tally.errors.append(f"{type(exc).__name__}: {exc}"[:240])
        finally:
            self.logged_in.set()
            self.client.close()


def teacher_work(writer: Writer, index: int, writers: list[Writer]):
    post_mark = write_action(writers)
    grid = f"/journal/{writer.group_id}"

    def work(client: Client, tally: Tally) -> None:
        tally.timed("grid", lambda: get_page(client, grid, writer.group_name.encode()))
        errors = len(writer.errors)
        tally.timed("mark", lambda: post_mark(index, client))
        if len(writer.errors) > errors:
            with tally.lock:
                tally.errors.append(f"mark: {writer.errors[-1]}"[:240])

    return work


def parent_work(child_id: int):
    path = f"/diary/{child_id}"

    def work(client: Client, tally: Tally) -> None:
        tally.timed("diary", lambda: get_page(client, path, "Дневник".encode()))

    return work


def deputy_work(exports: Exports):
    path = f"/reports/{REPORT}"

    def work(client: Client, tally: Tally) -> None:
        page: list[bytes] = []
        tally.timed("report", lambda: page.append(get_page(client, path, REPORT_TITLE)))
        if page:
            tally.timed("export", lambda: exports.step(client, page[0]))

    return work


def crowd(port: int, cast: Cast, exports: Exports, tally: Tally) -> list[Visitor]:
    users = [Visitor(port, cast.deputy, None, deputy_work(exports), tally)]
    for index, writer in enumerate(cast.teachers):
        work = teacher_work(writer, index, cast.teachers)
        login = (writer.username, writer.password)
        users.append(Visitor(port, login, "teacher", work, tally))
    for username, password, child in cast.parents:
        users.append(Visitor(port, (username, password), None, parent_work(child), tally))
    return users


# --- the run -------------------------------------------------------------------------


def peak(samples: list[Sample], value: Callable[[Sample], float]) -> float:
    return round(max(map(value, samples)), 1) if samples else 0.0


def mean(samples: list[Sample], value: Callable[[Sample], float]) -> float:
    return round(statistics.fmean(map(value, samples)), 1) if samples else 0.0


def wait_idle_worker(db_path: Path, timeout: float) -> list[tuple[str, str]]:
    """Let the worker finish what it queues on its first start (nightly backup, digest)."""
    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10) as conn:
            rows = conn.execute("SELECT kind, state FROM job ORDER BY id").fetchall()
        if not any(state in ("queued", "running") for _, state in rows):
            return rows
        if time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def phase(sampler: Sampler, name: str, seconds: float) -> None:
    sampler.phase = name
    print(f"{name}: {seconds:.0f} s", file=sys.stderr)
    time.sleep(seconds)


def measure(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="ezh-bench-") as tmp:
        root = Path(tmp)
        data_dir = root / "data"
        data_dir.mkdir()
        began = time.perf_counter()
        cast = build_school(data_dir, args.users)
        db_path = data_dir / "ezh.sqlite3"
        print(
            f"demo school built in {time.perf_counter() - began:.1f} s: 1 deputy, "
            f"{len(cast.teachers)} teachers, {len(cast.parents)} parents",
            file=sys.stderr,
        )
        result: dict = {"bench": "footprint", "quick": args.quick, "dataset": "demo"}
        env = service_env(args, root)
        result.update(startup(data_dir, args, env, root))
        port = free_port()
        worker_cmd = [*ezh(args), "worker", "--data", str(data_dir)]
        with (
            started(worker_cmd, root / "worker.log", env) as worker,
            started(serve_command(args, data_dir, port), root / "serve.log", env) as web,
        ):
            first_page(port, web, root / "serve.log")
            began = time.perf_counter()
            startup_jobs = wait_idle_worker(db_path, timeout=60)
            print(
                f"worker's first-start jobs {startup_jobs} done in "
                f"{time.perf_counter() - began:.1f} s",
                file=sys.stderr,
            )
            if worker.poll() is not None:
                raise BenchError(f"ezh worker exited: {tail(root / 'worker.log')}")
            sampler = Sampler(web.pid, worker.pid)
            try:
                result.update(run_users(port, cast, db_path, sampler, args))
            finally:
                sampler.stop()
            jobs = wait_idle_worker(db_path, timeout=0)
        samples = sampler.samples
    load = sampler.of("login", "load")
    result.update(
        {
            "rss_mb_total": peak(load, lambda s: s.rss),
            "rss_mb_web": peak(load, lambda s: s.web_rss),
            "rss_mb_worker": peak(load, lambda s: s.worker_rss),
            "pss_mb_total": peak(load, lambda s: s.pss),
            "rss_mb_total_mean": mean(sampler.of("load"), lambda s: s.rss),
            "pss_mb_total_mean": mean(sampler.of("load"), lambda s: s.pss),
            "idle_rss_mb_total": mean(sampler.of("idle"), lambda s: s.rss),
            "idle_rss_mb_web": mean(sampler.of("idle"), lambda s: s.web_rss),
            "idle_rss_mb_worker": mean(sampler.of("idle"), lambda s: s.worker_rss),
            "idle_pss_mb_total": mean(sampler.of("idle"), lambda s: s.pss),
            "after_rss_mb_total": mean(sampler.of("after"), lambda s: s.rss),
            "within_target": peak(load, lambda s: s.rss) <= TARGET_MB,
            "target_mb": TARGET_MB,
            "samples": len(samples),
            "child_processes": dict(sampler.children),
            "startup_jobs": dict(Counter(f"{k}:{s}" for k, s in startup_jobs)),
            "worker_jobs": dict(Counter(f"{k}:{s}" for k, s in jobs[len(startup_jobs) :])),
            "server_threads": args.threads,
            "server": "ezh serve + ezh worker",
            "env": args.env,
            "bytecode_cache": not args.no_bytecode_cache,
            "sqlite_cache_kib": args.sqlite_cache_kib or -PRAGMAS["cache_size"],
        }
    )
    return result


def run_users(port: int, cast: Cast, db_path: Path, sampler: Sampler, args) -> dict:
    """Idle, log the users in together, let them work `args.seconds`, then idle again."""
    phase(sampler, "idle", args.idle)
    tally, exports = Tally(), Exports(db_path)
    users = crowd(port, cast, exports, tally)
    sampler.phase = "login"
    began = time.perf_counter()
    for user in users:
        user.start()
    for user in users:
        user.logged_in.wait()
    login_s = time.perf_counter() - began
    print(f"{len(users)} users logged in in {login_s:.1f} s", file=sys.stderr)
    if tally.errors:
        raise BenchError("login failed: " + "; ".join(tally.errors[:3]))
    sampler.phase = "load"
    began = time.perf_counter()
    for user in users:
        user.go.set()
    report_every = max(5.0, args.seconds / 6)
    while (elapsed := time.perf_counter() - began) < args.seconds:
        time.sleep(min(report_every, args.seconds - elapsed))
        done = sum(len(v) for k, v in tally.latencies.items() if k != "login")
        current = sampler.samples[-1] if sampler.samples else None
        print(
            f"load {time.perf_counter() - began:5.1f} s: {done} requests, "
            f"{len(tally.errors)} errors, RSS web {current.web_rss if current else 0:.0f} "
            f"+ worker {current.worker_rss if current else 0:.0f} MiB, "
            f"{len(exports.jobs)} exports queued",
            file=sys.stderr,
        )
    for user in users:
        user.stop.set()
    for user in users:
        user.join(timeout=120)
    seconds = time.perf_counter() - began
    phase(sampler, "after", args.idle)
    return summary(tally, exports, users, seconds, login_s)


def summary(tally: Tally, exports: Exports, users: list[Visitor], seconds: float, login_s: float):
    work = {k: v for k, v in tally.latencies.items() if k not in ("login", "export")}
    every = [x for v in work.values() for x in v]
    if not every:
        raise BenchError("the users made no request")
    requests = len(every) + len(tally.latencies.get("export", []))
    result = {
        "users": len(users),
        "requests": requests,
        "errors": len(tally.errors),
        "error_samples": list(dict.fromkeys(tally.errors))[:5],
        "p50_ms": percentile_ms(every, 50),
        "p95_ms": percentile_ms(every, 95),
        "rps": round(requests / seconds, 1),
        "load_s": round(seconds, 1),
        "login_s": round(login_s, 2),
        "exports_queued": len(exports.jobs),
        "exports_done": sum(exports.state(j)[0] == "done" for j in exports.jobs),
    }
    for kind, values in sorted(work.items()):
        result[f"{kind}_requests"] = len(values)
        result[f"{kind}_p50_ms"] = percentile_ms(values, 50)
        result[f"{kind}_p95_ms"] = percentile_ms(values, 95)
    if len(tally.errors) > requests * MAX_ERROR_SHARE:
        raise BenchError(
            f"{len(tally.errors)} of {requests} requests failed: " + "; ".join(tally.errors[:3])
        )
    return result


def parse_args(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--users", type=int, default=50, help="concurrent users")
    parser.add_argument("--seconds", type=float, default=None, help="how long the users work")
    parser.add_argument("--idle", type=float, default=None, help="idle sampling before/after")
    parser.add_argument("--startup-rounds", type=int, default=None, help="start-up rounds")
    parser.add_argument("--threads", type=int, default=SERVER_THREADS, help="server threads")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for both services (a what-if: MALLOC_ARENA_MAX=2)",
    )
    parser.add_argument(
        "--sqlite-cache-kib",
        type=int,
        default=None,
        help="what-if: SQLite's page cache per connection in KiB (the box: 16000)",
    )
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="compile ЭЖ-box's modules on every start (PYTHONDONTWRITEBYTECODE=1)",
    )
    args = parser.parse_args(argv)
    try:
        args.env = dict(item.split("=", 1) for item in args.env)
    except ValueError:
        parser.error("--env: NAME=VALUE")
    quick = {"seconds": 12.0, "idle": 1.5, "startup_rounds": 2}
    full = {"seconds": 90.0, "idle": 5.0, "startup_rounds": 5}
    if args.users < 3:
        parser.error("--users: at least 3 (the deputy, a teacher, a parent)")
    return fill_defaults(args, quick, full)


def main(argv: list[str] | None = None) -> int:
    return run_bench("footprint", measure, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
