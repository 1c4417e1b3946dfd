"""The NetSchool client against a tiny fake server: handshake, expiry, faults, idempotency."""

from __future__ import annotations

import hashlib
import time

import pytest
from flask import Flask, jsonify, request

from appliance.sync import netschool
from appliance.sync.mapping import DEFAULT, Mapping
from appliance.sync.netschool import (
    NeedsManualAction,
    NetSchoolClient,
    Rejected,
    Unavailable,
    find_mark,
    idempotent_write,
)

from .browser_support import served

LOGIN = "sync.service"
PASSWORD = "Пароль-Ёж7"  # Cyrillic: hashed in windows-1251
SALT = "1234567890"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


class Fake:
    """The fake server's state and the faults the next calls should see."""

    def __init__(self) -> None:
        self.logindata = {"version": "5.x", "schoolLogin": True, "esiaLogin": True}
        self.tokens: set[str] = set()
        self.logins = 0
        self.forms: list[dict] = []
        self.marks: dict[tuple[str, str], str] = {}
        self.writes = 0
        self.expire_next = False
        self.fail_next: list[tuple[int, dict]] = []  # (status, headers) for the next calls
        self.sleep_next = 0.0
        self.drop_after_commit = False
        self.login_error = ""
        self.login_refusal: tuple[int, dict] | None = None
        self.bare_401 = False


def make_app(fake: Fake) -> Flask:
    app = Flask(__name__)

    def fault():
        if fake.fail_next:
            status, headers = fake.fail_next.pop(0)
            return jsonify(message="fault"), status, headers
        return None

    def authed():
        if fake.expire_next:
            fake.expire_next = False
            fake.tokens.clear()
        if fake.bare_401:
            fake.bare_401 = False
            fake.tokens.clear()
            return jsonify(message="Сессия не найдена"), 401
        if request.headers.get("at") not in fake.tokens:
            return "", 401, {"auth-error": "SessionExpired"}
        return None

    @app.get("/webapi/logindata")
    def logindata():
        return fault() or (jsonify(fake.logindata), 200, {"Set-Cookie": "NSSESSIONID=abc"})

    @app.get("/webapi/schools/search")
    def search():
        name = request.args["name"]
        schools = [{"id": 77, "name": "МБОУ Школа № 1", "shortName": "Школа 1"}]
        return jsonify([s for s in schools if name in (s["name"], s["shortName"])])

    @app.post("/webapi/auth/getdata")
    def getdata():
        assert "NSSESSIONID=abc" in request.headers.get("Cookie", "")
        return jsonify(lt="LT1", ver="VER1", salt=SALT)

    @app.post("/webapi/login")
    def login():
        form = request.form.to_dict()
        fake.forms.append(form)
        if not request.headers.get("Referer"):
            return jsonify(message="no referer"), 400
        if fake.login_error:
            return jsonify(at=None, errorMessage=fake.login_error)
        if fake.login_refusal:
            return jsonify(fake.login_refusal[1]), fake.login_refusal[0]
        expected = md5((SALT + md5(PASSWORD.encode("windows-1251"))).encode())
        good = (
            form.get("UN") == LOGIN
            and form.get("pw2") == expected
            and form.get("PW") == expected[: len(PASSWORD)]
            and form.get("lt") == "LT1"
            and form.get("ver") == "VER1"
            and form.get("LoginType") == "1"
        )
        if not good:
            return jsonify(message="Неправильный пароль или имя пользователя"), 409
        fake.logins += 1
        token = f"token{fake.logins}"
        fake.tokens.add(token)
        return jsonify(at=token, timeOut=3600, accountInfo={"user": {"id": 1, "name": "S"}})

    @app.post("/webapi/auth/logout")
    def logout():
        fake.tokens.discard(request.headers.get("at"))
        return "", 200

    @app.get("/webapi/grade/journal")
    def journal():
        failed = authed() or fault()
        if failed:
            return failed
        marks = [
            {"assignmentId": int(a), "studentId": int(s), "mark": m}
            for (a, s), m in fake.marks.items()
        ]
        return jsonify(journals=[{"students": [], "marks": marks}], sgId=request.args["sgId"])

    @app.post("/webapi/grade/journal/quickedit")
    def quickedit():
        failed = authed() or fault()
        if failed:
            return failed
        if fake.sleep_next:
            time.sleep(fake.sleep_next)
            fake.sleep_next = 0.0
        body = request.get_json()
        for result in body["results"]:
            if result["studentId"] == 999:
                return jsonify(message="Ученик не найден"), 400
        fake.writes += 1
        for result in body["results"]:
            fake.marks[(str(result["assignId"]), str(result["studentId"]))] = result["mark"]
        if fake.drop_after_commit:
            fake.drop_after_commit = False
            time.sleep(1.0)  # applied, but the answer comes too late: it is lost
        return jsonify(ok=True)

    @app.post("/webapi/grade/journal/edit")
    def lesson_edit():
        failed = authed() or fault()
        if failed:
            return failed
        body = request.get_json()
        return jsonify(cmid=request.args["cmid"], sgId=request.args["sgId"], **body)

    @app.get("/webapi/grade/periodmarks")
    def period_marks_read():
        failed = authed() or fault()
        return failed or jsonify([{"sgId": 3, "termId": 2, "studentId": 5, "mark": "4"}])

    @app.post("/webapi/grade/periodmarks")
    def period_marks():
        failed = authed() or fault()
        if failed:
            return failed
        return jsonify(request.get_json())

    return app


