"""Helpers of the archive tests: keys, a journal with marks in two classes, a fast printer."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from appliance import journal
from appliance.backup import keys
from appliance.db import write
from appliance.models import (
    Assignment,
    Lesson,
    Mark,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    WorkType,
)


def make_keys(settings, tmp_path: Path) -> Path:
    """The director's age identity (as printed on the key sheet) saved to a file."""
    result = keys.init_keys(settings)
    path = tmp_path / "ключ.txt"
    path.write_text(result.identities[0].secret + "\n", encoding="utf-8")
    return path


def other_identity(tmp_path: Path) -> Path:
    """A valid age key that is not the archive's (the «wrong key» of the tamper tests)."""
    from appliance.backup import crypto

    secret, _ = crypto.generate_identity()
    path = tmp_path / "чужой-ключ.txt"
    path.write_text(secret + "\n", encoding="utf-8")
    return path


def fill_journal(school) -> dict[str, Mark]:
    """Marks in 5А through the journal (audited), and one in 5Б that 5А must not show."""
    WorkType.create(name="Ответ на уроке", short_name="Отв", weight=1, is_default=True)
    teacher = school.users["teacher"]
    lesson = Lesson.get((Lesson.group == school.group) & (Lesson.date == dt.date.today()))
    journal.set_topic(lesson, "Натуральные числа", user=teacher, ip="10.0.0.5")
    assignment = journal.default_assignment(lesson, user=teacher, ip="10.0.0.5")
    ivanov, petrova, _ = school.students["5А"]
    marks = {
        "ivanov": journal.set_mark(assignment, ivanov.id, "5", user=teacher, ip="10.0.0.5"),
        "petrova": journal.set_mark(assignment, petrova.id, "4", user=teacher, ip="10.0.0.5"),
    }
    sidorov = school.students["5А"][2]
    journal.set_attendance(lesson, sidorov.id, "Н", user=teacher, ip="10.0.0.5")
    marks["sidorov"] = journal.set_mark(assignment, sidorov.id, "3", user=teacher, ip="10.0.0.5")
    journal.set_mark(assignment, sidorov.id, "", user=teacher, ip="10.0.0.5")  # cleared
    b = school.classes["5Б"]
    fedorov = school.students["5Б"][0]
    with write(user=teacher) as rec:
        group = SubjectGroup.create(
            year=school.year, school_class=b, subject=Subject.get(Subject.name == "Математика")
        )
        SubjectGroupStudent.create(group=group, student=fedorov, starts=school.year.starts)
        other = Lesson.create(group=group, date=dt.date.today(), number=3)
        task = Assignment.create(lesson=other, work_type=WorkType.get(), weight=1)
        marks["fedorov"] = Mark.create(assignment=task, student=fedorov, value="3")
        rec.record("mark.set", marks["fedorov"])
    return marks


def stub_printer(school_class, year, unit: str, out: Path) -> list[Path]:
    """Stands in for the PDF renderer where the test is about packing, not printing."""
    pdf = out / f"{unit}-{school_class.name}.pdf"
    pdf.write_bytes(b"%PDF-1.4\n% stub for " + school_class.name.encode() + b"\n%%EOF\n")
    data = out / "данные"
    data.mkdir()
    (data / "отметки.csv").write_text(f"класс;ученик\n{school_class.name};…\n", encoding="utf-8")
    return [pdf, data / "отметки.csv"]


def need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"the stock {binary} is not installed (apt install {binary})")
    return path
