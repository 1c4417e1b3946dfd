"""Where the NetSchool adapter sends what, and how our values map onto NetSchool's.

IrTech publishes no API documentation and paths drift between server versions
(`docs` reference: netschool.md), so every path and value mapping here is a default
that a school's settings may override (`Mapping.with_overrides`).
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field, replace
from types import MappingProxyType

# Paths of the reference; topic/homework and period marks as the emulator serves them.
DEFAULT_PATHS: dict[str, str] = {
    "logindata": "/webapi/logindata",
    "schools_search": "/webapi/schools/search",
    "getdata": "/webapi/auth/getdata",
    "login": "/webapi/login",
    "logout": "/webapi/auth/logout",
    "context": "/webapi/context",
    "journal": "/webapi/grade/journal",
    "quickedit": "/webapi/grade/journal/quickedit",
    "lesson_edit": "/webapi/grade/journal/edit",
    "period_marks": "/webapi/grade/periodmarks",
    "student_list": "/webapi/grade/studentList",
    "attendance_reasons": "/webapi/grade/attendance/reasons",
    "assignment_types": "/webapi/grade/assignment/types",
    "classes": "/webapi/classes",
    "subject_groups": "/webapi/subjectgroups",
    "class_meetings": "/webapi/schedule/classmeetings",
    "terms": "/webapi/grade/terms",
}

# What each path is for, in the words of the settings page.
PATH_LABELS: dict[str, str] = {
    "logindata": "Проверка связи (данные для входа)",
    "schools_search": "Поиск школы по названию",
    "getdata": "Начало входа (соль пароля)",
    "login": "Вход",
    "logout": "Выход",
    "context": "Сведения о сессии",
    "journal": "Журнал группы (чтение)",
    "quickedit": "Отметки и посещаемость (запись)",
    "lesson_edit": "Урок: тема и домашнее задание",
    "period_marks": "Отметки за период",
    "student_list": "Ученики группы",
    "attendance_reasons": "Причины отсутствия",
    "assignment_types": "Виды работ",
    "classes": "Классы",
    "subject_groups": "Группы (предметы классов)",
    "class_meetings": "Уроки по расписанию",
    "terms": "Учебные периоды",
}

# NetSchool's MarkType for period marks that are not a number (reference: 0 no mark,
# −1 не аттестован, −2 освобождён, −5 не оценивается).
DEFAULT_PERIOD_MARK_TYPES: dict[str, int] = {
    "": 0,
    "н/а": -1,
    "осв": -2,
    "не оц": -5,
}

# Our attendance codes → NetSchool's attendance reason keys (the server's
# /webapi/grade/attendance/reasons may name them differently: configurable).
DEFAULT_ATTENDANCE_REASONS: dict[str, str] = {
    "Н": "missedNoReason",
    "Б": "missedIll",
    "УП": "missedGoodReason",
    "ОП": "late",
    "ОСВ": "released",
}


# A work type here → the name (or abbreviation) of АСУ РСО's assignment type, where the
# names differ. Types with the same name or abbreviation need no entry; the settings page
# adds the school's own («Виды работ»).
DEFAULT_WORK_TYPES: dict[str, str] = {
    "Домашняя работа": "Домашнее задание",
    "Тест": "Тестирование",
}


def _frozen(data: MappingABC[str, object]) -> MappingProxyType:
    return MappingProxyType(dict(data))


@dataclass(frozen=True)
class Mapping:
    """The adapter's configuration of paths and value mappings."""

    paths: MappingABC[str, str] = field(default_factory=lambda: _frozen(DEFAULT_PATHS))
    period_mark_types: MappingABC[str, int] = field(
        default_factory=lambda: _frozen(DEFAULT_PERIOD_MARK_TYPES)
    )
    attendance_reasons: MappingABC[str, str] = field(
        default_factory=lambda: _frozen(DEFAULT_ATTENDANCE_REASONS)
    )
    work_types: MappingABC[str, str] = field(default_factory=lambda: _frozen(DEFAULT_WORK_TYPES))
    # Pass/fail scales: NetSchool stores зачёт as maxMark and незачёт as minMark.
    pass_mark: str = "5"
    fail_mark: str = "2"

    def path(self, name: str) -> str:
        try:
            return self.paths[name]
        except KeyError:
            raise KeyError(f"no NetSchool path configured for {name!r}") from None

    def with_overrides(self, overrides: MappingABC[str, object] | None) -> Mapping:
        """A copy with `{"paths": {...}, "period_mark_types": {...}, ...}` merged in."""
        if not overrides:
            return self
        changes: dict[str, object] = {}
        for key in ("paths", "period_mark_types", "attendance_reasons", "work_types"):
            if key in overrides:
                merged = dict(getattr(self, key))
                merged.update(overrides[key])  # type: ignore[arg-type]
                changes[key] = _frozen(merged)
        for key in ("pass_mark", "fail_mark"):
            if key in overrides:
                changes[key] = str(overrides[key])
        return replace(self, **changes)

    def period_mark(self, value: str) -> tuple[str | None, int]:
        """Our period mark value → (NetSchool mark or None, MarkType)."""
        if value in self.period_mark_types:
            return None, int(self.period_mark_types[value])
        if value == "зач":
            return self.pass_mark, 1
        if value == "незач":
            return self.fail_mark, 1
        return value, 1

    def attendance_reason(self, code: str) -> str | None:
        """Our attendance code → NetSchool's reason key (None: present / cleared)."""
        if not code:
            return None
        return self.attendance_reasons.get(code, code)


DEFAULT = Mapping()
