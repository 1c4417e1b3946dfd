"""One-click notices to parents (§7.3, §7.4): a message to parents with an account, a
printed letter to the others, all in one transaction, only within the sender's scope;
and the log of who was told what and when."""

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
    MessageThread,
    Notification,
    RoleGrant,
    School,
    ThreadParticipant,
)
from appliance.parent_notices import letters, notify
from appliance.parent_notices.log import LogFilter, notice_log

from .factories import PASSWORD, SchoolFactory
from .test_grid import counted_queries
from .test_parent_notices import as_role, give_absences, give_marks, second_subject
from .test_pdf import pdf_pages, pdf_text


@pytest.fixture
def failing(school):
    """Ivanov fails mathematics; his mother has an account, his father gets a letter."""
    ivanov = school.students["5А"][0]
    give_marks(school.group, ivanov, ["2", "2", "3"])
    with write():
        father = SchoolFactory.person("Иванов", "Сергей", "Петрович")
        Guardian.create(parent=father, student=ivanov, relation="отец")
        School.update(
            letterhead="Муниципальное бюджетное общеобразовательное учреждение\n«Школа № 1»",
            address="г. Самара, ул. Школьная, 1",
        ).execute()
    return ivanov


def counts() -> tuple[int, int, int, int]:
    return (
        Notification.select().count(),
        MessageThread.select().count(),
        Job.select().count(),
        AuditEntry.select().where(AuditEntry.action == "parent_notice.send").count(),
    )


def notify_url(student) -> str:
    return f"/at-risk/students/{student.id}/notify"


def test_one_click_sends_a_message_a_letter_and_queues_the_pdf(
    browser, school, failing, settings, caplog
):
    browser.login("smirnova.ev", PASSWORD)
    response = browser.post(notify_url(failing), {"kind": "failing", "group": school.group.id})
    assert response.status_code == 302
    job = Job.get()
    assert response.headers["Location"].endswith(f"/jobs/{job.id}")
    assert (job.kind, job.created_by_id) == (letters.LETTERS_JOB, school.users["teacher"].id)

    app_notice, letter = sorted(Notification.select(), key=lambda n: n.channel)
    assert (app_notice.channel, letter.channel) == ("app", "letter")
    assert app_notice.recipient == school.parents["Иванов"]
    assert letter.recipient.first_name == "Сергей"
    for notice in (app_notice, letter):
        assert notice.kind == "failing" and notice.student == failing
        assert notice.created_by == school.users["teacher"] and notice.sent_at is not None
        payload = json.loads(notice.payload)
        assert payload["subject"] == "Математика" and payload["average"] == "2.33"
        assert payload["predicted"] == "2" and payload["class"] == "5А"
    assert json.loads(letter.payload)["job_id"] == job.id

    thread = MessageThread.get()
    assert json.loads(app_notice.payload)["thread_id"] == thread.id
    members = {
        p.user_id for p in ThreadParticipant.select().where(ThreadParticipant.thread == thread)
    }
    assert members == {school.users["teacher"].id, school.users["parent"].id}
    body = Message.get().body
    for fact in ("Иванов Пётр", "5А", "«Математика»", "2,33", "«2»", "Смирнова Елена Викторовна"):
        assert fact in body
    assert "ответьте на это сообщение" in body
    assert "ответьте" not in letter.body  # a letter cannot be answered in the app
    assert AuditEntry.select().where(AuditEntry.action == "parent_notice.send").count() == 2

    jobs.run_pending(settings)
    job = Job.get_by_id(job.id)
    assert job.state == "done" and (job.progress, job.total) == (1, 1)
    assert [r.getMessage() for r in caplog.records if r.name == "weasyprint"] == []
    data = (settings.data_dir / job.result_file).read_bytes()
    assert data.startswith(b"%PDF-") and pdf_pages(data) == 1
    text = pdf_text(data)
    for fact in (
        "Иванов Сергей Петрович",
        "Ученик: Иванов Пётр, 5А класс",
        "«Школа № 1»",
        "Смирнова Е.В.",
    ):
        assert fact in text, fact
    assert "г. Самара, ул. Школьная, 1" in text
    assert dt.date.today().strftime("%d.%m.%Y") in text
    page = browser.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert f"/jobs/{job.id}/file" in page
    download = browser.get(f"/jobs/{job.id}/file")
    assert download.status_code == 200 and download.data.startswith(b"%PDF-")
    download.close()


