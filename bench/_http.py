"""What the benches share: a browser-like HTTP client, the servers, percentiles.

Two ways to serve the box: `served()` runs waitress inside the bench's own process
(cheap, but the clients share the server's GIL); `spawned()` starts `ezh serve` as a
separate process on a free port, as on the box, where the browsers are elsewhere.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parents[1]
# A form's hidden field, or the token HTMX sends from <body hx-headers>.
CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


class BenchError(Exception):
    """The bench did not measure what it claims to (bad status, wrong page)."""


def percentile_ms(values: list[float], q: int) -> float:
    """The q-th percentile of `values` (seconds), in milliseconds."""
    if len(values) < 2:
        return round(values[0] * 1000, 2) if values else 0.0
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000, 2)


# --- clients -------------------------------------------------------------------------


class Client:
    """One browser-like user: a keep-alive connection and the session cookie."""

    def __init__(self, port: int, timeout: float = 30):
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        self.cookies: dict[str, str] = {}
        self.token = ""  # the CSRF token for the X-CSRFToken header, once read from a page

    def request(
        self, method: str, path: str, body: dict | None = None, headers: dict | None = None
    ):
        sent = {"Accept": "text/html", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urlencode(body)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=data, headers=sent)
        response = self.conn.getresponse()
        payload = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0]
            if "expires=thu, 01 jan 1970" in header.lower() or not value:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        return response.status, response.headers, payload

    def csrf_token(self, path: str) -> str:
        status, _, page = self.request("GET", path)
        match = CSRF.search(page)
        if status != 200 or not match:
            raise BenchError(f"GET {path}: status {status}, no CSRF token")
        return (match.group(1) or match.group(2)).decode()

    def log_in(self, username: str, password: str, role: str | None = None) -> None:
        """Log in through the form; then switch to `role` (a class teacher → "teacher")."""
        form = {"username": username, "password": password}
        status, headers, _ = self.request(
            "POST", "/login", {**form, "csrf_token": self.csrf_token("/login")}
        )
        where = headers.get("Location", "")
        if status != 302 or where.rstrip("/").endswith("/password"):
            raise BenchError(f"login as {username} failed: {status} → {where or '-'}")
        if role is None:
            return
        status, _, _ = self.request(
            "POST", "/role", {"role": role, "csrf_token": self.csrf_token("/")}
        )
        if status != 302:
            raise BenchError(f"switching to the {role} role failed: {status}")

    def close(self) -> None:
        self.conn.close()


# --- servers -------------------------------------------------------------------------


@contextmanager
def served(app, threads: int) -> Iterator[int]:
    """Serve `app` with waitress inside this process on a free local port; yield the port."""
    from waitress import create_server, wasyncore

    # "Task queue depth is N" is the point of a load test, not news.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = create_server(
        app, host=HOST, port=0, threads=threads, connection_limit=1000, ident="ezh"
    )
    loop = threading.Thread(target=server.run, name="waitress-loop", daemon=True)
    loop.start()
    try:
        yield server.effective_port
    finally:
        # Close the server and its connections from the loop's own thread; the loop
        # then ends because nothing is left to watch.
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        loop.join(timeout=10)
        server.task_dispatcher.shutdown()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def ezh_command() -> list[str]:
    """`ezh` of the Python running the bench (the venv's console script if present)."""
    script = Path(sys.executable).with_name("ezh")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from appliance.cli import main; main()"]


def wait_until_up(port: int, process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"ezh serve exited with {process.returncode}: {tail(log)}")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            finally:
                conn.close()
        except OSError:
            pass
        time.sleep(0.1)
    raise BenchError(f"ezh serve did not answer /healthz within {timeout:.0f} s: {tail(log)}")


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextmanager
def spawned(data_dir: Path, threads: int, log: Path) -> Iterator[int]:
    """`ezh serve --data DIR` in its own process on a free port; yield the port.

    Output goes to `log`. On exit the server gets SIGTERM (then SIGKILL) and is reaped.
    """
    port = free_port()
    command = [*ezh_command(), "serve", "--data", str(data_dir), "--host", HOST]
    command += ["--port", str(port), "--threads", str(threads)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with started(command, log, env, stop_timeout=10) as process:
        wait_until_up(port, process, log)
        yield port


@contextmanager
def started(
    command: list[str], log: Path, env: dict[str, str], stop_timeout: float = 15
) -> Iterator[subprocess.Popen]:
    """A process with its output in `log`; SIGTERM (then SIGKILL) and reaped on exit."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def fill_defaults(args, quick: dict, full: dict):
    """Options left unset take the quick or the full run's value."""
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def run_bench(name: str, measure, args) -> int:
    """Measure; the result as one JSON line on stdout, a failure's reason on stderr."""
    import json

    try:
        result = measure(args)
    except BenchError as exc:
        print(f"bench/{name}.py: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False))
    return 0
