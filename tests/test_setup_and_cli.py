"""`ezh init` and the setup wizard; the console commands; /healthz."""

from __future__ import annotations

import json

import pytest

from appliance.cli import main
from appliance.config import load_settings
from appliance.db import latest_version
from appliance.models import RoleGrant, User
from appliance.web import create_app

from .conftest import Browser


@pytest.fixture
def empty_school(tmp_path, runner):
    data = tmp_path / "school"
    result = runner.invoke(main, ["init", "--data", str(data), "--school-name", "ГБОУ СОШ № 7"])
    assert result.exit_code == 0, result.output
    code = result.output.split("код настройки:")[1].split()[0]
    app = create_app(load_settings(data, password_profile="fast"))
    return data, code, app


def test_init_creates_no_account_and_no_default_password(empty_school):
    assert User.select().count() == 0


def test_every_page_leads_to_the_wizard_until_setup(empty_school):
    _, _, app = empty_school
    client = app.test_client()
    assert client.get("/").headers["Location"].endswith("/setup/")
    assert client.get("/login").headers["Location"].endswith("/setup/")
    assert client.get("/healthz").status_code == 200


def test_wizard_needs_the_setup_code_then_creates_the_admin(empty_school):
    data, code, app = empty_school
    browser = Browser(app.test_client())
    form = {
        "school_name": "ГБОУ СОШ № 7",
        "last_name": "Соколов",
        "first_name": "Денис",
        "username": "sokolov.d",
        "password": "ochen-dlinnyy",
        "repeat": "ochen-dlinnyy",
    }
    response = browser.post("/setup/", {**form, "code": "WRONG"}, token_from="/setup/")
    assert response.status_code == 400
    assert "Код настройки неверен" in response.get_data(as_text=True)
    assert User.select().count() == 0
    response = browser.post("/setup/", {**form, "code": code}, token_from="/setup/")
    assert response.status_code == 302
    admin = User.get(User.username == "sokolov.d")
    assert [g.role for g in RoleGrant.select().where(RoleGrant.user == admin)] == ["admin"]
    assert not (data / "setup_code").exists()  # the code is spent
    assert browser.login("sokolov.d", "ochen-dlinnyy").status_code == 302
    assert "Администратор АСУ РСО" in browser.get("/").get_data(as_text=True)


def test_console_user_lifecycle(tmp_path, runner):
    data = str(tmp_path / "d")
    runner.invoke(main, ["init", "--data", data])
    result = runner.invoke(
        main,
        [
            "users",
            "create",
            "--data",
            data,
            "--last-name",
            "Горелова",
            "--first-name",
            "Нина",
            "--role",
            "deputy",
            "--role",
            "teacher",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "логин gorelova.n" in result.output
    assert "gorelova.n" in runner.invoke(main, ["users", "list", "--data", data]).output
    assert runner.invoke(main, ["users", "lock", "--data", data, "gorelova.n"]).exit_code == 0
    assert User.get(User.username == "gorelova.n").admin_locked
    assert runner.invoke(main, ["users", "unlock", "--data", data, "gorelova.n"]).exit_code == 0
    assert not User.get(User.username == "gorelova.n").admin_locked
    result = runner.invoke(main, ["users", "reset-password", "--data", data, "gorelova.n"])
    assert "Новый одноразовый пароль" in result.output
    missing = runner.invoke(main, ["users", "lock", "--data", data, "nobody"])
    assert missing.exit_code != 0 and "нет" in missing.output


def test_migrate_command_reports_the_schema_version(tmp_path, runner):
    result = runner.invoke(main, ["migrate", "--data", str(tmp_path / "m")])
    assert result.exit_code == 0
    assert "применена 0001_initial.sql" in result.output
    assert f"Версия схемы: {latest_version()}" in result.output
    again = runner.invoke(main, ["migrate", "--data", str(tmp_path / "m")])
    assert "применена" not in again.output


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["demo"],
        ["init"],
        ["serve"],
        ["migrate"],
        ["doctor"],
        ["worker"],
        ["emulator"],
        ["users"],
        ["users", "create"],
        ["users", "reset-password"],
        ["users", "lock"],
        ["users", "unlock"],
        ["users", "list"],
        ["year"],
        ["year", "list"],
        ["year", "rollover"],
        ["year", "switch"],
    ],
)
def test_every_command_has_russian_help(runner, command):
    result = runner.invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert any("а" <= ch <= "я" for ch in result.output.lower()), result.output


def test_doctor_reports_a_fresh_box(tmp_path, runner):
    data = str(tmp_path / "h")
    runner.invoke(main, ["init", "--data", data])
    result = runner.invoke(main, ["doctor", "--data", data, "--json"])
    report = json.loads(result.output)
    checks = {c["code"]: c["status"] for c in report["checks"]}
    assert checks["database"] == checks["schema"] == "ok"
    assert checks["keys"] == "fail" and result.exit_code == 2  # no archive keys yet


def test_healthz_reports_database_schema_disk_and_outbox(client, school):
    report = client.get("/healthz").get_json()
    assert report["database"] == "ok"
    assert report["schema_version"] == report["schema_latest"] == latest_version() >= 2
    assert report["app_version"]
    assert report["free_disk_mb"] > 0
    assert "oldest_unsent_outbox" in report


def test_serve_believes_forwarded_addresses_only_from_the_named_proxy(
    tmp_path, runner, monkeypatch
):
    """Behind nginx (docs/tls.md) the audit must see the device, not 127.0.0.1."""
    import waitress

    calls = []
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: calls.append(kw))
    data = str(tmp_path / "p")
    runner.invoke(main, ["init", "--data", data])
    plain = runner.invoke(main, ["serve", "--data", data])
    behind = runner.invoke(main, ["serve", "--data", data, "--trusted-proxy", "127.0.0.1"])
    assert plain.exit_code == behind.exit_code == 0, plain.output + behind.output
    assert "trusted_proxy" not in calls[0]
    assert calls[1]["trusted_proxy"] == "127.0.0.1"
    assert "x-forwarded-for" in calls[1]["trusted_proxy_headers"]
    assert calls[1]["clear_untrusted_proxy_headers"] is True
