"""Russian names for the demo school: surnames in both genders, patronymics, logins.

Everything is drawn from a `random.Random` handed in, so a seed gives the same people.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

# Surnames in the masculine form; `surname_for` derives the feminine one.
SURNAMES = """
Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров
Морозов Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев
Орлов Андреев Макаров Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев
Романов Воробьёв Сергеев Кузьмин Фролов Александров Дмитриев Королёв Гусев Киселёв
Ильин Максимов Поляков Сорокин Виноградов Ковалёв Белов Медведев Антонов Тарасов
Жуков Баранов Филиппов Комаров Давыдов Беляев Герасимов Богданов Осипов Сидоров
Матвеев Титов Марков Миронов Крылов Куликов Карпов Власов Мельников Денисов
Гаврилов Тихонов Казаков Афанасьев Данилов Савельев Тимофеев Фомин Чернов Абрамов
Мартынов Ефимов Федотов Щербаков Назаров Калинин Исаев Чернышёв Быков Маслов
Родионов Коновалов Лазарев Воронин Климов Филатов Пономарёв Голубев Кудрявцев Прохоров
Наумов Потапов Журавлёв Овчинников Трофимов Леонов Соболев Ермаков Колесников Гончаров
Емельянов Никифоров Грачёв Котов Гришин Ефремов Архипов Громов Кириллов Малышев
Панов Моисеев Румянцев Акимов Кондратьев Бирюков Горбунов Анисимов Ерёмин Тихомиров
Галкин Лукьянов Михеев Скворцов Юдин Белоусов Нестеров Симонов Прокофьев Харитонов
Князев Цветков Левин Митрофанов Воронов Аксёнов Софронов Мальцев Логинов Горшков
Савин Краснов Майоров Демидов Елисеев Рыбаков Сафонов Плотников Демин Хохлов
Жданов Носов Зуев Шаров Третьяков Беспалов Селезнёв Ершов Кулагин Дьяконов
Покровский Вишневский Жуковский Островский Высоцкий Шевчук Ткаченко Коваленко Бондаренко Кравчук
""".split()

# Boys' and girls' names common among today's schoolchildren.
BOYS = """
Александр Максим Артём Михаил Даниил Иван Дмитрий Кирилл Егор Матвей Тимофей Никита
Илья Андрей Марк Лев Роман Глеб Ярослав Фёдор Степан Алексей Владимир Константин
Сергей Денис Тимур Арсений Савелий Платон Мирон Богдан Георгий Семён Захар Макар
""".split()
GIRLS = """
Анастасия Мария Дарья Полина София Виктория Ксения Алина Валерия Вероника Алиса
Варвара Ева Василиса Арина Милана Кира Ульяна Елизавета Александра Анна Екатерина
Злата Таисия Мирослава Есения Карина Маргарита Вера Диана Яна Ангелина Софья Алёна
""".split()

# Names of parents (born 1975–1995) and of staff (born 1960–1998).
MEN = """
Александр Сергей Андрей Дмитрий Алексей Евгений Иван Михаил Денис Роман Павел
Николай Владимир Олег Антон Игорь Илья Максим Виктор Юрий Константин Вадим Василий
Артём Кирилл Станислав Вячеслав Руслан Валерий Геннадий Анатолий
""".split()
WOMEN = """
Елена Ольга Наталья Татьяна Ирина Светлана Юлия Екатерина Анна Мария Оксана Марина
Евгения Анастасия Кристина Яна Людмила Надежда Галина Валентина Лариса Любовь
Виктория Алёна Ксения Дарья Вера Инна Жанна Олеся
""".split()

# Patronymics (masculine, feminine) of every name a father or grandfather may have.
PATRONYMICS = {
    "Александр": ("Александрович", "Александровна"),
    "Сергей": ("Сергеевич", "Сергеевна"),
    "Андрей": ("Андреевич", "Андреевна"),
    "Дмитрий": ("Дмитриевич", "Дмитриевна"),
    "Алексей": ("Алексеевич", "Алексеевна"),
    "Евгений": ("Евгеньевич", "Евгеньевна"),
    "Иван": ("Иванович", "Ивановна"),
    "Михаил": ("Михайлович", "Михайловна"),
    "Денис": ("Денисович", "Денисовна"),
    "Роман": ("Романович", "Романовна"),
    "Павел": ("Павлович", "Павловна"),
    "Николай": ("Николаевич", "Николаевна"),
    "Владимир": ("Владимирович", "Владимировна"),
    "Олег": ("Олегович", "Олеговна"),
    "Антон": ("Антонович", "Антоновна"),
    "Игорь": ("Игоревич", "Игоревна"),
    "Илья": ("Ильич", "Ильинична"),
    "Максим": ("Максимович", "Максимовна"),
    "Виктор": ("Викторович", "Викторовна"),
    "Юрий": ("Юрьевич", "Юрьевна"),
    "Константин": ("Константинович", "Константиновна"),
    "Вадим": ("Вадимович", "Вадимовна"),
    "Василий": ("Васильевич", "Васильевна"),
    "Артём": ("Артёмович", "Артёмовна"),
    "Кирилл": ("Кириллович", "Кирилловна"),
    "Станислав": ("Станиславович", "Станиславовна"),
    "Вячеслав": ("Вячеславович", "Вячеславовна"),
    "Руслан": ("Русланович", "Руслановна"),
    "Валерий": ("Валерьевич", "Валерьевна"),
    "Геннадий": ("Геннадьевич", "Геннадьевна"),
    "Анатолий": ("Анатольевич", "Анатольевна"),
    "Борис": ("Борисович", "Борисовна"),
    "Пётр": ("Петрович", "Петровна"),
    "Григорий": ("Григорьевич", "Григорьевна"),
    "Леонид": ("Леонидович", "Леонидовна"),
}
GRANDFATHERS = list(PATRONYMICS)

STREETS = (
    """
