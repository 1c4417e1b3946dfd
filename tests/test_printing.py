"""The printed class journal and summary sheet: content, numbering, PDF/A-3b, pieces, page.

veraPDF is not available on the box, so the PDF/A-3b markers are checked with pypdf:
one XMP stream with pdfaid part 3 conformance B, one sRGB OutputIntent, every font
embedded, the data attached as associated files (EmbeddedFiles + AF).
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from pypdf import PdfReader
from pypdf.generic import IndirectObject

from appliance import jobs
from appliance.backup import (
    print_data,
    print_tasks,  # noqa: F401  (registers the print.* jobs)
    print_words,
    printing,
)
from appliance.backup.print_export import csv_rows, export_class_data
from appliance.db import write
from appliance.models import (
    Assignment,
    Attendance,
    AuditEntry,
    Job,
    Lesson,
    Mark,
    PeriodMark,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    WorkType,
)

from .factories import PASSWORD


@pytest.fixture
def journal(school):
    """The test school's 5А with a held maths lesson: a topic, a weighted mark, an absence
    and period marks; returns the lesson."""
    school.add_planning()
    first_term = school.planning["terms"][0]
    ivanov, petrova, _ = school.students["5А"]
    with write():
        work = WorkType.create(name="Контрольная работа", short_name="К/р", weight=3)
        lesson = Lesson.create(
            group=school.group,
            date=first_term.starts + dt.timedelta(days=1),
            number=2,
            state="held",
            topic="Натуральные числа и шкалы",
            homework="№ 15, 17 на стр. 8",
            teacher=school.users["teacher"].person,
        )
        assignment = Assignment.create(lesson=lesson, work_type=work, weight=3)
        Mark.create(assignment=assignment, student=ivanov, value="5")
        Attendance.create(lesson=lesson, student=petrova, code="Б")
        PeriodMark.create(
            group=school.group, student=ivanov, kind="term", term=first_term, value="5"
        )
        PeriodMark.create(group=school.group, student=ivanov, kind="year", value="4")
        PeriodMark.create(group=school.group, student=petrova, kind="year", value="н/а")
    return lesson


def texts(reader: PdfReader) -> list[str]:
    return [page.extract_text() for page in reader.pages]


def catalog(reader: PdfReader):
    return reader.trailer["/Root"]


def fonts_without_file(reader: PdfReader) -> list[str]:
    """Names of fonts used on any page whose program is not embedded."""
    missing = []
    for number, page in enumerate(reader.pages, 1):
        fonts = page["/Resources"].get("/Font", {})
        for name, ref in fonts.items():
            font = ref.get_object()
            descendants = font.get("/DescendantFonts")
            target = descendants[0].get_object() if descendants else font
            descriptor = target["/FontDescriptor"].get_object()
            if not any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                missing.append(f"page {number} {name}")
    return missing


def assert_pdfa_3b(reader: PdfReader) -> None:
    root = catalog(reader)
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    assert xmp.count("pdfaid:part") == 1
    [intent] = root["/OutputIntents"]
    intent = intent.get_object()
    assert intent["/S"] == "/GTS_PDFA1" and "/DestOutputProfile" in intent
    assert reader.pdf_header.startswith("%PDF-1.7")
    assert reader.trailer.get("/ID")
    assert fonts_without_file(reader) == []
    # Info and XMP agree on the producer (PDF/A needs them consistent)
    producer = reader.metadata.get("/Producer")
    assert producer and producer in xmp


def attached(reader: PdfReader) -> dict[str, bytes]:
    return {name: data[0] for name, data in reader.attachments.items()}


def associated(reader: PdfReader) -> dict[str, str]:
    """Attached file name → its AFRelationship, from the catalog's AF array."""
    found = {}
    for ref in catalog(reader)["/AF"]:
        spec = ref.get_object() if isinstance(ref, IndirectObject) else ref
        found[str(spec["/UF"])] = str(spec["/AFRelationship"])
    return found


# --- the journal ------------------------------------------------------------------------


def test_journal_prints_marks_absences_topics_and_period_marks(school, journal, tmp_path):
    out = tmp_path / "journal.pdf"
    cls = school.classes["5А"]
    pages = printing.journal_pdf(cls, school.year, out)  # pieces in a child process

    reader = PdfReader(out)
    assert pages == len(reader.pages) >= 5
    text = texts(reader)
    title, grid = text[0], "\n".join(text)
    assert "Классный журнал" in title and "5А класс" in title
    assert "Кузнецов Андрей Павлович" in title  # the class teacher
    assert "Математика" in grid and re.search(r"К/р\s*×3", grid)  # work type, weight
    assert re.search(r"Иванов Пётр\s+5", grid)  # the mark in his row
    assert re.search(r"Петрова Анна\s+Б", grid)  # the absence code in hers
    assert "Натуральные числа и шкалы" in grid and "№ 15, 17 на стр. 8" in grid
    periods = next(t for t in text if "отметки за учебные периоды" in t)
    assert "1 четверть" in periods and "год" in periods
    assert re.search(r"Иванов Пётр\s+5\s+4", periods)
    assert re.search(r"Петрова Анна\s+н/а", periods)


