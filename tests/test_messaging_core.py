"""The messaging core: a thread with its participants, replies and unread counts."""

from __future__ import annotations

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
