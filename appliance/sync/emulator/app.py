"""The NetSchool-API subset as a Flask app: `create_emulator(data_dir, faults=...)`.

Emulator assumptions where the public reference gives no shape (see `paths.PATHS`):

- `POST /webapi/grade/journal/edit?cmid&sgId` JSON `{"theme": str, "homework": str}`;
  only the keys present are written (an empty string clears); answers the lesson as
  `GET` on the same path does: `{cmId, sgId, date, theme, homework, lessonId,
  attendance:[{studentId, reason}], assignments:[{id, typeId, weight, results:[…]}]}`.
- `POST /webapi/grade/periodmarks` JSON `{sgId, termId, studentId, mark, markType}`;
  `mark` empty with `markType` ≥ 0 deletes (negative types are stored without a mark);
  `GET /webapi/grade/periodmarks?sgId&termId`.
- `GET /webapi/grade/terms` → `[{id, name, start, end, closed}]`;
  `GET /webapi/users/staff` → `[{id, fullName}]`.
- quickedit: a result without `assignId` goes to the class meeting's assignment of
  `assignTypeId` (created on first use); answers `{"results": n, "attendance": m}`.
- diary/init's `currentStudentId` is an index into `students` (as `netschoolapi` reads it).
- Forced Gosuslugi: login answers 403 `{message, esiaMainAuth: true}`.
- Attendance `reason` must be a key or abbreviation of `GET /webapi/grade/attendance/reasons`
  (`[{id, key, name, abbr}]`); an empty reason deletes.
- Rejections answer 400 `{message}`; "period closed" when the lesson's term is closed.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request

from .common import current_session, current_year, day, dropped, error
from .faults import MAINTENANCE_MESSAGE, FaultDice, Faults
from .reads import register_reads
from .store import EmulatorStore, Rejected
from .writes import register_writes

DB_NAME = "emulator.sqlite3"
VERSION = "5.37.0 (ЭЖ-box emulator)"
SCHOOL_ID = 1
WRITE_ENDPOINTS = {"quickedit", "lesson_edit", "periodmarks_write"}
PUBLIC_ENDPOINTS = {"logindata", "schools_search", "prepareloginform", "getdata", "login"}


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def password_hash(salt: str, password: str) -> str:
    """pw2 as the NetSchool login page computes it (password in windows-1251)."""
    return md5_hex((salt + md5_hex(password.encode("windows-1251"))).encode())


def create_emulator(
    data_dir: str | Path, faults: Faults | dict[str, Any] | str | Path | None = None
) -> Flask:
    app = Flask(__name__)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    store = EmulatorStore(Path(data_dir) / DB_NAME)
    dice = FaultDice(Faults.load(faults))
    sessions: dict[str, dict[str, Any]] = {}
    handshakes: dict[str, str] = {}  # lt → salt
    lock = threading.Lock()
    app.extensions["emulator"] = {"store": store, "dice": dice, "sessions": sessions}

    def endpoint() -> str:
        return request.endpoint or ""

    @app.before_request
    def inject_faults() -> Response | None:
        if not request.path.startswith("/webapi"):
            return None
        f = dice.faults
        if f.latency_ms:
            time.sleep(f.latency_ms / 1000)
        if f.in_maintenance():
            response = error(503, MAINTENANCE_MESSAGE)
            response.headers["Retry-After"] = str(max(f.retry_after_s, 1))
            return response
        if dice.roll(f.drop_rate):
            return dropped()
        if dice.roll(f.error_rate):
            return error(500, "Внутренняя ошибка сервера")
        if dice.roll(f.rate_limit_rate):
            response = error(429, "Слишком много запросов")
            response.headers["Retry-After"] = str(f.retry_after_s)
            return response
        if endpoint() in PUBLIC_ENDPOINTS:
            return None
        token = request.headers.get("at", "")
        with lock:
            session = sessions.get(token)
            if session is not None:
                session["requests"] += 1
                expired = (f.session_every and session["requests"] > f.session_every) or (
                    f.session_ttl_s and time.monotonic() - session["at"] > f.session_ttl_s
                )
                if expired:
                    del sessions[token]
                    session = None
        if session is None:
            response = error(401, "Сессия завершена")
            response.headers["auth-error"] = "SessionExpired"
            return response
        request.environ["emulator.session"] = session
        return None

    @app.after_request
    def drop_after_commit(response: Response) -> Response:
        if endpoint() in WRITE_ENDPOINTS and response.status_code == 200:
            if dice.roll(dice.faults.drop_after_commit_rate):
                return dropped()
        return response

    @app.errorhandler(Rejected)
    def rejected(exc: Rejected) -> Response:
        return error(400, str(exc))

    # --- session -------------------------------------------------------------------------

    @app.get("/webapi/logindata", endpoint="logindata")
    def logindata() -> Response:
        esia = dice.faults.esia_forced
        response = jsonify(
            {"version": VERSION, "schoolLogin": not esia, "esiaLogin": True, "esiaMainAuth": esia}
        )
        response.set_cookie("NSSESSIONID", secrets.token_hex(16), httponly=True)
        return response

    def school_card() -> dict[str, Any]:
        return {
            "id": SCHOOL_ID,
            "name": store.meta("school_name", "Школа"),
            "shortName": store.meta("school_short_name", "Школа"),
            "addressString": "",
            "inn": "",
            "ogrn": "",
            "cityId": 1,
            "provinceId": 1,
        }

    @app.get("/webapi/schools/search", endpoint="schools_search")
    def schools_search() -> Response:
        name = request.args.get("name", "").lower()
        card = school_card()
        hit = not name or name in card["name"].lower() or name in card["shortName"].lower()
        return jsonify([card] if hit else [])

    @app.get("/webapi/prepareloginform", endpoint="prepareloginform")
    def prepareloginform() -> Response:
        card = school_card()
        return jsonify(
            {
                "cid": 2,
                "sid": 1,
                "pid": -1,
                "cn": 1,
                "sft": 2,
                "scid": SCHOOL_ID,
                "countries": [{"id": 2, "name": "Россия"}],
                "schools": [{"id": SCHOOL_ID, "name": card["shortName"]}],
            }
        )

    @app.post("/webapi/auth/getdata", endpoint="getdata")
    def getdata() -> Response:
        lt, salt = str(secrets.randbelow(10**9)), str(secrets.randbelow(10**10))
        with lock:
            handshakes[lt] = salt
        return jsonify({"lt": lt, "ver": str(secrets.randbelow(10**9)), "salt": salt})

    @app.post("/webapi/login", endpoint="login")
    def login() -> Response:
        form = {k.lower(): v for k, v in request.form.items()}
        if not request.headers.get("Referer"):
            return error(400, "Не указан заголовок Referer")
        if dice.faults.esia_forced:
            return error(
                403, "Вход в систему возможен только через Госуслуги (ЕСИА)", esiaMainAuth=True
            )
        with lock:
            salt = handshakes.pop(form.get("lt", ""), None)
        account = store.account(form.get("un", ""))
        if salt is None:
            return error(409, "Истёк срок ожидания входа, обновите страницу")
        expected = password_hash(salt, account["password"]) if account else ""
        pw = form.get("pw", "")
        if not account or form.get("pw2") != expected or (pw and pw != expected[: len(pw)]):
            return error(409, "Неправильный пароль или имя пользователя")
        token = store.new_token()
        with lock:
            sessions[token] = {
                "login": account["login"],
                "person_id": account["person_id"],
                "role": account["role"],
                "name": account["full_name"],
                "at": time.monotonic(),
                "requests": 0,
            }
        return jsonify(
            {
                "at": token,
                "timeOut": 2_700_000,
                "accessToken": token,
                "refreshToken": secrets.token_hex(8),
                "accountInfo": {
                    "user": {"id": account["person_id"], "name": account["full_name"]},
                    "activeToken": None,
                    "secureActiveToken": None,
                },
                "entryPoint": "/angular/school/studentdiary/",
                "requestData": {"warnType": None},
                "errorMessage": None,
            }
        )

    @app.post("/webapi/auth/logout", endpoint="logout")
    def logout() -> Response:
        with lock:
            sessions.pop(request.headers.get("at", ""), None)
        return jsonify({})

    @app.get("/webapi/context", endpoint="context")
    def context() -> Response:
        year = current_year(store)
        s = current_session()
        return jsonify(
            {
                "userId": s["person_id"],
                "schoolId": SCHOOL_ID,
                "schoolYearId": year["id"],
                "globalYearId": year["id"],
                "roles": [s["role"]],
                "rights": [],
                "schoolyear": {
                    "id": year["id"],
                    "name": year["name"],
                    "startDate": day(year["starts"]),
                    "endDate": day(year["ends"]),
                },
                "timezone": store.meta("timezone", "Europe/Samara"),
            }
        )

    register_reads(app, store)
    register_writes(app, store)

    # --- test control --------------------------------------------------------------------

    @app.post("/_emulator/faults", endpoint="control_faults")
    def control_faults() -> Response:
        try:
            dice.set(Faults.from_dict(request.get_json(force=True) or {}))
        except (TypeError, ValueError) as exc:
            return error(400, str(exc))
        return jsonify(dice.faults.to_dict())

    @app.get("/_emulator/faults", endpoint="control_faults_read")
    def control_faults_read() -> Response:
        return jsonify(dice.faults.to_dict())

    @app.get("/_emulator/state", endpoint="control_state")
    def control_state() -> Response:
        return jsonify(store.state())

    @app.post("/_emulator/terms", endpoint="control_terms")
    def control_terms() -> Response:
        data = request.get_json(force=True) or {}
        store.close_term(int(data["termId"]), bool(data.get("closed", True)))
        return jsonify(store.query("SELECT id, name, closed FROM term ORDER BY id"))

    @app.post("/_emulator/expire", endpoint="control_expire")
    def control_expire() -> Response:
        with lock:
            count = len(sessions)
            sessions.clear()
        return jsonify({"expired": count})

    return app
