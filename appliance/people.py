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
from .sessions import end_sessions

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
            # A notice registered earlier is closed by this entry (its clock started then).
            pending = (
                PersonalDataChange.select()
                .where(
                    (PersonalDataChange.person == person)
                    & (PersonalDataChange.field == key)
                    & PersonalDataChange.entered_at.is_null()
                )
                .order_by(PersonalDataChange.notified_on)
                .first()
            )
            change = pending or PersonalDataChange(
                person=person, field=key, notified_on=notified_on
            )
            change.old_value = str(getattr(person, key) or "")
            change.new_value = str(cleaned[key] or "")
            change.entered_at = moment
            change.entered_by = user
            change.save()
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
    with write(user=user, ip=ip) as rec:
        person = Person.create(is_staff=True, **cleaned)
        rec.record("person.create", person, sync=True)
        account = User.create(person=person, username=make_username(person))
        rec.record("user.create", account)
        _set_roles(account, roles, rec, acting=user)
    return person


def save_staff(
    person: Person,
    data: dict,
    roles: Iterable[tuple[str, int | None]],
    *,
    user: User | None,
    ip: str,
    notified_on: dt.date | None = None,
) -> list[str]:
    """A staff card saved as one change: personal data and roles, or nothing."""
    roles = list(roles)
    account = User.get_or_none(User.person == person)
    with write(user=user, ip=ip) as rec:
        changed = update_person(person, data, user=user, ip=ip, notified_on=notified_on)
        if account is not None:
            _set_roles(account, roles, rec, acting=user)
    return changed


def _set_roles(account: User, roles: list[tuple[str, int | None]], rec, acting=None) -> None:
    wanted = set(roles)
    if not wanted:
        raise PeopleError("Выберите хотя бы одну роль сотрудника.")
    if ("class_teacher", None) in wanted:
        raise PeopleError("Для классного руководителя укажите класс.")
    before = {(g.role, g.school_class_id) for g in account.grants}
    if wanted == before:
        return
    if acting is not None and acting.id == account.id:
        # Nobody widens or narrows their own rights: another admin or the console does.
        raise PeopleError("Свои роли менять нельзя: попросите другого администратора.")
    if ("admin", None) in before and ("admin", None) not in wanted:
        if RoleGrant.select().where(RoleGrant.role == "admin").count() <= 1:
            raise PeopleError("Это единственный администратор: сначала назначьте другого.")
    for _role, class_id in wanted:
        if class_id is not None and SchoolClass.get_or_none(SchoolClass.id == class_id) is None:
            raise PeopleError("Такого класса нет.")
    RoleGrant.delete().where(RoleGrant.user == account).execute()
    for role, class_id in sorted(wanted, key=lambda r: (r[0], r[1] or 0)):
        if role == "class_teacher":
            # One class teacher per class: the previous one loses this class.
            RoleGrant.delete().where(
                (RoleGrant.role == "class_teacher") & (RoleGrant.school_class == class_id)
            ).execute()
            SchoolClass.update(class_teacher=account.person).where(
                SchoolClass.id == class_id
            ).execute()
        RoleGrant.create(user=account, role=role, school_class=class_id)
    for role, class_id in before - wanted:
        if role == "class_teacher":
            SchoolClass.update(class_teacher=None).where(
                (SchoolClass.id == class_id) & (SchoolClass.class_teacher == account.person)
            ).execute()
    rec.record(
        "user.roles",
        account,
        before={"roles": sorted(before, key=str)},
        after={"roles": sorted(wanted, key=str)},
    )


def enroll_student(
    data: dict, school_class: SchoolClass, *, user: User, ip: str, starts: dt.date | None = None
) -> Person:
    """A new student of a class, put into the class's whole-class subject groups."""
    cleaned = clean_person_data(data, new=True)
    starts = starts or dt.date.today()
    if school_class.closed:
        raise PeopleError(f"Класс {school_class.name} закрыт: зачислять в него нельзя.")
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
    only_roles: frozenset[str] | None = None,
) -> list[IssuedCredential]:
    """One-time passwords for each person; creates accounts where missing (§5.2).

    `role_for` maps person id → the role a new account gets (student / parent);
    existing accounts keep their roles and just get a new initial password. With
    `only_roles`, an existing account holding any other role is refused: a class
    teacher resets students' and parents' passwords, never a colleague's.
    """
    people = list(people)
    existing = {u.person_id: u for u in User.select().where(User.person.in_(people))}
    roles_of: dict[int, list[str]] = {}
    for grant in RoleGrant.select().where(RoleGrant.user.in_(list(existing.values()))):
        roles_of.setdefault(grant.user_id, []).append(grant.role)
    if only_roles is not None:
        refused = [
            p.full_name
            for p in people
            if p.id in existing and not set(roles_of.get(existing[p.id].id, [])) <= only_roles
        ]
        if refused:
            raise PeopleError(
                "У этих людей есть учётная запись сотрудника, её пароль сбрасывает "
                "администратор: " + ", ".join(refused) + "."
            )
    missing = [p.full_name for p in people if p.id not in existing and p.id not in role_for]
    if missing:
        raise PeopleError("Не указана роль для новой учётной записи: " + ", ".join(missing) + ".")
    # Hash before taking the write lock: argon2id takes ~0.3 s a password on a Pi.
    fresh = {p.id: passwords.generate_initial_password() for p in people}
    hashes = {pid: passwords.hash_password(pw, profile) for pid, pw in fresh.items()}
    issued = []
    with write(user=user, ip=ip) as rec:
        taken: set[str] = set()
        for person in people:
            account = existing.get(person.id)
            if account is None:
                role = role_for[person.id]
                account = User.create(person=person, username=make_username(person, taken))
                RoleGrant.create(user=account, role=role)
                roles_of[account.id] = [role]
                rec.record(
                    "user.create", account, after={"username": account.username, "role": role}
                )
            account.password_hash = hashes[person.id]
            account.must_change_password = True
            account.failures_reset_at = dt.datetime.now()
            account.locked_until = None
            account.save()
            end_sessions(account)
            rec.record("user.issue_password", account, after={"username": account.username})
            issued.append(
                IssuedCredential(person, account.username, fresh[person.id], roles_of[account.id])
            )
    return issued


def set_admin_lock(account: User, locked: bool, *, user: User | None, ip: str) -> None:
    if user is not None and account.id == user.id and locked:
        raise PeopleError("Нельзя заблокировать собственную учётную запись.")
    with write(user=user, ip=ip) as rec:
        account.admin_locked = locked
        if not locked:
            account.locked_until = None
            account.failures_reset_at = dt.datetime.now()
        account.save()
        if locked:
            end_sessions(account)
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
