"""The printed class journal of a full year: pieces in a child process vs one WeasyPrint document.

A synthetic year is written into a temporary database: a class of 30 students (and
a class twice that size) with 10 subjects at 24 hours a week over `--weeks` school
weeks (34 for a full year), a topic and homework on every lesson, marks at a
teacher's density (a class answer from about a quarter of the class on most lessons,
a test for everyone every other week), absences on about 4 % of student-lessons,
quarter and year marks.

Each measurement runs in its own fresh process (`--run …`), so one run's memory
never flatters or burdens the next:

- **piecewise** (the figure): `appliance.backup.printing.journal_pdf` — the journal
  cut into bounded pieces rendered by a child process and joined, PDF/A-3b with the
  data attached;
- **naive** (the baseline): the same HTML — every piece's body in one document —
  rendered by one WeasyPrint call in one process, as a straightforward version would.

Peak memory is the process's own peak RSS plus the largest peak RSS of its children
(`RUSAGE_CHILDREN`): an upper bound on what the two used at once. Runs alternate
(naive, piecewise, …) so noise hits both.

    python bench/print.py [--quick] [--rounds N] [--weeks W]

The last line of stdout is one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/print.py` from anywhere
    sys.path.insert(0, str(ROOT))

from bench._http import BenchError, run_bench  # noqa: E402

# Subject, hours a week: a 5th grade's week (24 hours).
SUBJECTS = (
    ("Русский язык", 5),
    ("Литература", 3),
    ("Математика", 5),
    ("Английский язык", 3),
    ("История", 2),
    ("Биология", 1),
    ("География", 1),
    ("Музыка", 1),
    ("Изобразительное искусство", 1),
    ("Физическая культура", 2),
)
TARGET_MIB = 300
SURNAMES = (
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров "
    "Морозов Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев"
).split()
NAMES = "Пётр Анна Илья Мария Глеб Вера Олег Дарья Иван Софья".split()


# --- the synthetic year ------------------------------------------------------------------


def build_school(path: Path, sizes: dict[str, int], weeks: int, seed: int = 7) -> None:
    """Write the synthetic school into a fresh database at `path`."""
    from appliance.db import migrate, open_database, write
    from appliance.models import (
        AcademicYear,
        Enrollment,
        PeriodMark,
        Person,
        School,
        SchoolClass,
        Subject,
        SubjectGroup,
        SubjectGroupStudent,
        SubjectGroupTeacher,
        Term,
        WorkType,
    )

    rnd = random.Random(seed)
    db = open_database(path)
    migrate(db)
    today = dt.date.today()
    start = dt.date(today.year - 1, 9, 1)  # a past year: printed whole
    while start.isoweekday() > 5:
        start += dt.timedelta(days=1)
    with write():
        School.create(name="Школа № 1 (синтетическая)", short_name="Школа № 1")
        year = AcademicYear.create(
            name=f"{start.year}/{start.year + 1}",
            starts=dt.date(start.year, 9, 1),
            ends=dt.date(start.year + 1, 8, 31),
        )
        days = [
            start + dt.timedelta(days=d)
            for d in range(weeks * 7)
            if (start + dt.timedelta(days=d)).isoweekday() <= 5
        ]
        quarter = max(1, len(days) // 4)
        terms = []
        for n in range(4):
            first = days[n * quarter]
            last = days[min(len(days) - 1, (n + 1) * quarter - 1)]
            terms.append(
                Term.create(
                    year=year,
                    kind="quarter",
                    number=n + 1,
                    name=f"{n + 1} четверть",
                    starts=first,
                    ends=last,
                    grade_from=2,
                    grade_to=9,
                )
            )
        answer = WorkType.create(name="Ответ на уроке", short_name="Отв", weight=1, is_default=True)
        test = WorkType.create(name="Контрольная работа", short_name="К/р", weight=3)
        subjects = [
            Subject.create(name=name, sort_order=i) for i, (name, _hours) in enumerate(SUBJECTS)
        ]
        teacher = Person.create(last_name="Смирнова", first_name="Елена", is_staff=True)
        for class_name, size in sizes.items():
            school_class = SchoolClass.create(
                year=year, grade=5, letter=class_name[-1], class_teacher=teacher
            )
            students = [
                Person.create(
                    last_name=f"{SURNAMES[i % len(SURNAMES)]}{'а' if i % 2 else ''}",
                    first_name=NAMES[i % len(NAMES)],
                    middle_name=f"{i + 1:02d}",
                )
                for i in range(size)
            ]
            Enrollment.insert_many(
                [
                    {"student": s, "school_class": school_class, "starts": year.starts}
                    for s in students
                ]
            ).execute()
            for subject, (_name, hours) in zip(subjects, SUBJECTS, strict=True):
                group = SubjectGroup.create(year=year, school_class=school_class, subject=subject)
                SubjectGroupTeacher.create(group=group, teacher=teacher)
                SubjectGroupStudent.insert_many(
                    [{"group": group, "student": s, "starts": year.starts} for s in students]
                ).execute()
                _lessons(rnd, group, subject, hours, days, students, answer, test, teacher)
                PeriodMark.insert_many(
                    [
                        {
                            "group": group,
                            "student": s,
                            "kind": "term",
                            "term": t,
                            "value": rnd.choice("3445"),
                        }
                        for s in students
                        for t in terms
                    ]
                    + [
                        {
                            "group": group,
                            "student": s,
                            "kind": "year",
                            "term": None,
                            "value": rnd.choice("345"),
                        }
                        for s in students
                    ]
                ).execute()
    db.close()


def _lessons(rnd, group, subject, hours, days, students, answer, test, teacher) -> None:
    from appliance.models import Assignment, Attendance, Lesson, Mark

    weekdays = sorted(rnd.sample(range(1, 6), min(hours, 5)))
    per_day = {d: 1 + (hours > 5 and i < hours - 5) for i, d in enumerate(weekdays)}
    count = 0
    for day in days:
        for number in range(per_day.get(day.isoweekday(), 0)):
            count += 1
            lesson = Lesson.create(
                group=group,
                date=day,
                number=1 + number + subject.sort_order % 4,
                teacher=teacher,
                state="held",
                topic=f"{subject.name}: тема {count}. Повторение и закрепление материала",
                homework=f"§ {count}, упражнения {count * 3}–{count * 3 + 2}, стр. {count + 10}",
            )
            is_test = count % 10 == 0
            work = Assignment.create(
                lesson=lesson,
                work_type=test if is_test else answer,
                weight=test.weight if is_test else answer.weight,
            )
            graded = students if is_test else rnd.sample(students, len(students) // 4)
            Mark.insert_many(
                [{"assignment": work, "student": s, "value": rnd.choice("2344455")} for s in graded]
            ).execute()
            absent = [s for s in students if rnd.random() < 0.04]
            if absent:
                Attendance.insert_many(
                    [
                        {"lesson": lesson, "student": s, "code": rnd.choice(("Н", "Б", "УП"))}
                        for s in absent
                    ]
                ).execute()


# --- one measured run, in its own process ------------------------------------------------


def peak_mib() -> tuple[float, float]:
    """(this process's peak RSS, the largest child's peak RSS) in MiB (Linux: KiB units)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def run_one(mode: str, db_path: Path, class_letter: str, out: Path) -> dict:
    from appliance.db import open_database
    from appliance.models import SchoolClass

    open_database(db_path)
    school_class = SchoolClass.get(SchoolClass.letter == class_letter)
    started = time.perf_counter()
    if mode == "piecewise":
        from appliance.backup.printing import journal_pdf

        pages = journal_pdf(school_class, school_class.year, out)
    else:
        pages = naive_journal(school_class, out)
    seconds = time.perf_counter() - started
    own, children = peak_mib()
    return {"pages": pages, "seconds": seconds, "own_mib": own, "children_mib": children}


