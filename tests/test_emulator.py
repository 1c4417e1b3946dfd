"""The АСУ РСО / NetSchool emulator: handshake, reads, writes, write counts, faults, seeding."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from click.testing import CliRunner

from appliance.cli_emulator import emulator as emulator_command
from appliance.sync.emulator import (
    DB_NAME,
    PATHS,
    EmulatorStore,
    create_emulator,
    password_hash,
    seed_from_box,
)

from .browser_support import served
from .factories import SchoolFactory

LOGIN, PASSWORD = "ezh-sync", "Пароль-ЖЁЛТЫЙ-1"
REFERER = {"Referer": "http://localhost/"}


@pytest.fixture
def box(db, tmp_path):
    """A box database (the small factory school) and its file path."""
    school = SchoolFactory.build()
    return school, tmp_path / "ezh.sqlite3"


@pytest.fixture
def emu_dir(box, tmp_path):
    store = EmulatorStore(tmp_path / "emu" / DB_NAME)
    seed_from_box(store, box[1], LOGIN, PASSWORD, student_password=PASSWORD)
    return tmp_path / "emu"


@pytest.fixture
def emu(emu_dir):
    return create_emulator(emu_dir)


def log_in(client, login: str = LOGIN, password: str = PASSWORD):
    client.get("/webapi/logindata")
    meta = client.post("/webapi/auth/getdata").get_json()
    pw2 = password_hash(meta["salt"], password)
    return client.post(
        "/webapi/login",
        data={
            "LoginType": 1,
            "scid": 1,
            "UN": login,
            "PW": pw2[: len(password)],
            "pw2": pw2,
            "lt": meta["lt"],
            "ver": meta["ver"],
        },
        headers=REFERER,
    )


def token(client) -> dict[str, str]:
    answer = log_in(client)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return {"at": answer.get_json()["at"]}


def first_sg_and_meetings(client, at):
    group = client.get("/webapi/subjectgroups", headers=at).get_json()[0]
    meetings = client.get(
        "/webapi/schedule/classmeetings?start=2000-01-01&end=2100-01-01", headers=at
    ).get_json()
    return group, [m for m in meetings if m["subjectGroupId"] == group["id"]]


def test_paths_table_matches_the_routes(emu):
    rules = {(m, r.rule) for r in emu.url_map.iter_rules() for m in r.methods or ()}
    for name, (method, path) in PATHS.items():
        assert (method, path) in rules, name


def test_handshake_hashes_a_cyrillic_password_in_windows_1251(emu):
    client = emu.test_client()
    first = client.get("/webapi/logindata")
    assert "NSSESSIONID" in first.headers.get("Set-Cookie", "")
    assert first.get_json()["esiaMainAuth"] is False
    assert client.get("/webapi/schools/search?name=Школа").get_json()[0]["id"] == 1
    meta = client.post("/webapi/auth/getdata").get_json()
    assert set(meta) == {"lt", "ver", "salt"}
    # The hash the login page makes: md5(salt + md5(cp1251 bytes)); utf-8 would differ.
    inner = hashlib.md5(PASSWORD.encode("windows-1251")).hexdigest()
    pw2 = hashlib.md5((meta["salt"] + inner).encode()).hexdigest()
    assert pw2 == password_hash(meta["salt"], PASSWORD)
    ok = client.post(
        "/webapi/login",
        data={
            "LoginType": 1,
            "UN": LOGIN,
            "PW": pw2[: len(PASSWORD)],
            "pw2": pw2,
            "lt": meta["lt"],
            "ver": meta["ver"],
        },
        headers=REFERER,
    )
    assert ok.status_code == 200
    body = ok.get_json()
    assert body["at"] and body["accountInfo"]["user"]["name"].startswith("Смирнова")
    context = client.get("/webapi/context", headers={"at": body["at"]})
    assert context.status_code == 200 and context.get_json()["schoolYearId"] > 0
    assert client.post("/webapi/auth/logout", headers={"at": body["at"]}).status_code == 200
    assert client.get("/webapi/context", headers={"at": body["at"]}).status_code == 401


def test_wrong_password_utf8_hash_and_missing_referer_are_refused(emu):
    client = emu.test_client()
    assert log_in(client, password="неверный").status_code == 409
    assert "message" in log_in(client, password="неверный").get_json()
    meta = client.post("/webapi/auth/getdata").get_json()
    utf8 = hashlib.md5(
        (meta["salt"] + hashlib.md5(PASSWORD.encode()).hexdigest()).encode()
    ).hexdigest()
    answer = client.post(
        "/webapi/login", data={"UN": LOGIN, "pw2": utf8, "lt": meta["lt"]}, headers=REFERER
    )
    assert answer.status_code == 409
    meta = client.post("/webapi/auth/getdata").get_json()
    pw2 = password_hash(meta["salt"], PASSWORD)
    assert (
        client.post("/webapi/login", data={"UN": LOGIN, "pw2": pw2, "lt": meta["lt"]}).status_code
        == 400
    )


def test_forced_gosuslugi_is_recognizable(emu_dir):
    client = create_emulator(emu_dir, faults={"esia_forced": True}).test_client()
    assert client.get("/webapi/logindata").get_json()["esiaMainAuth"] is True
    answer = log_in(client)
    assert answer.status_code == 403
    assert answer.get_json()["esiaMainAuth"] is True
    assert "Госуслуги" in answer.get_json()["message"]


def test_session_expires_after_n_requests_and_on_demand(emu_dir):
    app = create_emulator(emu_dir, faults={"session_every": 2})
    client = app.test_client()
    at = token(client)
    assert client.get("/webapi/context", headers=at).status_code == 200
    assert client.get("/webapi/context", headers=at).status_code == 200
    expired = client.get("/webapi/context", headers=at)
    assert expired.status_code == 401
    assert expired.headers["auth-error"] == "SessionExpired"
    at = token(client)
    client.post("/_emulator/expire")
    assert client.get("/webapi/years/current", headers=at).status_code == 401
    assert client.get("/webapi/classes").headers["auth-error"] == "SessionExpired"


def test_session_ttl(emu_dir):
    client = create_emulator(emu_dir, faults={"session_ttl_s": 0.05}).test_client()
    at = token(client)
    time.sleep(0.1)
    assert client.get("/webapi/context", headers=at).status_code == 401


def test_seeding_copies_the_school_and_keeps_box_uuids(box, emu):
    school, _ = box
    client = emu.test_client()
    at = token(client)
    classes = client.get("/webapi/classes", headers=at).get_json()
    assert sorted(c["name"] for c in classes) == ["5А", "5Б"]
    group, meetings = first_sg_and_meetings(client, at)
    assert group["subjectName"] == "Математика" and len(group["studentIds"]) == 3
    assert len(meetings) == 3 and meetings[0]["startTime"] == "08:30"
    students = client.get(f"/webapi/grade/studentList?sgid={group['id']}", headers=at)
    assert {s["fullName"] for s in students.get_json()} == {
        "Иванов Пётр",
        "Петрова Анна",
        "Сидоров Илья",
    }
    id_map = client.get("/_emulator/state").get_json()["idMap"]
    mapped = {(r["entity"], r["boxUuid"]): r["id"] for r in id_map}
    assert mapped[("subject_group", str(school.group.uuid))] == group["id"]
    assert group["id"] != school.group.id  # the emulator's own ids
    staff = client.get("/webapi/users/staff", headers=at).get_json()
    assert any(s["fullName"] == "Смирнова Елена Викторовна" for s in staff)


def test_seeding_twice_is_refused(box, emu_dir):
    with pytest.raises(ValueError):
        seed_from_box(EmulatorStore(emu_dir / DB_NAME), box[1])


def test_quickedit_upserts_deletes_and_counts_writes(emu):
    client = emu.test_client()
    at = token(client)
    group, meetings = first_sg_and_meetings(client, at)
    cm, student = meetings[0]["id"], group["studentIds"][0]

    def edit(mark, reason=None):
        payload = {
            "sgId": group["id"],
            "results": [
                {
                    "cmId": cm,
                    "assignId": None,
                    "assignTypeId": 1,
                    "studentId": student,
                    "mark": mark,
                    "dutyMark": False,
                }
            ],
        }
        if reason is not None:
            payload["attendance"] = [{"cmId": cm, "studentId": student, "reason": reason}]
        return client.post("/webapi/grade/journal/quickedit", json=payload, headers=at)

    assert edit("4", reason="Н").status_code == 200
    assert edit("5").status_code == 200
    state = client.get("/_emulator/state").get_json()
    assert [(m["cmId"], m["studentId"], m["mark"]) for m in state["marks"]] == [(cm, student, "5")]
    assert state["attendance"] == [{"cmId": cm, "studentId": student, "reason": "Н"}]
    key = f"mark:cm={cm}:assign={state['marks'][0]['assignId']}:student={student}"
    assert state["writeCounts"][key] == 2
    assert state["writeCounts"][f"attendance:cm={cm}:student={student}"] == 1
    # read back through the teacher journal and the lesson page
    journal = client.get(f"/webapi/grade/journal?sgId={group['id']}", headers=at).get_json()
    assert journal["journals"][0]["marks"][0]["mark"] == "5"
    assert journal["journals"][0]["attendance"][0]["reason"] == "Н"
    assert edit("", reason="").status_code == 200
    state = client.get("/_emulator/state").get_json()
    assert state["marks"] == [] and state["attendance"] == []
    assert state["writeCounts"][key] == 3


def test_quickedit_rejections_apply_nothing(emu):
    client = emu.test_client()
    at = token(client)
    group, meetings = first_sg_and_meetings(client, at)
    cm, student = meetings[0]["id"], group["studentIds"][0]
    good = {"cmId": cm, "assignTypeId": 1, "studentId": student, "mark": "5"}
    for bad, words in (
        ({**good, "studentId": 1}, "ученик"),
        ({**good, "cmId": 1}, "урок"),
    ):
        answer = client.post(
            "/webapi/grade/journal/quickedit",
            headers=at,
            json={"sgId": group["id"], "results": [good, bad]},
        )
        assert answer.status_code == 400 and words in answer.get_json()["message"]
    assert client.get("/_emulator/state").get_json()["marks"] == []
    answer = client.post(
        "/webapi/grade/journal/quickedit",
        headers=at,
        json={
            "sgId": group["id"],
            "attendance": [{"cmId": cm, "studentId": student, "reason": "??"}],
        },
    )
    assert answer.status_code == 400 and "причина" in answer.get_json()["message"]
    reasons = client.get("/webapi/grade/attendance/reasons", headers=at).get_json()
    assert {"missedIll", "late", "released"} <= {r["key"] for r in reasons}


def test_closed_period_is_refused(emu):
    client = emu.test_client()
    at = token(client)
    group, meetings = first_sg_and_meetings(client, at)
    with emu.extensions["emulator"]["store"].tx() as con:  # a term around the lessons
        con.execute("INSERT INTO term VALUES (2999, '1 четверть', '2000-01-01', '2100-01-01', 0)")
    client.post("/_emulator/terms", json={"termId": 2999, "closed": True})
    student = group["studentIds"][0]
    answer = client.post(
        "/webapi/grade/journal/quickedit",
        headers=at,
        json={
            "sgId": group["id"],
            "results": [
                {"cmId": meetings[0]["id"], "assignTypeId": 1, "studentId": student, "mark": "5"}
            ],
        },
    )
    assert answer.status_code == 400 and answer.get_json()["message"].startswith("period closed")
    pm = {"sgId": group["id"], "termId": 2999, "studentId": student, "mark": "5", "markType": 0}
    assert client.post("/webapi/grade/periodmarks", json=pm, headers=at).status_code == 400
    client.post("/_emulator/terms", json={"termId": 2999, "closed": False})
    assert client.post("/webapi/grade/periodmarks", json=pm, headers=at).status_code == 200
    back = client.get(f"/webapi/grade/periodmarks?sgId={group['id']}&termId=2999", headers=at)
    assert back.get_json() == [pm]
    state = client.get("/_emulator/state").get_json()
    assert state["writeCounts"][f"periodmark:sg={group['id']}:term=2999:student={student}"] == 1


def test_lesson_topic_and_homework_reach_the_diary(emu):
    client = emu.test_client()
    at = token(client)
    group, meetings = first_sg_and_meetings(client, at)
    cm = meetings[0]
    answer = client.post(
        f"/webapi/grade/journal/edit?cmid={cm['id']}&sgId={group['id']}",
        json={"theme": "Дроби", "homework": "№ 12"},
        headers=at,
    )
    assert answer.status_code == 200 and answer.get_json()["theme"] == "Дроби"
    back = client.get(
        f"/webapi/grade/journal/edit?cmid={cm['id']}&sgId={group['id']}", headers=at
    ).get_json()
    assert (back["theme"], back["homework"]) == ("Дроби", "№ 12")
    counts = client.get("/_emulator/state").get_json()["writeCounts"]
    assert counts[f"theme:cm={cm['id']}"] == 1 and counts[f"homework:cm={cm['id']}"] == 1


# --- faults over a real socket ---------------------------------------------------------


def call(
    base: str, path: str, method: str = "GET", data: dict | None = None, headers: dict | None = None
):
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(
        base + path,
        data=body,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.headers, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"null")


def set_faults(base: str, **knobs) -> None:
    assert call(base, "/_emulator/faults", "POST", knobs)[0] == 200


def real_login(base: str) -> dict[str, str]:
    meta = call(base, "/webapi/auth/getdata", "POST")[2]
    pw2 = password_hash(meta["salt"], PASSWORD)
    form = urllib.parse.urlencode(
        {"UN": LOGIN, "pw2": pw2, "PW": pw2[: len(PASSWORD)], "lt": meta["lt"], "ver": meta["ver"]}
    ).encode()
    request = urllib.request.Request(base + "/webapi/login", data=form, headers=REFERER)
    with urllib.request.urlopen(request, timeout=5) as answer:
        return {"at": json.loads(answer.read())["at"]}


DROPPED = (
    http.client.IncompleteRead,
    http.client.RemoteDisconnected,
    ConnectionError,
    urllib.error.URLError,
)


def test_faults_are_observable_from_a_plain_client(emu):
    with served(emu) as base:
        at = real_login(base)
        status, _, classes = call(base, "/webapi/classes", headers=at)
        assert status == 200 and len(classes) == 2

        set_faults(base, error_rate=1.0)
        assert call(base, "/webapi/classes", headers=at)[0] == 500

        set_faults(base, rate_limit_rate=1.0, retry_after_s=7)
        status, headers, _ = call(base, "/webapi/classes", headers=at)
        assert status == 429 and headers["Retry-After"] == "7"

        set_faults(base, maintenance=True)
        status, headers, body = call(base, "/webapi/classes", headers=at)
        assert status == 503 and "технические работы" in body["message"]

        now = dt.datetime.now()
        window = f"{(now - dt.timedelta(minutes=1)):%H:%M}-{(now + dt.timedelta(minutes=2)):%H:%M}"
        set_faults(base, maintenance_windows=[window])
        assert call(base, "/webapi/classes", headers=at)[0] == 503

        set_faults(base, latency_ms=150)
        started = time.monotonic()
        assert call(base, "/webapi/classes", headers=at)[0] == 200
        assert time.monotonic() - started >= 0.15

        set_faults(base, drop_rate=1.0)
        with pytest.raises(DROPPED):
            call(base, "/webapi/classes", headers=at)

        # drop-after-commit: the client sees a broken answer, yet the mark is stored
        set_faults(base)
        group = call(base, "/webapi/subjectgroups", headers=at)[2][0]
        meetings = call(
            base, "/webapi/schedule/classmeetings?start=2000-01-01&end=2100-01-01", headers=at
        )[2]
        cm = next(m for m in meetings if m["subjectGroupId"] == group["id"])
        set_faults(base, drop_after_commit_rate=1.0)
        payload = {
            "sgId": group["id"],
            "results": [
                {
                    "cmId": cm["id"],
                    "assignTypeId": 1,
                    "studentId": group["studentIds"][0],
                    "mark": "3",
                }
            ],
        }
        with pytest.raises(DROPPED):
            call(base, "/webapi/grade/journal/quickedit", "POST", payload, headers=at)
        state = call(base, "/_emulator/state")[2]
        assert [m["mark"] for m in state["marks"]] == ["3"]

        set_faults(base, session_every=1)
        at = real_login(base)
        assert call(base, "/webapi/classes", headers=at)[0] == 200
        status, headers, _ = call(base, "/webapi/classes", headers=at)
        assert status == 401 and headers["auth-error"] == "SessionExpired"


def test_faults_are_deterministic_for_a_seed(emu_dir):
    def run() -> list[int]:
        client = create_emulator(emu_dir, faults={"error_rate": 0.5, "seed": 42}).test_client()
        return [client.get("/webapi/logindata").status_code for _ in range(30)]

    first = run()
    assert first == run() and 500 in first and 200 in first


def test_unknown_fault_knob_is_refused(emu):
    answer = emu.test_client().post("/_emulator/faults", json={"no_such_knob": 1})
    assert answer.status_code == 400


def test_cli_seeds_from_a_box_data_dir_and_reads_faults_from_a_file(box, tmp_path):
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"latency_ms": 5, "seed": 3}), encoding="utf-8")
    result = CliRunner().invoke(
        emulator_command,
        [
            "--data",
            str(tmp_path / "cli-emu"),
            "--seed-from",
            str(box[1].parent),
            "--faults",
            str(faults),
            "--password",
            PASSWORD,
            "--no-serve",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "засеян" in result.output
    client = create_emulator(tmp_path / "cli-emu").test_client()
    assert log_in(client).status_code == 200
    bad = CliRunner().invoke(
        emulator_command, ["--data", str(tmp_path / "x"), "--faults", '{"nope": 1}', "--no-serve"]
    )
    assert bad.exit_code != 0 and "nope" in bad.output


def test_seeding_from_the_demo_school(db, tmp_path):
    from appliance.demo import create_demo_school

    create_demo_school(seed=1)
    store = EmulatorStore(tmp_path / "emu" / DB_NAME)
    counts = seed_from_box(store, tmp_path / "ezh.sqlite3", LOGIN, PASSWORD)
    assert counts["class"] >= 5 and counts["person"] > 100 and counts["cm"] > 100
    assert counts["term"] >= 2
    client = create_emulator(tmp_path / "emu").test_client()
    at = token(client)
    assert len(client.get("/webapi/classes", headers=at).get_json()) == counts["class"]
    groups = client.get("/webapi/subjectgroups", headers=at).get_json()
    assert all(g["studentIds"] for g in groups[:5])


def test_faults_before_commit_apply_nothing(emu):
    with served(emu) as base:
        at = real_login(base)
        group = call(base, "/webapi/subjectgroups", headers=at)[2][0]
        meetings = call(
            base, "/webapi/schedule/classmeetings?start=2000-01-01&end=2100-01-01", headers=at
        )[2]
        cm = next(m for m in meetings if m["subjectGroupId"] == group["id"])
        payload = {
            "sgId": group["id"],
            "results": [
                {
                    "cmId": cm["id"],
                    "assignTypeId": 1,
                    "studentId": group["studentIds"][0],
                    "mark": "2",
                }
            ],
        }
        for knobs in ({"error_rate": 1.0}, {"rate_limit_rate": 1.0}, {"maintenance": True}):
            set_faults(base, **knobs)
            assert call(base, "/webapi/grade/journal/quickedit", "POST", payload, at)[0] >= 429
        set_faults(base, drop_rate=1.0)
        with pytest.raises(DROPPED):
            call(base, "/webapi/grade/journal/quickedit", "POST", payload, headers=at)
        set_faults(base)
        state = call(base, "/_emulator/state")[2]
        assert state["marks"] == [] and state["writeCounts"] == {}
        assert call(base, "/webapi/grade/journal/quickedit", "POST", payload, at)[0] == 200
        assert call(base, "/_emulator/state")[2]["marks"][0]["mark"] == "2"
