"""The class-list import (§5.2, §7.3): one file creates a class's students and parents.

`read_table` turns an uploaded XLSX or CSV into rows of strings; `preview_class_list`
checks every row against the declared columns (`appliance.imports_columns`) and the
database without writing; `apply_class_list` stores the previewed plan in one write
transaction, re-checking it there, so an import lands wholly or not at all (DESIGN §5).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .db import write
from .imports_columns import (
    CLASS_LIST_COLUMNS,
    TEMPLATE_HEADERS,
    CellError,
    ImportFileError,
    LayoutError,
    find_layout,
    parse_phone,
    read_record,
    read_table,
)
from .models import (
    AcademicYear,
    Enrollment,
    Guardian,
    Person,
    SchoolClass,
    SubjectGroup,
    SubjectGroupStudent,
    User,
)

__all__ = [
    "TEMPLATE_HEADERS",
    "ClassListPreview",
    "ImportFileError",
    "ImportRejected",
    "ImportResult",
    "apply_class_list",
    "preview_class_list",
    "read_table",
    "template_csv",
    "template_xlsx",
]

MAX_STUDENTS = 100  # no class is that big: it is the wrong file


class ImportRejected(ValueError):
    """The import was refused; ``errors`` are the Russian messages to show."""

    def __init__(self, errors: Sequence[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


# --- templates ----------------------------------------------------------------------------


def template_xlsx() -> bytes:
    """An empty class list for the class teacher to fill in, with a sheet of hints."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    book = Workbook()
    sheet = book.active
    sheet.title = "Список класса"
    sheet.append(TEMPLATE_HEADERS)
    for position, header in enumerate(TEMPLATE_HEADERS, start=1):
        sheet.cell(row=1, column=position).font = Font(bold=True)
        letter = get_column_letter(position)
        sheet.column_dimensions[letter].width = max(14, len(header) + 4)
        if "телефон" in header:
            for row in range(2, 61):  # as text, so Excel keeps the leading + and 8
                sheet.cell(row=row, column=position).number_format = "@"
    sheet.freeze_panes = "A2"
    gender_column = get_column_letter(TEMPLATE_HEADERS.index("Пол") + 1)
    gender = DataValidation(type="list", formula1='"м,ж"', allow_blank=True)
    gender.add(f"{gender_column}2:{gender_column}200")
    sheet.add_data_validation(gender)
    hints = book.create_sheet("Как заполнять")
    for line in TEMPLATE_HINTS:
        hints.append([line])
    hints.column_dimensions["A"].width = 100
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def template_csv() -> bytes:
    """The same template as CSV: UTF-8 with BOM and «;», which Russian Excel opens as is."""
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerow(TEMPLATE_HEADERS)
    return out.getvalue().encode("utf-8-sig")


TEMPLATE_HINTS = [
    "Одна строка — один ученик. Пустые строки пропускаются.",
    "Обязательны: фамилия, имя и дата рождения ученика (ДД.ММ.ГГГГ).",
    "Пол: «м» или «ж».",
    "ФИО родителя — в одной ячейке: «Иванова Мария Петровна».",
    "Кем приходится: мать, отец, опекун, попечитель, бабушка, дедушка …",
    "Телефон: +7 917 123-45-67 или 8 917 123 45 67.",
    "У братьев и сестёр укажите родителя одинаково (ФИО и телефон) — он будет один.",
    "Можно оставить одного родителя или ни одного.",
]


# --- the preview ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """A message about the file: ``row`` is the spreadsheet row number, None for the file."""

    row: int | None
    text: str

    def __str__(self) -> str:
        return f"Строка {self.row}: {self.text}" if self.row else self.text


@dataclass(kw_only=True)
class IssueLists:
    """What the import previews share: their `errors`, `warnings` and `notes` (of `Issue`),
    the same as texts for the page, and `ok` while there is no error.
    """

    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    notes: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def error_texts(self) -> list[str]:
        return [str(i) for i in self.errors]

    @property
    def warning_texts(self) -> list[str]:
        return [str(i) for i in self.warnings]

    @property
    def note_texts(self) -> list[str]:
        return [str(i) for i in self.notes]


@dataclass
class StudentPlan:
    row: int
    last_name: str
    first_name: str
    middle_name: str
    birth_date: dt.date
    gender: str

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)


