"""The messages pages: writing, reading, replying, files, a class's parents at once."""

from __future__ import annotations

import io
import re
from pathlib import Path

from flask import g, render_template

from appliance import messaging
from appliance.access import ActiveRole
from appliance.config import Settings
from appliance.db import write
from appliance.messages_files import Upload, create_attachment, store_upload
from appliance.messages_send import FOLDER
from appliance.models import (
    Attachment,
    AuditEntry,
    Message,
    MessageAttachment,
    MessageThread,
    School,
    ThreadParticipant,
    User,
    database,
)

from .factories import PASSWORD


def sample_thread(username: str, settings: Settings | None = None) -> tuple[int, int]:
    """A thread of ``username`` with one other allowed person and one real file.

    For the access walk: returns (thread_id, file_id) that this account may open.
    """
    files_dir = settings.files_dir if settings else Path(database.database).parent / "files"
    other = "ivanova.m" if username == "kuznetsov.ap" else "kuznetsov.ap"
    with write() as rec:
        author = User.get(User.username == username)
        upload = Upload("справка.txt", io.BytesIO("Справка для школы".encode()))
        stored = store_upload(upload, files_dir / FOLDER, 64)
        attachment = create_attachment(stored, files_dir, author, rec)
        thread, message = messaging.start_thread(
            author,
            [User.get(User.username == other)],
            "Пример",
            "Текст примера",
            rec=rec,
            attachments=[attachment],
        )
        link = MessageAttachment.get(MessageAttachment.message == message)
    return thread.id, link.id


def stored_files(settings: Settings) -> list[Path]:
    folder = settings.files_dir / FOLDER
    return sorted(folder.iterdir()) if folder.exists() else []


def nothing_stored(settings: Settings) -> bool:
    return (
        MessageThread.select().count() == 0
        and Message.select().count() == 0
        and Attachment.select().count() == 0
        and stored_files(settings) == []
    )


def test_parent_writes_to_the_class_teacher_who_sees_it(browser, school):
    browser.login("ivanova.m", PASSWORD)
    form = browser.get("/messages/new").get_data(as_text=True)
    assert "Кузнецов Андрей Павлович" in form and "Фёдоров" not in form
    assert "все вместе — до 10 МБ" in form  # the request limit is said before it bites
    kuznetsov = school.users["class_teacher"]
    response = browser.post(
        "/messages/new",
        {"to": str(kuznetsov.id), "subject": "Справка", "body": "Пётр болел.\nСправка завтра."},
    )
    assert response.status_code == 302
    thread = MessageThread.get()
    assert response.headers["Location"].endswith(f"/messages/{thread.id}")
    assert AuditEntry.select().where(AuditEntry.action == "message.send").count() == 1
    browser.logout()

    browser.login("kuznetsov.ap", PASSWORD)
    assert messaging.unread_count(kuznetsov) == 1
    listing = browser.get("/messages/").get_data(as_text=True)
    assert '<tr class="unread">' in listing and "Справка" in listing and "Иванов О." in listing
    page = browser.get(f"/messages/{thread.id}").get_data(as_text=True)
    assert "Пётр болел.\nСправка завтра." in page  # line breaks kept (pre-wrap)
    assert messaging.unread_count(kuznetsov) == 0
    assert '<tr class="unread">' not in browser.get("/messages/").get_data(as_text=True)


def test_to_preselects_an_allowed_recipient_only(browser, school):
    browser.login("ivanova.m", PASSWORD)
    teacher = school.users["teacher"]
    page = browser.get(f"/messages/new?to={teacher.id}").get_data(as_text=True)
    assert re.search(rf'value="{teacher.id}" checked', page)
    other = school.users["other_parent"]
    page = browser.get(f"/messages/new?to={other.id}").get_data(as_text=True)
    assert "написать не можете" in page and f'value="{other.id}"' not in page


def test_forged_recipient_outside_the_scope_is_refused_with_nothing_stored(
    browser, school, settings
):
    browser.login("ivanova.m", PASSWORD)
    allowed, forged = school.users["class_teacher"], school.users["other_parent"]
    response = browser.post(
        "/messages/new",
        {
            "to": [str(allowed.id), str(forged.id)],
            "body": "Здравствуйте",
            "files": (io.BytesIO(b"data"), "a.txt"),
        },
    )
    assert response.status_code == 400
    assert "не можете написать" in response.get_data(as_text=True)
    assert nothing_stored(settings)


