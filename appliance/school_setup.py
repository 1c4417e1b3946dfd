"""An empty school (`ezh init`) and the first-visit wizard that creates its admin.

No default password exists: `ezh init` prints a one-time setup code, and only
someone holding it can create the admin account in the browser.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from . import passwords
from .db import write
from .models import Person, RoleGrant, School, User
from .people import PeopleError, clean_person_data

SETUP_CODE_FILE = "setup_code"


def init_school(data_dir: Path, name: str = "") -> str:
    """Create the School row (setup pending) and a fresh one-time setup code."""
    with write() as rec:
        school = School.select().first()
        if school is None:
            school = School.create(name=name or "Школа", short_name=name or "Школа")
            rec.record("school.init", school)
    # 48 random bits: not guessable over the LAN while the wizard waits.
    code = "-".join(secrets.token_hex(2).upper() for _ in range(4))
    path = data_dir / SETUP_CODE_FILE
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(code)
    return code


def setup_pending() -> bool:
    school = School.select().first()
    return school is None or not school.setup_complete


def complete_setup(
    data_dir: Path,
    *,
    code: str,
    school_name: str,
    school_short_name: str,
    admin: dict,
    username: str,
    password: str,
    repeat: str,
    ip: str,
    profile: str = "standard",
) -> User:
    """Create the school's first admin; raise PeopleError (Russian) on bad input."""
    path = data_dir / SETUP_CODE_FILE
    expected = path.read_text().strip() if path.exists() else ""
    if not expected or not hmac.compare_digest(expected, code.strip().upper()):
        raise PeopleError(
            "Код настройки неверен. Его печатает команда «ezh init» на экране сервера."
        )
    if not school_name.strip():
        raise PeopleError("Укажите полное название школы.")
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("_", "").isalnum():
        raise PeopleError("Логин: латинские буквы, цифры, точка или подчёркивание.")
    if password != repeat:
        raise PeopleError("Пароль и повтор не совпадают.")
    problem = passwords.password_problem(password, username)
    if problem:
        raise PeopleError(problem)
    person_data = clean_person_data(admin, new=True)
    with write(ip=ip) as rec:
        if not setup_pending():
            raise PeopleError("Школа уже настроена.")
        school = School.select().first() or School.create(name=school_name, short_name="")
        school.name = school_name.strip()
        school.short_name = school_short_name.strip() or school.name
        school.setup_complete = True
        school.save()
        person = Person.create(is_staff=True, position="Администратор АСУ РСО", **person_data)
        user = User.create(
            person=person,
            username=username,
            password_hash=passwords.hash_password(password, profile),
            must_change_password=False,
        )
        RoleGrant.create(user=user, role="admin")
        rec.user = user
        rec.record("school.setup", school)
        rec.record("user.create", user, after={"username": username, "role": "admin"})
    path.unlink(missing_ok=True)
    return user
