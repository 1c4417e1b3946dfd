"""Archive throughput: the whole unit pipeline vs plain `cp` + `sha256sum` of the same bytes.

A synthetic school year (``--classes`` classes, a journal and a summary unit each) whose
printed documents are stand-in payload files of ``--unit-mb`` MiB (random bytes: the
renderer is measured by bench/print.py, not here). Each round times

(a) the baseline: for every payload file, ``cp`` it into a folder standing in for the
    USB stick and ``sha256sum`` the copy (what an admin would do by hand);
(b) the figure: `appliance.backup.archive.build` writing the same payload into the same
    folder — snapshot and audit extract, BagIt bag with sha256 and sha512 manifests,
    minisign signature of the tag manifest, tar, age encryption, the signature of the
    ciphertext, the durable write (temp, fsync, rename, fsync dir), read back, compare,
    and the register.

Rounds alternate (a) and (b). The figure is ``archive_vs_cp_sha256`` = time of (a) ÷
time of (b): the share of plain-copy speed the archive keeps, **bigger is better**
(1.0 = as fast as cp + sha256sum; target ≥ 0.3). After the last round the archive
is verified with the key (every unit decrypted and its bag validated) or the bench fails.

    python bench/archive.py [--quick] [--rounds N] [--classes N] [--unit-mb N]

The last line of stdout is one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/archive.py` from anywhere
    sys.path.insert(0, str(ROOT))

from bench._http import BenchError, run_bench  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="under a minute")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--classes", type=int, default=None)
    parser.add_argument("--unit-mb", type=int, default=None)
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (2 if args.quick else 3)
    args.classes = args.classes or (2 if args.quick else 4)
    args.unit_mb = args.unit_mb or (16 if args.quick else 40)
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_school(data_dir: Path, classes: int):
    """A year with ``classes`` classes in a fresh database; the keys made."""
    from appliance.backup import keys
    from appliance.config import load_settings
    from appliance.db import migrate, open_database, write
    from appliance.models import AcademicYear, School, SchoolClass

    settings = load_settings(data_dir, password_profile="fast")
    db = open_database(settings.db_path)
    migrate(db)
    with write() as rec:
        School.create(name="Школа для замера", short_name="Замер", setup_complete=True)
        year = AcademicYear.create(
            name="2025/2026", starts=dt.date(2025, 9, 1), ends=dt.date(2026, 8, 31)
        )
        for n in range(classes):
            school_class = SchoolClass.create(year=year, grade=5 + n // 4, letter="АБВГ"[n % 4])
            rec.record("class.create", school_class, op="create")
    identity = keys.init_keys(settings).identities[0].secret
    return settings, year, identity


def make_payload(folder: Path, classes: list, unit_mb: int) -> dict[tuple[str, str], Path]:
    """One payload file per unit (random, incompressible) standing in for its PDF."""
    folder.mkdir()
    files = {}
    for school_class in classes:
        for unit in ("journal", "summary"):
            path = folder / f"{school_class.name}-{unit}.pdf"
            with open(path, "wb") as fh:
                for _ in range(unit_mb):
                    fh.write(os.urandom(1024 * 1024))
            files[(school_class.name, unit)] = path
    return files


def printer_for(payload: dict[tuple[str, str], Path]):
    """The archive's printer hook: the unit's payload file, linked (no copy) into the bag."""

    def printer(school_class, year, unit: str, out: Path) -> list[Path]:
        target = out / f"{unit}.pdf"
        os.link(payload[(school_class.name, unit)], target)
        return [target]

    return printer


def baseline(payload: list[Path], stick: Path) -> float:
    start = time.perf_counter()
    for path in payload:
        target = stick / path.name
        subprocess.run(["cp", str(path), str(target)], check=True)
        subprocess.run(["sha256sum", str(target)], check=True, capture_output=True)
    return time.perf_counter() - start


def figure(settings, year, stick: Path, printer) -> tuple[float, list]:
    from appliance.backup import archive

    start = time.perf_counter()
    records = archive.build(settings, year, stick, printer=printer)
    return time.perf_counter() - start, records


def measure(args: argparse.Namespace) -> dict:
    for tool in ("cp", "sha256sum"):
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} is not installed")
    from appliance.backup import archive
    from appliance.models import SchoolClass

    with tempfile.TemporaryDirectory(prefix="ezh-bench-archive-") as tmp:
        root = Path(tmp)
        settings, year, identity = make_school(root / "data", args.classes)
        classes = list(SchoolClass.select().order_by(SchoolClass.id))
        log(f"payload: {len(classes) * 2} units × {args.unit_mb} MiB")
        payload = make_payload(root / "payload", classes, args.unit_mb)
        printer = printer_for(payload)
        total_bytes = sum(p.stat().st_size for p in payload.values())
        cp_times, archive_times = [], []
        records: list = []
        for n in range(args.rounds):
            for stick_name in ("stick-cp", "stick-archive"):
                shutil.rmtree(root / stick_name, ignore_errors=True)
                (root / stick_name).mkdir()
            cp_times.append(baseline(list(payload.values()), root / "stick-cp"))
            seconds, records = figure(settings, year, root / "stick-archive", printer)
            archive_times.append(seconds)
            log(f"round {n + 1}: cp+sha256sum {cp_times[-1]:.2f} s, archive {seconds:.2f} s")
        report = archive.verify(settings, root / "stick-archive", identity)
        if not report.ok or len(report.checks) != len(payload):
            raise BenchError("the archive does not verify: " + report.summary())
        written = sum(r.size for r in records)
    cp_s, archive_s = statistics.median(cp_times), statistics.median(archive_times)
    mib = total_bytes / 1024 / 1024
    return {
        "archive_vs_cp_sha256": round(cp_s / archive_s, 3),
        "archive_s": round(archive_s, 3),
        "cp_sha256_s": round(cp_s, 3),
        "archive_mib_per_s": round(mib / archive_s, 1),
        "cp_sha256_mib_per_s": round(mib / cp_s, 1),
        "payload_mib": round(mib, 1),
        "written_mib": round(written / 1024 / 1024, 1),
        "units": len(payload),
        "verified_with_key": True,
        "rounds": args.rounds,
        "quick": args.quick,
    }


def main(argv: list[str] | None = None) -> int:
    return run_bench("archive", measure, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
