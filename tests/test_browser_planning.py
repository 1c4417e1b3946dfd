"""Issue 4, «Done when»: the deputy plans next year for the demo school in the browser.

From the demo school's running year the deputy prepares an empty next year (classes
promoted, groups carried over as drafts), confirms the groups, loads the timetable
made in Excel, finds and removes the one clash in it, marks the timetable checked and
creates the year's lessons; a teacher loads a КТП from a file and submits it, and the
deputy approves it. Only the Excel files are made by the test (standing in for what
the deputy and the teacher bring from their own computers); every step of the work
is done by clicking in Chromium.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from collections import defaultdict

import pytest
from openpyxl import Workbook

from appliance.config import load_settings
from appliance.demo import create_demo_school
from appliance.demo.timetable import Meeting, build_timetable, day_lengths
from appliance.models import (
    AcademicYear,
    CurriculumLine,
    Lesson,
    Plan,
    SchoolClass,
    SubjectGroup,
    SubjectGroupTeacher,
    TimetableEntry,
    User,
    database,
)
from appliance.web import create_app

from .browser_support import chromium_browser, desktop_page, served
from .browser_support import log_in as sign_in

SLOW_MS = 60_000  # creating a whole year's lessons on a shared CI machine


@pytest.fixture
def demo(tmp_path):
    settings = load_settings(tmp_path / "demo", password_profile="fast")
    app = create_app(settings)
    database.connect(reuse_if_open=True)
    accounts = create_demo_school(seed=1, today=dt.date.today())
    yield app, accounts
    if not database.is_closed():
        database.close()


def xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def timetable_file(year: AcademicYear) -> tuple[bytes, tuple[str, int, int, str]]:
    """The new year's timetable as the deputy made it in Excel, with one clash left in.

    Each group meets its curriculum hours a week; foreign-language subgroups meet in
    parallel. The clash: one class gets a second whole-class lesson at a time it is
    already busy. Returns the file and (class, weekday, number, subject) of the clash.
    """
    hours = {
        (line.grade, line.subject_id): line.hours_week
        for line in CurriculumLine.select().where(CurriculumLine.year == year)
    }
    teachers = {
        link.group_id: link.teacher_id
        for link in SubjectGroupTeacher.select().where(SubjectGroupTeacher.is_main)
    }
    classes = list(SchoolClass.select().where(SchoolClass.year == year).order_by(SchoolClass.id))
    groups = defaultdict(list)
    for group in SubjectGroup.select().where(SubjectGroup.year == year):
        groups[group.school_class_id].append(group)
    meetings, weekly = [], defaultdict(int)
    for index, school_class in enumerate(classes):
        by_subject = defaultdict(list)
        for group in groups[school_class.id]:
            by_subject[group.subject_id].append(group)
        for subject_id, together in by_subject.items():
            meeting = Meeting(
                index,
                together[0].subject.name,
                tuple(g.id for g in together),
                tuple(teachers.get(g.id, -g.id) for g in together),
                tuple(None for _ in together),
            )
            count = hours[(school_class.grade, subject_id)]
            meetings += [meeting] * count
            weekly[index] += count
    lengths = {c: day_lengths(n) for c, n in weekly.items()}
    placements = build_timetable(lengths, meetings, random.Random(7))
    by_id = {g.id: g for gs in groups.values() for g in gs}
    rows = [["Класс", "День", "Урок", "Предмет", "Подгруппа", "Учитель", "Кабинет", "Действует с"]]
    for p in placements:
        for group_id in p.meeting.groups:
            group = by_id[group_id]
            rows.append(
                [
                    group.school_class.name,
                    p.weekday,
                    p.number,
                    group.subject.name,
                    group.subgroup,
                    None,
                    None,
                    year.starts.strftime("%d.%m.%Y"),
                ]
            )
    # the clash: a whole-class subject of the first class once more at its Monday 1st lesson
    first = classes[0]
    subject = next(g for g in groups[first.id] if g.subgroup is None).subject.name
    rows.append([first.name, 1, 1, subject, None, None, None, year.starts.strftime("%d.%m.%Y")])
    return xlsx(rows), (first.name, 1, 1, subject)


def ktp_file(hours: int) -> bytes:
    """A teacher's КТП: a title, a section row, one lesson an hour, a totals row."""
    rows = [
        ["Календарно-тематическое планирование"],
        [],
        ["№ п/п", "Тема урока", "Кол-во часов", "Домашнее задание"],
        ["Раздел 1. Повторение"],
    ]
    rows += [[n, f"Урок {n}: повторение темы", 1, f"§ {n}"] for n in range(1, hours + 1)]
    rows.append(["", "Итого", hours, ""])
    return xlsx(rows)


