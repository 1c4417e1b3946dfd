"""A client of NetSchool's web API (АСУ РСО) for the push: session, journal writes, reads.

Speaks the protocol of the reference (netschool.md): `logindata` → `auth/getdata` →
`login` with the salted hash, then the `at` header on every call. Paths and value
mappings come from `mapping.Mapping`. Uses only the standard library (urllib): the
venv has no `requests`.

Failures are sorted for the worker:

* `Unavailable(retry_after)` — timeouts, dropped connections, 5xx, 429, maintenance:
  retry later (a write may or may not have been applied: see `idempotent_write`);
* `Rejected(reason)` — the upstream refused this one write (400): park it;
* `NeedsManualAction(message)` — wrong credentials, a region that forces Gosuslugi,
  no rights: a person must act; never retried in a loop.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import http.cookiejar
import json
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from .mapping import DEFAULT, Mapping

T = TypeVar("T")


class NetSchoolError(Exception):
    """Base of the adapter's errors."""


class NeedsManualAction(NetSchoolError):  # noqa: N818 — a state, not a bug
    """A person must act (credentials, Gosuslugi, rights); the message is Russian."""


class Rejected(NetSchoolError):  # noqa: N818
    """The upstream refused this write (unknown student, closed period …): park it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Unavailable(NetSchoolError):  # noqa: N818
    """The upstream cannot be reached or is overloaded: try again later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProtocolError(NetSchoolError):
    """An answer of an unexpected shape (a changed server version, a wrong path)."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProtocolError(f"ответ не JSON (HTTP {self.status})") from exc


class Transport(Protocol):
    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float
    ) -> Response: ...


@dataclass
class UrllibTransport:
    """HTTP with the standard library, keeping cookies (NSSESSIONID) between calls."""

    cookies: http.cookiejar.CookieJar = field(default_factory=http.cookiejar.CookieJar)

    def __post_init__(self) -> None:
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float
    ) -> Response:
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=timeout) as answer:
                return Response(answer.status, _lower(answer.headers), answer.read())
        except urllib.error.HTTPError as error:
            with error:
                return Response(error.code, _lower(error.headers), error.read())
        except TimeoutError as exc:
            raise Unavailable("АСУ РСО не ответила вовремя") from exc
        except urllib.error.URLError as exc:
            raise Unavailable(_why(exc.reason)) from exc
        except (http.client.HTTPException, ValueError, OSError) as exc:
            raise Unavailable(_why(exc)) from exc


def _why(reason: object) -> str:
    """A network failure in words a school's admin can act on (no Errno, no English)."""
    if isinstance(reason, TimeoutError):
        return "АСУ РСО не ответила вовремя"
    if isinstance(reason, socket.gaierror):
        return "адрес АСУ РСО не найден: проверьте адрес в настройках и подключение к интернету"
    if isinstance(reason, ConnectionRefusedError):
        return "АСУ РСО не принимает соединения: сервер выключен, или неверны адрес или порт"
    if isinstance(reason, ssl.SSLError):
        return "ошибка защищённого соединения с АСУ РСО (сертификат): проверьте дату и время"
    if isinstance(reason, http.client.InvalidURL | ValueError):
        return "неверный адрес АСУ РСО: проверьте его в настройках"
    if isinstance(reason, ConnectionError | http.client.HTTPException):
        return "соединение с АСУ РСО прервано"
    return "нет связи с АСУ РСО"


def _lower(headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()} if headers else {}


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def password_hash(password: str, salt: str) -> tuple[str, str]:
    """(pw2, PW) of the login form: md5(salt + md5(password in windows-1251))."""
    pw2 = md5_hex((salt + md5_hex(password.encode("windows-1251"))).encode("ascii"))
    return pw2, pw2[: len(password)]


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A Retry-After header (seconds or an HTTP date) in seconds from now."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


# A session answered within this many seconds is used again by the next run instead of
# logging in anew: a login is four requests and a record in АСУ РСО's log of entries, and
# the worker runs every few seconds while teachers enter marks. Well inside the session
# time-out servers give (`timeOut`, 45 minutes seen); an expired one is logged into again.
SESSION_REUSE = 300.0

GOSUSLUGI = (
    "Регион требует входа через Госуслуги (ЕСИА): вход служебной учётной записи по "
    "логину и паролю отключён. Синхронизация остановлена — нужна помощь администратора."
)
BAD_CREDENTIALS = (
    "АСУ РСО не приняла логин или пароль служебной учётной записи. "
    "Проверьте их в настройках синхронизации."
)


def _mentions_gosuslugi(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in ("esia", "есиа", "госуслуг"))