def test_parents_who_all_have_accounts_need_no_letter(browser, school, failing):
    with write():
        Guardian.delete().where(Guardian.relation == "отец").execute()
    browser.login("smirnova.ev", PASSWORD)
    response = browser.post(notify_url(failing), {"kind": "failing", "group": school.group.id})
    assert response.headers["Location"].endswith("/at-risk/")
    assert counts()[:3] == (1, 1, 0)
    page = browser.get("/at-risk/").get_data(as_text=True)
    assert "в приложении — 1, письмом — 0" in page
    assert "Уведомить ещё раз" in page  # the row shows the parents were told this term


def test_a_teacher_cannot_notify_about_another_teachers_student(browser, school, failing):
    fedorov = school.students["5Б"][0]
    browser.login("smirnova.ev", PASSWORD)
    assert browser.post(notify_url(fedorov), {"kind": "absences"}).status_code == 404
    assert browser.post("/at-risk/students/999999/notify", {"kind": "failing"}).status_code == 404
    russian = second_subject(school)  # kuznetsov.ap's group: not hers, though Ivanov is hers
    give_marks(russian, failing, ["2", "2"])
    response = browser.post(notify_url(failing), {"kind": "failing", "group": russian.id})
    assert response.status_code == 404
    assert counts() == (0, 0, 0, 0)


def test_a_class_teacher_notifies_only_about_own_class(browser, school):
    fedorov, ivanov = school.students["5Б"][0], school.students["5А"][0]
    give_absences(school.group, ivanov, 6)
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    assert browser.post(notify_url(fedorov), {"kind": "absences"}).status_code == 404
    assert browser.post(notify_url(ivanov), {"kind": "absences"}).status_code == 302
    (notice,) = Notification.select()
    assert notice.kind == "absences" and json.loads(notice.payload)["absences"] == 6
    body = Message.get().body
    assert "пропустил(а) без уважительной причины 6 уроков за год" in body
    assert "Кузнецов Андрей Павлович, классный руководитель 5А" in body


def test_the_office_and_a_teacher_without_groups_cannot_notify(browser, school, failing):
    browser.login("belova.os", PASSWORD)
    response = browser.post(notify_url(failing), {"kind": "failing", "group": school.group.id})
    assert response.status_code == 403
    browser.logout()
    browser.login("kuznetsov.ap", PASSWORD)  # as a subject teacher: Ivanov is not in his groups
    assert browser.post(notify_url(failing), {"kind": "failing"}).status_code == 404
    assert counts() == (0, 0, 0, 0)


@pytest.mark.parametrize(
    "form, message",
    [
        ({}, "Выберите, о чём уведомить"),
        ({"kind": "absences"}, "уведомлять не о чем"),  # he fails, he does not miss lessons
        ({"kind": "digest"}, "Выберите, о чём уведомить"),
    ],
)
def test_a_notice_without_grounds_changes_nothing(browser, school, failing, form, message):
    browser.login("smirnova.ev", PASSWORD)
    response = browser.post(notify_url(failing), form)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert counts() == (0, 0, 0, 0)


def test_a_student_without_recorded_parents_cannot_be_notified(browser, school, failing):
    with write():
        Guardian.delete().execute()
    browser.login("smirnova.ev", PASSWORD)
    response = browser.post(notify_url(failing), {"kind": "failing", "group": school.group.id})
    assert response.status_code == 400
    assert "не записаны родители" in response.get_data(as_text=True)
    assert counts() == (0, 0, 0, 0)


def test_a_failing_part_rolls_the_whole_notice_back(school, failing, monkeypatch):
    person, role = as_role(school, "teacher")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(jobs, "enqueue", broken)
    with pytest.raises(RuntimeError):
        notify.notify_student(
            person, role, failing, "failing", school.group.id, user=school.users["teacher"]
        )
    assert counts() == (0, 0, 0, 0)


