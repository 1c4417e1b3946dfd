"""Login, logout, throttling, lockout, must-change-password, idle timeout, CSRF."""

from __future__ import annotations

import datetime as dt

import pytest

from appliance.models import AuditEntry, LoginEvent, User, UserSession

from .factories import PASSWORD


def test_teacher_logs_in_and_sees_day_then_logs_out(browser, school):
    response = browser.login("smirnova.ev", PASSWORD)
    assert response.status_code == 302
    page = browser.get("/").get_data(as_text=True)
    assert "Мой день" in page
    assert "Математика" in page
    browser.logout()
    assert browser.get("/").status_code == 302


def test_wrong_password_is_refused_in_russian_and_recorded(browser, school):
    response = browser.login("smirnova.ev", "wrong-password")
    assert response.status_code == 401
    assert "Неверный логин или пароль." in response.get_data(as_text=True)
    event = LoginEvent.select().order_by(LoginEvent.id.desc()).first()
    assert (event.username, event.success, event.reason) == (
        "smirnova.ev",
        False,
        "bad_credentials",
    )
    assert event.ip == "127.0.0.1"


def test_successful_login_is_recorded(browser, school):
    browser.login("smirnova.ev", PASSWORD)
    event = LoginEvent.select().order_by(LoginEvent.id.desc()).first()
    assert event.success and event.user_id == school.users["teacher"].id


def test_account_locks_after_repeated_failures(browser, school, settings):
    for _ in range(settings.max_failures_per_account):
        browser.login("smirnova.ev", "nope-nope")
    response = browser.login("smirnova.ev", PASSWORD)  # even the right password now
    assert response.status_code == 401
    assert "временно заблокирована" in response.get_data(as_text=True)
    user = User.get(User.username == "smirnova.ev")
    assert user.locked_until > dt.datetime.now()
    assert AuditEntry.select().where(AuditEntry.action == "account.lockout").count() == 1
    # once the lock expires, the right password works again
    User.update(locked_until=dt.datetime.now() - dt.timedelta(seconds=1)).execute()
    assert browser.login("smirnova.ev", PASSWORD).status_code == 302


def test_address_is_throttled_after_many_failures(browser, school, settings):
    usernames = [f"nobody{i}" for i in range(settings.max_failures_per_address)]
    for name in usernames:
        browser.login(name, "whatever1")
    response = browser.login("smirnova.ev", PASSWORD)
    assert response.status_code == 401
    assert "с этого компьютера" in response.get_data(as_text=True)


def test_admin_locked_account_cannot_log_in(browser, school):
    User.update(admin_locked=True).where(User.username == "smirnova.ev").execute()
    response = browser.login("smirnova.ev", PASSWORD)
    assert "заблокирована" in response.get_data(as_text=True)


def test_must_change_password_on_first_login(browser, school):
    User.update(must_change_password=True).where(User.username == "smirnova.ev").execute()
    response = browser.login("smirnova.ev", PASSWORD)
    assert response.headers["Location"].endswith("/password")
    assert browser.get("/").headers["Location"].endswith("/password")
    response = browser.post(
        "/password",
        {"old": PASSWORD, "new": "12345678", "repeat": "12345678"},
        token_from="/password",
    )
    assert response.status_code == 400
    assert "только из цифр" in response.get_data(as_text=True)
    response = browser.post(
        "/password",
        {"old": PASSWORD, "new": "moy-novyy-parol", "repeat": "moy-novyy-parol"},
        token_from="/password",
    )
    assert response.status_code == 302
    assert browser.get("/").status_code == 200
    assert not User.get(User.username == "smirnova.ev").must_change_password


def test_password_reset_ends_other_sessions(browser, school, app):
    browser.login("smirnova.ev", PASSWORD)
    assert browser.get("/").status_code == 200
    from appliance import people

    people.issue_credentials([school.users["teacher"].person], {}, user=None, ip="", profile="fast")
    assert browser.get("/").status_code == 302


