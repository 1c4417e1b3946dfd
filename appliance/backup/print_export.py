"""A class's journal or summary sheet as open data: CSV for Excel and one JSON file.

These files go into the printed PDF/A as attachments and into the archive unit, so
that the year can be read with no ЭЖ-box at all. CSV is UTF-8 with a BOM and «;»
between fields (what a Russian Excel opens by double-click); JSON is UTF-8. Rows are
written as the database cursor yields them, subject group by subject group: nothing
holds the class's year in memory (DESIGN §5).

The journal's data is what the printed journal shows: lessons of the same span (the
year up to the print date while the year runs) and only the marks and attendance of
a student on a day they were in the group (the grid's rule: other days are crossed
out on paper). A CSV cell that a spreadsheet would run as a formula is written with
a leading «'» (`reports.table.FORMULA_START`); the JSON keeps the text as it is.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from peewee import JOIN, SQL, fn

from ..models import (
    AcademicYear,
    Assignment,
    Attendance,
    Lesson,
    Mark,
    PeriodMark,
    Person,
    School,
    SchoolClass,
    SubjectGroup,
    SubjectGroupStudent,
    Term,
    WorkType,
)
from ..reports.table import FORMULA_START
from .print_data import class_groups, group_title, printed_until

KINDS = ("journal", "summary")
PERIOD_LABELS = {"year": "год", "final": "итоговая"}


class ExportError(ValueError):
    """An export asked for something that does not exist (message in Russian)."""


@dataclass(frozen=True)
class Field:
    key: str  # the JSON key
    header: str  # the CSV column, in Russian


LESSON_FIELDS = (
    Field("lesson_uuid", "ID урока"),
    Field("subject", "Предмет"),
    Field("date", "Дата"),
    Field("number", "Урок №"),
    Field("teacher", "Учитель"),
    Field("topic", "Тема"),
    Field("homework", "Домашнее задание"),
)
MARK_FIELDS = (
    Field("lesson_uuid", "ID урока"),
    Field("subject", "Предмет"),
    Field("date", "Дата"),
    Field("number", "Урок №"),
    Field("work_type", "Вид работы"),
    Field("weight", "Вес"),
    Field("student_uuid", "ID ученика"),
    Field("student", "Ученик"),
    Field("value", "Отметка"),
    Field("comment", "Комментарий"),
)
ATTENDANCE_FIELDS = (
    Field("lesson_uuid", "ID урока"),
    Field("subject", "Предмет"),
    Field("date", "Дата"),
    Field("number", "Урок №"),
    Field("student_uuid", "ID ученика"),
    Field("student", "Ученик"),
    Field("code", "Посещаемость"),
    Field("reason", "Причина"),
)
PERIOD_FIELDS = (
    Field("subject", "Предмет"),
    Field("student_uuid", "ID ученика"),
    Field("student", "Ученик"),
    Field("period", "Период"),
    Field("value", "Отметка"),
)


def export_class_data(
    school_class: SchoolClass,
    year: AcademicYear,
    out_dir: Path,
    kind: str,
    until: dt.date | None = None,
) -> list[Path]:
    """Write the class-year's data as CSV files and one JSON file; the paths, CSV first.

    kind "journal": lessons (topics, homework), marks, attendance and period marks of
    the lessons from the year's start to `until` (default: as the journal is printed,
    `print_data.printed_until`); kind "summary": the сводная ведомость (students ×
    subjects × periods).
    """
    if kind not in KINDS:
        raise ExportError("Неизвестный вид выгрузки: нужен журнал или сводная ведомость.")
    until = until or printed_until(year)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = (
        _journal_tables(school_class, year, until)
        if kind == "journal"
        else _summary_tables(school_class, year)
    )
    head = {
        "format": f"ezh-box/{kind}/1",
        "school": (School.get_or_none() or School(name="")).name,
        "class": school_class.name,
        "year": year.name,
        "exported_at": dt.datetime.now().replace(microsecond=0).isoformat(),
    }
    if kind == "journal":
        head["as_of"] = until.isoformat()
    json_path = out_dir / f"{kind}.json"
    written: list[Path] = []
    with json_path.open("w", encoding="utf-8") as js:
        js.write(json.dumps(head, ensure_ascii=False)[:-1])  # the object stays open
        for name, fields, rows in tables:
            path = out_dir / f"{name}.csv"
            with path.open("w", encoding="utf-8-sig", newline="") as fh:
                _write_table(fh, js, name, fields, rows)
            written.append(path)
        js.write("}\n")
    return [*written, json_path]


def _write_table(
    fh: IO[str], js: IO[str], name: str, fields: tuple[Field, ...], rows: Iterable[dict]
) -> None:
    """One table into its CSV and into the JSON object's array of the same name."""
    out = csv.writer(fh, delimiter=";", lineterminator="\r\n")
    out.writerow([f.header for f in fields])
    js.write(f', "{name}": [')
    separator = "\n"
    for row in rows:
        values = [row.get(f.key, "") for f in fields]
        out.writerow([_csv_value(v) for v in values])
        record = {f.key: _json_value(v) for f, v in zip(fields, values, strict=True)}
        js.write(separator + json.dumps(record, ensure_ascii=False))
        separator = ",\n"
    js.write("\n]")


def _csv_value(value: Any) -> str:
    """A CSV cell: dates as dd.mm.yyyy, formula-like text as text («'=…»)."""
    if isinstance(value, dt.date):
        return f"{value:%d.%m.%Y}"
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return f"'{value}"
    return "" if value is None else str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


Tables = Iterator[tuple[str, tuple[Field, ...], Iterable[dict]]]