def test_journal_sheets_are_numbered_straight_through_to_the_closing_sheet(
    school, journal, tmp_path
):
    out = tmp_path / "journal.pdf"
    pages = printing.journal_pdf(school.classes["5А"], school.year, out, in_process=True)
    text = texts(PdfReader(out))
    assert "Лист" not in text[0]  # the title page counts but shows no number
    for number, page in enumerate(text[1:], 2):
        assert re.search(rf"Лист {number}\b", page), (number, page)
    closing = text[-1]
    assert f"скреплено печатью {pages} ({print_words.number_words(pages)})" in closing
    assert "Директор" in closing and "Орлова Марина Ивановна" in closing and "М. П." in closing


def test_journal_is_pdfa_3b_with_its_data_attached(school, journal, tmp_path):
    out = tmp_path / "journal.pdf"
    printing.journal_pdf(school.classes["5А"], school.year, out, in_process=True)
    reader = PdfReader(out)
    assert_pdfa_3b(reader)
    files = attached(reader)
    assert set(files) == {
        "lessons.csv",
        "marks.csv",
        "attendance.csv",
        "period_marks.csv",
        "journal.json",
    }
    assert set(associated(reader).values()) == {"/Data"}
    expected = export_class_data(school.classes["5А"], school.year, tmp_path / "x", "journal")
    marks = next(p for p in expected if p.name == "marks.csv")
    assert files["marks.csv"] == marks.read_bytes()
    data = json.loads(files["journal.json"])
    assert [m["value"] for m in data["marks"]] == ["5"]


def test_every_piece_of_a_joined_journal_keeps_its_fonts(school, journal, tmp_path, monkeypatch):
    """Many small pieces joined: still one catalog, one XMP, fonts embedded on every page."""
    monkeypatch.setattr(printing, "TOPIC_ROWS_PER_PIECE", 1)
    _add_lessons(school, 6)
    out = tmp_path / "journal.pdf"
    pages = printing.journal_pdf(school.classes["5А"], school.year, out, in_process=True)
    reader = PdfReader(out)
    assert len(reader.pages) == pages
    assert_pdfa_3b(reader)
    assert len(attached(reader)) == 5


def test_a_class_without_lessons_still_prints_a_sensible_journal(school, tmp_path):
    cls = school.classes["5Б"]
    with write():
        group = SubjectGroup.create(
            year=school.year, school_class=cls, subject=Subject.get(Subject.name == "Математика")
        )
        for student in school.students["5Б"]:
            SubjectGroupStudent.create(group=group, student=student, starts=school.year.starts)
    out = tmp_path / "empty.pdf"
    pages = printing.journal_pdf(cls, school.year, out, in_process=True)
    text = texts(PdfReader(out))
    assert pages == len(text) == 3  # title, the subject's period marks, the closing sheet
    assert "5Б класс" in text[0] and "Предметы: Математика" in text[0]
    assert "Уроков по предмету на дату печати ещё не было" in text[1]
    assert re.search(r"Уроков на дату печати \(\d\d\.\d\d\.\d{4}\): 0", text[1])
    assert "Фёдоров Глеб" in text[1]
    assert "скреплено печатью 3 (три) листа" in text[2]


def test_a_class_without_subjects_prints_title_closing_and_an_empty_summary(school, tmp_path):
    cls = school.classes["5Б"]
    out = tmp_path / "bare.pdf"
    assert printing.journal_pdf(cls, school.year, out, in_process=True) == 2
    title, closing = texts(PdfReader(out))
    assert "Обучающихся: 2" in title and "Предметы: нет" in title
    assert "скреплено печатью 2 (два) листа" in closing
    summary = tmp_path / "summary.pdf"
    assert printing.summary_pdf(cls, school.year, summary, in_process=True) == 2
    sheet, closing = texts(PdfReader(summary))
    assert "Андреева Вера" in sheet and "Лист 1 из 2" in sheet
    assert "скреплено печатью 2 (два) листа" in closing and "Лист 2 из 2" in closing


def test_a_class_of_another_year_is_refused(school, tmp_path):
    from appliance.models import AcademicYear

    with write():
        other = AcademicYear.create(
            name="2010/2011", starts=dt.date(2010, 9, 1), ends=dt.date(2011, 8, 31)
        )
    with pytest.raises(printing.PrintError, match="другому учебному году"):
        printing.journal_pdf(school.classes["5А"], other, tmp_path / "x.pdf", in_process=True)


def _add_lessons(school, count: int) -> None:
    """`count` held lessons on school days from the year's start, each with a mark."""
    work = WorkType.get_or_create(name="Ответ на уроке", defaults={"short_name": "Отв"})[0]
    ivanov = school.students["5А"][0]
    day, added = school.year.starts, 0
    with write():
        while added < count:
            if day.isoweekday() <= 5:
                lesson = Lesson.create(
                    group=school.group, date=day, number=3, state="held", topic=f"Тема {added}"
                )
                assignment = Assignment.create(lesson=lesson, work_type=work, weight=1)
                Mark.create(assignment=assignment, student=ivanov, value="4")
                added += 1
            day += dt.timedelta(days=1)


