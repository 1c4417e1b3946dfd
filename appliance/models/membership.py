"""Who belongs where: role grants (with a class as scope) and class enrolment."""

from __future__ import annotations

from peewee import CharField, DateField, DateTimeField, ForeignKeyField

from .base import BaseModel, SyncedModel, now
from .curriculum import SchoolClass
from .people import Person, User


class RoleGrant(BaseModel):
    """A role a user holds; class teachers carry their class as the scope."""

    user = ForeignKeyField(User, backref="grants", on_delete="CASCADE")
    role = CharField()
    school_class = ForeignKeyField(
        SchoolClass, null=True, backref="role_grants", on_delete="CASCADE"
    )
    granted_at = DateTimeField(default=now)

    class Meta:
        indexes = ((("user", "role", "school_class"), True),)


# SQLite treats NULLs as distinct: an unscoped role needs its own unique index.
RoleGrant.add_index(
    RoleGrant.index(RoleGrant.user, RoleGrant.role, unique=True).where(
        RoleGrant.school_class.is_null()
    )
)


class Enrollment(SyncedModel):
    """A student's membership of a class over dates."""

    student = ForeignKeyField(Person, backref="enrollments", on_delete="CASCADE")
    school_class = ForeignKeyField(SchoolClass, backref="enrollments", on_delete="CASCADE")
    starts = DateField()
    ends = DateField(null=True)