@dataclass
class ParentPlan:
    last_name: str
    first_name: str
    middle_name: str
    phone: str
    email: str
    rows: list[int] = field(default_factory=list)
    existing: Person | None = None  # an existing person to link instead of a new one

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)


@dataclass
class LinkPlan:
    parent: ParentPlan
    student: StudentPlan
    relation: str


@dataclass
class ClassListPreview(IssueLists):
    """What an import would do, and why it may not; nothing is written to make it."""

    school_class: SchoolClass
    rows: list[list[str]]  # the table as read, so that apply can check it again
    students: list[StudentPlan] = field(default_factory=list)
    parents: list[ParentPlan] = field(default_factory=list)
    links: list[LinkPlan] = field(default_factory=list)

    @property
    def new_parents(self) -> list[ParentPlan]:
        return [p for p in self.parents if p.existing is None]

    @property
    def existing_parents(self) -> list[ParentPlan]:
        return [p for p in self.parents if p.existing is not None]

    @property
    def counts(self) -> dict[str, int]:
        return {
            "students": len(self.students),
            "parents_new": len(self.new_parents),
            "parents_existing": len(self.existing_parents),
            "links": len(self.links),
            "errors": len(self.errors),
            "warnings": len(self.warnings),
        }


def name_key(last: str, first: str, middle: str = "") -> str:
    """ФИО compared as people read it: case, ё/е and spacing do not matter."""
    text = f"{last} {first} {middle}".casefold().replace("ё", "е")
    return " ".join(text.replace(" -", "-").replace("- ", "-").split())


def years_word(n: int) -> str:
    if n % 10 == 1 and n % 100 != 11:
        return f"{n} год"
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return f"{n} года"
    return f"{n} лет"