@pytest.fixture
def fake_server():
    fake = Fake()
    with served(make_app(fake)) as url:
        yield fake, url


def client(url: str, **kwargs) -> NetSchoolClient:
    options = {"timeout": 0.5} | kwargs
    return NetSchoolClient(url, LOGIN, PASSWORD, "МБОУ Школа № 1", **options)


def mark(assign: int = 10, student: int = 5, value: str = "5") -> dict:
    return {"cmId": 1, "assignId": assign, "assignTypeId": 2, "studentId": student, "mark": value}


def test_password_hash_uses_windows_1251():
    pw2, pw = netschool.password_hash("Ёжик", "42")
    assert pw2 == md5(("42" + md5("Ёжик".encode("cp1251"))).encode())
    assert pw == pw2[:4] and pw2 != md5(("42" + md5("Ёжик".encode())).encode())


def test_handshake_with_a_cyrillic_password_then_the_at_header(fake_server):
    fake, url = fake_server
    ns = client(url)
    ns.quickedit(3, [mark()], [])
    assert fake.logins == 1 and fake.forms[0]["scid"] == "77"
    assert fake.marks == {("10", "5"): "5"}
    assert find_mark(ns.journal(3, 1), 10, 5) == "5" and fake.logins == 1
    ns.logout()
    assert ns.at is None and not fake.tokens


def test_a_numeric_school_id_skips_the_search(fake_server):
    fake, url = fake_server
    ns = NetSchoolClient(url, LOGIN, PASSWORD, 77, timeout=0.5)
    ns.handshake()
    assert fake.forms[0]["scid"] == "77"


def test_session_expired_logs_in_again_once_and_retries(fake_server):
    fake, url = fake_server
    ns = client(url)
    ns.handshake()
    fake.expire_next = True
    ns.quickedit(3, [mark(value="4")], [])
    assert fake.logins == 2 and fake.marks[("10", "5")] == "4" and fake.writes == 1


def test_bad_credentials_need_manual_action_without_looping(fake_server):
    fake, url = fake_server
    ns = NetSchoolClient(url, LOGIN, "неверный", "Школа 1", timeout=0.5)
    with pytest.raises(NeedsManualAction, match="логин или пароль"):
        ns.quickedit(3, [mark()], [])
    assert len(fake.forms) == 1 and fake.writes == 0


@pytest.mark.parametrize(
    "logindata", [{"esiaMainAuth": True}, {"esiaLogin": True, "schoolLogin": False}]
)
def test_a_region_forcing_gosuslugi_needs_manual_action(fake_server, logindata):
    fake, url = fake_server
    fake.logindata = logindata
    with pytest.raises(NeedsManualAction, match="Госуслуги"):
        client(url).handshake()
    assert fake.forms == []


def test_a_login_answer_about_gosuslugi_needs_manual_action(fake_server):
    fake, url = fake_server
    fake.login_error = "Вход возможен только через ЕСИА (Госуслуги)"
    with pytest.raises(NeedsManualAction, match="Госуслуги"):
        client(url).handshake()


def test_a_login_refused_for_gosuslugi_needs_manual_action(fake_server):
    fake, url = fake_server
    fake.login_refusal = (403, {"message": "Вход только через ЕСИА", "esiaMainAuth": True})
    with pytest.raises(NeedsManualAction, match="Госуслуги"):
        client(url).handshake()