def naive_journal(school_class, out: Path) -> int:
    """Every piece's HTML body in one document, rendered by one WeasyPrint call."""
    from weasyprint import HTML

    from appliance.backup import print_data, print_frame, printing
    from appliance.pdf import local_fetcher

    year = school_class.year
    until = print_data.printed_until(year)
    groups = {g.id: g for g in print_data.class_groups(school_class, year)}
    frame = print_frame.document_frame(school_class, year, "Классный журнал")
    info = print_data.title_info(school_class, year, list(groups.values()), until)
    head, bodies = "", []
    htmls = [
        printing._piece_html(piece, groups, frame, info, [], first_page=1, year=year)
        for piece in printing.journal_plan(school_class, year, until)
    ]
    htmls.append(print_frame.render("print/closing.html", **frame, first_page=1, sheets=0))
    for html in htmls:
        before, _, rest = html.partition("<body>")
        head = head or before
        bodies.append(rest.partition("</body>")[0])
    document = f"{head}<body>{''.join(bodies)}</body></html>"
    rendered = HTML(string=document, url_fetcher=local_fetcher()).render()
    rendered.write_pdf(str(out), pdf_variant="pdf/a-3b")
    return len(rendered.pages)


def spawn_run(mode: str, db_path: Path, class_letter: str, out: Path) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--run",
        mode,
        "--db",
        str(db_path),
        "--class-letter",
        class_letter,
        "--out",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"{mode} run failed: {done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["peak_mib"] = result["own_mib"] + result["children_mib"]
    return result


