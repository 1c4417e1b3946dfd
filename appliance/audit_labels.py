"""Audit actions in Russian for the audit log page («lesson.delete» → «Урок: удаление»).

The codes stay in the chain (they are what a verifier and АСУ РСО read); people see
the subject and the verb. An unknown code is shown as it is rather than hidden.
"""

from __future__ import annotations

SUBJECTS = {
    "account": "Учётная запись",
    "announcement": "Объявление",
    "assignment": "Работа на уроке",
    "attachment": "Файл",
    "attendance": "Посещаемость",
    "bell_schedule": "Расписание звонков",
    "bells": "Звонки",
    "calendar_day": "День календаря",
    "class": "Класс",
    "curriculum": "Учебный план",
    "demo": "Демо-школа",
    "enrollment": "Зачисление в класс",
    "group": "Группа",
    "group_student": "Ученик в группе",
    "guardian": "Родитель ученика",
    "import": "Импорт",
    "ktp": "КТП",
    "ktp.lesson": "Строка КТП",
    "lesson": "Урок",
    "lessons": "Уроки",
    "mark": "Отметка",
    "message": "Сообщение",
    "parent_notice": "Уведомление родителям",
    "password": "Пароль",
    "period_mark": "Отметка за период",
    "personal_data": "Персональные данные",
    "person": "Персональные данные",
    "room": "Кабинет",
    "school": "Школа",
    "subject": "Предмет",
    "subject_group_student": "Ученик в группе",
    "term": "Учебный период",
    "timetable": "Расписание",
    "timetable.change": "Замена в расписании",
    "timetable.entry": "Урок в расписании",
    "unlock": "Разрешение на правку",
    "user": "Пользователь",
    "work_type": "Вид работы",
    "year": "Учебный год",
}

VERBS = {
    "approve": "утверждение",
    "attach": "прикреплён файл",
    "checked": "отмечено как проверенное",
    "change": "смена",
    "class_list": "список класса",
    "close": "закрытие",
    "confirm": "подтверждение",
    "create": "создание",
    "delete": "удаление",
    "digest": "итоги недели",
    "end": "выбытие",
    "excuse": "уважительная причина",
    "extend": "продление",
    "grant": "выдача",
    "homework_file": "файл задания",
    "import": "загрузка из файла",
    "init": "начальная настройка",
    "issue_password": "выдача пароля",
    "lock": "блокировка",
    "lockout": "блокировка после неверных паролей",
    "members": "состав",
    "merge": "объединение подгрупп",
    "move": "перевод",
    "notice": "уведомление об изменении",
    "prepare": "подготовка",
    "reconcile": "сверка списка",
    "regenerate": "сверка с расписанием",
    "return": "возврат на доработку",
    "roles": "роли",
    "send": "отправка",
    "set": "выставление",
    "setup": "настройка",
    "split": "деление на подгруппы",
    "start": "зачисление",
    "submit": "отправка на проверку",
    "substitute": "замена учителя",
    "switch": "переход",
    "teacher_add": "учитель добавлен",
    "teacher_remove": "учитель снят",
    "teacher_update": "учитель изменён",
    "thread": "новая переписка",
    "unlock": "разрешение на правку",
    "update": "изменение",
    "use": "использование",
}


def action_label(code: str) -> str:
    """«Урок: удаление» for «lesson.delete»; the code itself when unknown."""
    subject, _, verb = code.rpartition(".")
    if subject in SUBJECTS and verb in VERBS:
        return f"{SUBJECTS[subject]}: {VERBS[verb]}"
    return code
