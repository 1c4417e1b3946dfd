"""People and their credentials: staff, students, parents, accounts, personal-data changes.

Who may call what is decided by `appliance.access` in the web layer; these functions
do the change, audited, in one transaction each.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from . import passwords
from .db import snapshot, write
from .imports_columns import (
    CellError,
    parse_date,
    parse_email,
    parse_gender,
    parse_name_part,
    parse_phone,
)
from .models import (
    Enrollment,
    Guardian,
    Person,
    PersonalDataChange,
    RoleGrant,
    SchoolClass,
    SubjectGroup,
    SubjectGroupStudent,
    User,
    now,
)

PD_ENTRY_DAYS = 3  # §7.2: changes reach the system within 3 days of the notice
PERSON_FIELDS = (
    "last_name",
    "first_name",
    "middle_name",
    "birth_date",
    "gender",
    "email",
    "phone",
    "address",
    "position",
)
FIELD_LABELS = {
    "last_name": "Фамилия",
    "first_name": "Имя",
    "middle_name": "Отчество",
    "birth_date": "Дата рождения",
    "gender": "Пол",
    "email": "Электронная почта",
    "phone": "Телефон",
    "address": "Адрес",
    "position": "Должность",
}

_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya".split(),
        strict=True,
    )
)


class PeopleError(ValueError):
    """A change refused for a reason the user can fix (message in Russian)."""


def transliterate(text: str) -> str:
    out = []
    for ch in text.lower():
        latin = _TRANSLIT.get(ch)
        if latin is None:
            out.append(ch if ch.isascii() and ch.isalnum() else "")
        elif latin != "-":
            out.append(latin)
    return "".join(out)


def username_base(last_name: str, first_name: str, middle_name: str = "") -> str:
    """`familiya.io`: the surname and one Latin letter per initial (Юрьевна → y)."""
    initials = "".join(transliterate(p[:1])[:1] for p in (first_name, middle_name) if p)
    base = transliterate(last_name) + (f".{initials}" if initials else "")
    return base or "user"


def make_username(person: Person, taken: set[str] | None = None) -> str:
    """A free login for the person, with a number added when the base is taken."""
    base = username_base(person.last_name, person.first_name, person.middle_name)
    candidate, n = base, 1
    while (taken is not None and candidate in taken) or (
        User.select().where(User.username == candidate).exists()
    ):
        n += 1
        candidate = f"{base}{n}"
    if taken is not None:
        taken.add(candidate)
    return candidate


_PARSERS = {
    "last_name": parse_name_part,
    "first_name": parse_name_part,
    "middle_name": parse_name_part,
    "birth_date": parse_date,
    "gender": parse_gender,
    "phone": parse_phone,
    "email": parse_email,
}


def clean_person_data(data: dict, *, new: bool = False) -> dict:
    """Validate the editable fields of a person; raise PeopleError in Russian.

    For a new person the names are required; an edit changes only the fields sent.
    The cell parsers are the import's own, so a form and a file store data alike.
    """
    cleaned: dict = {}
    for key in PERSON_FIELDS:
        if key not in data:
            continue
        raw = data.get(key)
        if isinstance(raw, dt.date):
            cleaned[key] = raw
            continue
        text = (raw or "").strip()
        parser = _PARSERS.get(key)
        try:
            cleaned[key] = parser(text) if parser and text else text
        except CellError as exc:
            raise PeopleError(f"{FIELD_LABELS[key]} «{text}»: {exc}.") from None
    for key in ("last_name", "first_name"):
        if (new or key in cleaned) and not cleaned.get(key):
            raise PeopleError(f"Поле «{FIELD_LABELS[key]}» обязательно.")
    if "birth_date" in cleaned:
        cleaned["birth_date"] = cleaned["birth_date"] or None
        if cleaned["birth_date"] and cleaned["birth_date"] > dt.date.today():
            raise PeopleError("Дата рождения не может быть в будущем.")
    return cleaned


# --- people -----------------------------------------------------------------------


def create_person(data: dict, *, user: User | None, ip: str, is_staff: bool = False) -> Person:
    cleaned = clean_person_data(data, new=True)
    with write(user=user, ip=ip) as rec:
        person = Person.create(is_staff=is_staff, **cleaned)
        rec.record("person.create", person, sync=True)
    return person


def update_person(
    person: Person, data: dict, *, user: User, ip: str, notified_on: dt.date | None = None
) -> list[str]:
    """Change personal data, timestamping each field (§7.2); returns the changed fields."""
    cleaned = clean_person_data(data)
    notified_on = notified_on or dt.date.today()
    if notified_on > dt.date.today():
        raise PeopleError("Дата уведомления не может быть в будущем.")
    changed = [k for k, v in cleaned.items() if getattr(person, k) != v]
    if not changed:
        return []
    with write(user=user, ip=ip) as rec:
        before = snapshot(person)
        moment = now()
        for key in changed:
            PersonalDataChange.create(
                person=person,
                field=key,
                old_value=str(getattr(person, key) or ""),
                new_value=str(cleaned[key] or ""),
                notified_on=notified_on,
                entered_at=moment,
                entered_by=user,
            )
            setattr(person, key, cleaned[key])
        person.updated_at = moment
        person.save()
        rec.record("person.update", person, before=before, sync=True)
    return changed


def create_staff(
    data: dict, roles: Iterable[tuple[str, int | None]], *, user: User | None, ip: str
) -> Person:
    """A staff member with an account (no password yet) and their roles."""
    cleaned = clean_person_data(data, new=True)
    roles = list(roles)
    if not roles:
        raise PeopleError("Выберите хотя бы одну роль сотрудника.")
    with write(user=user, ip=ip) as rec:
        person = Person.create(is_staff=True, **cleaned)
        rec.record("person.create", person, sync=True)
        account = User.create(person=person, username=make_username(person))
        rec.record("user.create", account)
        _set_roles(account, roles, rec)
    return person


def set_staff_roles(account: User, roles: Iterable[tuple[str, int | None]], *, user: User, ip: str):
    roles = list(roles)
    if not roles:
        raise PeopleError("Выберите хотя бы одну роль сотрудника.")
    with write(user=user, ip=ip) as rec:
        _set_roles(account, roles, rec)


def _set_roles(account: User, roles: list[tuple[str, int | None]], rec) -> None:
    wanted = set(roles)
    if ("class_teacher", None) in wanted:
        raise PeopleError("Для классного руководителя укажите класс.")
    before = sorted((g.role, g.school_class_id) for g in account.grants)
    RoleGrant.delete().where(RoleGrant.user == account).execute()
    for role, class_id in sorted(wanted, key=lambda r: (r[0], r[1] or 0)):
        RoleGrant.create(user=account, role=role, school_class=class_id)
        if role == "class_teacher":
            SchoolClass.update(class_teacher=account.person).where(
                SchoolClass.id == class_id
            ).execute()
    rec.record(
        "user.roles",
        account,
        before={"roles": before},
        after={"roles": sorted((r, c) for r, c in wanted)},
    )


def enroll_student(
    data: dict, school_class: SchoolClass, *, user: User, ip: str, starts: dt.date | None = None
) -> Person:
    """A new student of a class, put into the class's whole-class subject groups."""
    cleaned = clean_person_data(data, new=True)
    starts = starts or dt.date.today()
    with write(user=user, ip=ip) as rec:
        student = Person.create(is_staff=False, **cleaned)
        rec.record("person.create", student, sync=True)
        enrollment = Enrollment.create(student=student, school_class=school_class, starts=starts)
        rec.record("enrollment.create", enrollment, sync=True)
        groups = SubjectGroup.select().where(
            (SubjectGroup.school_class == school_class) & SubjectGroup.subgroup.is_null()
        )
        for group in groups:
            SubjectGroupStudent.create(group=group, student=student, starts=starts)
    return student


