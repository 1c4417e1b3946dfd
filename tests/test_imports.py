"""The class-list import: files in, students and parents out, all or nothing (§5.2, §7.3)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from appliance import audit
from appliance.db import Recorder, migrate, open_database
from appliance.imports import (
    TEMPLATE_HEADERS,
    ImportFileError,
    ImportRejected,
    apply_class_list,
    preview_class_list,
    read_table,
    template_csv,
    template_xlsx,
)
from appliance.imports_columns import (
    CLASS_LIST_COLUMNS,
    CellError,
    find_layout,
    parse_date,
    parse_email,
    parse_full_name,
    parse_gender,
    parse_phone,
)
from appliance.models import (
    AcademicYear,
    AuditEntry,
    Enrollment,
    Guardian,
    OutboxEntry,
    Person,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
)

TODAY = dt.date(2026, 9, 1)
SHORT_HEADER = ["Фамилия", "Имя", "Дата рождения"]

# Four students: Пётр and Анна are siblings sharing their mother (her phone written two
# ways); Ольга has a father without a phone; Дмитрий has no parents in the file.
CLASS_ROWS = [
    [
        "Иванов", "Пётр", "Сергеевич", "01.03.2015", "м",
        "Иванова Мария Петровна", "мать", "+7 917 123-45-67", "ivanova@mail.ru",
        "Иванов Сергей Петрович", "отец", "8 (917) 765-43-21", "",
    ],
    [
        "Иванова", "Анна", "Сергеевна", "12.05.2016", "ж",
        "Иванова Мария Петровна", "мать", "89171234567",
    ],
    [
        "Смирнова", "Ольга", "Игоревна", "2015-07-20", "",
        "", "", "", "",
        "Смирнов Игорь Олегович", "отец",
    ],
    ["Кузнецов", "Дмитрий", "", "5.11.14", "м"],
]  # fmt: skip


@pytest.fixture
def fresh_school(tmp_path):
    """A fresh database with 5А and 6Б, two whole-class groups and English subgroups."""
    db = open_database(tmp_path / "ezh.sqlite")
    migrate(db)
    year = AcademicYear.create(
        name="2026/2027", starts=dt.date(2026, 9, 1), ends=dt.date(2027, 8, 31), is_current=True
    )
    class_5a = SchoolClass.create(year=year, grade=5, letter="А")
    class_6b = SchoolClass.create(year=year, grade=6, letter="Б")
    maths = Subject.create(name="Математика")
    russian = Subject.create(name="Русский язык")
    english = Subject.create(name="Английский язык", is_foreign_language=True)
    groups = [
        SubjectGroup.create(year=year, school_class=class_5a, subject=maths),
        SubjectGroup.create(year=year, school_class=class_5a, subject=russian),
    ]
    for n in (1, 2):
        SubjectGroup.create(year=year, school_class=class_5a, subject=english, subgroup=n)
    SubjectGroup.create(year=year, school_class=class_6b, subject=maths)
    yield SimpleNamespace(db=db, year=year, class_5a=class_5a, class_6b=class_6b, groups=groups)
    db.close()


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows: list[list[str]], *, encoding: str, delimiter: str) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode(encoding)


def counts() -> dict[str, int]:
    models = (Person, Enrollment, Guardian, SubjectGroupStudent, AuditEntry, OutboxEntry)
    return {m.__name__: m.select().count() for m in models}


def preview(fresh_school, rows, today=TODAY):
    return preview_class_list(fresh_school.class_5a, rows, today)


def person(last: str, first: str) -> Person:
    return Person.get((Person.last_name == last) & (Person.first_name == first))


# --- reading files ------------------------------------------------------------------------


def test_xlsx_with_title_line_and_blank_rows_imports_the_class(fresh_school):
    dated = [list(r) for r in CLASS_ROWS]
    dated[0][3] = dt.datetime(2015, 3, 1)  # a real Excel date cell
    sheet = [
        ["Список обучающихся 5А класса на 2026/2027 учебный год"],
        [],
        TEMPLATE_HEADERS,
        dated[0],
        [],
        dated[1],
        dated[2],
        [None, None, None],
        dated[3],
        [],
    ]
    rows = read_table("Список 5А.xlsx", xlsx_bytes(sheet))
    assert rows[0] == ["Список обучающихся 5А класса на 2026/2027 учебный год"]
    assert rows[3][3] == "01.03.2015"

    plan = preview(fresh_school, rows)

    assert plan.ok, plan.error_texts
    assert [s.row for s in plan.students] == [4, 6, 7, 9]
    assert plan.counts == {
        "students": 4,
        "parents_new": 3,
        "parents_existing": 0,
        "links": 4,
        "errors": 0,
        "warnings": 0,
    }
    result = apply_class_list(plan, user=None, ip="10.0.0.5", today=TODAY)

    assert len(result.students) == 4 and len(result.parents_created) == 3
    assert "добавлено учеников — 4" in result.summary
    # 7 people, 4 enrolments, 4 guardian links, 4 students × 2 whole-class groups.
    assert counts() == {
        "Person": 7,
        "Enrollment": 4,
        "Guardian": 4,
        "SubjectGroupStudent": 8,
        "AuditEntry": 7 + 4 + 4 + 8 + 1,
        "OutboxEntry": 7 + 4 + 4,
    }
    petr = person("Иванов", "Пётр")
    assert (petr.birth_date, petr.gender, petr.is_staff) == (dt.date(2015, 3, 1), "м", False)
    assert {link.group_id for link in petr.study_links} == {g.id for g in fresh_school.groups}
    assert all(link.starts == TODAY for link in petr.study_links)
    enrollment = petr.enrollments.get()
    assert (enrollment.school_class_id, enrollment.starts) == (fresh_school.class_5a.id, TODAY)
    dmitry = person("Кузнецов", "Дмитрий")
    assert (dmitry.birth_date, dmitry.middle_name, list(dmitry.guardian_links)) == (
        dt.date(2014, 11, 5),
        "",
        [],
    )
    assert person("Смирнова", "Ольга").gender == "ж"  # from the patronymic
    assert audit.verify_chain() is None
    assert AuditEntry.select().where(AuditEntry.ip == "10.0.0.5").count() == counts()["AuditEntry"]


def test_csv_in_windows_1251_with_semicolons(fresh_school):
    data = csv_bytes(
        [["Список 5А"], TEMPLATE_HEADERS, *CLASS_ROWS], encoding="cp1251", delimiter=";"
    )
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")

    rows = read_table("5a.CSV", data)

    assert rows[2][:2] == ["Иванов", "Пётр"]
    plan = preview(fresh_school, rows)
    assert plan.ok, plan.error_texts
    assert [s.row for s in plan.students] == [3, 4, 5, 6]
    assert plan.students[0].first_name == "Пётр"


def test_csv_in_utf8_with_bom_and_commas(fresh_school):
    data = csv_bytes(
        [["Список 5А, классный руководитель Петрова Н. А."], TEMPLATE_HEADERS, *CLASS_ROWS],
        encoding="utf-8-sig",
        delimiter=",",
    )
    assert data.startswith(b"\xef\xbb\xbf")

    rows = read_table("5a.csv", data)

    assert rows[1] == TEMPLATE_HEADERS
    plan = preview(fresh_school, rows)
    assert plan.ok, plan.error_texts
    assert plan.counts["students"] == 4 and plan.counts["links"] == 4


def test_csv_with_tabs_and_no_bom(fresh_school):
    data = csv_bytes([TEMPLATE_HEADERS, *CLASS_ROWS], encoding="utf-8", delimiter="\t")
    assert preview(fresh_school, read_table("5a.csv", data)).counts["students"] == 4


def test_semicolon_csv_whose_text_is_full_of_commas_keeps_its_columns():
    """Counting the widest line would pick «,» here; the consistent split is «;»."""
    text = (
        "№;Тема;Домашнее задание\n"
        "1;Числа;упр. 1, 2, 3, 4, 5, 6, 7, 8\n"
        "2;Дроби;№ 10, 11\n"
        "3;Проценты;с. 5\n"
    )
    rows = read_table("ktp.csv", text.encode("cp1251"))
    assert rows[0] == ["№", "Тема", "Домашнее задание"]
    assert rows[1] == ["1", "Числа", "упр. 1, 2, 3, 4, 5, 6, 7, 8"]


def test_csv_in_an_unknown_encoding_is_refused():
    with pytest.raises(ImportFileError, match="кодировке UTF-8 или Windows-1251"):
        read_table("class.csv", "Фамилия;Имя".encode("cp1251") + b"\x98")


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("class.xls", "Файлы .xls (Excel 97–2003) не поддерживаются"),
        ("class.ods", "Загрузите файл Excel (.xlsx) или CSV (.csv)."),
        ("class.txt", "Загрузите файл Excel (.xlsx) или CSV (.csv)."),
        ("class.xlsx", "Не удалось открыть файл Excel"),
    ],
)
def test_read_table_refuses_other_files_in_russian(filename, message):
    with pytest.raises(ImportFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_table(filename, b"not a spreadsheet")


# --- headers --------------------------------------------------------------------------------


def test_header_synonyms_with_mother_and_father_columns(fresh_school):
    rows = [
        [
            "№ п/п", "ФИО обучающегося", "Дата рожд.", "ПОЛ",
            "ФИО матери", "Телефон матери", "E-mail матери",
            "Ф.И.О. отца", "тел. отца", "Примечание",
        ],
        [
            "1", "Петров Павел Андреевич", "01.02.2015", "муж",
            "Петрова Елена Викторовна", "8-927-111-22-33", "Petrova@Yandex.RU",
            "Петров Андрей Павлович", "+79271112244", "отличник",
        ],
    ]  # fmt: skip

    plan = preview(fresh_school, rows)

    assert plan.ok, plan.error_texts
    assert plan.warning_texts == ["Столбец «Примечание» не распознан и будет пропущен."]
    student = plan.students[0]
    assert (student.last_name, student.first_name, student.middle_name, student.gender) == (
        "Петров",
        "Павел",
        "Андреевич",
        "м",
    )
    assert [(link.parent.full_name, link.relation) for link in plan.links] == [
        ("Петрова Елена Викторовна", "мать"),
        ("Петров Андрей Павлович", "отец"),
    ]
    assert plan.parents[0].phone == "+79271112233"
    assert plan.parents[0].email == "Petrova@yandex.ru"


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("  ФАМИЛИЯ ", "last_name"),
        ("Дата  рождения (дд.мм.гггг)", "birth_date"),
        ("Родитель1 ФИО", "parent1.name"),
        ("ФИО родителя 2", "parent2.name"),
        ("Родитель 1: кем приходится", "parent1.relation"),
        ("Степень родства родителя 2", "parent2.relation"),
        ("Телефон родителя", "parent1.phone"),
        ("Родитель 2 e-mail", "parent2.email"),
        ("Электронная почта родителя 1", "parent1.email"),
        ("Мать ФИО", "parent1.name"),
        ("Отчёство", "middle_name"),
    ],
)
def test_header_is_recognised_whatever_case_spacing_and_yo(header, key):
    required = {"last_name": "Фамилия", "first_name": "Имя", "birth_date": "Дата рождения"}
    row = [title for k, title in required.items() if k != key] + [header]
    layout = find_layout([row], CLASS_LIST_COLUMNS)
    assert layout.columns[key][0] == len(row) - 1


def test_header_row_is_found_below_a_title(fresh_school):
    rows = [["Утверждаю"], ["Список"], [""], ["Фамилия", "Имя", "Дата рождения"]]
    rows.append(["Орлова", "Вера", "01.01.2015"])
    layout = find_layout(rows, CLASS_LIST_COLUMNS)
    assert layout.header_index == 3
    assert preview(fresh_school, rows).students[0].row == 5


def test_missing_required_column_is_a_file_error(fresh_school):
    plan = preview(fresh_school, [["Фамилия", "Имя", "Пол"], ["Орлова", "Вера", "ж"]])
    assert not plan.ok
    assert plan.error_texts == ["В файле нет обязательного столбца «Дата рождения»."]


def test_two_columns_for_the_same_field_are_a_file_error(fresh_school):
    rows = [["Фамилия", "Имя", "Дата рождения", "ФИО матери", "Родитель 1 ФИО"]]
    assert preview(fresh_school, rows).error_texts == [
        "Столбцы «ФИО матери» и «Родитель 1 ФИО» означают одно и то же — оставьте один."
    ]


def test_file_without_a_header_is_refused(fresh_school):
    plan = preview(fresh_school, [["Орлова", "Вера", "01.01.2015"]])
    assert len(plan.errors) == 1
    assert plan.error_texts[0].startswith("Не найдена строка заголовков")


def test_one_full_name_column_stands_for_surname_and_name(fresh_school):
    plan = preview(fresh_school, [["ФИО", "Дата рождения"], ["Орлова  Вера", "01.01.2015"]])
    assert plan.ok, plan.error_texts
    assert (plan.students[0].last_name, plan.students[0].first_name) == ("Орлова", "Вера")


# --- row messages ---------------------------------------------------------------------------


def test_row_errors_are_russian_and_name_the_spreadsheet_row(fresh_school):
    rows = [
        ["Список 5А"],
        [],
        TEMPLATE_HEADERS,
        ["", "Борис", "", "01.01.2015"],  # row 4
        ["Орлова", "Вера", "", "01.01.2015", "ж"],  # row 5: fine
        [],
        ["Лебедев", "Глеб", "", "31.02.2015"],  # row 7
        ["Титова", "Яна", "", "", "девочка"],  # row 8
        ["Малова", "Ева", "", "01.01.2023"],  # row 9: three years old
        ["Жуков", "Лев", "", "01.01.2015", "", "Жукова Инна Львовна", "", "позвонить маме"],
        ["Зайцев", "Ян", "", "01.01.2015", "х", "", "мать", "+79170000000"],  # row 11
        ["Фомин", "Ян", "", "01.01.2015", "", "Фомина И.Л.", "тётка", "", "fomina@"],  # 12
    ]

    plan = preview(fresh_school, rows)

    assert not plan.ok
    assert plan.error_texts == [
        "Строка 4: не указана фамилия",
        "Строка 7: дата рождения «31.02.2015» — такой даты нет",
        "Строка 8: не указана дата рождения",
        "Строка 10: телефон родителя 1 «позвонить маме» — не похоже на номер телефона",
        "Строка 11: пол «х» — не понятно, укажите «м» или «ж»",
        "Строка 11: есть данные родителя 1, но не указаны его ФИО",
        "Строка 12: ФИО родителя 1 «Фомина И.Л.» — нужны полные имя и отчество, а не инициалы",
        "Строка 12: кем приходится родитель 1 «тётка» — не понятно, укажите: мать, отец, "
        "опекун, попечитель, бабушка, дедушка…",
        "Строка 12: e-mail родителя 1 «fomina@» — не похоже на адрес электронной почты",
    ]
    assert plan.warning_texts == ["Строка 9: возраст 3 года не подходит для 5 класса"]


def test_birth_date_in_the_future_is_an_error(fresh_school):
    plan = preview(fresh_school, [SHORT_HEADER, ["Орлова", "Вера", "02.09.2026"]])
    assert plan.error_texts == ["Строка 2: дата рождения «02.09.2026» — ещё не наступила"]


def test_duplicate_rows_inside_the_file_are_errors(fresh_school):
    again = ["ИВАНОВ", "Петр", "Сергеевич", "1.3.15"]  # case, ё and date form differ
    plan = preview(fresh_school, [TEMPLATE_HEADERS, CLASS_ROWS[0], CLASS_ROWS[3], again])
    assert plan.error_texts == [
        "Строка 4: ученик «ИВАНОВ Петр Сергеевич» повторяется (уже есть в строке 2)"
    ]


def test_same_person_as_both_parents_is_an_error(fresh_school):
    mother = ["Орлова Инна Львовна", "мать", "", ""]
    row = ["Орлова", "Вера", "", "01.01.2015", "", *mother, *mother]
    plan = preview(fresh_school, [TEMPLATE_HEADERS, row])
    assert plan.error_texts == [
        "Строка 2: родитель 1 и родитель 2 — один и тот же человек «Орлова Инна Львовна»"
    ]


def test_student_enrolled_in_another_class_this_year_must_be_transferred(fresh_school):
    vera = Person.create(last_name="Орлова", first_name="Вера", birth_date=dt.date(2015, 1, 1))
    Enrollment.create(student=vera, school_class=fresh_school.class_6b, starts=TODAY)
    plan = preview(fresh_school, [SHORT_HEADER, ["Орлова", "Вера", "01.01.2015"]])
    assert plan.error_texts == [
        "Строка 2: ученик «Орлова Вера» уже числится в классе 6Б — "
        "его нужно перевести, а не добавлять заново"
    ]


# --- parents --------------------------------------------------------------------------------


def test_siblings_share_one_parent(fresh_school):
    plan = preview(fresh_school, [TEMPLATE_HEADERS, *CLASS_ROWS])
    mother = [p for p in plan.parents if p.last_name == "Иванова"]
    assert len(mother) == 1 and mother[0].rows == [2, 3]
    assert "Строка 2: «Иванова Мария Петровна» — один родитель для учеников из строк 2, 3" in (
        plan.note_texts
    )

    apply_class_list(plan, user=None, ip="", today=TODAY)

    maria = Person.get(Person.last_name == "Иванова", Person.first_name == "Мария")
    assert maria.phone == "+79171234567" and maria.email == "ivanova@mail.ru"
    children = {link.student.first_name: link.relation for link in maria.children_links}
    assert children == {"Пётр": "мать", "Анна": "мать"}


def test_parents_without_phone_with_the_same_name_are_one_person(fresh_school):
    rows = [
        TEMPLATE_HEADERS,
        ["Орлова", "Вера", "", "01.01.2015", "", "Орлова Инна Львовна"],
        ["Орлов", "Глеб", "", "01.01.2015", "", "орлова  инна львовна"],
    ]
    plan = preview(fresh_school, rows)
    assert plan.ok and len(plan.parents) == 1 and len(plan.links) == 2


def test_same_name_with_different_phones_are_different_people_with_a_warning(fresh_school):
    rows = [
        TEMPLATE_HEADERS,
        ["Орлова", "Вера", "", "01.01.2015", "", "Орлова Инна Львовна", "", "+79170000001"],
        ["Орлов", "Глеб", "", "01.01.2015", "", "Орлова Инна Львовна", "", "+79170000002"],
    ]
    plan = preview(fresh_school, rows)
    assert plan.ok and len(plan.parents) == 2
    assert plan.warning_texts[0].startswith(
        "Строка 2: «Орлова Инна Львовна» указан(а) с разными телефонами в строках 2, 3"
    )


def test_existing_parent_with_same_name_and_phone_is_reused(fresh_school):
    maria = Person.create(
        last_name="Иванова", first_name="Мария", middle_name="Петровна", phone="8 917 123-45-67"
    )
    elder = Person.create(last_name="Иванов", first_name="Олег", birth_date=dt.date(2012, 1, 1))
    Guardian.create(parent=maria, student=elder, relation="мать")
    smirnov = Person.create(last_name="Смирнов", first_name="Игорь", middle_name="Олегович")
    Guardian.create(parent=smirnov, student=elder, relation="отец")

    plan = preview(fresh_school, [TEMPLATE_HEADERS, *CLASS_ROWS])

    assert plan.ok
    assert plan.counts["parents_existing"] == 1 and plan.counts["parents_new"] == 2
    assert (
        "Строка 2: родитель «Иванова Мария Петровна» (+79171234567) уже есть в базе — "
        "новая запись не создаётся, он(а) будет привязан(а) к ученику"
    ) in plan.note_texts
    assert plan.warning_texts == [
        "Строка 4: в базе уже есть «Смирнов Игорь Олегович» (телефона в файле нет, их не "
        "отличить) — будет создан новый человек; если это тот же родитель, укажите телефон, "
        "как в базе"
    ]

    result = apply_class_list(plan, user=None, ip="", today=TODAY)

    assert [p.id for p in result.parents_reused] == [maria.id]
    assert Person.select().where(Person.first_name == "Мария").count() == 1
    assert maria.children_links.count() == 3
    assert Person.get_by_id(maria.id).phone == "8 917 123-45-67"  # the import does not edit


# --- all or nothing ---------------------------------------------------------------------------


def test_file_with_one_bad_row_imports_nothing(fresh_school):
    rows = [TEMPLATE_HEADERS, *CLASS_ROWS, ["Орлова", "Вера", "", "32.01.2015"]]
    before = counts()
    plan = preview(fresh_school, rows)
    assert plan.error_texts == ["Строка 6: дата рождения «32.01.2015» — такой даты нет"]

    with pytest.raises(ImportRejected) as caught:
        apply_class_list(plan, user=None, ip="", today=TODAY)

    assert caught.value.errors == plan.error_texts
    assert counts() == before


def test_failure_in_the_middle_of_apply_leaves_nothing(fresh_school, monkeypatch):
    real_record = Recorder.record
    created = []

    def record(self, action, entity=None, **kwargs):
        if action == "person.create":
            created.append(entity)
            if len(created) == 3:
                raise RuntimeError("disk full")
        return real_record(self, action, entity, **kwargs)

    monkeypatch.setattr(Recorder, "record", record)
    plan = preview(fresh_school, [TEMPLATE_HEADERS, *CLASS_ROWS])
    assert plan.ok

    with pytest.raises(RuntimeError, match="disk full"):
        apply_class_list(plan, user=None, ip="", today=TODAY)

    assert len(created) == 3
    assert counts() == dict.fromkeys(counts(), 0)


def test_reimport_of_the_same_file_is_rejected_as_duplicates(fresh_school):
    rows = [TEMPLATE_HEADERS, *CLASS_ROWS]
    first, second = preview(fresh_school, rows), preview(fresh_school, rows)
    apply_class_list(first, user=None, ip="", today=TODAY)
    after_first = counts()

    again = preview(fresh_school, rows)
    assert again.error_texts == [
        f"Строка {n}: такой ученик уже есть в классе 5А" for n in (2, 3, 4, 5)
    ]
    # A preview made before the first import is checked again when applied.
    assert second.ok
    with pytest.raises(ImportRejected, match="Строка 2: такой ученик уже есть в классе 5А"):
        apply_class_list(second, user=None, ip="", today=TODAY)
    assert counts() == after_first


def test_closed_class_takes_no_import(fresh_school):
    fresh_school.class_5a.closed = True
    fresh_school.class_5a.save()
    plan = preview(fresh_school, [TEMPLATE_HEADERS, *CLASS_ROWS])
    assert plan.error_texts == ["Класс 5А закрыт для изменений."]


# --- templates --------------------------------------------------------------------------------


def test_xlsx_template_round_trips(fresh_school):
    book = load_workbook(io.BytesIO(template_xlsx()))
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == TEMPLATE_HEADERS
    for row in CLASS_ROWS:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)

    plan = preview(fresh_school, read_table("шаблон.xlsx", out.getvalue()))

    assert plan.ok, plan.error_texts
    assert plan.counts["students"] == 4
    apply_class_list(plan, user=None, ip="", today=TODAY)
    assert Enrollment.select().count() == 4


def test_csv_template_round_trips(fresh_school):
    text = template_csv().decode("utf-8-sig")
    assert text == ";".join(TEMPLATE_HEADERS) + "\r\n"
    filled = text + csv_bytes(CLASS_ROWS, encoding="utf-8", delimiter=";").decode()

    plan = preview(fresh_school, read_table("шаблон.csv", filled.encode("utf-8-sig")))

    assert plan.ok, plan.error_texts
    assert plan.counts["students"] == 4


def test_empty_template_says_there_are_no_students(fresh_school):
    plan = preview(fresh_school, read_table("t.xlsx", template_xlsx()))
    assert plan.error_texts == ["В файле нет ни одного ученика."]


# --- cell parsers -------------------------------------------------------------------------------


@given(
    number=st.from_regex(r"[3-9][0-9]{9}", fullmatch=True),
    prefix=st.sampled_from(["+7", "8", "7", ""]),
    style=st.sampled_from(["plain", "spaces", "dashes", "brackets"]),
)
def test_phone_in_any_common_writing_becomes_plus_seven(number, prefix, style):
    code, a, b, c = number[:3], number[3:6], number[6:8], number[8:]
    written = {
        "plain": f"{prefix}{number}",
        "spaces": f"{prefix} {code} {a} {b} {c}",
        "dashes": f"{prefix}-{code}-{a}-{b}-{c}",
        "brackets": f"{prefix} ({code}) {a}-{b}-{c}",
    }[style]
    assert parse_phone(written) == "+7" + number


@pytest.mark.parametrize(
    "garbage",
    ["позвонить маме", "12345", "+7 917 123 45 67 8", "+8 917 123 45 67", "0171234567",
     "8 917 123 45 67, 8 927 000 00 00", "+7 917 12З-45-67", "+9171234567"],
)  # fmt: skip
def test_phone_garbage_is_refused(garbage):
    with pytest.raises(CellError):
        parse_phone(garbage)


@given(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2030, 12, 31)))
def test_birth_date_in_every_accepted_form_reads_back(day):
    forms = [
        f"{day:%d.%m.%Y}",
        f"{day.day}.{day.month}.{day.year}",
        f"{day:%Y-%m-%d}",
        f"{day:%d/%m/%Y}",
        str((day - dt.date(1899, 12, 30)).days),  # an Excel serial number
    ]
    if day.year >= 2000:
        forms.append(f"{day.day}.{day.month}.{day:%y}")
    for text in forms:
        assert parse_date(text) == day, text


@pytest.mark.parametrize(
    ("text", "reason"),
    [("31.02.2015", "такой даты нет"), ("29.02.2015", "такой даты нет"),
     ("2015", "не похоже на дату"), ("первое мая", "не похоже на дату")],
)  # fmt: skip
def test_impossible_dates_are_refused(text, reason):
    with pytest.raises(CellError, match=reason):
        parse_date(text)


def test_gender_email_and_full_name_parsers():
    assert [parse_gender(g) for g in ("м", "Муж.", "МУЖСКОЙ", "ж", "жен", "Женский")] == [
        "м",
        "м",
        "м",
        "ж",
        "ж",
        "ж",
    ]
    assert parse_email(" Ivan.Petrov@Mail.RU ") == "Ivan.Petrov@mail.ru"
    for bad in ("ivan", "ivan@mail", "ivan@@mail.ru", "ivan petrov@mail.ru", "a@b..ru"):
        with pytest.raises(CellError):
            parse_email(bad)
    assert parse_full_name("Алиев Рашид Гасан оглы") == ("Алиев", "Рашид", "Гасан оглы")
    assert parse_full_name("Петрова-Водкина  Анна") == ("Петрова-Водкина", "Анна", "")
    for bad in ("Петрова", "Петрова А. В.", "Петрова 2 Анна"):
        with pytest.raises(CellError):
            parse_full_name(bad)


def test_staff_and_students_are_never_adopted_as_parents(fresh_school):
    """A class list must not link the admin (or any colleague) as a parent: the class
    teacher could then reset their password from the class page."""
    admin = Person.create(
        last_name="Иванова",
        first_name="Мария",
        middle_name="Петровна",
        phone="+79171234567",
        is_staff=True,
    )
    plan = preview(fresh_school, [TEMPLATE_HEADERS, *CLASS_ROWS])
    assert plan.ok and plan.counts["parents_existing"] == 0
    result = apply_class_list(plan, user=None, ip="", today=TODAY)
    assert admin.id not in {p.id for p in result.parents_created + result.parents_reused}
    assert not Guardian.select().where(Guardian.parent == admin).exists()