def test_a_big_subject_is_split_into_several_bounded_pieces(school, monkeypatch, tmp_path):
    """A subject's year never goes to WeasyPrint at once: months and topic rows in pieces."""
    monkeypatch.setattr(print_data, "COLUMNS_PER_PAGE", 10)
    monkeypatch.setattr(printing, "MAX_GRID_PAGES_PER_PIECE", 3)
    monkeypatch.setattr(printing, "TOPIC_ROWS_PER_PIECE", 20)
    _add_lessons(school, 70)  # 14 weeks: September to early December
    cls = school.classes["5А"]
    until = school.year.starts + dt.timedelta(days=120)
    plan = printing.journal_plan(cls, school.year, until)
    grid = [p for p in plan if p.kind == "grid"]
    topics = [p for p in plan if p.kind == "topics"]
    assert len(grid) >= 3 and len(topics) == 4
    assert [p.first_row for p in topics] == [1, 21, 41, 61]
    assert [p.periods for p in topics] == [False, False, False, True]
    months = [m for p in grid for m in p.months]
    assert len(months) == len(set(months))  # each month printed once
    for piece in grid:  # 2 columns a lesson (mark, attendance), 10 columns a page
        columns = sum(print_data.lesson_months(school.group, *m)[m[0]] for m in piece.months)
        assert columns / 10 <= 3 or len(piece.months) == 1

    out = tmp_path / "big.pdf"
    pages = printing.journal_pdf(cls, school.year, out, in_process=True, until=until)
    text = texts(PdfReader(out))
    assert pages == len(text) > len(plan)
    for number, page in enumerate(text[1:], 2):  # continuous across every piece
        assert re.search(rf"Лист {number}\b", page), number
    assert "Тема 69" in "\n".join(text)


def test_grid_pages_split_months_by_columns_and_students(school, monkeypatch):
    monkeypatch.setattr(print_data, "COLUMNS_PER_PAGE", 6)
    monkeypatch.setattr(print_data, "ROWS_PER_PAGE", 2)
    _add_lessons(school, 5)
    starts = school.year.starts
    pages = list(print_data.grid_pages(school.group, starts, starts + dt.timedelta(days=29)))
    # 5 lessons × 2 columns = 10 → 2 column slices (a lesson never cut); 3 students → 2 parts
    assert len(pages) == 4
    assert [len(p.heads) for p in pages] == [6, 6, 4, 4]
    assert [[row[0] for row in p.rows] for p in pages] == [[1, 2], [3], [1, 2], [3]]
    assert pages[0].part == "лист 1 из 4"
    assert pages[0].heads[0].span == 2 and pages[0].heads[1].span == 0


def test_number_words_for_the_closing_sheet():
    assert print_words.number_words(1) == "один"
    assert print_words.number_words(3) == "три"
    assert print_words.number_words(21) == "двадцать один"
    assert print_words.number_words(112) == "сто двенадцать"
    assert print_words.number_words(245) == "двести сорок пять"
    assert print_words.number_words(1000) == "одна тысяча"
    assert print_words.number_words(2011) == "две тысячи одиннадцать"
    assert [print_words.sheets_word(n) for n in (1, 3, 5, 11, 22)] == [
        "лист",
        "листа",
        "листов",
        "листов",
        "листа",
    ]


# --- open data -----------------------------------------------------------------------------


def test_exported_csv_opens_in_excel_and_matches_the_json(school, journal, tmp_path):
    paths = export_class_data(school.classes["5А"], school.year, tmp_path, "journal")
    assert [p.name for p in paths] == [
        "lessons.csv",
        "marks.csv",
        "attendance.csv",
        "period_marks.csv",
        "journal.json",
    ]
    marks = tmp_path / "marks.csv"
    assert marks.read_bytes().startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    rows = csv_rows(marks)
    assert rows[0][:3] == ["ID урока", "Предмет", "Дата"]
    [row] = rows[1:]
    assert row[4:6] == ["Контрольная работа", "3"] and row[-2] == "5"
    assert row[2] == journal.date.strftime("%d.%m.%Y")
    absences = csv_rows(tmp_path / "attendance.csv")[1:]
    assert [(r[5], r[6]) for r in absences] == [("Петрова Анна", "Б")]
    data = json.loads((tmp_path / "journal.json").read_text(encoding="utf-8"))
    assert data["class"] == "5А" and data["year"] == school.year.name
    assert data["marks"][0]["date"] == journal.date.isoformat()
    assert len(data["lessons"]) == len(csv_rows(tmp_path / "lessons.csv")) - 1
    periods = {(r["student"], r["period"]): r["value"] for r in data["period_marks"]}
    assert periods[("Иванов Пётр", "1 четверть")] == "5"
    assert periods[("Петрова Анна", "год")] == "н/а"


def test_unknown_export_kind_is_refused(school, tmp_path):
    from appliance.backup.print_export import ExportError

    with pytest.raises(ExportError):
        export_class_data(school.classes["5А"], school.year, tmp_path, "everything")