Ленина|Мира|Гая|Советская|Кирова|Пионерская|Вокзальная|Станиславского|Волжская
Центральная|Пушкина|Гоголя|Матросова|Мичурина|Куйбышева|Шоссейная|Железнодорожная
""".replace("\n", "|")
    .strip("|")
    .split("|")
)


def surname_for(masculine: str, gender: str) -> str:
    """The surname in the person's gender: Петров → Петрова, Высоцкий → Высоцкая."""
    if gender != "ж":
        return masculine
    if masculine.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return masculine + "а"
    if masculine.endswith(("ский", "цкий")):
        return masculine[:-2] + "ая"
    return masculine  # Шевчук, Ткаченко do not change


def patronymic(father: str, gender: str) -> str:
    masculine, feminine = PATRONYMICS[father]
    return feminine if gender == "ж" else masculine


@dataclass(frozen=True)
class FullName:
    last_name: str
    first_name: str
    middle_name: str
    gender: str  # "м" / "ж"


def adult_name(rng: random.Random, gender: str, surname: str | None = None) -> FullName:
    """An adult's ФИО; the surname is given in the masculine form (or drawn)."""
    first = rng.choice(WOMEN if gender == "ж" else MEN)
    base = surname or rng.choice(SURNAMES)
    return FullName(
        surname_for(base, gender), first, patronymic(rng.choice(GRANDFATHERS), gender), gender
    )


def child_name(rng: random.Random, gender: str, surname: str, father: str) -> FullName:
    first = rng.choice(GIRLS if gender == "ж" else BOYS)
    return FullName(surname_for(surname, gender), first, patronymic(father, gender), gender)


_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya",
}  # fmt: skip


def transliterate(text: str) -> str:
    """Lowercase Latin spelling of a Russian word (passport-like, letters only)."""
    out = "".join(_LATIN.get(ch, ch) for ch in text.lower())
    return "".join(ch for ch in out if "a" <= ch <= "z")


def login_base(last_name: str, first_name: str, middle_name: str = "") -> str:
    """`smirnova.ev` for Смирнова Елена Викторовна."""
    initials = "".join(transliterate(p[0]) for p in (first_name, middle_name) if p)
    return f"{transliterate(last_name)}.{initials}"


class Logins:
    """Hands out unique logins, adding 2, 3 … on a clash."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def new(self, last_name: str, first_name: str, middle_name: str = "") -> str:
        base = login_base(last_name, first_name, middle_name)
        login, n = base, 1
        while login in self.taken:
            n += 1
            login = f"{base}{n}"
        self.taken.add(login)
        return login
