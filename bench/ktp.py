"""КТП import speed: a 170-lesson plan, preview + confirm, against reading the file with openpyxl.

The file is built the way teachers keep it: a title block, a header over two rows with
«Дата» merged over «План»/«Факт», sections as merged rows «Раздел N. … (H ч)», «5-6»
ranges for two-hour topics, dates «01.09» without a year, an «Итого» row; 170 hours in
all, which is what the test school's curriculum asks for maths in grade 5.

Each round times (a) the baseline: openpyxl alone opening the same file (full mode, as
the importer must, to see merged cells) and reading every value; (b) the figure: the
import as the teacher's two clicks run it in-process against a temporary database —
`preview_import` (read, lay out, check against the curriculum and the calendar) and
`import_plan` (one write transaction: the new version, 170-odd rows and their audit
entries). Rounds alternate baseline and figure.

    python bench/ktp.py [--quick] [--rounds N]

The last line of stdout is one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/ktp.py` from anywhere
    sys.path.insert(0, str(ROOT))

from bench._http import BenchError, run_bench  # noqa: E402

HOURS = 170
SECTIONS = 10
IP = "127.0.0.1"


def school_days(start: dt.date, count: int) -> list[dt.date]:
    days, day = [], start
    while len(days) < count:
        if day.isoweekday() <= 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def build_xlsx(year_start: dt.date) -> tuple[bytes, int]:
    """The 170-hour plan as a teacher's workbook; returns (bytes, lesson rows)."""
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.title = "КТП"
    ws["E1"] = "УТВЕРЖДАЮ"
    ws["A3"] = "Календарно-тематическое планирование по математике, 5 А класс"
    ws.merge_cells("A3:F3")
    ws["A4"] = "Количество часов: 170 (5 ч в неделю)"
    for column, text in (("A", "№ п/п"), ("B", "Тема урока"), ("C", "Кол-во часов")):
        ws[f"{column}6"] = text
        ws.merge_cells(f"{column}6:{column}7")
    ws["D6"] = "Дата"
    ws.merge_cells("D6:E6")
    ws["D7"], ws["E7"] = "План", "Факт"
    ws["F6"] = "Домашнее задание"
    ws.merge_cells("F6:F7")
    dates = iter(school_days(year_start, HOURS))
    number, lessons = 1, 0
    per_section = HOURS // SECTIONS
    for s in range(1, SECTIONS + 1):
        ws.append([f"Раздел {s}. Тема раздела {s} ({per_section} ч)"])
        ws.merge_cells(f"A{ws.max_row}:F{ws.max_row}")
        left = per_section
        while left:
            hours = 2 if left >= 2 and number % 7 == 0 else 1
            label = str(number) if hours == 1 else f"{number}-{number + hours - 1}"
            day = next(dates)
            for _ in range(hours - 1):
                next(dates)
            topic = f"Тема урока {number}: натуральные числа и действия с ними"
            ws.append([label, topic, hours, f"{day:%d.%m}", "", f"п. {number}, № {number * 3}"])
            number += hours
            left -= hours
            lessons += 1
    ws.append(["Итого", "", HOURS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), lessons


def read_with_openpyxl(data: bytes) -> int:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), data_only=True)
    return sum(1 for row in book.worksheets[0].iter_rows(values_only=True) if any(row))


def measure(args) -> dict:
    from appliance.config import load_settings
    from appliance.db import migrate, open_database
    from appliance.ktp import workflow
    from appliance.models import PlanLesson
    from tests.factories import SchoolFactory

    with tempfile.TemporaryDirectory(prefix="ezh-bench-ktp-") as tmp:
        settings = load_settings(Path(tmp), password_profile="fast")
        db = open_database(settings.db_path)
        db.connect()
        try:
            migrate(db)
            school = SchoolFactory.build()
            school.add_planning()
            group, teacher = school.group, school.users["teacher"]
            data, lessons = build_xlsx(group.year.starts)
            print(f"file: {len(data)} bytes, {lessons} lesson rows", file=sys.stderr)

            def import_once() -> tuple[float, float]:
                started = time.perf_counter()
                preview = workflow.preview_import(group, "ktp-5a.xlsx", data)
                previewed = time.perf_counter()
                if not preview.ok or len(preview.rows) != lessons or preview.hours != HOURS:
                    raise BenchError(f"preview is wrong: {preview.error_texts[:3]}")
                if any(f.is_error for f in preview.findings) or preview.warnings:
                    raise BenchError(f"checks failed: {[str(f) for f in preview.findings][:3]}")
                plan = workflow.import_plan(group, preview, user=teacher, ip=IP)
                done = time.perf_counter()
                stored = PlanLesson.select().where(PlanLesson.plan == plan).count()
                if stored != lessons:
                    raise BenchError(f"stored {stored} rows, expected {lessons}")
                return previewed - started, done - previewed

            def baseline_once() -> float:
                started = time.perf_counter()
                if read_with_openpyxl(data) < lessons:
                    raise BenchError("openpyxl read fewer rows than the plan has")
                return time.perf_counter() - started

            import_once(), baseline_once()  # warm-up
            base, preview_s, confirm_s = [], [], []
            for n in range(args.rounds):
                base.append(baseline_once())
                p, c = import_once()
                preview_s.append(p)
                confirm_s.append(c)
                print(f"round {n + 1}/{args.rounds}: {p + c:.3f} s", file=sys.stderr)
        finally:
            db.close()
    total = [p + c for p, c in zip(preview_s, confirm_s, strict=True)]
    median = statistics.median
    return {
        "ktp_import_170_s": round(median(total), 4),
        "ktp_import_vs_openpyxl_read": round(median(total) / median(base), 2),
        "ktp_preview_170_s": round(median(preview_s), 4),
        "ktp_confirm_170_s": round(median(confirm_s), 4),
        "openpyxl_read_s": round(median(base), 4),
        "lesson_rows": lessons,
        "hours": HOURS,
        "file_bytes": len(data),
        "rounds": args.rounds,
        "quick": args.quick,
    }


def parse_args(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--rounds", type=int, default=None, help="baseline+import rounds")
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 5 if args.quick else 25
    return args


def main(argv: list[str] | None = None) -> int:
    return run_bench("ktp", measure, parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