# --- the summary sheet ---------------------------------------------------------------------


def test_summary_sheet_is_pdfa_with_the_marks_and_its_data(school, journal, tmp_path):
    out = tmp_path / "summary.pdf"
    pages = printing.summary_pdf(school.classes["5А"], school.year, out, in_process=True)
    reader = PdfReader(out)
    assert pages == len(reader.pages) == 2  # the sheet and its closing sheet
    text, closing = texts(reader)
    assert "Сводная ведомость учёта успеваемости" in text and "Математика" in text
    assert re.search(r"Иванов Пётр\s+5(\s+)+4", text)
    assert "Лист 1 из 2" in text and "Классный руководитель" in text
    assert "Пронумеровано, прошнуровано и скреплено печатью 2 (два) листа" in closing
    assert "Сводная ведомость учёта успеваемости: 5А класс" in closing
    assert "Орлова Марина Ивановна" in closing and "Лист 2 из 2" in closing
    assert_pdfa_3b(reader)
    files = attached(reader)
    assert set(files) == {"summary.csv", "summary.json"}
    rows = [r for r in csv_rows_from(files["summary.csv"]) if r[1] == "Иванов Пётр"]
    assert ["Математика", "год", "4"] in [r[3:] for r in rows]


def csv_rows_from(data: bytes) -> list[list[str]]:
    import csv
    import io

    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def test_summary_pages_keep_every_subject_of_a_student(school, monkeypatch):
    from appliance.reports.summary import build

    monkeypatch.setattr(printing, "SUMMARY_ROWS_PER_PAGE", 2)
    pages = printing.summary_pages(build(school.classes["5А"], school.year))
    assert [len(p.students) for p in pages] == [2, 1]
    assert pages[0].first and pages[-1].last and not pages[1].first


# --- the page and the job ------------------------------------------------------------------


def test_deputy_queues_a_journal_and_gets_the_pdf(app, browser, school, journal, settings):
    browser.login("belova.os", PASSWORD)
    page = browser.get("/print/").get_data(as_text=True)
    cls = school.classes["5А"]
    assert "5А" in page and f"/print/classes/{cls.id}" in page
    response = browser.post(f"/print/classes/{cls.id}", {"document": "journal"}, "/print/")
    assert response.status_code == 302
    job = Job.get(Job.kind == "print.journal")
    assert response.headers["Location"].endswith(f"/jobs/{job.id}")
    assert json.loads(job.params) == {"class_id": cls.id}
    entry = AuditEntry.select().where(AuditEntry.action == "report.print").get()
    assert entry.entity_uuid == cls.uuid
    jobs.run_pending(settings)
    job = Job.get_by_id(job.id)
    assert job.state == "done", job.message
    assert job.result_file.endswith(f"журнал-5А-{school.year.name.replace('/', '-')}.pdf")
    pdf = (settings.data_dir / job.result_file).read_bytes()
    assert pdf.startswith(b"%PDF-1.7")
    with browser.get(f"/jobs/{job.id}/file") as download:  # closes the sent file
        assert download.status_code == 200 and download.data == pdf
    assert "Классный журнал 5А" in browser.get("/print/").get_data(as_text=True)


def test_summary_job_prints_the_summary_sheet(app, browser, school, journal, settings):
    browser.login("orlova.mi", PASSWORD)
    cls = school.classes["5А"]
    assert browser.post(f"/print/classes/{cls.id}", {"document": "summary"}).status_code == 302
    [job] = jobs.run_pending(settings)
    assert job.state == "done" and "сводная-ведомость-5А" in job.result_file


def test_an_empty_post_queues_nothing(app, browser, school):
    browser.login("belova.os", PASSWORD)
    response = browser.post(f"/print/classes/{school.classes['5А'].id}", {}, "/print/")
    assert response.status_code == 400
    assert "Выберите, что напечатать" in response.get_data(as_text=True)
    assert Job.select().count() == 0


def test_an_unknown_class_is_not_found(app, browser, school):
    browser.login("belova.os", PASSWORD)
    assert browser.post("/print/classes/99999", {"document": "journal"}).status_code == 404
    assert browser.get("/print/?year=99999").status_code == 404


def test_inspector_sees_the_page_but_cannot_print(app, browser, school):
    browser.login("titov.pa", PASSWORD)
    page = browser.get("/print/")
    assert page.status_code == 200
    assert "/print/classes/" not in page.get_data(as_text=True)
    cls = school.classes["5А"]
    assert browser.post(f"/print/classes/{cls.id}", {"document": "journal"}).status_code == 403
    assert Job.select().count() == 0


@pytest.mark.parametrize("username", ["smirnova.ev", "zaytsev.io", "ivanov.p", "ivanova.m"])
def test_others_cannot_open_the_print_page(app, browser, school, username):
    browser.login(username, PASSWORD)
    assert browser.get("/print/").status_code == 403


