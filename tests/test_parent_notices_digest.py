"""The weekly digest «Итоги недели» (§7.3): sent by the worker to parents with an account,
with the week's published marks, absences and homework, once per week."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from appliance import jobs
from appliance.db import write
from appliance.models import (
    AuditEntry,
    Guardian,
    Job,
    Message,
    Notification,
    ThreadParticipant,
)
from appliance.parent_notices import digest

from .factories import PASSWORD, SchoolFactory
from .test_parent_notices import give_absences, give_marks, lesson

WEEK = digest.digest_week(dt.date.today())


@pytest.fixture
def week(school):
    """Ivanov's week: two maths marks, one unpublished mark, an absence and homework."""
    ivanov = school.students["5А"][0]
    give_marks(school.group, ivanov, ["5"], day=WEEK)
    give_marks(school.group, ivanov, ["4"], day=WEEK + dt.timedelta(days=2))
    give_marks(school.group, ivanov, ["2"], day=WEEK + dt.timedelta(days=3), published=False)
    give_marks(school.group, ivanov, ["3"], day=WEEK - dt.timedelta(days=1))  # last week
    give_absences(school.group, ivanov, 1, day=WEEK + dt.timedelta(days=1))
    with write():
        lesson(
            school.group,
            WEEK + dt.timedelta(days=2),
            homework="№ 125, 127",
            published_at=dt.datetime.combine(WEEK, dt.time()),
        )
    return ivanov


def digests() -> list[Notification]:
    return list(Notification.select().where(Notification.kind == "digest"))


def test_digest_week_is_this_week_from_friday_and_the_last_one_before(school):
    friday = dt.date(2026, 11, 27)
    assert digest.digest_week(friday) == dt.date(2026, 11, 23)
    assert digest.digest_week(friday + dt.timedelta(days=2)) == dt.date(2026, 11, 23)
    assert digest.digest_week(friday + dt.timedelta(days=3)) == dt.date(2026, 11, 23)  # Monday
    assert digest.digest_week(friday + dt.timedelta(days=7)) == dt.date(2026, 11, 30)


def test_the_digest_is_scheduled_on_fridays_at_three(school):
    (entry,) = [p for p in jobs.PERIODIC if p.name == "weekly_digest"]
    assert entry.kind == digest.DIGEST_JOB
    friday = dt.datetime(2026, 11, 27, 15, 0)
    assert entry.due(friday, None)
    assert not entry.due(friday, friday)
    assert not entry.due(friday - dt.timedelta(hours=1), friday - dt.timedelta(days=7))
    assert entry.due(friday, friday - dt.timedelta(days=7))


def test_parents_with_an_account_get_the_week_once(school, week, settings):
    with write():
        job = jobs.enqueue(digest.DIGEST_JOB, {"week": WEEK.isoformat()})
    jobs.run_pending(settings)
    job = Job.get_by_id(job.id)
    assert job.state == "done" and "сводок отправлено — 1" in job.message
    assert job.total == job.progress == 2  # Ivanov and Fedorov have parents with accounts
    (notice,) = digests()
    assert notice.student == week and notice.recipient == school.parents["Иванов"]
    assert notice.channel == "app" and notice.created_by == school.users["class_teacher"]
    payload = json.loads(notice.payload)
    assert payload["week"] == WEEK.isoformat() and payload["class"] == "5А"

    body = Message.get().body
    assert "Итоги недели с " + WEEK.strftime("%d.%m.%Y") in body
    assert "Иванов Пётр, 5А класс" in body
    # not the unpublished «2» (the diary does not show it yet), not last week's «3»
    third = WEEK + dt.timedelta(days=2)
    line = f"• Математика: 5 (Ответ на уроке, {WEEK:%d.%m}), 4 (Ответ на уроке, {third:%d.%m})\n"
    assert line in body
    assert "Н — без уважительной причины" in body
    assert "№ 125, 127" in body
    (reader,) = ThreadParticipant.select().where(
        ThreadParticipant.thread == payload["thread_id"],
        ThreadParticipant.user == school.users["parent"],
    )
    assert reader.last_read_at is None  # unread for the parent
    assert AuditEntry.select().where(AuditEntry.action == "parent_notice.digest").count() == 1

    with write():
        again = jobs.enqueue(digest.DIGEST_JOB, {"week": WEEK.isoformat()})
    jobs.run_pending(settings)
    assert Job.get_by_id(again.id).state == "done"
    assert len(digests()) == 1 and Message.select().count() == 1  # nothing new


