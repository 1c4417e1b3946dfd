"""КТП topics for the demo: sections and topics of each subject, spread over its hours.

The programmes live in ``ktp.txt``. A plan gives each section a share of the
year's hours by its number of topics; a topic that gets several lessons continues
with practice lessons («: закрепление», «: решение задач» …), the last of them
taking the remaining hours; sections end with a контрольная or проверочная, and
the year with revision and a final test.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

Programme = list[tuple[str, list[str]]]  # (section, topics)

VARIANTS = {
    "lang": ("{t}: закрепление", "{t}: практикум", "{t}: обобщение"),
    "lit": ("{t}: анализ и обсуждение", "{t}: герои и их поступки", "{t}: выразительное чтение"),
    "foreign": ("{t}: лексика", "{t}: грамматика", "{t}: чтение", "{t}: аудирование и говорение"),
    "math": (
        "{t}: решение задач",
        "{t}: закрепление",
        "Самостоятельная работа: {t}",
        "{t}: решение задач повышенной сложности",
    ),
    "science": ("{t}: решение задач", "{t}: закрепление"),
    "natural": ("{t}: закрепление", "{t}: практикум"),
    "humanities": ("{t}: закрепление", "{t}: работа с источниками", "{t}: обобщение"),
    "info": ("Практическая работа: {t}", "{t}: закрепление"),
    "arts": ("{t}: продолжение работы", "{t}: творческая работа"),
    "tech": ("{t}: практическая работа", "{t}: изготовление изделия"),
    "pe": ("{t}: совершенствование", "{t}: закрепление", "{t}: контрольное упражнение"),
    "safety": ("{t}: практическое занятие", "{t}: закрепление"),
}

CHECKPOINTS = {
    "lang": "Контрольный диктант по теме «{s}»",
    "math": "Контрольная работа по теме «{s}»",
    "science": "Контрольная работа по теме «{s}»",
    "foreign": "Контрольная работа по теме «{s}»",
    "info": "Контрольная работа по теме «{s}»",
    "natural": "Проверочная работа по теме «{s}»",
    "humanities": "Проверочная работа по теме «{s}»",
    "lit": "Проверочная работа по теме «{s}»",
    "safety": "Тест по теме «{s}»",
}

FINALS = {
    "lang": "Итоговый контрольный диктант",
    "math": "Итоговая контрольная работа",
    "science": "Итоговая контрольная работа",
    "foreign": "Итоговая контрольная работа",
    "info": "Итоговая контрольная работа",
    "natural": "Итоговая проверочная работа",
    "humanities": "Итоговая проверочная работа",
    "lit": "Итоговая проверочная работа",
    "safety": "Итоговый тест",
    "arts": "Обобщающий урок. Выставка творческих работ",
    "tech": "Итоговый урок. Защита проектов",
    "pe": "Итоговое занятие. Контрольные нормативы",
}

REVISION_SECTION = "Повторение"

# How a topic names a work done by the whole group (checked in this order).
WORK_MARKERS = (
    ("Итоговая контрольная", "Контрольная работа"),
    ("Контрольная работа", "Контрольная работа"),
    ("Итоговый контрольный диктант", "Диктант"),
    ("Контрольный диктант", "Диктант"),
    ("Самостоятельная работа", "Самостоятельная работа"),
    ("Итоговая проверочная", "Проверочная работа"),
    ("Проверочная работа", "Проверочная работа"),
    ("Итоговый тест", "Тест"),
    ("Тест ", "Тест"),
    ("Итоговое занятие. Контрольные нормативы", "Практическая работа"),
)
WORKS_INSIDE = ("Лабораторная работа", "Практическая работа")


def work_type_of(topic: str) -> str | None:
    """The work type a topic announces («Контрольная работа по теме …»), or None."""
    for marker, work_type in WORK_MARKERS:
        if topic.startswith(marker):
            return work_type
    for marker in WORKS_INSIDE:
        if marker in topic:
            return marker
    return None


@cache
def programmes() -> dict[tuple[str, int], Programme]:
    """Every programme of ktp.txt by (subject code, grade)."""
    text = resources.files(__package__).joinpath("ktp.txt").read_text(encoding="utf-8")
    found: dict[tuple[str, int], Programme] = {}
    current: Programme = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("//"):
            continue
        if line.startswith("= "):
            code, grades = line[2:].split()
            first, _, last = grades.partition("-")
            current = []
            for grade in range(int(first), int(last or first) + 1):
                found[code, grade] = current
        elif line.startswith("# "):
            current.append((line[2:], []))
        else:
            current[-1][1].append(line)
    return found


@dataclass(frozen=True)
class PlanItem:
    section: str
    topic: str
    homework: str = ""
    hours: int = 1


def _shares(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` by ``weights`` (largest remainder, at least 1 each when possible)."""
    if total < len(weights):
        return [1] * total + [0] * (len(weights) - total)
    rest = total - len(weights)
    exact = [rest * w / sum(weights) for w in weights]
    shares = [int(x) for x in exact]
    by_fraction = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_fraction[: rest - sum(shares)]:
        shares[i] += 1
    return [s + 1 for s in shares]