def test_past_year_is_chosen_by_the_query(app, browser, school):
    from appliance.models import AcademicYear, SchoolClass

    with write():
        old = AcademicYear.create(
            name="2020/2021", starts=dt.date(2020, 9, 1), ends=dt.date(2021, 8, 31)
        )
        SchoolClass.create(year=old, grade=4, letter="В")
    browser.login("belova.os", PASSWORD)
    page = browser.get(f"/print/?year={old.id}").get_data(as_text=True)
    assert "Классы 2020/2021" in page and "4В" in page and "5А" not in page


def test_print_job_of_a_deleted_class_fails_plainly(school, settings):
    with write():
        job = jobs.enqueue("print.journal", {"class_id": 424242})
    [done] = jobs.run_pending(settings)
    assert done.id == job.id and done.state == "failed"
    assert "Класс не найден" in done.message


@pytest.mark.parametrize("role", ["director", "deputy", "inspector", "teacher", "class_teacher"])
def test_print_routes_obey_the_matrix_with_an_empty_post(app, browser, school, role):
    """As the access walk does: allowed roles get 200/400, others 403; nothing is queued."""
    from appliance import access

    from .factories import ROLE_ACCOUNTS

    browser.login(ROLE_ACCOUNTS[role], PASSWORD)
    if role == "class_teacher":
        browser.switch_role(school.role_key("class_teacher"))
    reads = role in access.MATRIX["reports"]["read"]
    writes = role in access.MATRIX["reports"]["write"]
    assert browser.get("/print/").status_code == (200 if reads else 403)
    cls = school.classes["5А"]
    status = browser.post(f"/print/classes/{cls.id}", {}).status_code
    assert status == (400 if writes else 403)
    assert Job.select().count() == 0


# --- review fixes: the page width, fonts, data, the child ------------------------------------


LONG_NAME = ("Константинопольская-Вышневолоцкая", "Александр", "Константинович")


def _laid_out(html: str):
    from weasyprint import HTML

    from appliance.pdf import local_fetcher

    return HTML(string=html, url_fetcher=local_fetcher()).render()


def _many_subjects(school, count: int) -> list[SubjectGroup]:
    """`count` more subject groups of 5А with long names, every student in each."""
    groups = []
    with write():
        for n in range(count):
            subject = Subject.create(
                name=f"Изобразительное искусство и художественный труд {n + 1}", sort_order=10 + n
            )
            group = SubjectGroup.create(
                year=school.year, school_class=school.classes["5А"], subject=subject
            )
            for student in school.students["5А"]:
                SubjectGroupStudent.create(group=group, student=student, starts=school.year.starts)
            groups.append(group)
    return groups


def test_a_table_past_the_page_fails_the_print_in_russian(tmp_path):
    from appliance.pdf import LayoutError, cells_past_the_edge, write_pdfa

    wide = "<table><tr>" + "<td>" + "Ш" * 400 + "</td>" * 1 + "</tr></table>"
    html = f"<html><head><style>@page {{ size: A4 landscape }}</style></head><body>{wide}"
    assert cells_past_the_edge(_laid_out(html))
    with pytest.raises(LayoutError, match="не помещается на страницу"):
        write_pdfa(html, tmp_path / "wide.pdf", check_fit=True)
    assert not (tmp_path / "wide.pdf").exists()
    assert write_pdfa("<p>узко</p>", tmp_path / "narrow.pdf", check_fit=True) == 1


def test_summary_of_many_subjects_stays_on_the_paper(school, journal, tmp_path):
    """16 subjects × 5 periods: cut by width, every cell inside the page's content box."""
    from appliance.backup.print_frame import document_frame, render
    from appliance.pdf import cells_past_the_edge
    from appliance.reports.summary import build

    _many_subjects(school, 15)
    with write():
        student = school.students["5А"][0]
        student.last_name, student.first_name, student.middle_name = LONG_NAME
        student.save()
    cls = school.classes["5А"]
    sheet = build(cls, school.year)
    assert len(sheet.subjects) == 16 and len(sheet.periods) == 5
    pages = printing.summary_pages(sheet)
    assert all(len(p.subjects) * 5 <= printing.SUMMARY_MARK_COLUMNS for p in pages)
    html = render(
        "print/summary.html",
        **document_frame(cls, school.year, "Сводная ведомость"),
        first_page=1,
        pages=pages,
        sheet=sheet,
        periods=sheet.periods,
        legend="",
    )
    assert cells_past_the_edge(_laid_out(html)) == []

    out = tmp_path / "summary.pdf"
    total = printing.summary_pdf(cls, school.year, out, in_process=True)
    text = texts(PdfReader(out))
    assert total == len(text) == len(pages) + 1
    joined = re.sub(r"[\s\u00ad\u2010-]+", "", "\n".join(text))
    for n in range(1, 16):  # every subject printed, its header wrapped inside its columns
        assert f"художественныйтруд{n}" in joined
    assert "КонстантинопольскаяВышневолоцкаяАлександр" in joined
    for number, page in enumerate(text, 1):
        assert f"Лист {number} из {total}" in page


