"""The messaging core: a thread with its participants, replies and unread counts."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance import messaging
from appliance.db import write
from appliance.models import AuditEntry, Message, ThreadParticipant


def test_a_thread_is_unread_for_recipients_until_they_reply(school):
    parent, teacher = school.users["parent"], school.users["class_teacher"]
    with write() as rec:
        thread, _ = messaging.start_thread(parent, [teacher, parent], "", "Добрый день!", rec=rec)
    assert thread.subject == "Добрый день!"
    assert ThreadParticipant.select().where(ThreadParticipant.thread == thread).count() == 2
    assert messaging.unread_count(teacher) == 1 and messaging.unread_count(parent) == 0
    with write() as rec:
        messaging.reply(thread, teacher, "Здравствуйте.", rec=rec)
    assert messaging.unread_count(teacher) == 0 and messaging.unread_count(parent) == 1
    assert Message.select().count() == 2
    assert AuditEntry.select().where(AuditEntry.action == "message.send").count() == 2


def test_empty_or_addressless_messages_are_refused_and_nothing_is_stored(school):
    parent = school.users["parent"]
    with pytest.raises(messaging.MessageError, match="текст"), write() as rec:
        messaging.start_thread(parent, [school.users["teacher"]], "Тема", "  ", rec=rec)
    with pytest.raises(messaging.MessageError, match="кому"), write() as rec:
        messaging.start_thread(parent, [parent], "Тема", "Текст", rec=rec)
    assert Message.select().count() == 0


def test_only_participants_reply_and_nobody_is_added(school):
    parent, teacher = school.users["parent"], school.users["class_teacher"]
    with write() as rec:
        thread, _ = messaging.start_thread(parent, [teacher], "Тема", "Текст", rec=rec)
    with pytest.raises(messaging.MessageError, match="участники"), write() as rec:
        messaging.reply(thread, school.users["other_parent"], "Я тоже здесь", rec=rec)
    assert Message.select().count() == 1
    assert ThreadParticipant.select().where(ThreadParticipant.thread == thread).count() == 2


def test_threads_sent_together_are_one_item_of_the_senders_list(school):
    teacher, parent = school.users["teacher"], school.users["parent"]
    at = dt.datetime(2026, 1, 12, 9, 0, 0, 123)
    with write() as rec:
        messaging.start_thread(teacher, [parent], "Собрание", "В пятницу", rec=rec, at=at)
        messaging.start_thread(
            teacher, [school.users["student"]], "Собрание", "Тоже", rec=rec, at=at
        )
        messaging.start_thread(teacher, [parent], "Другое", "Отдельно", rec=rec)
    items = messaging.inbox(teacher).items
    assert [(i.subject, len(i.threads)) for i in items] == [("Другое", 1), ("Собрание", 2)]
    assert not items[1].unread  # the sender read their own messages
    assert [(i.subject, i.unread) for i in messaging.inbox(parent).items] == [
        ("Другое", 1),
        ("Собрание", 1),
    ]


def test_opening_a_thread_marks_it_read_and_writes_only_when_something_was_new(school):
    parent, teacher = school.users["parent"], school.users["class_teacher"]
    with write() as rec:
        thread, _ = messaging.start_thread(parent, [teacher], "", "Вопрос", rec=rec)
    assert messaging.mark_read(thread, teacher) is True
    assert messaging.unread_count(teacher) == 0
    assert messaging.mark_read(thread, teacher) is False
    assert messaging.thread_of(school.users["other_parent"], thread.id) is None
