"""Whom a notice about a student goes to: their parents, by app or by letter.

A parent is reached in the app when they have an account they can log in with: an
active user with the parent role and an issued password. Everyone else gets a
printed letter (§4.3 — a family without an account is informed too).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from peewee import Query

from ..models import Guardian, Person, RoleGrant, User


@dataclass(frozen=True)
class Contact:
    parent: Person
    relation: str
    user: User | None  # None: no account, so a letter

    @property
    def channel(self) -> str:
        return "app" if self.user is not None else "letter"


def _ids(values: Iterable[int] | Query) -> list[int] | Query:
    return values if isinstance(values, Query) else list(values)


def parent_accounts(parent_ids: Iterable[int] | Query) -> dict[int, User]:
    """Parents' accounts that can log in, by the parent's person id."""
    query = (
        User.select()
        .join(RoleGrant)
        .where(
            User.person.in_(_ids(parent_ids))
            & (RoleGrant.role == "parent")
            & User.is_active
            & User.password_hash.is_null(False)
        )
    )
    return {user.person_id: user for user in query}


def parent_contacts(student_ids: Iterable[int] | Query) -> dict[int, list[Contact]]:
    """Each student's parents (Guardian rows) with their account if any, in two queries."""
    links = list(
        Guardian.select(Guardian, Person)
        .join(Person, on=Guardian.parent)
        .where(Guardian.student.in_(_ids(student_ids)))
        .order_by(Person.last_name, Person.first_name, Person.id)
    )
    accounts = parent_accounts({link.parent_id for link in links}) if links else {}
    found: dict[int, list[Contact]] = {}
    for link in links:
        contact = Contact(link.parent, link.relation, accounts.get(link.parent_id))
        found.setdefault(link.student_id, []).append(contact)
    return found