def test_summary_that_cannot_fit_fails_the_job_in_russian(school, journal, settings, monkeypatch):
    """Forced past the page (75 columns), the job fails plainly instead of a cut sheet."""
    monkeypatch.setattr(printing, "SUMMARY_MARK_COLUMNS", 200)
    _many_subjects(school, 15)
    with write():
        jobs.enqueue(print_tasks.SUMMARY_JOB, {"class_id": school.classes["5А"].id})
    [job] = jobs.run_pending(settings)
    assert job.state == "failed" and "не помещается на страницу" in job.message


def test_a_long_name_does_not_push_the_grid_off_the_page(school, tmp_path):
    _add_lessons(school, 20)  # 40 columns in September: a full 30-column page
    with write():
        student = school.students["5А"][0]
        student.last_name, student.first_name, student.middle_name = LONG_NAME
        student.save()
    starts = school.year.starts
    group = school.group
    pages = list(print_data.grid_pages(group, starts, starts + dt.timedelta(days=29)))
    assert len(pages[0].heads) == print_data.COLUMNS_PER_PAGE
    assert pages[0].rows[0][1] == "Константинопольская-Вышневолоцкая Александр К."
    from appliance.backup.print_frame import document_frame, render

    html = render(
        "print/journal_grid.html",
        **document_frame(school.classes["5А"], school.year, "Классный журнал"),
        first_page=2,
        pages=pages,
        legend="",
    )
    from appliance.pdf import cells_past_the_edge

    assert cells_past_the_edge(_laid_out(html)) == []
    out = tmp_path / "journal.pdf"
    until = starts + dt.timedelta(days=40)
    printing.journal_pdf(school.classes["5А"], school.year, out, in_process=True, until=until)
    grid = "\n".join(t for t in texts(PdfReader(out)) if "Ученик" in t)
    assert "Вышневолоцкая" in re.sub(r"[\s\u00ad\u2010]+", "", grid)


def test_a_long_link_in_the_homework_wraps_instead_of_failing_the_print(school, journal, tmp_path):
    link = "https://resh.edu.ru/subject/lesson/" + "7731/main/" * 20 + "?" + "x" * 80
    with write():
        journal.homework = link
        journal.topic = "Натуральные" * 20
        journal.save()
    out = tmp_path / "journal.pdf"
    printing.journal_pdf(school.classes["5А"], school.year, out, in_process=True)
    assert "resh.edu.ru" in "\n".join(texts(PdfReader(out)))


def test_summary_sheet_numbers_come_from_the_rendered_pages(school, tmp_path, monkeypatch):
    """45 rows planned on one page run onto a second: every sheet still reads «из 3»."""
    from appliance.models import Enrollment, Person
    from appliance.reports.summary import build

    cls = school.classes["5Б"]
    with write():
        for n in range(45):
            person = Person.create(last_name=f"Ученикова{n}", first_name="Мария")
            Enrollment.create(student=person, school_class=cls, starts=school.year.starts)
    monkeypatch.setattr(printing, "SUMMARY_ROWS_PER_PAGE", 100)
    assert len(printing.summary_pages(build(cls))) == 1  # planned: one page
    out = tmp_path / "summary.pdf"
    assert printing.summary_pdf(cls, school.year, out, in_process=True) == 3
    text = texts(PdfReader(out))
    for number, page in enumerate(text, 1):
        assert f"Лист {number} из 3" in page, number
    assert "скреплено печатью 3 (три) листа" in text[-1]


def font_programs(reader: PdfReader) -> dict[str, set[str]]:
    """BaseFont name → digests of the font programs embedded under that name."""
    import hashlib

    found: dict[str, set[str]] = {}
    for page in reader.pages:
        for ref in page["/Resources"].get("/Font", {}).values():
            font = ref.get_object()
            descendants = font.get("/DescendantFonts")
            holder = descendants[0].get_object() if descendants else font
            descriptor = holder["/FontDescriptor"].get_object()
            key = next(k for k in ("/FontFile2", "/FontFile3", "/FontFile") if k in descriptor)
            data = descriptor[key].get_object().get_data()
            name = str(font["/BaseFont"])
            assert str(descriptor["/FontName"]) == name
            found.setdefault(name, set()).add(hashlib.sha256(data).hexdigest())
    return found


def test_joined_pieces_never_share_a_subset_tag_between_font_programs(
    school, journal, tmp_path, monkeypatch
):
    monkeypatch.setattr(printing, "TOPIC_ROWS_PER_PIECE", 2)
    _add_lessons(school, 6)
    out = tmp_path / "journal.pdf"
    printing.journal_pdf(school.classes["5А"], school.year, out, in_process=True)
    programs = font_programs(PdfReader(out))
    for name, digests in programs.items():
        assert len(digests) == 1, name  # one tag, one program (ISO 32000-1 §9.6.4)
        assert re.fullmatch(r"/[A-Z]{6}\+\S+", name), name
    assert len(programs) > 2  # several pieces, several subsets, each its own name


