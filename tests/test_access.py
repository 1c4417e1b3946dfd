"""The access matrix: docs/access.md equals the code, and every route obeys it for every role."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from appliance import access
from appliance.db import write
from appliance.models import BellSchedule, Job, Lesson, User

from .factories import PASSWORD, ROLE_ACCOUNTS, ROLES
from .test_announcements import sample_announcement
from .test_messages import sample_thread

DOC = Path(__file__).resolve().parents[1] / "docs" / "access.md"


def doc_tables() -> tuple[dict, dict]:
    """The two tables of docs/access.md: matrix rows and route rows."""
    matrix: dict[str, dict[str, frozenset[str]]] = {}
    routes: dict[tuple[str, str], tuple[str, str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 + len(ROLES) and cells[2] in ("read", "write"):
            obj, mode, marks = cells[0], cells[2], cells[3 : 3 + len(ROLES)]
            matrix.setdefault(obj, {})[mode] = frozenset(
                role for role, mark in zip(ROLES, marks, strict=True) if mark == "✓"
            )
        elif len(cells) == 4 and cells[2].startswith("`/"):
            endpoint, methods, rule, rights = cells
            for method in methods.split(", "):
                routes[(endpoint, method)] = (rule.strip("`"), rights)
    return matrix, routes


def app_routes(app) -> dict[tuple[str, str], tuple[str, str]]:
    found = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        declared = ("public", None) if rule.endpoint == "static" else getattr(view, "access", None)
        assert declared is not None, f"{rule.endpoint} declares no access rule (use @requires)"
        rights = "public" if declared[0] == "public" else f"{declared[0]}.{declared[1]}"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found[(rule.endpoint, method)] = (rule.rule, rights)
    return found


def test_documented_matrix_equals_the_code():
    matrix, _ = doc_tables()
    assert matrix == access.MATRIX


def test_every_route_is_documented_with_its_rule(app):
    _, documented = doc_tables()
    assert app_routes(app) == documented


def sample_args(school) -> dict[str, object]:
    ivanov = school.students["5А"][0]
    plan = school.add_planning()
    return {
        "year_id": school.year.id,
        "term_id": plan["terms"][0].id,
        "day_id": plan["holiday"].id,
        "schedule_id": BellSchedule.get().id,
        "subject_id": school.group.subject_id,
        "line_id": plan["line"].id,
        "plan_id": plan["plan"].id,
        "entry_id": plan["entry"].id,
        "change_id": plan["change"].id,
        "room_id": plan["room"].id,
        "announcement_id": sample_announcement(),
        "class_id": school.classes["5А"].id,
        "student_id": ivanov.id,
        "parent_id": school.parents["Иванов"].id,
        "staff_id": school.users["teacher"].person_id,
        "user_id": school.users["other_student"].id,
        "group_id": school.group.id,
        "lesson_id": Lesson.get(
            (Lesson.group == school.group) & (Lesson.date == dt.date.today()) & (Lesson.number == 1)
        ).id,
        "filename": "app.css",
    }


def own_job(username: str) -> int:
    """A finished job of this account (job pages show a user only their own jobs)."""
    with write():
        user = User.get(User.username == username)
        return Job.create(kind="test", state="done", created_by=user).id


def expected(role: str, rights: str) -> str:
    if rights == "public":
        return "public"
    obj, mode = rights.split(".")
    return "allowed" if role in access.MATRIX[obj][mode] else "denied"


@pytest.mark.parametrize("role", ROLES)
def test_every_route_obeys_the_matrix_for_role(role, app, browser, school):
    assert browser.login(ROLE_ACCOUNTS[role], PASSWORD).status_code == 302
    if role == "class_teacher":
        browser.switch_role(school.role_key("class_teacher"))
    args = sample_args(school)
    args["job_id"] = own_job(ROLE_ACCOUNTS[role])
    if role != "inspector":  # the inspector has no messages
        args["thread_id"], args["file_id"] = sample_thread(ROLE_ACCOUNTS[role])
    else:
        args["thread_id"], args["file_id"] = sample_thread("orlova.mi")
    routes = sorted(
        app_routes(app).items(), key=lambda item: item[0] == ("auth.logout", "POST")
    )  # log out last
    failures = []
    for (endpoint, method), (rule, rights) in routes:
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(args[m.group(1)]), rule)
        response = browser.get(url) if method == "GET" else browser.post(url, {})
        status = response.status_code
        response.close()  # static files are streamed
        outcome = expected(role, rights)
        ok = {
            "public": status not in (401, 403, 404, 405, 500),
            "allowed": status in (200, 302, 400),
            "denied": status == 403,
        }[outcome]
        if not ok:
            failures.append(f"{method} {url} ({endpoint}, {rights}): {status}, expected {outcome}")
    assert not failures, "\n".join(failures)


STUDENT_READS = ("own.", "diary.", "timetable.", "messages.", "announcements.read")


def test_student_gets_403_or_404_on_every_staff_url(app, browser, school):
    browser.login("ivanov.p", PASSWORD)
    args = sample_args(school)
    args["job_id"] = own_job("orlova.mi")  # someone else's job
    args["thread_id"], args["file_id"] = sample_thread("orlova.mi")
    for (_endpoint, method), (rule, rights) in app_routes(app).items():
        # a student reads their own diary, their class's timetable, their messages and the
        # announcements meant for them, nothing else
        if rights == "public" or rights.startswith(STUDENT_READS):
            continue
        if method != "GET":
            continue
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(args[m.group(1)]), rule)
        assert browser.get(url).status_code in (403, 404), url


def test_parent_cannot_open_another_familys_child(browser, school):
    browser.login("ivanova.m", PASSWORD)
    own = school.students["5А"][0]
    other = school.students["5Б"][0]
    assert browser.get(f"/diary/{own.id}").status_code == 200
    assert browser.get(f"/diary/{other.id}").status_code == 404
    assert browser.get("/diary/999999").status_code == 404
    assert other.full_name not in browser.get("/").get_data(as_text=True)


def test_student_sees_only_own_diary(browser, school):
    browser.login("ivanov.p", PASSWORD)
    classmate = school.students["5А"][1]
    assert browser.get(f"/diary/{classmate.id}").status_code == 404


def test_class_teacher_acts_only_for_own_class(browser, school):
    browser.login("kuznetsov.ap", PASSWORD, role=school.role_key("class_teacher"))
    other_class = school.classes["5Б"]
    foreign = school.students["5Б"][0]
    own_class = school.classes["5А"]
    assert browser.get(f"/classes/{own_class.id}").status_code == 200
    assert browser.get(f"/classes/{other_class.id}").status_code == 404
    assert browser.get(f"/classes/{own_class.id}/students/{foreign.id}").status_code == 404
    # issuing credentials to another class's student through one's own class is refused
    before = User.select().count()
    browser.post(f"/classes/{own_class.id}/credentials", {"person": str(foreign.id)})
    assert User.select().count() == before
    assert browser.get("/classes/").headers["Location"].endswith(f"/classes/{own_class.id}")


def test_teacher_role_of_a_class_teacher_cannot_manage_the_class(browser, school):
    browser.login("kuznetsov.ap", PASSWORD)  # active role: teacher
    assert browser.get(f"/classes/{school.classes['5А'].id}").status_code == 403