def test_a_second_run_sends_only_to_a_parent_who_got_an_account_since(school, week):
    first = digest.send_weekly_digests(WEEK)
    assert (first.sent, first.students, first.nothing) == (1, 1, 1)  # Fedorov: empty week
    with write():
        father = SchoolFactory.person("Иванов", "Сергей")
        Guardian.create(parent=father, student=week, relation="отец")
        school.account(father, "ivanov.s", ("parent", None))
    second = digest.send_weekly_digests(WEEK)
    assert (second.sent, second.students) == (1, 1)
    assert sorted(n.recipient.first_name for n in digests()) == ["Ольга", "Сергей"]
    assert digest.send_weekly_digests(WEEK).sent == 0
    assert digest.send_weekly_digests(WEEK + dt.timedelta(days=7)).sent == 0  # nothing then


def test_a_parent_reads_the_digest_in_messages_and_it_says_read_in_the_log(browser, school, week):
    digest.send_weekly_digests(WEEK)
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    page = browser.get("/at-risk/log?kind=digest").get_data(as_text=True)
    assert "Итоги недели" in page and "(автоматически)" in page and "не прочитано" in page
    with write():
        ThreadParticipant.update(last_read_at=dt.datetime.now()).where(
            ThreadParticipant.user == school.users["parent"]
        ).execute()
    assert "не прочитано" not in browser.get("/at-risk/log").get_data(as_text=True)
    browser.logout()
    browser.login("smirnova.ev", PASSWORD)  # a subject teacher does not read other subjects
    assert "Уведомлений нет." in browser.get("/at-risk/log").get_data(as_text=True)


def test_a_class_without_a_class_teacher_account_is_signed_by_the_director(school, week):
    with write():
        school.classes["5А"].class_teacher = None
        school.classes["5А"].save()
    digest.send_weekly_digests(WEEK)
    (notice,) = digests()
    assert notice.created_by == school.users["director"]


def test_nothing_is_sent_without_a_current_year(school, week):
    with write():
        school.year.is_current = False
        school.year.starts = dt.date(2000, 9, 1)
        school.year.ends = dt.date(2001, 8, 31)
        school.year.save()
    assert digest.send_weekly_digests(WEEK).sent == 0 and digests() == []


def test_the_digest_lists_the_missed_lessons_that_had_homework(school, week):
    """«Н», «УП», «Б» on a published lesson with homework; not lateness, not unpublished."""
    from appliance.models import Attendance, now

    stamp = dt.datetime.combine(WEEK, dt.time())
    published = now() - dt.timedelta(minutes=1)
    with write():
        for offset, code, homework, shown in [
            (3, "Б", "§ 12, № 3–5", published),
            (4, "УП", "повторить таблицу", published),
            (4, "ОП", "не пропуск", published),  # late, not missed
            (2, "Н", "", published),  # no homework
            (3, "Н", "ещё не в дневнике", None),  # attendance not published
            (-1, "Н", "прошлая неделя", published),
        ]:
            Attendance.create(
                lesson=lesson(
                    school.group,
                    WEEK + dt.timedelta(days=offset),
                    homework=homework,
                    published_at=stamp,
                ),
                student=week,
                code=code,
                published_at=shown,
            )
    digest.send_weekly_digests(WEEK)
    body = Message.get().body
    thursday, friday = WEEK + dt.timedelta(days=3), WEEK + dt.timedelta(days=4)
    (section,) = [p for p in body.split("\n\n") if p.startswith("Пропущены уроки")]
    assert section == (
        "Пропущены уроки с заданием:\n"
        f"• Математика {thursday:%d.%m} — § 12, № 3–5\n"
        f"• Математика {friday:%d.%m} — повторить таблицу"
    )
    assert "Оценки:" in body and "№ 125, 127" in body  # the rest is kept