def test_an_expired_login_form_is_unavailable_not_bad_credentials(fake_server):
    fake, url = fake_server
    fake.login_refusal = (409, {"message": "Истёк срок ожидания входа, обновите страницу"})
    with pytest.raises(Unavailable):
        client(url).handshake()


def test_a_401_without_the_header_also_logs_in_again_once(fake_server):
    fake, url = fake_server
    ns = client(url)
    ns.handshake()
    fake.bare_401 = True
    assert ns.period_marks(3, 2)[0]["mark"] == "4" and fake.logins == 2


def test_a_rejected_write_is_rejected_with_the_reason(fake_server):
    fake, url = fake_server
    with pytest.raises(Rejected, match="Ученик не найден"):
        client(url).quickedit(3, [mark(student=999)], [])


@pytest.mark.parametrize(
    ("status", "headers", "retry"),
    [(503, {"Retry-After": "120"}, 120.0), (429, {"Retry-After": "7"}, 7.0), (500, {}, None)],
)
def test_5xx_and_429_are_unavailable_with_retry_after(fake_server, status, headers, retry):
    fake, url = fake_server
    ns = client(url)
    ns.handshake()
    fake.fail_next = [(status, headers)]
    with pytest.raises(Unavailable) as caught:
        ns.quickedit(3, [mark()], [])
    assert caught.value.retry_after == retry and fake.writes == 0


def test_a_timeout_and_a_closed_port_are_unavailable(fake_server):
    fake, url = fake_server
    ns = client(url, timeout=0.3)
    ns.handshake()
    fake.sleep_next = 1.0
    with pytest.raises(Unavailable):
        ns.quickedit(3, [mark()], [])
    with pytest.raises(Unavailable):
        NetSchoolClient("http://127.0.0.1:9", LOGIN, PASSWORD, 77, timeout=0.5).probe()


def test_probe_is_cheap_and_needs_no_login(fake_server):
    fake, url = fake_server
    assert client(url).probe()["version"] == "5.x" and fake.logins == 0


def test_a_lost_answer_is_read_back_and_not_written_twice(fake_server):
    fake, url = fake_server
    ns = client(url, timeout=0.4)
    ns.handshake()
    fake.drop_after_commit = True

    def read_back():
        return find_mark(ns.journal(3, 1), 10, 5)

    written = idempotent_write(lambda: ns.quickedit(3, [mark()], []), read_back, "5")
    assert written is False and fake.writes == 1 and fake.marks == {("10", "5"): "5"}
    # A resend after a crash, checking first, writes nothing either.
    assert idempotent_write(lambda: 1 / 0, read_back, "5", check_first=True) is False
    assert fake.writes == 1


def test_a_lost_answer_of_a_write_that_did_not_land_is_still_unavailable(fake_server):
    fake, url = fake_server
    ns = client(url)
    ns.handshake()
    fake.fail_next = [(502, {})]
    with pytest.raises(Unavailable):
        idempotent_write(
            lambda: ns.quickedit(3, [mark()], []),
            lambda: find_mark(ns.journal(3, 1), 10, 5),
            "5",
        )
    assert fake.writes == 0


def test_topic_homework_and_period_marks_use_the_configured_paths(fake_server):
    fake, url = fake_server
    ns = client(url)
    answer = ns.set_topic_homework_fields(11, 3, {"theme": "Дроби", "homework": "№ 5"})
    assert answer == {"cmid": "11", "sgId": "3", "theme": "Дроби", "homework": "№ 5"}
    sent = ns.set_period_mark(3, 2, 5, *DEFAULT.period_mark("н/а"))
    assert sent == {"sgId": 3, "termId": 2, "studentId": 5, "mark": None, "markType": -1}
    moved = client(url, paths={"period_marks": "/webapi/elsewhere"})
    with pytest.raises(netschool.ProtocolError):
        moved.set_period_mark(3, 2, 5, "5")


def test_mapping_overrides_merge_with_the_defaults():
    custom = Mapping().with_overrides({"paths": {"quickedit": "/x"}, "pass_mark": "1"})
    assert custom.path("quickedit") == "/x" and custom.path("journal") == DEFAULT.path("journal")
    assert custom.period_mark("зач") == ("1", 1) and custom.period_mark("4") == ("4", 1)
    assert custom.attendance_reason("") is None and custom.attendance_reason("Б") == "missedIll"


def test_retry_after_as_an_http_date():
    stamp = time.time() + 60
    header = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(stamp))
    assert 55 <= netschool.retry_after_seconds(header, time.time()) <= 61
    assert netschool.retry_after_seconds("garbage") is None