def add_parent(student: Person, data: dict, relation: str, *, user: User, ip: str) -> Person:
    cleaned = clean_person_data(data, new=True)
    with write(user=user, ip=ip) as rec:
        parent = Person.create(is_staff=False, **cleaned)
        rec.record("person.create", parent, sync=True)
        link = Guardian.create(parent=parent, student=student, relation=relation.strip())
        rec.record("guardian.create", link, sync=True)
    return parent


# --- credentials ----------------------------------------------------------------


@dataclass
class IssuedCredential:
    person: Person
    username: str
    password: str
    roles: list[str]


def issue_credentials(
    people: Iterable[Person],
    role_for: dict[int, str],
    *,
    user: User | None,
    ip: str,
    profile: str = "standard",
) -> list[IssuedCredential]:
    """One-time passwords for each person; creates accounts where missing (§5.2).

    `role_for` maps person id → the role a new account gets (student / parent);
    existing accounts keep their roles and just get a new initial password.
    """
    issued = []
    with write(user=user, ip=ip) as rec:
        taken: set[str] = set()
        for person in people:
            account = User.get_or_none(User.person == person)
            if account is None:
                role = role_for.get(person.id)
                if role is None:
                    raise PeopleError(f"У {person.full_name} нет учётной записи и роли.")
                account = User.create(person=person, username=make_username(person, taken))
                RoleGrant.create(user=account, role=role)
                rec.record(
                    "user.create", account, after={"username": account.username, "role": role}
                )
            password = passwords.generate_initial_password()
            account.password_hash = passwords.hash_password(password, profile)
            account.must_change_password = True
            account.failed_attempts = 0
            account.locked_until = None
            account.save()
            rec.record("user.issue_password", account, after={"username": account.username})
            roles = [g.role for g in account.grants]
            issued.append(IssuedCredential(person, account.username, password, roles))
    return issued