def pick_teacher_group(accounts, year: AcademicYear):
    """A demo teacher and one of their groups in the new year with the fewest hours."""
    usernames = {a.username: a for a in accounts if a.role in ("teacher", "class_teacher")}
    best = None
    for link in (
        SubjectGroupTeacher.select()
        .join(SubjectGroup)
        .where((SubjectGroup.year == year) & SubjectGroupTeacher.is_main)
    ):
        user = User.get_or_none(User.person == link.teacher_id)
        if user is None or user.username not in usernames:
            continue
        group = link.group
        line = CurriculumLine.get_or_none(
            (CurriculumLine.year == year)
            & (CurriculumLine.grade == group.school_class.grade)
            & (CurriculumLine.subject == group.subject)
        )
        if line and (best is None or line.hours_year < best[2]):
            best = (usernames[user.username], group, line.hours_year)
    assert best is not None, "no demo teacher has a group in the new year"
    return best


@pytest.mark.browser
def test_deputy_plans_next_year_from_empty_to_checked_timetable_and_approved_ktp(
    chromium, demo, tmp_path
):
    from playwright.sync_api import expect

    app, accounts = demo
    deputy = next(a for a in accounts if a.role == "deputy")
    requested: list[str] = []
    with served(app) as base, chromium_browser(chromium) as browser:
        page = desktop_page(browser, requested)

        def log_in(account) -> None:
            sign_in(page, base, account.username, account.password)

        # 1. An empty next year: the rollover prepares it.
        log_in(deputy)
        page.get_by_role("link", name="План года").click()
        page.goto(f"{base}/planning/years/")
        page.get_by_label("Да, подготовить").check()
        page.get_by_role("button", name="Подготовить").click()
        expect(page.locator("#prepared")).to_contain_text("Подготовлен")
        year = AcademicYear.select().order_by(AcademicYear.starts.desc()).first()
        assert not year.is_current
        assert (
            TimetableEntry.select().join(SubjectGroup).where(SubjectGroup.year == year).count() == 0
        )

        page.goto(f"{base}/planning/?year={year.id}")
        expect(page.locator("#step-timetable")).to_contain_text("не сделано")
        expect(page.locator("#step-groups")).to_contain_text("Черновиков групп")

        # 2. The groups carried over are checked and confirmed.
        page.goto(f"{base}/planning/groups/?year={year.id}")
        page.get_by_role("button", name="Подтвердить все черновики").click()
        expect(page.locator("#messages")).to_contain_text("Подтверждено групп")
        assert (
            not SubjectGroup.select()
            .where((SubjectGroup.year == year) & SubjectGroup.is_draft)
            .exists()
        )

        # 3. The timetable made in Excel: preview, then load.
        data, (class_name, weekday, number, subject) = timetable_file(year)
        path = tmp_path / "raspisanie.xlsx"
        path.write_bytes(data)
        page.goto(f"{base}/timetable/import?year={year.id}")
        page.locator('input[name="file"]').set_input_files(str(path))
        page.get_by_role("button", name="Проверить").click()
        expect(page.locator("main")).to_contain_text("Проверка файла «raspisanie.xlsx»")
        page.get_by_role("button", name="Заменить расписание").click()
        expect(page.locator("#messages")).to_contain_text("Загружено записей расписания")

        # 4. The clash is found; the deputy removes the extra lesson from the grid.
        page.goto(f"{base}/timetable/conflicts?year={year.id}")
        expect(page.locator("main")).to_contain_text(class_name)
        check = page.get_by_role("button", name="Отметить расписание проверенным")
        expect(check).to_be_disabled()
        clash = (
            TimetableEntry.select()
            .join(SubjectGroup)
            .join(SchoolClass)
            .where(
                (SubjectGroup.year == year)
                & (
                    SchoolClass.id
                    == SchoolClass.get(
                        (SchoolClass.year == year)
                        & (SchoolClass.grade == int(class_name[:-1]))
                        & (SchoolClass.letter == class_name[-1])
                    ).id
                )
                & (TimetableEntry.weekday == weekday)
                & (TimetableEntry.number == number)
            )
            .order_by(TimetableEntry.id.desc())
            .first()
        )
        page.goto(
            f"{base}/timetable/class/{clash.group.school_class_id}?on={year.starts.isoformat()}"
        )
        page.locator(f'a.what[href^="/timetable/entry/{clash.id}"]').click()
        page.locator('input[name="from"]').fill(year.starts.isoformat())
        page.get_by_label("Да, убрать урок из расписания").check()
        page.get_by_role("button", name="Убрать").click()
        page.goto(f"{base}/timetable/conflicts?year={year.id}")
        expect(page.locator("main")).to_contain_text("Накладок нет")
        page.get_by_role("button", name="Отметить расписание проверенным").click()
        expect(page.locator("main")).to_contain_text("проверено")

        # 5. The year's lessons from the timetable.
        page.goto(f"{base}/lessons/regenerate?year={year.id}")
        page.get_by_role("button", name="Применить").click()
        expect(page.get_by_role("heading", name="Сделано")).to_be_visible(timeout=SLOW_MS)
        lessons = Lesson.select().join(SubjectGroup).where(SubjectGroup.year == year)
        assert lessons.count() > 10_000

        # 6. A teacher loads a КТП from a file and submits it …
        teacher, group, hours = pick_teacher_group(accounts, year)
        page.get_by_role("button", name="Выйти").click()
        log_in(teacher)
        if teacher.role == "class_teacher":  # plans are written in the teacher role
            page.locator("#role-switch").select_option("teacher")
        page.goto(f"{base}/ktp/?year={year.id}")
        page.locator(f'a[href="/ktp/{group.id}"]').click()
        page.get_by_role("link", name="Загрузить из файла").click()
        ktp = tmp_path / "ktp.xlsx"
        ktp.write_bytes(ktp_file(hours))
        page.locator('input[name="file"]').set_input_files(str(ktp))
        page.get_by_role("button", name="Проверить").click()
        page.get_by_role("button", name="Загрузить").click()
        page.get_by_role("button", name="Отправить на проверку").click()
        expect(page.locator("main")).to_contain_text("на проверке")

        # … and the deputy approves it.
        page.get_by_role("button", name="Выйти").click()
        log_in(deputy)
        page.goto(f"{base}/ktp/review?year={year.id}")
        expect(page.locator("main")).to_contain_text(group.subject.name)
        page.get_by_role("button", name="Утвердить").first.click()
        plan = Plan.select().where(Plan.group == group).order_by(Plan.version.desc()).first()
        assert plan.state == "approved" and plan.lessons.count() == hours

        # The checklist of the year agrees.
        page.goto(f"{base}/planning/?year={year.id}")
        expect(page.locator("#step-timetable")).to_contain_text("готово")
        expect(page.locator("#step-lessons")).to_contain_text("готово")
        expect(page.locator("#step-ktp")).to_contain_text("КТП утверждено: 1 из")
        page.screenshot(path=str(tmp_path / "planning.png"), full_page=True)
        page.context.close()
    outside = [url for url in requested if not url.startswith(base)]
    assert not outside, f"pages loaded from outside the box: {outside[:3]}"