def _journal_tables(school_class: SchoolClass, year: AcademicYear, until: dt.date) -> Tables:
    groups = class_groups(school_class, year)
    span = (year.starts, until)
    yield "lessons", LESSON_FIELDS, _per_group(groups, _lesson_rows, span)
    yield "marks", MARK_FIELDS, _per_group(groups, _mark_rows, span)
    yield "attendance", ATTENDANCE_FIELDS, _per_group(groups, _attendance_rows, span)
    yield "period_marks", PERIOD_FIELDS, _per_group(groups, _period_rows, span)


Span = tuple[dt.date, dt.date]


def _per_group(groups: list[SubjectGroup], rows_of, span: Span) -> Iterator[dict]:
    for group in groups:
        yield from rows_of(group, group_title(group), span)


def _held(group: SubjectGroup, span: Span):
    """The group's lessons the printed journal lists: held or planned, within the span."""
    return (Lesson.group == group) & (Lesson.state != "cancelled") & Lesson.date.between(*span)


def _member_that_day(group: SubjectGroup, student):
    """The student was in the group on the lesson's day (else the grid crosses it out)."""
    link = SubjectGroupStudent.alias()
    return fn.EXISTS(
        link.select(SQL("1")).where(
            (link.group == group)
            & (link.student == student)
            & (link.starts <= Lesson.date)
            & (link.ends.is_null() | (link.ends >= Lesson.date))
        )
    )


def _lesson_columns() -> tuple:
    return (Lesson.uuid.alias("lesson_uuid"), Lesson.date, Lesson.number)


def _person_columns(prefix: str) -> tuple:
    return (
        Person.uuid.alias(f"{prefix}_uuid"),
        Person.last_name.alias("last"),
        Person.first_name.alias("first"),
        Person.middle_name.alias("middle"),
    )


def _rows(query, subject: str, name_key: str) -> Iterator[dict]:
    """The query's rows as dicts off the cursor, the person's name parts joined."""
    for row in query.dicts().iterator():
        parts = (row.pop("last"), row.pop("first"), row.pop("middle"))
        row[name_key] = " ".join(p for p in parts if p)
        row["subject"] = subject
        yield row


def _lesson_rows(group: SubjectGroup, subject: str, span: Span) -> Iterator[dict]:
    query = (
        Lesson.select(
            *_lesson_columns(), *_person_columns("teacher"), Lesson.topic, Lesson.homework
        )
        .join(Person, on=(Lesson.teacher == Person.id), join_type=JOIN.LEFT_OUTER)
        .where(_held(group, span))
        .order_by(Lesson.date, Lesson.number)
    )
    return _rows(query, subject, "teacher")


def _mark_rows(group: SubjectGroup, subject: str, span: Span) -> Iterator[dict]:
    query = (
        Mark.select(
            *_lesson_columns(),
            WorkType.name.alias("work_type"),
            Assignment.weight,
            *_person_columns("student"),
            Mark.value,
            Mark.comment,
        )
        .join(Assignment)
        .join(Lesson)
        .switch(Assignment)
        .join(WorkType)
        .switch(Mark)
        .join(Person)
        .where(_held(group, span) & _member_that_day(group, Mark.student))
        .order_by(Lesson.date, Lesson.number, Assignment.id, Person.last_name, Person.first_name)
    )
    return _rows(query, subject, "student")


def _attendance_rows(group: SubjectGroup, subject: str, span: Span) -> Iterator[dict]:
    query = (
        Attendance.select(
            *_lesson_columns(), *_person_columns("student"), Attendance.code, Attendance.reason
        )
        .join(Lesson)
        .switch(Attendance)
        .join(Person)
        .where(_held(group, span) & _member_that_day(group, Attendance.student))
        .order_by(Lesson.date, Lesson.number, Person.last_name, Person.first_name)
    )
    return _rows(query, subject, "student")


def _period_rows(group: SubjectGroup, subject: str, span: Span) -> Iterator[dict]:
    query = (
        PeriodMark.select(
            *_person_columns("student"),
            PeriodMark.kind,
            Term.name.alias("term"),
            PeriodMark.value,
        )
        .join(Person)
        .switch(PeriodMark)
        .join(Term, join_type=JOIN.LEFT_OUTER)
        .where(PeriodMark.group == group)
        .order_by(Person.last_name, Person.first_name, Term.starts, PeriodMark.kind)
    )
    for row in _rows(query, subject, "student"):
        kind, term = row.pop("kind"), row.pop("term")
        row["period"] = term if kind == "term" else PERIOD_LABELS.get(kind, kind)
        yield row


def _summary_tables(school_class: SchoolClass, year: AcademicYear) -> Tables:
    """The summary sheet as one long table: a row per student, subject and period."""
    from ..reports.summary import build

    sheet = build(school_class, year)
    fields = (
        Field("student_uuid", "ID ученика"),
        Field("student", "Ученик"),
        Field("note", "Примечание"),
        Field("subject", "Предмет"),
        Field("period", "Период"),
        Field("value", "Отметка"),
    )

    def rows() -> Iterator[dict]:
        for student in sheet.students:
            for subject in sheet.subjects:
                for period in sheet.periods:
                    yield {
                        "student_uuid": student.person.uuid,
                        "student": student.person.full_name,
                        "note": student.note,
                        "subject": subject.name,
                        "period": period.label,
                        "value": sheet.mark(student, subject, period),
                    }

    yield "summary", fields, rows()


def csv_rows(path: Path) -> list[list[str]]:
    """Read an exported CSV back (tests, the archive's README check)."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh, delimiter=";"))