def test_student_cannot_write_to_a_student_or_parent_to_another_parent(browser, school, settings):
    browser.login("ivanov.p", PASSWORD)
    other_student = school.users["other_student"]
    response = browser.post("/messages/new", {"to": str(other_student.id), "body": "Привет"})
    assert response.status_code == 400
    browser.logout()
    browser.login("ivanova.m", PASSWORD)
    response = browser.post(
        "/messages/new", {"to": str(school.users["other_parent"].id), "body": "Hi"}
    )
    assert response.status_code == 400
    assert nothing_stored(settings)


def test_parent_cannot_write_to_the_teacher_of_another_class(browser, school, settings):
    from .test_messages_rules import teacher_of_5b

    volkova = teacher_of_5b(school)
    browser.login("ivanova.m", PASSWORD)
    assert "Волкова" not in browser.get("/messages/new").get_data(as_text=True)
    response = browser.post("/messages/new", {"to": str(volkova.id), "body": "Вопрос"})
    assert response.status_code == 400
    assert nothing_stored(settings)


def test_student_writes_to_own_teacher(browser, school):
    browser.login("ivanov.p", PASSWORD)
    teacher = school.users["teacher"]
    response = browser.post("/messages/new", {"to": str(teacher.id), "body": "Задание?"})
    assert response.status_code == 302
    assert messaging.unread_count(teacher) == 1


def test_inspector_has_no_messages(browser, school, settings):
    thread_id, file_id = sample_thread("orlova.mi", settings)
    browser.login("titov.pa", PASSWORD)
    for url in ("/messages/", "/messages/new", f"/messages/{thread_id}"):
        assert browser.get(url).status_code == 403, url
    assert browser.post("/messages/new", {"body": "x"}).status_code == 403


def test_non_participant_gets_404_on_a_thread_its_files_and_replies(browser, school, settings):
    thread_id, file_id = sample_thread("ivanova.m", settings)
    browser.login("ivanova.m", PASSWORD)
    response = browser.get(f"/messages/{thread_id}/files/{file_id}")
    assert response.status_code == 200 and response.data == "Справка для школы".encode()
    assert "attachment" in response.headers["Content-Disposition"]
    response.close()  # files are streamed
    browser.logout()
    browser.login("fedorova.o", PASSWORD)
    assert browser.get(f"/messages/{thread_id}").status_code == 404
    assert browser.get(f"/messages/{thread_id}/files/{file_id}").status_code == 404
    reply = browser.post(f"/messages/{thread_id}/reply", {"body": "Можно мне?"})
    assert reply.status_code == 404
    assert Message.select().count() == 1
    browser.logout()
    browser.login("belova.os", PASSWORD)  # the deputy writes to everyone, yet reads no others'
    assert browser.get(f"/messages/{thread_id}").status_code == 404
    assert browser.get(f"/messages/{thread_id + 1}").status_code == 404


def test_a_file_id_of_another_thread_is_404(browser, school, settings):
    mine, _ = sample_thread("ivanova.m", settings)
    _, foreign_file = sample_thread("fedorova.o", settings)
    browser.login("ivanova.m", PASSWORD)
    assert browser.get(f"/messages/{mine}/files/{foreign_file}").status_code == 404


def test_reply_with_a_file_reaches_the_other_participant(browser, school, settings):
    thread_id, _ = sample_thread("ivanova.m", settings)
    browser.login("kuznetsov.ap", PASSWORD)
    response = browser.post(
        f"/messages/{thread_id}/reply",
        {"body": "Получил, спасибо.", "files": (io.BytesIO(b"%PDF-1.4 test"), "ответ.pdf")},
    )
    assert response.status_code == 302
    assert messaging.unread_count(school.users["parent"]) == 1
    page = browser.get(f"/messages/{thread_id}").get_data(as_text=True)
    assert "ответ.pdf" in page and "справка.txt" in page
    assert len(stored_files(settings)) == 2
    assert AuditEntry.select().where(AuditEntry.action == "message.attach").count() == 2


def test_file_over_the_schools_limit_is_refused_and_nothing_stored(browser, school, settings):
    with write():
        School.update(homework_file_limit_kb=1).execute()
    browser.login("ivanova.m", PASSWORD)
    response = browser.post(
        "/messages/new",
        {
            "to": str(school.users["class_teacher"].id),
            "body": "Справка во вложении",
            "files": [(io.BytesIO(b"ok"), "small.txt"), (io.BytesIO(b"x" * 2048), "big.jpg")],
        },
    )
    assert response.status_code == 400
    assert "слишком большой: не больше 1 КБ" in response.get_data(as_text=True)
    assert nothing_stored(settings)


