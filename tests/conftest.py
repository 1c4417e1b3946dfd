"""Fixtures: a fresh data dir per test, the Flask app, a client with a login helper."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from appliance.config import load_settings
from appliance.db import migrate, open_database
from appliance.web import create_app

from .browser_support import system_chromium
from .factories import SchoolFactory

CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"|name="csrf_token" value="([^"]+)"')


@pytest.fixture
def db(tmp_path):
    """An empty, migrated database with every model bound to it (no app)."""
    database = open_database(tmp_path / "ezh.sqlite3")
    migrate(database)
    yield database
    database.close()


@pytest.fixture
def settings(tmp_path):
    return load_settings(tmp_path / "data", password_profile="fast")


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def school(app):
    """A small school: one class with students and parents, and one account per role."""
    from appliance.models import database

    # Requests close the (thread-local) connection; peewee reconnects on demand.
    yield SchoolFactory.build()
    if not database.is_closed():
        database.close()


class Browser:
    """The test client plus what a browser does: keep the CSRF token, log in, log out."""

    def __init__(self, client):
        self.client = client

    def token(self, path: str = "/login") -> str:
        page = self.client.get(path).get_data(as_text=True)
        match = CSRF.search(page)
        assert match, f"no CSRF token on {path}"
        return match.group(1) or match.group(2)

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict | None = None, token_from: str = "/", **kwargs):
        data = dict(data or {})
        data.setdefault("csrf_token", self.token(token_from))
        return self.client.post(path, data=data, **kwargs)

    def login(self, username: str, password: str, role: str | None = None):
        response = self.client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": self.token()},
        )
        if role is not None and response.status_code == 302:
            self.switch_role(role)
        return response

    def switch_role(self, role_key: str):
        return self.post("/role", {"role": role_key})

    def logout(self):
        return self.post("/logout")


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def browser(client):
    return Browser(client)


@pytest.fixture
def chromium() -> str:
    """The system Chromium for Playwright, or a skip that says how to get it."""
    path = system_chromium()
    if path is None:
        pytest.skip("no system Chromium: install the Debian package chromium (.ci/run does)")
    return path


@pytest.fixture
def runner():
    return CliRunner()