def test_the_joined_file_has_one_af_entry_a_file_and_an_outline(
    school, journal, tmp_path, monkeypatch
):
    monkeypatch.setattr(printing, "TOPIC_ROWS_PER_PIECE", 1)
    _add_lessons(school, 3)
    out = tmp_path / "journal.pdf"
    pages = printing.journal_pdf(school.classes["5А"], school.year, out, in_process=True)
    reader = PdfReader(out)
    refs = [ref.idnum for ref in catalog(reader)["/AF"]]
    assert len(refs) == len(set(refs)) == 5
    outline = [(item.title, reader.get_destination_page_number(item)) for item in reader.outline]
    assert outline[0] == ("Титульный лист", 0)
    assert ("Математика", 1) in outline
    assert outline[-1] == (printing.CLOSING_BOOKMARK, pages - 1)


def test_exported_csv_cannot_run_a_formula_but_the_json_keeps_the_text(school, journal, tmp_path):
    with write():
        journal.topic = '=HYPERLINK("http://evil";"x")'
        journal.homework = "@SUM(1)"
        journal.save()
        pupil = school.students["5А"][1]
        pupil.last_name = "+Петрова"
        pupil.save()
    export_class_data(school.classes["5А"], school.year, tmp_path, "journal")
    [lesson] = [r for r in csv_rows(tmp_path / "lessons.csv")[1:] if r[0] == str(journal.uuid)]
    assert lesson[5] == '\'=HYPERLINK("http://evil";"x")' and lesson[6] == "'@SUM(1)"
    [absence] = csv_rows(tmp_path / "attendance.csv")[1:]
    assert absence[5] == "'+Петрова Анна"
    data = json.loads((tmp_path / "journal.json").read_text(encoding="utf-8"))
    assert data["lessons"][0]["topic"].startswith("=HYPERLINK")
    assert data["attendance"][0]["student"] == "+Петрова Анна"


def test_attached_data_is_what_the_journal_prints(school, journal, tmp_path):
    """The print date's span, and marks/absences only on days the student was in the group."""
    ivanov, petrova, sidorov = school.students["5А"]
    until = journal.date + dt.timedelta(days=3)
    with write():
        later = Lesson.create(
            group=school.group,
            date=until + dt.timedelta(days=1),
            number=1,
            state="held",
            topic="После даты печати",
        )
        Attendance.create(lesson=later, student=ivanov, code="Н")
        # Сидоров left the group before the lesson: his stray mark is not on paper.
        link = SubjectGroupStudent.get(
            (SubjectGroupStudent.group == school.group) & (SubjectGroupStudent.student == sidorov)
        )
        link.ends = journal.date - dt.timedelta(days=1)
        link.save()
        stray = Assignment.get(Assignment.lesson == journal)
        Mark.create(assignment=stray, student=sidorov, value="2")
        Attendance.create(lesson=journal, student=sidorov, code="Н")
    paths = export_class_data(school.classes["5А"], school.year, tmp_path, "journal", until)
    assert len(paths) == 5
    lessons = [r[5] for r in csv_rows(tmp_path / "lessons.csv")[1:]]
    assert lessons == ["Натуральные числа и шкалы"]
    assert [(r[7], r[8]) for r in csv_rows(tmp_path / "marks.csv")[1:]] == [("Иванов Пётр", "5")]
    absences = [(r[5], r[6]) for r in csv_rows(tmp_path / "attendance.csv")[1:]]
    assert absences == [("Петрова Анна", "Б")]
    data = json.loads((tmp_path / "journal.json").read_text(encoding="utf-8"))
    assert data["as_of"] == until.isoformat()

    out = tmp_path / "journal.pdf"
    printing.journal_pdf(school.classes["5А"], school.year, out, in_process=True, until=until)
    files = attached(PdfReader(out))
    assert b"\xd0\x9f\xd0\xbe\xd1\x81\xd0\xbb\xd0\xb5" not in files["lessons.csv"]  # «После»
    assert "Сидоров" not in files["marks.csv"].decode("utf-8-sig")


def test_period_table_lists_members_as_the_period_sheet_does(school, journal):
    """A student who moved to the other subgroup: each period's mark where he ended it."""
    from appliance import terms

    first, second = school.planning["terms"][:2]
    ivanov, petrova, _ = school.students["5А"]
    english = Subject.get_or_create(name="Английский язык")[0]
    with write():
        one, two = (
            SubjectGroup.create(
                year=school.year, school_class=school.classes["5А"], subject=english, subgroup=n
            )
            for n in (1, 2)
        )
        SubjectGroupStudent.create(
            group=one,
            student=ivanov,
            starts=school.year.starts,
            ends=second.starts - dt.timedelta(days=1),
        )
        SubjectGroupStudent.create(group=two, student=ivanov, starts=second.starts)
        SubjectGroupStudent.create(group=one, student=petrova, starts=school.year.starts)
        PeriodMark.create(group=one, student=ivanov, kind="term", term=first, value="4")
        PeriodMark.create(group=two, student=ivanov, kind="year", value="5")
    year_period = next(p for p in terms.periods_of(one) if p.kind == "year")
    assert [p.id for p in terms.group_members(one, year_period)] == [petrova.id]
    table_one, table_two = print_data.period_table(one), print_data.period_table(two)
    labels = table_one.labels
    rows_one = {name: dict(zip(labels, values, strict=True)) for _, name, values in table_one.rows}
    rows_two = {name: dict(zip(labels, values, strict=True)) for _, name, values in table_two.rows}
    assert list(rows_one) == ["Иванов Пётр", "Петрова Анна"]
    assert rows_one["Иванов Пётр"][first.name] == "4" and rows_one["Иванов Пётр"]["год"] == ""
    assert list(rows_two) == ["Иванов Пётр"]  # never listed twice in one table
    assert rows_two["Иванов Пётр"]["год"] == "5" and rows_two["Иванов Пётр"][first.name] == ""