def test_empty_posts_change_nothing(browser, school, settings):
    thread_id, _ = sample_thread("smirnova.ev", settings)
    browser.login("smirnova.ev", PASSWORD)
    class_id = school.classes["5А"].id
    assert browser.post("/messages/new", {}).status_code == 400
    assert browser.post(f"/messages/{thread_id}/reply", {}).status_code == 400
    assert browser.post(f"/messages/class/{class_id}", {}).status_code == 400
    assert Message.select().count() == 1


def test_bodies_are_escaped(browser, school):
    browser.login("ivanova.m", PASSWORD)
    browser.post(
        "/messages/new",
        {"to": str(school.users["teacher"].id), "body": '<script>alert("x")</script>'},
    )
    page = browser.get(f"/messages/{MessageThread.get().id}").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


def test_teacher_writes_to_all_parents_of_a_class_one_thread_per_family(browser, school):
    a = school.classes["5А"]
    with write():
        petrova = school.account(school.parents["Петрова"], "petrova.m", ("parent", None))
    browser.login("smirnova.ev", PASSWORD)
    page = browser.get(f"/messages/class/{a.id}").get_data(as_text=True)
    assert "Сидоров Ольга" in page and "Отправить семьям: 2" in page
    response = browser.post(
        f"/messages/class/{a.id}", {"subject": "Контрольная", "body": "В среду"}
    )
    assert response.status_code == 302
    threads = list(MessageThread.select().order_by(MessageThread.id))
    members = [
        sorted(
            p.user.username for p in ThreadParticipant.select().where(ThreadParticipant.thread == t)
        )
        for t in threads
    ]
    assert members == [["ivanova.m", "smirnova.ev"], ["petrova.m", "smirnova.ev"]]
    assert messaging.unread_count(petrova) == 1
    listing = browser.get("/messages/").get_data(as_text=True)
    assert listing.count("Контрольная") == 1 and "переписок: 2" in listing
    browser.logout()
    browser.login("ivanova.m", PASSWORD)
    page = browser.get(f"/messages/{threads[0].id}").get_data(as_text=True)
    assert "Петрова" not in page  # no other family in sight
    assert browser.get(f"/messages/{threads[1].id}").status_code == 404


def test_class_message_only_for_a_class_in_scope(browser, school):
    browser.login("smirnova.ev", PASSWORD)
    assert browser.get(f"/messages/class/{school.classes['5Б'].id}").status_code == 404
    assert browser.get("/messages/class/999999").status_code == 404
    browser.logout()
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    assert browser.get(f"/messages/class/{school.classes['5А'].id}").status_code == 200
    assert browser.get(f"/messages/class/{school.classes['5Б'].id}").status_code == 404
    browser.logout()
    browser.login("ivanov.p", PASSWORD)
    response = browser.post(f"/messages/class/{school.classes['5А'].id}", {"body": "Всем"})
    assert response.status_code == 302 and Message.select().count() == 0


def test_the_list_pages_newest_first(browser, school):
    parent, teacher = school.users["parent"], school.users["teacher"]
    with write() as rec:
        for n in range(messaging.PAGE_SIZE + 1):
            messaging.start_thread(parent, [teacher], f"Вопрос {n:02d}", "Текст", rec=rec)
    browser.login("smirnova.ev", PASSWORD)
    first = browser.get("/messages/").get_data(as_text=True)
    assert "Вопрос 30" in first and "Вопрос 00" not in first and "?page=2" in first
    second = browser.get("/messages/?page=2").get_data(as_text=True)
    assert "Вопрос 00" in second and "Вопрос 01" not in second


def test_menu_badge_shows_the_unread_count(app, school):
    parent = school.users["parent"]
    with write() as rec:
        messaging.start_thread(school.users["teacher"], [parent], "", "Добрый день", rec=rec)
    with app.test_request_context("/"):
        g.user, g.role = parent, ActiveRole("parent")
        assert ">1</span>" in render_template("messages/_nav_badge.html")
        g.role = ActiveRole("inspector")
        assert render_template("messages/_nav_badge.html").strip() == ""
