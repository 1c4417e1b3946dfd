"""The emulator speaks the real protocol: the PyPI `netschoolapi` client logs in and reads
a student's diary (marks and homework written through the teacher's quick edit)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from appliance.sync.emulator import DB_NAME, EmulatorStore, create_emulator, seed_from_box

from .browser_support import served
from .factories import SchoolFactory

PASSWORD = "Дневник-ёжик-7"  # Cyrillic: the client must hash it in windows-1251

# netschoolapi 11.0.5 (marshmallow 3.19, httpx 0.23) warns about its own deprecated APIs.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_netschoolapi_logs_in_and_reads_the_diary(db, tmp_path):
    netschoolapi = pytest.importorskip("netschoolapi")
    from netschoolapi import errors

    school = SchoolFactory.build()
    store = EmulatorStore(tmp_path / "emu" / DB_NAME)
    seed_from_box(store, tmp_path / "ezh.sqlite3", student_password=PASSWORD)
    ids = {(r["entity"], r["boxUuid"]): r["id"] for r in store.state()["idMap"]}
    ivanov = ids[("person", str(school.students["5А"][0].uuid))]
    sg = ids[("subject_group", str(school.group.uuid))]
    today = dt.date.today()
    cm = store.query(
        "SELECT id FROM class_meeting WHERE sg_id = ? AND date = ? ORDER BY number",
        sg,
        today.isoformat(),
    )[0]["id"]
    store.quickedit(
        {
            "sgId": sg,
            "results": [
                {"cmId": cm, "assignTypeId": 2, "studentId": ivanov, "mark": "5", "dutyMark": False}
            ],
        }
    )
    store.edit_lesson(cm, sg, {"theme": "Дроби", "homework": "№ 12, 13"})
    app = create_emulator(tmp_path / "emu")

    async def scenario(base: str):
        api = netschoolapi.NetSchoolAPI(base)
        with pytest.raises(errors.AuthError):
            await api.login("ivanov.p", "не тот пароль", "Школа № 1")
        await api.login("ivanov.p", PASSWORD, "Школа № 1")
        diary = await api.diary(start=today, end=today + dt.timedelta(days=1))
        await api.full_logout()
        return diary

    with served(app) as base:
        diary = asyncio.run(scenario(base))
    lessons = [lesson for day in diary.schedule for lesson in day.lessons]
    assert len(lessons) == 3 and {lesson.subject for lesson in lessons} == {"Математика"}
    first = next(lesson for lesson in lessons if lesson.day == today and lesson.number == 1)
    assert first.start == dt.time(8, 30)
    kinds = {a.type: a for a in first.assignments}
    assert kinds["Контрольная работа"].mark == 5
    assert kinds["Домашнее задание"].content == "№ 12, 13"
    assert kinds["Домашнее задание"].mark is None