class NetSchoolClient:
    """One service account's session with one NetSchool server."""

    def __init__(
        self,
        base_url: str,
        login: str,
        password: str,
        school_name_or_id: str | int,
        paths: MappingABC[str, str] | None = None,
        timeout: float = 20.0,
        session: Transport | None = None,
        mapping: Mapping | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.login_name = login
        self.password = password
        self.school = school_name_or_id
        self.mapping = (mapping or DEFAULT).with_overrides({"paths": dict(paths or {})})
        self.timeout = timeout
        self.transport: Transport = session or UrllibTransport()
        self.at: str | None = None
        self.school_id: int | None = None
        self.logins = 0  # handshakes done (tests, the status page)
        self.answered_at = 0.0  # time.monotonic() of the session's last answered call

    # --- low level ---------------------------------------------------------------

    def _url(self, name: str, params: MappingABC[str, Any] | None = None) -> str:
        url = self.base_url + self.mapping.path(name)
        if params:
            clean = {k: v for k, v in params.items() if v is not None}
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(clean)
        return url

    def _send(
        self,
        method: str,
        name: str,
        *,
        params: MappingABC[str, Any] | None = None,
        json_body: Any = None,
        form: MappingABC[str, Any] | None = None,
        authed: bool = True,
        timeout: float | None = None,
    ) -> Response:
        headers = {"Accept": "application/json", "Referer": self.base_url + "/"}
        body: bytes | None = None
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        elif form is not None:
            body = urllib.parse.urlencode(form).encode("ascii")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif method == "POST":
            body = b""
        if authed and self.at:
            headers["at"] = self.at
        wait = self.timeout if timeout is None else timeout
        answer = self.transport.send(method, self._url(name, params), headers, body, wait)
        self._raise_unavailable(answer)
        return answer

    @staticmethod
    def _raise_unavailable(answer: Response) -> None:
        status = answer.status
        if status == 429 or status >= 500:
            retry = retry_after_seconds(answer.headers.get("retry-after"))
            if status == 503:
                message = "АСУ РСО на обслуживании"
            elif status == 429:
                message = "АСУ РСО просит снизить частоту запросов"
            else:
                message = f"АСУ РСО ответила ошибкой {status}"
            raise Unavailable(message, retry)

    def _call(
        self,
        method: str,
        name: str,
        *,
        params: MappingABC[str, Any] | None = None,
        json_body: Any = None,
        write: bool = False,
    ) -> Any:
        """An authenticated call: logs in when needed, re-logs in once on SessionExpired."""
        if not self.at:
            self.handshake()
        answer = self._send(method, name, params=params, json_body=json_body)
        if answer.status == 401:
            # SessionExpired (or a server that forgot our session on restart): log in
            # again once and repeat; the first try was not applied.
            self.at = None
            self.handshake()
            answer = self._send(method, name, params=params, json_body=json_body)
            if _session_expired(answer):
                self.at = None
                raise Unavailable("сессия АСУ РСО истекает сразу после входа")
        return self._result(answer, write)

    def _result(self, answer: Response, write: bool) -> Any:
        status = answer.status
        if 200 <= status < 300:
            found = answer.json()
            self.answered_at = time.monotonic()  # an answer that made sense
            return found
        reason = _message(answer) or f"HTTP {status}"
        if status in (401, 403):
            self.at = None if status == 401 else self.at
            raise NeedsManualAction(
                f"У служебной учётной записи нет доступа к этому действию в АСУ РСО ({reason})."
            )
        if write and status in (400, 409, 422):
            raise Rejected(reason)
        raise ProtocolError(f"неожиданный ответ АСУ РСО: HTTP {status} ({reason})")

    # --- session -----------------------------------------------------------------

    def probe(self) -> dict[str, Any]:
        """A cheap connectivity check: `GET logindata` (no login). Raises Unavailable."""
        answer = self._send("GET", "logindata", authed=False)
        if answer.status != 200:
            raise Unavailable(f"АСУ РСО ответила {answer.status} на проверку связи")
        data = answer.json()
        return data if isinstance(data, dict) else {}

    def handshake(self) -> str:
        """Log in per the reference; returns the `at` token."""
        self.at = None
        info = self.probe()
        if info.get("esiaMainAuth") or (info.get("esiaLogin") and not info.get("schoolLogin")):
            raise NeedsManualAction(GOSUSLUGI)
        school_id = self._school_id()
        auth = self._send("POST", "getdata", authed=False)
        data = self._plain(auth)
        try:
            lt, ver, salt = str(data["lt"]), str(data["ver"]), str(data["salt"])
        except (KeyError, TypeError) as exc:
            raise ProtocolError("auth/getdata без lt/ver/salt") from exc
        pw2, pw = password_hash(self.password, salt)
        form = {
            "LoginType": 1,
            "scid": school_id,
            "UN": self.login_name,
            "PW": pw,
            "pw2": pw2,
            "lt": lt,
            "ver": ver,
        }
        answer = self._send("POST", "login", form=form, authed=False)
        if answer.status != 200:
            self._login_refused(answer)
        result = self._plain(answer)
        token = result.get("at") if isinstance(result, dict) else None
        if not token:
            message = str((result or {}).get("errorMessage") or "")
            if _mentions_gosuslugi(message):
                raise NeedsManualAction(GOSUSLUGI)
            raise NeedsManualAction(
                "АСУ РСО не открыла сессию" + (f": {message}" if message else ".")
            )
        self.at = str(token)
        self.logins += 1
        self.answered_at = time.monotonic()
        return self.at

    def idle(self) -> float:
        """Seconds since the session last answered (infinite without a session)."""
        return time.monotonic() - self.answered_at if self.at else float("inf")

    def forget(self) -> None:
        """Drop the session without a request (a run failed: the next one logs in)."""
        self.at = None

    def session(self) -> None:
        """Log in, unless the session answered within `SESSION_REUSE` seconds: then it is
        used again (should АСУ РСО have ended it anyway, `_call` logs in once more)."""
        if self.idle() >= SESSION_REUSE:
            self.handshake()

    @staticmethod
    def _login_refused(answer: Response) -> None:
        """Why the login form was refused, as the worker's kind of error."""
        message = _message(answer)
        try:
            data = answer.json()
        except ProtocolError:
            data = None
        forced = isinstance(data, dict) and bool(data.get("esiaMainAuth"))
        if forced or _mentions_gosuslugi(message):
            raise NeedsManualAction(GOSUSLUGI)
        if answer.status == 409 and ("истёк" in message.lower() or "истек" in message.lower()):
            raise Unavailable(f"вход в АСУ РСО не успел: {message}")  # the lt timed out
        if answer.status == 409:
            raise NeedsManualAction(BAD_CREDENTIALS + (f" ({message})" if message else ""))
        raise ProtocolError(f"АСУ РСО ответила {answer.status} при входе ({message})")

    def _plain(self, answer: Response) -> Any:
        if answer.status != 200:
            raise ProtocolError(f"АСУ РСО ответила {answer.status} при входе")
        return answer.json()

    def _school_id(self) -> int:
        if self.school_id is not None:
            return self.school_id
        if isinstance(self.school, int) or str(self.school).strip().isdigit():
            self.school_id = int(self.school)
            return self.school_id
        name = str(self.school).strip()
        answer = self._send("GET", "schools_search", params={"name": name}, authed=False)
        found = self._plain(answer) or []
        exact = [s for s in found if name in (s.get("name"), s.get("shortName"))]
        chosen = exact or (found if len(found) == 1 else [])
        if len(chosen) != 1:
            raise NeedsManualAction(
                f"Школа «{name}» не найдена в АСУ РСО однозначно: укажите её номер (scid)."
            )
        self.school_id = int(chosen[0]["id"])
        return self.school_id

    def logout(self, timeout: float | None = None) -> None:
        """End the session (errors ignored: the session expires anyway). `timeout`: a
        shorter wait, for a worker that is stopping."""
        if not self.at:
            return
        try:
            self._send("POST", "logout", timeout=timeout)
        except NetSchoolError:
            pass
        finally:
            self.at = None

    def context(self) -> dict[str, Any]:
        return self._call("GET", "context")

    # --- what the box matches its rows against (appliance.sync.match) --------------

    def _list(self, name: str, params: MappingABC[str, Any] | None = None) -> list[dict]:
        data = self._call("GET", name, params=params)
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise ProtocolError(f"АСУ РСО прислала не список ({self.mapping.path(name)})")
        return data

    def classes(self) -> list[dict[str, Any]]:
        """`[{id, name}]`."""
        return self._list("classes")

    def subject_groups(self) -> list[dict[str, Any]]:
        """`[{id, name, subjectName, classId}]`."""
        return self._list("subject_groups")

    def student_list(self, sg_id: int | str) -> list[dict[str, Any]]:
        """`[{id, fullName}]` of one subject group."""
        return self._list("student_list", {"sgid": sg_id})

    def class_meetings(self, start: str, end: str) -> list[dict[str, Any]]:
        """`[{id, day, number, subjectGroupId, classId}]` between two ISO dates."""
        return self._list("class_meetings", {"start": start, "end": end})

    def terms(self) -> list[dict[str, Any]]:
        """`[{id, name, start, end}]`."""
        return self._list("terms")

    def assignment_types(self) -> list[dict[str, Any]]:
        """`[{id, name, abbr}]`."""
        return self._list("assignment_types", {"all": "false"})

    # --- journal -----------------------------------------------------------------

    def journal(
        self,
        sg_id: int | str,
        term_id: int | str | None = None,
        *,
        year_id: int | str | None = None,
        class_id: int | str | None = None,
    ) -> dict[str, Any]:
        """`GET grade/journal` of one subject group (the read-back of marks)."""
        params = {"yearId": year_id, "classId": class_id, "sgId": sg_id, "termId": term_id}
        data = self._call("GET", "journal", params=params)
        if not isinstance(data, dict):
            raise ProtocolError("журнал АСУ РСО пришёл не в виде объекта")
        return data

    def lesson(self, cm_id: int | str, sg_id: int | str) -> dict[str, Any]:
        """`GET grade/journal/edit` of one lesson (the read-back of topic and homework)."""
        return self._call("GET", "lesson_edit", params={"cmid": cm_id, "sgId": sg_id}) or {}

    def period_marks(self, sg_id: int | str, term_id: int | str) -> list[dict[str, Any]]:
        """`GET grade/periodmarks` (the read-back of period marks)."""
        data = self._call("GET", "period_marks", params={"sgId": sg_id, "termId": term_id})
        if not isinstance(data, list):
            raise ProtocolError("итоговые отметки АСУ РСО пришли не списком")
        return data

    def quickedit(
        self, sg_id: int | str, results: list[dict[str, Any]], attendance: list[dict[str, Any]]
    ) -> Any:
        """Marks and attendance of one subject group in one request (all or nothing)."""
        body = {"sgId": int(sg_id), "results": results, "attendance": attendance}
        return self._call("POST", "quickedit", json_body=body, write=True)

    def set_topic_homework_fields(
        self, cm_id: int | str, sg_id: int | str, fields: MappingABC[str, str]
    ) -> Any:
        """Only the given fields of one lesson (`theme`, `homework`); the others stay."""
        params = {"cmid": cm_id, "sgId": sg_id}
        return self._call("POST", "lesson_edit", params=params, json_body=dict(fields), write=True)

    def set_period_mark(
        self,
        sg_id: int | str,
        term_id: int | str,
        student_id: int | str,
        mark: str | None,
        mark_type: int = 1,
    ) -> Any:
        body = {
            "sgId": sg_id,
            "termId": term_id,
            "studentId": student_id,
            "mark": mark,
            "markType": mark_type,
        }
        return self._call("POST", "period_marks", json_body=body, write=True)


def _session_expired(answer: Response) -> bool:
    return answer.status == 401 and "sessionexpired" in answer.headers.get(
        "auth-error", ""
    ).lower().replace(" ", "")


def _message(answer: Response) -> str:
    try:
        data = answer.json()
    except ProtocolError:
        return answer.body.decode("utf-8", "replace")[:300]
    if isinstance(data, dict):
        return str(data.get("message") or data.get("errorMessage") or "")
    return ""


def find_mark(journal: MappingABC[str, Any], assign_id: Any, student_id: Any) -> str | None:
    """A mark in a `grade/journal` answer (None when the cell is empty)."""
    for part in journal.get("journals", []):
        for mark in part.get("marks", []):
            if str(mark.get("assignmentId")) == str(assign_id) and str(
                mark.get("studentId")
            ) == str(student_id):
                value = mark.get("mark")
                return None if value in (None, "") else str(value)
    return None


def idempotent_write(
    write: Callable[[], T],
    read_back: Callable[[], Any],
    expected: Any,
    *,
    check_first: bool = False,
) -> bool:
    """Write once, whatever happens to the answer. True: written now; False: was there.

    After a lost answer (`Unavailable` during the write: the server may have applied
    it — drop-after-commit) the value is read back: equal to what we sent means the
    upstream has it, so it counts as accepted and is never sent a second time. With
    `check_first` the read comes before the write too (for writes that create rather
    than set, where a resend after a crash would duplicate).
    """
    if check_first:
        # Unavailable propagates: writing blind after a possibly applied write could
        # write the cell twice; the item waits for the next attempt instead.
        if read_back() == expected:
            return False
    try:
        write()
        return True
    except Unavailable as lost:
        try:
            current = read_back()
        except NetSchoolError:
            raise lost from None
        if current == expected:
            return False
        raise