def test_notify_all_needs_a_confirmation_then_makes_one_pdf(browser, school, failing, settings):
    petrova = school.students["5А"][1]
    give_absences(school.group, petrova, 7)
    browser.login("smirnova.ev", PASSWORD)
    page = browser.get("/at-risk/").get_data(as_text=True)
    assert "строк: 2" in page
    assert browser.post("/at-risk/notify-all", {}).status_code == 400
    assert counts() == (0, 0, 0, 0)
    response = browser.post("/at-risk/notify-all", {"confirm": "1"})
    job = Job.get()
    assert response.headers["Location"].endswith(f"/jobs/{job.id}")
    # Ivanov: mother in the app, father by letter; Petrova: her mother has no account
    assert sorted((n.student.last_name, n.channel) for n in Notification.select()) == [
        ("Иванов", "app"),
        ("Иванов", "letter"),
        ("Петрова", "letter"),
    ]
    jobs.run_pending(settings)
    data = (settings.data_dir / Job.get_by_id(job.id).result_file).read_bytes()
    assert pdf_pages(data) == 2
    text = pdf_text(data)
    assert "Иванов Пётр" in text and "Петрова Анна" in text
    # a second batch finds nobody left to notify
    response = browser.post("/at-risk/notify-all", {"confirm": "1"})
    assert response.status_code == 400 and "уже уведомлены" in response.get_data(as_text=True)
    assert Notification.select().count() == 3


def test_letters_job_without_letters_fails_plainly(school, settings):
    with write():
        job = jobs.enqueue(letters.LETTERS_JOB, {"notifications": [12345]})
    jobs.run_pending(settings)
    job = Job.get_by_id(job.id)
    assert job.state == "failed" and "Писем для печати нет" in job.message


# --- the log --------------------------------------------------------------------------------


def sent_by_smirnova(browser, school, failing) -> None:
    browser.login("smirnova.ev", PASSWORD)
    browser.post(notify_url(failing), {"kind": "failing", "group": school.group.id})
    browser.logout()


@pytest.mark.parametrize(
    "username, role, sees",
    [
        ("smirnova.ev", None, True),
        ("kuznetsov.ap", "class_teacher", True),
        ("kuznetsov.ap", None, False),  # as a subject teacher: not his group, not his notice
        ("belova.os", None, True),
        ("orlova.mi", None, True),
        ("titov.pa", None, True),
    ],
)
def test_the_log_shows_each_role_the_notices_it_answers_for(
    browser, school, failing, username, role, sees
):
    sent_by_smirnova(browser, school, failing)
    browser.login(username, PASSWORD, role=school.role_key(role) if role else None)
    page = browser.get("/at-risk/log").get_data(as_text=True)
    assert ("Иванов Сергей Петрович" in page) is sees
    assert ("Иванов Ольга" in page) is sees


def test_the_log_says_who_read_the_message_and_filters(browser, school, failing):
    sent_by_smirnova(browser, school, failing)
    browser.login("belova.os", PASSWORD)
    page = browser.get("/at-risk/log").get_data(as_text=True)
    assert page.count("не прочитано") == 1  # the app notice; a letter has no read state
    assert "Смирнова Е.В." in page and "Неуспеваемость: Математика" in page
    with write():
        ThreadParticipant.update(last_read_at=dt.datetime.now()).where(
            ThreadParticipant.user == school.users["parent"]
        ).execute()
    page = browser.get("/at-risk/log").get_data(as_text=True)
    assert "не прочитано" not in page and "badge ok" in page
    other = browser.get(f"/at-risk/log?class={school.classes['5Б'].id}").get_data(as_text=True)
    assert "Иванов Сергей" not in other
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    assert "Иванов Сергей" not in browser.get(f"/at-risk/log?date_from={tomorrow}").get_data(
        as_text=True
    )
    today = dt.date.today().isoformat()
    page = browser.get(f"/at-risk/log?date_from={today}&date_to={today}&kind=failing")
    assert "Иванов Сергей" in page.get_data(as_text=True)
    page = browser.get("/at-risk/log?kind=absences").get_data(as_text=True)
    assert "Иванов Сергей" not in page
    assert "Дата указана неверно" in browser.get("/at-risk/log?date_from=32.13").get_data(
        as_text=True
    )