def set_admin_lock(account: User, locked: bool, *, user: User | None, ip: str) -> None:
    if user is not None and account.id == user.id and locked:
        raise PeopleError("Нельзя заблокировать собственную учётную запись.")
    with write(user=user, ip=ip) as rec:
        account.admin_locked = locked
        if not locked:
            account.locked_until = None
            account.failed_attempts = 0
        account.save()
        rec.record("user.lock" if locked else "user.unlock", account)


# --- personal-data notices (§7.2) ---------------------------------------------------


@dataclass
class DataChangeRow:
    change: PersonalDataChange
    days: int
    overdue: bool


def data_change_report(today: dt.date | None = None, limit: int = 200) -> list[DataChangeRow]:
    """Recent personal-data changes, overdue ones first: entered more than 3 days late."""
    today = today or dt.date.today()
    rows = []
    query = (
        PersonalDataChange.select(PersonalDataChange, Person)
        .join(Person)
        .order_by(PersonalDataChange.created_at.desc())
        .limit(limit)
    )
    for change in query:
        entered = change.entered_at.date() if change.entered_at else today
        days = (entered - change.notified_on).days
        rows.append(DataChangeRow(change, days, days > PD_ENTRY_DAYS))
    rows.sort(key=lambda r: (not r.overdue, r.change.entered_at is not None))
    return rows


def register_data_notice(
    person: Person, field: str, new_value: str, notified_on: dt.date, *, user: User, ip: str
) -> PersonalDataChange:
    """Record a notice of changed data that is not entered yet (the clock starts now)."""
    if field not in FIELD_LABELS:
        raise PeopleError("Неизвестное поле персональных данных.")
    if notified_on > dt.date.today():
        raise PeopleError("Дата уведомления не может быть в будущем.")
    with write(user=user, ip=ip) as rec:
        change = PersonalDataChange.create(
            person=person,
            field=field,
            old_value=str(getattr(person, field) or ""),
            new_value=new_value.strip(),
            notified_on=notified_on,
        )
        rec.record(
            "personal_data.notice", person, after={"field": field, "notified_on": notified_on}
        )
    return change