def test_idle_session_expires(browser, school, client):
    browser.login("smirnova.ev", PASSWORD)
    UserSession.update(last_seen_at=dt.datetime.now() - dt.timedelta(minutes=31)).execute()
    response = browser.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_session_cookie_is_httponly_and_samesite(browser, school):
    response = browser.login("smirnova.ev", PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_post_without_csrf_token_is_rejected(browser, client, school):
    browser.login("smirnova.ev", PASSWORD)
    response = client.post("/logout")
    assert response.status_code == 400
    assert "Страница устарела" in response.get_data(as_text=True)
    assert client.get("/").status_code == 200  # still logged in: nothing happened


def test_htmx_post_with_token_in_header_is_accepted(browser, client, school):
    browser.login("smirnova.ev", PASSWORD)
    token = browser.token("/")
    response = client.post("/logout", headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 302


def test_htmx_post_without_token_gets_error_fragment(browser, client, school):
    browser.login("smirnova.ev", PASSWORD)
    response = client.post("/logout", headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "#messages"
    assert "<html" not in response.get_data(as_text=True)


def test_login_form_rejects_offsite_next(browser, school):
    response = browser.client.post(
        "/login?next=//evil.example/",
        data={"username": "smirnova.ev", "password": PASSWORD, "csrf_token": browser.token()},
    )
    assert response.headers["Location"] == "/"


def test_switching_roles(browser, school):
    browser.login("kuznetsov.ap", PASSWORD)
    page = browser.get("/").get_data(as_text=True)
    assert "Мой день" in page  # teacher first
    browser.switch_role(school.role_key("class_teacher"))
    assert "Классный руководитель 5А" in browser.get("/").get_data(as_text=True)
    # a role the user does not hold is refused
    assert browser.switch_role("director").status_code == 400


def test_logout_ends_the_session_on_the_server(browser, client, school):
    browser.login("smirnova.ev", PASSWORD)
    cookie = client.get_cookie("ezh_session").value
    browser.logout()
    client.set_cookie("ezh_session", cookie)  # a copied cookie replayed after logout
    assert client.get("/").status_code == 302


def test_password_change_ends_other_sessions_but_not_this_one(app, browser, school):
    from .conftest import Browser

    phone = Browser(app.test_client())
    phone.login("smirnova.ev", PASSWORD)
    browser.login("smirnova.ev", PASSWORD)
    response = browser.post(
        "/password",
        {"old": PASSWORD, "new": "drugoy-parol-1", "repeat": "drugoy-parol-1"},
        token_from="/password",
    )
    assert response.status_code == 302
    assert browser.get("/").status_code == 200
    assert phone.get("/").status_code == 302


@pytest.mark.parametrize(
    "target", ["//evil.example/", "/\t/evil.example", "/%0A/x", "https://evil.example", "/\\evil"]
)
def test_login_never_redirects_off_the_box(browser, school, target):
    response = browser.client.post(
        "/login",
        query_string={"next": target},
        data={"username": "smirnova.ev", "password": PASSWORD, "csrf_token": browser.token()},
    )
    location = response.headers["Location"]
    assert location == "/" or (location.startswith("/") and not location.startswith("//"))
    assert "evil" not in location


def test_unknown_login_answers_like_a_known_one(browser, school, settings):
    for _ in range(settings.max_failures_per_account):
        unknown = browser.login("nobody.here", "x-wrong-pass").get_data(as_text=True)
        known = browser.login("smirnova.ev", "x-wrong-pass").get_data(as_text=True)
        assert ("временно заблокирована" in unknown) == ("временно заблокирована" in known)
    assert "временно заблокирована" in unknown


def test_failures_count_only_since_the_last_success(browser, school, settings):
    for _ in range(settings.max_failures_per_account - 1):
        browser.login("smirnova.ev", "x-wrong-pass")
    assert browser.login("smirnova.ev", PASSWORD).status_code == 302
    browser.logout()
    response = browser.login("smirnova.ev", "x-wrong-pass")
    assert "Неверный логин или пароль." in response.get_data(as_text=True)
    assert User.get(User.username == "smirnova.ev").locked_until is None


def test_guessing_the_current_password_locks_the_account(browser, school, settings):
    browser.login("smirnova.ev", PASSWORD)
    for _ in range(settings.max_failures_per_account):
        response = browser.post(
            "/password",
            {"old": "guess-guess", "new": "novyy-parol-1", "repeat": "novyy-parol-1"},
            token_from="/password",
        )
    assert "временно заблокирована" in response.get_data(as_text=True)
    assert User.get(User.username == "smirnova.ev").locked_until > dt.datetime.now()
