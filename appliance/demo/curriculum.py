"""The demo school's curriculum: subjects, weekly hours, work types, bells, rooms, staff.

Weekly hours follow the federal basic curricula for a five-day week (ФУП НОО,
variant 1; ФУП ООО, variant 1), with the part formed by the school spent on a
third hour of physical education (and informatics in grade 5).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class SubjectSpec:
    code: str
    name: str
    short_name: str
    kind: str  # drives КТП patterns, homework and work types (see topics.py)
    scale: str = "five"
    is_foreign_language: bool = False


SUBJECTS = [
    SubjectSpec("rus", "Русский язык", "Рус. яз.", "lang"),
    SubjectSpec("litread", "Литературное чтение", "Лит. чт.", "lit"),
    SubjectSpec("lit", "Литература", "Лит-ра", "lit"),
    SubjectSpec("eng", "Английский язык", "Англ. яз.", "foreign", is_foreign_language=True),
    SubjectSpec("math", "Математика", "Матем.", "math"),
    SubjectSpec("alg", "Алгебра", "Алгебра", "math"),
    SubjectSpec("geom", "Геометрия", "Геом.", "math"),
    SubjectSpec("prob", "Вероятность и статистика", "ВиС", "math"),
    SubjectSpec("inf", "Информатика", "Информ.", "info"),
    SubjectSpec("world", "Окружающий мир", "Окр. мир", "natural"),
    SubjectSpec("hist", "История", "История", "humanities"),
    SubjectSpec("soc", "Обществознание", "Общ.", "humanities"),
    SubjectSpec("geo", "География", "Геогр.", "natural"),
    SubjectSpec("bio", "Биология", "Биол.", "natural"),
    SubjectSpec("phys", "Физика", "Физика", "science"),
    SubjectSpec("chem", "Химия", "Химия", "science"),
    SubjectSpec(
        "orkse", "Основы религиозных культур и светской этики", "ОРКСЭ", "humanities", "pass_fail"
    ),
    SubjectSpec(
        "odnknr",
        "Основы духовно-нравственной культуры народов России",
        "ОДНКНР",
        "humanities",
        "pass_fail",
    ),
    SubjectSpec("art", "Изобразительное искусство", "ИЗО", "arts"),
    SubjectSpec("music", "Музыка", "Музыка", "arts"),
    SubjectSpec("tech", "Труд (технология)", "Труд", "tech"),
    SubjectSpec("pe", "Физическая культура", "Физ-ра", "pe"),
    SubjectSpec("obzr", "Основы безопасности и защиты Родины", "ОБЗР", "safety"),
]
SUBJECT_BY_CODE = {s.code: s for s in SUBJECTS}

# Weekly hours by subject for grades 1…9 (0: not taught in that grade).
HOURS: dict[str, tuple[int, ...]] = {
    #          1  2  3  4  5  6  7  8  9
    "rus":    (5, 5, 5, 5, 5, 6, 4, 3, 3),
    "litread": (4, 4, 4, 3, 0, 0, 0, 0, 0),
    "lit":    (0, 0, 0, 0, 3, 3, 2, 2, 3),
    "eng":    (0, 2, 2, 2, 3, 3, 3, 3, 3),
    "math":   (4, 4, 4, 4, 5, 5, 0, 0, 0),
    "alg":    (0, 0, 0, 0, 0, 0, 3, 3, 3),
    "geom":   (0, 0, 0, 0, 0, 0, 2, 2, 2),
    "prob":   (0, 0, 0, 0, 0, 0, 1, 1, 1),
    "inf":    (0, 0, 0, 0, 1, 0, 1, 1, 1),
    "world":  (2, 2, 2, 2, 0, 0, 0, 0, 0),
    "hist":   (0, 0, 0, 0, 2, 2, 2, 2, 2),
    "soc":    (0, 0, 0, 0, 0, 1, 1, 1, 1),
    "geo":    (0, 0, 0, 0, 1, 1, 2, 2, 2),
    "bio":    (0, 0, 0, 0, 1, 1, 1, 2, 2),
    "phys":   (0, 0, 0, 0, 0, 0, 2, 2, 3),
    "chem":   (0, 0, 0, 0, 0, 0, 0, 2, 2),
    "orkse":  (0, 0, 0, 1, 0, 0, 0, 0, 0),
    "odnknr": (0, 0, 0, 0, 1, 1, 0, 0, 0),
    "art":    (1, 1, 1, 1, 1, 1, 1, 0, 0),
    "music":  (1, 1, 1, 1, 1, 1, 1, 1, 0),
    "tech":   (1, 1, 1, 1, 2, 2, 2, 1, 1),
    "pe":     (3, 3, 3, 3, 3, 3, 3, 3, 3),
    "obzr":   (0, 0, 0, 0, 0, 0, 0, 1, 1),
}  # fmt: skip

GRADES = range(1, 10)
LETTERS = ("А", "Б")
SPLIT_FROM_GRADE = 2  # foreign language in two subgroups from grade 2


def hours_week(code: str, grade: int) -> int:
    return HOURS[code][grade - 1]


def hours_year(code: str, grade: int) -> int:
    """34 school weeks a year, 33 in grade 1."""
    return hours_week(code, grade) * (33 if grade == 1 else 34)


def grade_subjects(grade: int) -> list[str]:
    return [s.code for s in SUBJECTS if hours_week(s.code, grade)]


@dataclass(frozen=True)
class WorkTypeSpec:
    name: str
    short_name: str
    weight: int
    is_default: bool = False


WORK_TYPES = [
    WorkTypeSpec("Ответ на уроке", "Отв", 1, is_default=True),
    WorkTypeSpec("Домашняя работа", "ДЗ", 1),
    WorkTypeSpec("Самостоятельная работа", "СР", 2),
    WorkTypeSpec("Проверочная работа", "ПрР", 2),
    WorkTypeSpec("Практическая работа", "ПР", 2),
    WorkTypeSpec("Лабораторная работа", "ЛР", 2),
    WorkTypeSpec("Диктант", "Дикт", 3),
    WorkTypeSpec("Контрольная работа", "КР", 3),
    WorkTypeSpec("Тест", "Тест", 2),
]


def bells() -> list[tuple[int, dt.time, dt.time]]:
    """Seven 40-minute lessons from 08:30, 10-minute breaks and one 20-minute break."""
    out = []
    start = dt.datetime(2000, 1, 1, 8, 30)
    for number in range(1, 8):
        end = start + dt.timedelta(minutes=40)
        out.append((number, start.time(), end.time()))
        start = end + dt.timedelta(minutes=20 if number == 2 else 10)
    return out


@dataclass(frozen=True)
class StaffSpec:
    """One post: its role code, position, subjects (with grades) and own cabinet."""

    key: str
    position: str
    gender: str
    subjects: tuple[str, ...] = ()
    grades: tuple[int, int] = (1, 9)
    room: str | None = None
    roles: tuple[str, ...] = ("teacher",)


_RUS = "Учитель русского языка и литературы"
_MATH = "Учитель математики"
_ENG = "Учитель английского языка"
_PE = "Учитель физической культуры"

STAFF = [
    StaffSpec("director", "Директор", "ж", roles=("director",)),
    StaffSpec(
        "deputy",
        "Заместитель директора по УВР",
        "ж",
        ("soc", "odnknr"),
        (5, 9),
        "211",
        ("deputy", "teacher"),
    ),
    *[
        StaffSpec(f"primary{i}", "Учитель начальных классов", "ж", room=str(100 + i))
        for i in range(1, 9)
    ],
    StaffSpec("rus1", _RUS, "ж", ("rus", "lit"), (5, 9), "201"),
    StaffSpec("rus2", _RUS, "ж", ("rus", "lit"), (5, 9), "202"),
    StaffSpec("rus3", _RUS, "ж", ("rus", "lit"), (5, 9), "203"),
    StaffSpec("math1", _MATH, "ж", ("math", "alg", "geom"), (5, 9), "204"),
    StaffSpec("math2", _MATH, "м", ("math", "alg", "geom"), (5, 9), "205"),
    StaffSpec("eng1", _ENG, "ж", ("eng",), (2, 9), "206"),
    StaffSpec("eng2", _ENG, "ж", ("eng",), (2, 9), "207"),
    StaffSpec("eng3", _ENG, "ж", ("eng",), (2, 9), "208"),
    StaffSpec("eng4", _ENG, "ж", ("eng",), (2, 9), "209"),
    StaffSpec("hist", "Учитель истории и обществознания", "м", ("hist",), (5, 9), "210"),
    StaffSpec("geo", "Учитель географии", "ж", ("geo",), (5, 9), "301"),
    StaffSpec("bio", "Учитель биологии", "ж", ("bio",), (5, 9), "302"),
    StaffSpec("chem", "Учитель химии", "ж", ("chem",), (8, 9), "303"),
    StaffSpec("phys", "Учитель физики", "м", ("phys",), (7, 9), "304"),
    StaffSpec(
        "inf",
        "Учитель информатики",
        "м",
        ("inf", "prob"),
        (5, 9),
        "Кабинет информатики",
        ("admin", "teacher"),
    ),
    StaffSpec("music", "Учитель музыки", "ж", ("music",), (1, 9), "Кабинет музыки"),
    StaffSpec("art", "Учитель изобразительного искусства", "ж", ("art",), (1, 9), "306"),
    StaffSpec("pe1", _PE, "м", ("pe",), (1, 9), "Спортзал"),
    StaffSpec("pe2", _PE, "ж", ("pe",), (1, 9), "Малый спортзал"),
    StaffSpec("tech", "Учитель труда (технологии)", "м", ("tech",), (5, 9), "Мастерская"),
    StaffSpec("obzr", "Преподаватель-организатор ОБЗР", "м", ("obzr",), (8, 9), "305"),
]

# Subjects a primary class teacher teaches in their own class.
PRIMARY_TEACHER_SUBJECTS = ("rus", "litread", "math", "world", "tech", "orkse")

# Subjects one teacher keeps together in a class (Russian with literature …).
TEACHING_UNITS = {"lit": "rus", "alg": "math", "geom": "math"}

ROOMS: list[tuple[str, int, str]] = [
    *[(str(100 + i), 28, "Начальные классы") for i in range(1, 9)],
    ("201", 30, "Русский язык и литература"),
    ("202", 30, "Русский язык и литература"),
    ("203", 30, "Русский язык и литература"),
    ("204", 30, "Математика"),
    ("205", 30, "Математика"),
    ("206", 15, "Английский язык"),
    ("207", 15, "Английский язык"),
    ("208", 15, "Английский язык"),
    ("209", 15, "Английский язык"),
    ("210", 30, "История и обществознание"),
    ("211", 30, "Обществознание; кабинет заместителя директора рядом"),
    ("301", 30, "География"),
    ("302", 30, "Биология"),
    ("303", 30, "Химия, лаборантская"),
    ("304", 30, "Физика, лаборантская"),
    ("305", 30, "ОБЗР"),
    ("306", 30, "Изобразительное искусство"),
    ("Кабинет информатики", 26, "Каб. 212, 13 компьютеров"),
    ("Кабинет музыки", 30, ""),
    ("Спортзал", 60, ""),
    ("Малый спортзал", 30, ""),
    ("Мастерская", 20, "Столярная и слесарная мастерская"),
    ("Актовый зал", 150, ""),
    ("Библиотека", 25, ""),
]
