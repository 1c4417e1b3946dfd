"""Messages, the announcements board and notices to parents."""

from __future__ import annotations

from peewee import (
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from .base import BaseModel, SyncedModel, now
from .curriculum import SchoolClass
from .people import Person, User
from .planning import Attachment


class MessageThread(BaseModel):
    subject = CharField()
    created_by = ForeignKeyField(User, on_delete="CASCADE")
    created_at = DateTimeField(default=now)
    last_message_at = DateTimeField(default=now, index=True)


class ThreadParticipant(BaseModel):
    thread = ForeignKeyField(MessageThread, backref="participants", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="threads", on_delete="CASCADE")
    last_read_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("thread", "user"), True),)


class Message(BaseModel):
    thread = ForeignKeyField(MessageThread, backref="messages", on_delete="CASCADE")
    author = ForeignKeyField(User, on_delete="CASCADE")
    body = TextField()
    created_at = DateTimeField(default=now)


class MessageAttachment(BaseModel):
    message = ForeignKeyField(Message, backref="attachments", on_delete="CASCADE")
    attachment = ForeignKeyField(Attachment, on_delete="CASCADE")


class Announcement(SyncedModel):
    AUDIENCES = ("all", "staff", "class", "grade", "parents", "students")

    author = ForeignKeyField(User, on_delete="CASCADE")
    title = CharField()
    body = TextField()
    audience = CharField(default="all")
    school_class = ForeignKeyField(SchoolClass, null=True, on_delete="CASCADE")
    grade = IntegerField(null=True)
    publish_on = DateField()
    expires_on = DateField(null=True)


class Notification(SyncedModel):
    """A notice to parents: failing, absences or the weekly digest (§4.3, §7.3, §7.4)."""

    KINDS = ("failing", "absences", "digest")
    CHANNELS = ("app", "letter", "email")

    kind = CharField()
    channel = CharField(default="app")
    student = ForeignKeyField(Person, backref="notices", on_delete="CASCADE")
    recipient = ForeignKeyField(Person, null=True, on_delete="SET NULL")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    body = TextField(default="")
    payload = TextField(default="{}")
    sent_at = DateTimeField(null=True)
    read_at = DateTimeField(null=True)


class UserNotice(BaseModel):
    """A short notice on a person's first page: a timetable change, a returned КТП …"""

    KINDS = ("timetable", "ktp", "system")

    user = ForeignKeyField(User, backref="notices", on_delete="CASCADE")
    kind = CharField(default="system")
    text = TextField()
    link = CharField(default="")
    created_at = DateTimeField(default=now, index=True)
    read_at = DateTimeField(null=True)