def test_only_the_sender_gets_the_link_to_the_letters(browser, school, failing):
    sent_by_smirnova(browser, school, failing)
    job = Job.get()
    browser.login("smirnova.ev", PASSWORD)
    assert f'href="/jobs/{job.id}"' in browser.get("/at-risk/log").get_data(as_text=True)
    browser.logout()
    browser.login("orlova.mi", PASSWORD)
    assert f'href="/jobs/{job.id}"' not in browser.get("/at-risk/log").get_data(as_text=True)


def test_a_teacher_who_is_also_a_parent_does_not_notify_themself(school, failing):
    teacher = school.users["teacher"]
    with write():
        Guardian.create(parent=teacher.person, student=failing, relation="мать")
        RoleGrant.create(user=teacher, role="parent")
    person, role = as_role(school, "teacher")
    sent = notify.notify_student(person, role, failing, "failing", school.group.id, user=teacher)
    assert sorted(n.recipient.first_name for n in sent.notifications) == ["Ольга", "Сергей"]


def test_the_log_and_the_letters_cost_the_same_queries_for_one_notice_or_many(school, failing):
    teacher = school.users["teacher"]
    person, role = as_role(school, "teacher")
    deputy, office = as_role(school, "deputy")
    notify.notify_student(person, role, failing, "failing", school.group.id, user=teacher)

    def measure() -> tuple[int, int]:
        with counted_queries() as log_queries:
            entries = notice_log(deputy, school.users["deputy"], office, LogFilter())
            [(e.notice.student.full_name, e.notice.recipient, e.sender_name) for e in entries]
        ids = [e.notice.id for e in entries]
        with counted_queries() as letter_queries:
            letters.letters_html(letters.letter_notices(ids), School.get())
        return len(log_queries), len(letter_queries)

    few = measure()
    for student in school.students["5А"][1:]:
        give_marks(school.group, student, ["2", "2"])
    notify.notify_everyone_due(person, role, user=teacher)
    assert Notification.select().count() == 4
    assert measure() == few


def test_parents_with_accounts_share_one_thread_and_each_reads_it(browser, school, failing):
    father = Guardian.get(Guardian.relation == "отец").parent
    with write():
        father_account = school.account(father, "ivanov.sp", ("parent", None))
    browser.login("smirnova.ev", PASSWORD)
    browser.post(notify_url(failing), {"kind": "failing", "group": school.group.id})
    notices = list(Notification.select())
    assert {n.channel for n in notices} == {"app"} and Job.select().count() == 0
    (thread_id,) = {json.loads(n.payload)["thread_id"] for n in notices}
    readers = ThreadParticipant.select().where(ThreadParticipant.thread == thread_id)
    assert {p.user_id for p in readers} == {
        school.users["teacher"].id,
        school.users["parent"].id,
        father_account.id,
    }
    assert Message.get().body.startswith("Здравствуйте, Ольга и Сергей Петрович!")
    with write():
        ThreadParticipant.update(last_read_at=dt.datetime.now()).where(
            ThreadParticipant.user == father_account
        ).execute()
    page = browser.get("/at-risk/log").get_data(as_text=True)
    assert page.count("не прочитано") == 1  # the mother has not read it yet
    assert f'href="/messages/{thread_id}"' in page  # the sender opens the thread
    assert browser.get(f"/messages/{thread_id}").status_code == 200


# --- only published rows reach the parents; a double click sends once ------------------


@pytest.fixture
def upstream():
    """An upstream (АСУ РСО) configured: new marks wait for `published_at`."""
    from appliance import publishing

    publishing.configure(True)
    try:
        yield
    finally:
        publishing.configure(False)