class _Homework:
    """Homework hints that move on through the textbook as the lessons go."""

    def __init__(self, kind: str, grade: int) -> None:
        self.kind, self.grade = kind, grade
        self.paragraph, self.exercise, self.page = 0, 1, 4

    def next(self, new_topic: bool) -> str:
        if new_topic:
            self.paragraph += 1
        self.exercise += 3 + self.paragraph % 3
        self.page += 2 + self.paragraph % 2
        p, e, pg = self.paragraph, self.exercise, self.page
        if self.grade == 1 or self.kind in ("arts", "tech", "pe"):
            return ""  # no homework in grade 1 (СанПиН), none in practical subjects
        if self.kind == "lang":
            return f"§ {p}, упр. {e}" if self.grade >= 5 else f"Учебник с. {pg}, упр. {e}"
        if self.kind == "math":
            if self.grade >= 5:
                return f"п. {p}, № {e}, {e + 2}, {e + 5}"
            return f"Учебник с. {pg}, № {e % 9 + 1}, {e % 9 + 3}"
        if self.kind == "lit":
            if new_topic:
                return f"Прочитать произведение, учебник с. {pg}–{pg + 8}"
            return f"Ответить на вопросы, с. {pg}; выразительное чтение"
        if self.kind == "foreign":
            return f"Учебник с. {pg}, упр. {e % 12 + 1}; рабочая тетрадь с. {pg // 2}"
        if self.grade <= 4:
            return f"Учебник с. {pg}–{pg + 3}, рабочая тетрадь"
        return f"§ {p}, вопросы 1–{3 + p % 3}"


def plan_items(code: str, kind: str, grade: int, hours: int) -> list[PlanItem]:
    """A year's КТП for subject ``code`` in ``grade`` whose rows' hours add up to ``hours``."""
    programme = programmes()[code, grade]
    revision = max(1, round(hours * 0.04))
    tail = revision + 1
    body = hours - tail
    checkpoint = CHECKPOINTS.get(kind)
    if checkpoint and body >= 4 * len(programme):
        body -= len(programme)
    else:
        checkpoint = None
    homework = _Homework(kind, grade)
    variants = VARIANTS[kind]
    items: list[PlanItem] = []
    shares = _shares(body, [len(topics) for _, topics in programme])
    for (section, topics), share in zip(programme, shares, strict=True):
        fixed = [t for t in topics if work_type_of(t)]
        regular = [t for t in topics if not work_type_of(t)]
        if share < len(topics):
            plan = [(t, 1) for t in topics[:share]]
        else:
            counts = iter(_shares(share - len(fixed), [1] * len(regular)))
            plan = [(t, 1 if t in fixed else next(counts)) for t in topics]
        for topic, count in plan:
            items.append(PlanItem(section, topic, homework.next(True)))
            # Extra lessons: one per practice variant; any surplus goes to the second.
            extra = count - 1
            used = variants[:extra]
            surplus = extra - len(used)
            for i, variant in enumerate(used):
                hours_here = 1 + (surplus if i == min(1, len(used) - 1) else 0)
                items.append(
                    PlanItem(section, variant.format(t=topic), homework.next(False), hours_here)
                )
        if checkpoint and share:
            items.append(PlanItem(section, checkpoint.format(s=section)))
    sections = [s for s, _ in programme]
    for i in range(revision):
        items.append(PlanItem(REVISION_SECTION, f"Повторение: {sections[i % len(sections)]}"))
    items.append(PlanItem(REVISION_SECTION, FINALS[kind]))
    return items