def check_pdf(path: Path, pages: int) -> None:
    """The bench times real journals: the page count and PDF/A marker must be there."""
    from pypdf import PdfReader

    reader = PdfReader(path)
    if len(reader.pages) != pages or pages < 10:
        raise BenchError(f"{path.name}: {len(reader.pages)} pages, expected {pages}")
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    if b'pdfaid:part="3"' not in xmp:
        raise BenchError(f"{path.name}: no PDF/A-3 identification")


# --- the bench -----------------------------------------------------------------------------


def measure(args) -> dict:
    median = statistics.median
    with tempfile.TemporaryDirectory(prefix="ezh-bench-print-") as tmp:
        work = Path(tmp)
        db_path = work / "ezh.sqlite3"
        print(f"building a {args.weeks}-week year: 30 and 60 students …", file=sys.stderr)
        started = time.perf_counter()
        build_school(db_path, {"А": 30, "Б": 60}, args.weeks)
        print(f"  built in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        piece_runs, naive_runs = [], []
        for n in range(args.rounds):
            for mode, runs in (("naive", naive_runs), ("piecewise", piece_runs)):
                out = work / f"{mode}-{n}.pdf"
                result = spawn_run(mode, db_path, "А", out)
                check_pdf(out, result["pages"])
                runs.append(result)
                print(
                    f"  round {n + 1} {mode}: {result['pages']} pages in "
                    f"{result['seconds']:.1f} s, peak {result['peak_mib']:.0f} MiB",
                    file=sys.stderr,
                )
        big = spawn_run("piecewise", db_path, "Б", work / "big.pdf")
        check_pdf(work / "big.pdf", big["pages"])
        print(
            f"  2× class piecewise: {big['pages']} pages in {big['seconds']:.1f} s, "
            f"peak {big['peak_mib']:.0f} MiB",
            file=sys.stderr,
        )
    pages = piece_runs[0]["pages"]
    pages_per_s = median([r["pages"] / r["seconds"] for r in piece_runs])
    naive_pages_per_s = median([r["pages"] / r["seconds"] for r in naive_runs])
    peak = max(r["peak_mib"] for r in piece_runs)
    naive_peak = max(r["peak_mib"] for r in naive_runs)
    return {
        "pages_per_s": round(pages_per_s, 2),
        "peak_rss_mb": round(peak, 1),
        "naive_pages_per_s": round(naive_pages_per_s, 2),
        "naive_peak_rss_mb": round(naive_peak, 1),
        "speed_vs_naive": round(pages_per_s / naive_pages_per_s, 2),
        "peak_vs_naive": round(peak / naive_peak, 2),
        "peak_parent_mb": round(max(r["own_mib"] for r in piece_runs), 1),
        "peak_child_mb": round(max(r["children_mib"] for r in piece_runs), 1),
        "pages": pages,
        "naive_pages": naive_runs[0]["pages"],
        "big_class_pages": big["pages"],
        "big_class_peak_rss_mb": round(big["peak_mib"], 1),
        "big_class_pages_per_s": round(big["pages"] / big["seconds"], 2),
        "within_target": peak <= TARGET_MIB and big["peak_mib"] <= TARGET_MIB,
        "target_mb": TARGET_MIB,
        "students": 30,
        "subjects": len(SUBJECTS),
        "weeks": args.weeks,
        "rounds": args.rounds,
        "quick": args.quick,
    }


def parse_args(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--rounds", type=int, default=None, help="naive+piecewise rounds")
    parser.add_argument("--weeks", type=int, default=None, help="school weeks (34: a year)")
    parser.add_argument("--run", choices=("piecewise", "naive"), help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--class-letter", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 1 if args.quick else 2
    if args.weeks is None:
        args.weeks = 3 if args.quick else 34
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.run:
        print(json.dumps(run_one(args.run, args.db, args.class_letter, args.out)))
        return 0
    return run_bench("print", measure, args)


if __name__ == "__main__":
    sys.exit(main())