def test_unpublished_marks_alone_never_make_a_notice(browser, school, upstream):
    ivanov = school.students["5А"][0]
    give_marks(school.group, ivanov, ["4"])
    give_marks(school.group, ivanov, ["2", "2", "2"], published=False)
    person, role = as_role(school, "teacher")
    from appliance.parent_notices import risk

    (row,) = risk.at_risk(person, role)  # staff still see the full picture
    assert (row.student, row.kind, row.marks) == (ivanov, "failing", 4)
    browser.login("smirnova.ev", PASSWORD)
    response = browser.post(notify_url(ivanov), {"kind": "failing", "group": school.group.id})
    assert response.status_code == 400
    assert "ещё не опубликованных" in response.get_data(as_text=True)
    response = browser.post("/at-risk/notify-all", {"confirm": "1"})
    assert response.status_code == 400
    assert "по опубликованным данным" in response.get_data(as_text=True)
    assert counts() == (0, 0, 0, 0)


def test_a_notice_tells_the_published_facts_only(school, failing, upstream, settings):
    give_marks(school.group, failing, ["2", "2"], published=False)  # 2,2,3 published
    person, role = as_role(school, "teacher")
    notify.notify_student(
        person, role, failing, "failing", school.group.id, user=school.users["teacher"]
    )
    app_notice, letter = sorted(Notification.select(), key=lambda n: n.channel)
    for notice in (app_notice, letter):
        assert "Средневзвешенный балл: 2,33 (отметок: 3)" in notice.body
        payload = json.loads(notice.payload)
        assert (payload["average"], payload["marks"]) == ("2.33", 3)
    assert "отметок: 3" in Message.get().body
    jobs.run_pending(settings)
    data = (settings.data_dir / Job.get().result_file).read_bytes()
    assert "отметок: 3" in pdf_text(data) and "отметок: 5" not in pdf_text(data)


def test_a_double_click_on_notify_all_sends_once(school, failing):
    """Two requests both compute their lists before either writes."""
    from appliance.parent_notices import risk

    petrova = school.students["5А"][1]
    give_absences(school.group, petrova, 7)
    person, role = as_role(school, "teacher")
    first = [r for r in risk.at_risk(person, role) if r.notified is None]
    second = [r for r in risk.at_risk(person, role) if r.notified is None]
    sender = school.users["teacher"]
    sent = notify.send_notices(first, role="teacher", sender=sender)
    again = notify.send_notices(second, role="teacher", sender=sender)
    assert len(sent.notifications) == 3 and again.notifications == []
    assert sorted(s.last_name for s in again.already) == ["Иванов", "Петрова"]
    recipients = [n.recipient_id for n in Notification.select()]
    assert len(recipients) == len(set(recipients)) == 3  # one notice per parent
    assert MessageThread.select().count() == 1 and Job.select().count() == 1


def test_a_double_click_on_one_student_sends_once(school, failing, monkeypatch):
    """Both clicks found the row before either wrote — also for «Уведомить ещё раз»."""
    person, role = as_role(school, "teacher")
    sender = school.users["teacher"]
    seen = notify.find_risk(person, role, failing, "failing", school.group.id)
    monkeypatch.setattr(notify, "find_risk", lambda *args, **kwargs: seen)
    notify.notify_student(person, role, failing, "failing", school.group.id, user=sender)
    with pytest.raises(notify.NoticeError, match="уже уведомлены только что"):
        notify.notify_student(person, role, failing, "failing", school.group.id, user=sender)
    assert Notification.select().count() == 2  # the mother in the app, the father by letter
    monkeypatch.undo()
    # a deliberate repeat (the row now shows the first notice) still goes out, once
    seen = notify.find_risk(person, role, failing, "failing", school.group.id)
    assert seen.notified is not None
    monkeypatch.setattr(notify, "find_risk", lambda *args, **kwargs: seen)
    notify.notify_student(person, role, failing, "failing", school.group.id, user=sender)
    with pytest.raises(notify.NoticeError, match="уже уведомлены только что"):
        notify.notify_student(person, role, failing, "failing", school.group.id, user=sender)
    assert Notification.select().count() == 4
