"""People, their accounts and roles, enrolment in classes and guardianship."""

from __future__ import annotations

from peewee import (
    BooleanField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    TextField,
)

from .base import BaseModel, SyncedModel, now


class Person(SyncedModel):
    last_name = CharField()
    first_name = CharField()
    middle_name = CharField(default="")
    birth_date = DateField(null=True)
    gender = CharField(default="")  # "м" / "ж"
    email = CharField(default="")
    phone = CharField(default="")
    address = TextField(default="")
    position = CharField(default="")  # staff only: должность
    is_staff = BooleanField(default=False, index=True)

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)

    @property
    def short_name(self) -> str:
        initials = "".join(f"{p[0]}." for p in (self.first_name, self.middle_name) if p)
        return f"{self.last_name} {initials}".strip()


class User(BaseModel):
    person = ForeignKeyField(Person, unique=True, backref="users", on_delete="CASCADE")
    username = CharField(unique=True)
    password_hash = CharField(null=True)  # null: no password issued yet
    must_change_password = BooleanField(default=True)
    is_active = BooleanField(default=True)
    admin_locked = BooleanField(default=False)
    # Failed logins count from here (a success, an unlock or a new password resets them).
    failures_reset_at = DateTimeField(null=True)
    locked_until = DateTimeField(null=True)
    last_login_at = DateTimeField(null=True)
    password_changed_at = DateTimeField(null=True)
    created_at = DateTimeField(default=now)


class Guardian(SyncedModel):
    parent = ForeignKeyField(Person, backref="children_links", on_delete="CASCADE")
    student = ForeignKeyField(Person, backref="guardian_links", on_delete="CASCADE")
    relation = CharField(default="")  # мать, отец, опекун …

    class Meta:
        indexes = ((("parent", "student"), True),)


class PersonalDataChange(BaseModel):
    """A change of personal data with when the school learned of it (3-day rule, §7.2)."""

    person = ForeignKeyField(Person, backref="data_changes", on_delete="CASCADE")
    field = CharField()
    old_value = TextField(default="")
    new_value = TextField(default="")
    notified_on = DateField()  # when the school received the notice
    entered_at = DateTimeField(null=True)  # when the change reached the system
    entered_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    note = CharField(default="")
    created_at = DateTimeField(default=now)


class UserSession(BaseModel):
    """A logged-in browser. The cookie carries only `sid`; ending the row ends the session."""

    sid = CharField(unique=True)
    user = ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    ip = CharField(default="")
    created_at = DateTimeField(default=now)
    last_seen_at = DateTimeField(default=now)
    ended_at = DateTimeField(null=True, index=True)