def test_a_lesson_of_a_deleted_teacher_is_credited_to_nobody(school, journal):
    with write():
        Lesson.update(teacher=None).where(Lesson.id == journal.id).execute()
    [row] = print_data.topic_rows([journal.id], 1)
    assert row.teacher == "—"


def test_a_failed_join_leaves_no_part_file(school, journal, tmp_path, monkeypatch):
    from appliance.backup import print_render
    from appliance.pdf import write_pdfa

    folder = tmp_path / "print"
    folder.mkdir()
    piece = folder / "piece.pdf"
    write_pdfa("<p>лист</p>", piece)
    target = folder / "joined.pdf"

    def broken_replace(*args):
        raise OSError("disk full")

    monkeypatch.setattr(print_render.os, "replace", broken_replace)
    with pytest.raises(OSError):
        print_render.join_pieces([str(piece)], str(target))
    assert sorted(p.name for p in folder.iterdir()) == ["piece.pdf"]


def _death_signal() -> int:
    """The child's parent-death signal (run in the rendering child)."""
    import ctypes

    value = ctypes.c_int()
    ctypes.CDLL(None).prctl(2, ctypes.byref(value), 0, 0, 0)  # PR_GET_PDEATHSIG
    return value.value


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="prctl: Linux")
def test_the_rendering_child_dies_with_the_worker():
    import signal

    from appliance.backup.print_render import PieceRenderer

    with PieceRenderer() as renderer:
        assert renderer.call(_death_signal).result() == signal.SIGKILL


def _crashing_render(kind: str):
    """A print job whose rendering child dies (`exit`) or is interrupted (`interrupt`)."""
    import os
    import signal

    from appliance.backup.print_render import PieceRenderer

    def render(school_class, year, out, progress=None):
        with PieceRenderer() as renderer:
            if kind == "exit":
                renderer.call(os._exit, 3).result()
            renderer.call(signal.raise_signal, signal.SIGINT).result()
        return 1

    return render


@pytest.mark.parametrize("kind", ["exit", "interrupt"])
def test_a_crashed_child_fails_the_job_in_russian(school, settings, monkeypatch, kind):
    monkeypatch.setitem(
        print_tasks.DOCUMENTS,
        print_tasks.SUMMARY_JOB,
        ("сводная-ведомость", _crashing_render(kind), "печатаю"),
    )
    with write():
        jobs.enqueue(print_tasks.SUMMARY_JOB, {"class_id": school.classes["5А"].id})
    [job] = jobs.run_pending(settings)  # no KeyboardInterrupt escapes the runner
    assert job.state == "failed"
    assert job.message == print_render_crashed()


def print_render_crashed() -> str:
    from appliance.backup.print_render import CRASHED

    assert CRASHED.startswith("Печать прервалась: процесс печати завершился аварийно")
    return CRASHED


def test_a_print_job_sweeps_work_a_killed_worker_left(school, journal, settings):
    import os
    import time

    old_job = settings.data_dir / "jobs" / "999"
    stale = old_job / ".print-abc123"
    (stale / "data").mkdir(parents=True)
    part = old_job / "журнал-5А-x.pdf.part"
    part.write_bytes(b"%PDF")
    keep = old_job / "отчёт.xlsx"
    keep.write_bytes(b"x")
    past = time.time() - 3600
    for path in (stale / "data", stale, part):
        os.utime(path, (past, past))
    with write():
        jobs.enqueue(print_tasks.SUMMARY_JOB, {"class_id": school.classes["5А"].id})
    [job] = jobs.run_pending(settings)
    assert job.state == "done", job.message
    assert not stale.exists() and not part.exists() and keep.exists()
    assert not list((settings.data_dir / "jobs").glob("*/.print-*"))


def test_a_second_click_leads_to_the_job_already_queued(app, browser, school):
    browser.login("belova.os", PASSWORD)
    cls = school.classes["5А"]
    first = browser.post(f"/print/classes/{cls.id}", {"document": "journal"}, "/print/")
    second = browser.post(f"/print/classes/{cls.id}", {"document": "journal"}, "/print/")
    [job] = Job.select().where(Job.kind == "print.journal")
    assert first.headers["Location"] == second.headers["Location"]
    assert second.headers["Location"].endswith(f"/jobs/{job.id}")
    other = browser.post(f"/print/classes/{cls.id}", {"document": "summary"}, "/print/")
    assert other.status_code == 302 and Job.select().count() == 2
