"""Smoke tests of bench/footprint.py's helpers: the memory it reads and the form it posts.

The bench itself (two services, 50 users) is too heavy for the suite; these check the
parts that would silently measure the wrong thing: the process tree and its memory,
the sampler's phases, and that the deputy's «Скачать» form on the real report page is
what the bench parses and posts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance.models import Job
from bench import footprint

from .factories import PASSWORD
from .test_reports import progress_class

LINUX_PROC = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")


@LINUX_PROC
def test_memory_of_a_process_tree_counts_its_children():
    """A child that holds 64 MiB shows in the parent's tree and its RSS sum."""
    code = "import time; b = bytearray(64 * 1024 * 1024); print('ok', flush=True); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == b"ok"
        me = os.getpid()
        assert child.pid in footprint.tree(me)
        alone_rss, _ = footprint.memory_mb(child.pid)
        tree_rss, tree_pss = footprint.memory_mb(me)
        assert alone_rss >= 64
        assert tree_rss >= alone_rss + 1  # this process's own memory counts too
        if Path(f"/proc/{me}/smaps_rollup").exists():
            assert tree_pss >= 64
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


@LINUX_PROC
def test_a_forked_child_is_not_counted_twice():
    """A fork shares its parent's 64 MiB until it writes: the tree's RSS stays ~64 MiB."""
    code = (
        "import os, time\n"
        "b = bytearray(64 * 1024 * 1024)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    time.sleep(30); os._exit(0)\n"
        "print(pid, flush=True); time.sleep(30)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    forked = None
    try:
        forked = int(parent.stdout.readline())
        assert footprint.tree(parent.pid) == [parent.pid, forked]
        alone, _ = footprint.memory_of([parent.pid])
        both_rss, both_pss = footprint.memory_mb(parent.pid)
        assert alone >= 64
        assert both_rss < alone + 16  # not twice 64 MiB
        assert both_pss < alone + 16
    finally:
        parent.kill()  # the forked child sleeps on as an orphan: end it too, by its id
        parent.wait()
        parent.stdout.close()
        if forked is not None:
            os.kill(forked, signal.SIGKILL)


@LINUX_PROC
def test_sampler_tags_samples_with_the_phase():
    me = os.getpid()
    sampler = footprint.Sampler(me, me)
    try:
        time.sleep(0.3)
        sampler.phase = "load"
        time.sleep(0.5)
    finally:
        sampler.stop()
    idle, load = sampler.of("idle"), sampler.of("load")
    assert idle and len(load) >= 2
    assert all(s.rss == s.web_rss + s.worker_rss and s.web_rss > 0 for s in load)


def test_quick_run_is_short_and_options_are_checked():
    args = footprint.parse_args(["--quick", "--env", "MALLOC_ARENA_MAX=2"])
    assert args.users == 50 and args.seconds <= 20 and args.startup_rounds <= 2
    assert args.env == {"MALLOC_ARENA_MAX": "2"}
    assert footprint.ezh(args) == footprint.ezh_command()
    patched = footprint.ezh(footprint.parse_args(["--sqlite-cache-kib", "2000"]))
    assert "PRAGMAS['cache_size'] = -2000" in patched[-1]
    with pytest.raises(SystemExit):
        footprint.parse_args(["--env", "NOEQUALS"])


def test_the_export_form_the_bench_posts_queues_a_job(school, browser, settings):
    """The bench reads the «Скачать» form off the report page and posts it as is."""
    term, _students = progress_class(school)
    browser.login("belova.os", PASSWORD)
    response = browser.get(f"/reports/{footprint.REPORT}?period=term:{term.id}")
    page = response.get_data()
    assert response.status_code == 200 and footprint.REPORT_TITLE in page
    form = footprint.Exports.FORM.search(page)
    assert form is not None
    fields = {k.decode(): v.decode() for k, v in footprint.Exports.FIELD.findall(form.group(0))}
    assert fields["report"] == footprint.REPORT and fields["period"] == f"term:{term.id}"
    fields["format"] = "pdf"
    posted = browser.client.post("/reports/export", data=fields)
    assert posted.status_code == 302 and "/jobs/" in posted.headers["Location"]
    job = Job.get_by_id(int(posted.headers["Location"].rstrip("/").rsplit("/", 1)[1]))
    assert job.kind == "reports.export" and '"format": "pdf"' in job.params