def age_on(birth: dt.date, today: dt.date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _gender_from_patronymic(middle: str) -> str:
    tail = middle.casefold()
    if tail.endswith(("ич", "оглы", "улы")):
        return "м"
    if tail.endswith(("вна", "чна", "кызы", "қызы")):
        return "ж"
    return ""


def preview_class_list(
    school_class: SchoolClass, rows: list[list[str]], today: dt.date
) -> ClassListPreview:
    """Check every row of a class list and plan what to create; write nothing."""
    preview = ClassListPreview(school_class=school_class, rows=rows)
    year = AcademicYear.get_by_id(school_class.year_id)
    if school_class.closed or year.read_only:
        preview.errors.append(Issue(None, f"Класс {school_class.name} закрыт для изменений."))
        return preview
    try:
        layout = find_layout(rows, CLASS_LIST_COLUMNS)
    except LayoutError as exc:
        preview.errors += [Issue(None, m) for m in exc.messages]
        return preview
    for header in layout.unknown:
        preview.warnings.append(Issue(None, f"Столбец «{header}» не распознан и будет пропущен."))
    preview.notes += [Issue(None, n) for n in layout.notes]

    found: list[tuple[StudentPlan, dict[str, str]]] = []
    for index in range(layout.header_index + 1, len(rows)):
        cells = rows[index]
        if not any(cells):
            continue
        number = index + 1
        values, problems = read_record(layout, cells)
        preview.errors += [Issue(number, p) for p in problems.values()]
        student = _student_from(values, problems, number, preview)
        parents = [_parent_from(values, problems, slot, layout.defaults) for slot in (1, 2)]
        for slot, parent in enumerate(parents, start=1):
            if parent == {}:
                preview.errors.append(
                    Issue(number, f"есть данные родителя {slot}, но не указаны его ФИО")
                )
        if student is not None:
            preview.students.append(student)
            found += [(student, p) for p in parents if p]
    if not preview.students and not preview.errors:
        preview.errors.append(Issue(None, "В файле нет ни одного ученика."))
    if len(preview.students) > MAX_STUDENTS:
        preview.errors.append(
            Issue(None, f"В файле {len(preview.students)} учеников — это не список одного класса.")
        )
    _check_students(preview, school_class, today)
    _plan_parents(preview, found)
    for issues in (preview.errors, preview.warnings, preview.notes):
        issues.sort(key=lambda i: i.row or 0)
    return preview


STUDENT_KEYS = frozenset(
    {"last_name", "first_name", "middle_name", "full_name", "birth_date", "gender"}
)


def _student_from(
    values: dict[str, Any], problems: dict[str, str], number: int, preview: ClassListPreview
) -> StudentPlan | None:
    failed = set(problems)
    if values.get("full_name"):
        values["last_name"], values["first_name"], values["middle_name"] = values["full_name"]
    if "full_name" in failed:
        failed |= {"last_name", "first_name"}
    missing = [
        column.missing
        for column in CLASS_LIST_COLUMNS
        if column.missing and values.get(column.key) is None and column.key not in failed
    ]
    preview.errors += [Issue(number, m) for m in missing]
    if missing or failed & STUDENT_KEYS:
        return None
    middle = values.get("middle_name") or ""
    return StudentPlan(
        row=number,
        last_name=values["last_name"],
        first_name=values["first_name"],
        middle_name=middle,
        birth_date=values["birth_date"],
        gender=values.get("gender") or _gender_from_patronymic(middle),
    )


def _parent_from(
    values: dict[str, Any], problems: dict[str, str], slot: int, defaults: dict[str, str]
) -> dict[str, str] | None:
    """The parent of one slot of a row; None when absent or unreadable, {} without a name."""
    keys = {f: f"parent{slot}.{f}" for f in ("name", "relation", "phone", "email")}
    if any(k in problems for k in keys.values()):
        return None
    name = values.get(keys["name"])
    if name is None:
        given = any(values.get(keys[f]) is not None for f in ("relation", "phone", "email"))
        return {} if given else None
    last, first, middle = name
    return {
        "last_name": last,
        "first_name": first,
        "middle_name": middle,
        "relation": values.get(keys["relation"]) or defaults.get(keys["relation"], ""),
        "phone": values.get(keys["phone"]) or "",
        "email": values.get(keys["email"]) or "",
    }


def _check_students(preview: ClassListPreview, school_class: SchoolClass, today: dt.date) -> None:
    """Repeats inside the file, impossible ages, and students the database already has."""
    seen: dict[tuple[str, dt.date], int] = {}
    for s in preview.students:
        key = (name_key(s.last_name, s.first_name, s.middle_name), s.birth_date)
        if key in seen:
            preview.errors.append(
                Issue(s.row, f"ученик «{s.full_name}» повторяется (уже есть в строке {seen[key]})")
            )
        seen.setdefault(key, s.row)
        if s.birth_date > today:
            preview.errors.append(
                Issue(s.row, f"дата рождения «{s.birth_date:%d.%m.%Y}» — ещё не наступила")
            )
            continue
        age = age_on(s.birth_date, today)
        grade = school_class.grade
        if not grade + AGE_OVER_GRADE[0] <= age <= grade + AGE_OVER_GRADE[1]:
            preview.warnings.append(
                Issue(s.row, f"возраст {years_word(age)} не подходит для {grade} класса")
            )
    dates = {s.birth_date for s in preview.students}
    if not dates:
        return
    namesakes: dict[tuple[str, dt.date], list[int]] = defaultdict(list)
    for person in Person.select().where(Person.birth_date.in_(dates) & ~Person.is_staff):
        key = (name_key(person.last_name, person.first_name, person.middle_name), person.birth_date)
        namesakes[key].append(person.id)
    ids = [i for people in namesakes.values() for i in people]
    classes: dict[int, list[SchoolClass]] = defaultdict(list)
    if ids:
        current = (
            Enrollment.select(Enrollment, SchoolClass)
            .join(SchoolClass)
            .where(
                Enrollment.student.in_(ids)
                & (Enrollment.ends.is_null() | (Enrollment.ends >= today))
            )
        )
        for enrollment in current:
            classes[enrollment.student_id].append(enrollment.school_class)
    for s in preview.students:
        people = namesakes.get((name_key(s.last_name, s.first_name, s.middle_name), s.birth_date))
        if not people:
            continue
        theirs = [c for i in people for c in classes[i]]
        same_year = [c for c in theirs if c.year_id == school_class.year_id]
        if any(c.id == school_class.id for c in theirs):
            preview.errors.append(
                Issue(s.row, f"такой ученик уже есть в классе {school_class.name}")
            )
        elif same_year:
            preview.errors.append(
                Issue(
                    s.row,
                    f"ученик «{s.full_name}» уже числится в классе {same_year[0].name} — "
                    "его нужно перевести, а не добавлять заново",
                )
            )
        else:
            preview.warnings.append(
                Issue(
                    s.row,
                    f"в базе уже есть «{s.full_name}» с той же датой рождения "
                    "(в классах этого года не числится) — будет создан новый ученик",
                )
            )


AGE_OVER_GRADE = (5, 9)  # a plausible age is grade + 5 … grade + 9 full years


def _existing_parents(keys: set[str]) -> dict[str, list[tuple[Person, str]]]:
    """Existing parents with these ФИО, each with their phone normalised.

    Only people who are already someone's parent and are not staff: a class list must
    never be able to adopt a teacher, the admin or another class's student as a
    "parent" (and with it the right to reset their password from the class page).
    """
    found: dict[str, list[tuple[Person, str]]] = defaultdict(list)
    if not keys:
        return found
    surnames = {k.split(" ")[0] for k in keys}
    parents = (
        Person.select()
        .where(~Person.is_staff & Person.id.in_(Guardian.select(Guardian.parent)))
        .order_by(Person.id)
    )
    # ФИО are compared ignoring case and ё, which SQLite cannot do for Cyrillic: filter here.
    for person in parents.iterator():
        if person.last_name.casefold().replace("ё", "е") not in surnames:
            continue
        key = name_key(person.last_name, person.first_name, person.middle_name)
        if key in keys:
            try:
                phone = parse_phone(person.phone) if person.phone else ""
            except CellError:
                phone = person.phone.strip()
            found[key].append((person, phone))
    return found


def _rows_text(rows: Sequence[int]) -> str:
    return ", ".join(str(r) for r in rows)


def _plan_parents(
    preview: ClassListPreview, found: list[tuple[StudentPlan, dict[str, str]]]
) -> None:
    """One parent per ФИО + phone (or ФИО alone when no phone): siblings share them."""
    by_name: dict[str, list[tuple[StudentPlan, dict[str, str]]]] = defaultdict(list)
    for student, data in found:
        by_name[name_key(data["last_name"], data["first_name"], data["middle_name"])].append(
            (student, data)
        )
    in_database = _existing_parents(set(by_name))
    for key, items in by_name.items():
        phones = list(dict.fromkeys(d["phone"] for _, d in items if d["phone"]))
        groups: dict[str, list[tuple[StudentPlan, dict[str, str]]]] = defaultdict(list)
        for item in items:
            # A blank phone joins the one phone given elsewhere for the same ФИО.
            groups[item[1]["phone"] or (phones[0] if len(phones) == 1 else "")].append(item)
        if len(groups) > 1:
            rows = sorted({s.row for s, _ in items})
            preview.warnings.append(
                Issue(
                    rows[0],
                    f"«{_full(items[0][1])}» указан(а) с разными телефонами в строках "
                    f"{_rows_text(rows)} — будут созданы разные люди; если это один человек, "
                    "укажите везде один телефон",
                )
            )
        for phone, members in groups.items():
            _plan_parent(preview, phone, members, in_database.get(key, []))


def _full(data: dict[str, str]) -> str:
    return " ".join(p for p in (data["last_name"], data["first_name"], data["middle_name"]) if p)


def _plan_parent(
    preview: ClassListPreview,
    phone: str,
    members: list[tuple[StudentPlan, dict[str, str]]],
    candidates: list[tuple[Person, str]],
) -> None:
    first = members[0][1]
    emails = list(dict.fromkeys(d["email"] for _, d in members if d["email"]))
    plan = ParentPlan(
        last_name=first["last_name"],
        first_name=first["first_name"],
        middle_name=first["middle_name"],
        phone=phone,
        email=emails[0] if emails else "",
        rows=sorted({s.row for s, _ in members}),
    )
    row, name = plan.rows[0], plan.full_name
    if len(emails) > 1:
        preview.warnings.append(
            Issue(
                row,
                f"у «{name}» разные e-mail в строках {_rows_text(plan.rows)}; "
                f"будет записан {emails[0]}",
            )
        )
    same_phone = [p for p, p_phone in candidates if phone and p_phone == phone]
    if same_phone:
        plan.existing = same_phone[0]
        preview.notes.append(
            Issue(
                row,
                f"родитель «{name}» ({phone}) уже есть в базе — новая запись "
                "не создаётся, он(а) будет привязан(а) к ученику",
            )
        )
    elif candidates:
        why = "с другим телефоном" if phone else "(телефона в файле нет, их не отличить)"
        preview.warnings.append(
            Issue(
                row,
                f"в базе уже есть «{name}» {why} — будет создан новый человек; "
                "если это тот же родитель, укажите телефон, как в базе",
            )
        )
    if len(plan.rows) > 1:
        preview.notes.append(
            Issue(row, f"«{name}» — один родитель для учеников из строк {_rows_text(plan.rows)}")
        )
    preview.parents.append(plan)
    linked: set[int] = set()
    for student, data in members:
        if student.row in linked:
            preview.errors.append(
                Issue(student.row, f"родитель 1 и родитель 2 — один и тот же человек «{name}»")
            )
            continue
        linked.add(student.row)
        preview.links.append(LinkPlan(plan, student, data["relation"]))


# --- applying -------------------------------------------------------------------------------


@dataclass
class ImportResult:
    school_class: SchoolClass
    students: list[Person]
    parents_created: list[Person]
    parents_reused: list[Person]
    links: list[Guardian]
    group_memberships: int
    warnings: list[str]

    @property
    def summary(self) -> str:
        text = (
            f"Класс {self.school_class.name}: добавлено учеников — {len(self.students)}, "
            f"родителей — {len(self.parents_created)}"
        )
        if self.parents_reused:
            text += f" (ещё {len(self.parents_reused)} уже были в базе)"
        return text + f", связей «родитель — ученик» — {len(self.links)}."


def apply_class_list(
    preview: ClassListPreview, *, user: User | None, ip: str, today: dt.date
) -> ImportResult:
    """Store a previewed class list in one transaction; refuse if it has errors.

    The rows are checked again inside the transaction: someone may have added the same
    student since the preview. Any failure leaves the database as it was.
    """
    if not preview.ok:
        raise ImportRejected(preview.error_texts)
    with write(user=user, ip=ip) as rec:
        school_class = SchoolClass.get_or_none(SchoolClass.id == preview.school_class.id)
        if school_class is None:
            raise ImportRejected(["Класс удалён."])
        fresh = preview_class_list(school_class, preview.rows, today)
        if not fresh.ok:
            raise ImportRejected(fresh.error_texts)
        groups = list(
            SubjectGroup.select().where(
                (SubjectGroup.school_class == school_class) & SubjectGroup.subgroup.is_null()
            )
        )
        students: dict[int, Person] = {}
        memberships = 0
        for plan in fresh.students:
            student = Person.create(
                last_name=plan.last_name,
                first_name=plan.first_name,
                middle_name=plan.middle_name,
                birth_date=plan.birth_date,
                gender=plan.gender,
                is_staff=False,
            )
            rec.record("person.create", student, sync=True)
            enrollment = Enrollment.create(student=student, school_class=school_class, starts=today)
            rec.record("enrollment.create", enrollment, sync=True)
            for group in groups:
                membership = SubjectGroupStudent.create(group=group, student=student, starts=today)
                rec.record("subject_group_student.create", membership)
                memberships += 1
            students[plan.row] = student
        parents: dict[int, Person] = {}
        created, reused = [], []
        for plan in fresh.parents:
            if plan.existing is not None:
                parent = plan.existing
                reused.append(parent)
            else:
                parent = Person.create(
                    last_name=plan.last_name,
                    first_name=plan.first_name,
                    middle_name=plan.middle_name,
                    phone=plan.phone,
                    email=plan.email,
                    is_staff=False,
                )
                rec.record("person.create", parent, sync=True)
                created.append(parent)
            parents[id(plan)] = parent
        links = []
        for link_plan in fresh.links:
            link = Guardian.create(
                parent=parents[id(link_plan.parent)],
                student=students[link_plan.student.row],
                relation=link_plan.relation,
            )
            rec.record("guardian.create", link, sync=True)
            links.append(link)
        result = ImportResult(
            school_class=school_class,
            students=list(students.values()),
            parents_created=created,
            parents_reused=reused,
            links=links,
            group_memberships=memberships,
            warnings=fresh.warning_texts,
        )
        rec.record(
            "import.class_list",
            school_class,
            after={
                "class": school_class.name,
                "students": len(result.students),
                "parents_created": len(created),
                "parents_reused": len(reused),
                "links": len(links),
                "group_memberships": memberships,
            },
        )
    return result
