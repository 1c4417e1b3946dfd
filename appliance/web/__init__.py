"""The Flask application: one factory, per-request identity, one error page."""

from __future__ import annotations

import datetime as dt
import importlib
from pathlib import Path

from flask import (
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_htmx import HTMX
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from .. import __version__, access, publishing, tasks  # noqa: F401  (tasks: job kinds)
from ..config import Settings, load_settings
from ..db import migrate, open_database
from ..models import School, SchoolClass, database
from ..sessions import resume_session
from ..sync import settings as sync_settings
from .guard import is_htmx, may_open

ERROR_TEXTS = {
    400: "Запрос не понят. Проверьте введённые данные.",
    403: "У вас нет прав на это действие.",
    404: "Такой страницы нет или она вам недоступна.",
    405: "Так к этой странице обращаться нельзя.",
    413: (
        "Файлы слишком большие: все вместе больше допустимого. Ничего не сохранено; "
        "вернитесь назад и приложите меньше файлов."
    ),
    429: "Слишком много попыток. Подождите немного.",
    500: "Внутренняя ошибка. Данные не изменены; сообщите администратору.",
}

# Pages reachable before the admin has finished the setup wizard, or with a
# password that must be changed first.
SETUP_OPEN = {"setup.wizard", "health.healthz", "static"}
MUST_CHANGE_OPEN = {"auth.change_password", "auth.logout", "health.healthz", "static"}


# The menu: shown to a role when the access matrix lets it read the object.
NAVIGATION = [
    ("home.index", "Главная", "own", "read"),
    ("diary.index", "Дневник", "diary", "read"),
    ("messages.index", "Сообщения", "messages", "read"),
    ("announcements.index", "Объявления", "announcements", "read"),
    ("grid.index", "Журнал", "journal", "read"),
    ("periods.index", "Отметки за период", "journal", "read"),
    ("periods.progress", "Выполнение КТП", "journal", "read"),
    ("control.index", "Контроль журнала", "journal_control", "read"),
    ("reports.index", "Отчёты", "reports", "read"),
    ("printing.index", "Печать журналов", "reports", "read"),
    ("timetable.index", "Расписание", "timetable", "read"),
    ("planning.index", "План года", "planning", "read"),
    ("atrisk.index", "Уведомления родителям", "parent_notices", "read"),
    ("ktp.index", "КТП", "ktp", "read"),
    ("ktp.review", "Проверка КТП", "ktp_review", "read"),
    ("lessons.regenerate", "Уроки по расписанию", "journal_control", "write"),
    ("classes.index", "Классы", "class", "read"),
    ("admin.staff", "Сотрудники", "staff", "read"),
    ("admin.accounts", "Учётные записи", "accounts", "read"),
    ("admin.activity", "Активность", "accounts", "read"),
    ("admin.personal_data", "Персональные данные", "personal_data", "read"),
    ("admin.audit_log", "Журнал изменений", "audit", "read"),
    ("sync.status", "Синхронизация", "sync", "read"),
    ("sync.mine", "Не отправлено в АСУ РСО", "journal", "write"),
    ("archive.index", "Электронный архив", "archive", "read"),
    ("backup.index", "Резервные копии", "backup", "read"),
    ("doctor.index", "Самопроверка", "system_health", "read"),
    ("settings.edit", "Настройки школы", "school_settings", "read"),
    ("help.index", "Помощь", "own", "read"),
]


def templates_dir() -> Path:
    """Templates ship inside the wheel; in a source checkout they sit at the top level."""
    packaged = Path(__file__).resolve().parents[1] / "templates"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "templates"


def create_app(settings: Settings | None = None, **overrides) -> Flask:
    if settings is None:
        settings = load_settings(overrides.pop("data_dir", "./data"), **overrides)
    app = Flask(__name__, template_folder=str(templates_dir()), static_folder="static")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="ezh_session",
        MAX_CONTENT_LENGTH=settings.max_upload_mb * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        WTF_CSRF_HEADERS=["X-CSRFToken"],
    )
    app.extensions["ezh_settings"] = settings
    app.url_map.converters["int"] = IdConverter

    publishing.configure(upstream_configured=sync_settings.load(settings).configured)
    db = open_database(settings.db_path)
    with db.connection_context():
        migrate(db)

    CSRFProtect(app)
    HTMX(app)
    _register_request_hooks(app)
    _register_errors(app)
    _register_blueprints(app)
    _register_template_helpers(app)
    return app


class IdConverter(IntegerConverter):
    """`<int:…>` with an upper bound: a 30-digit id is a 404, not an SQLite overflow."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 10**12)
        super().__init__(url_map, *args, **kwargs)


def settings_of(app: Flask) -> Settings:
    return app.extensions["ezh_settings"]


def _register_request_hooks(app: Flask) -> None:
    @app.before_request
    def open_db_and_identify():
        database.connect(reuse_if_open=True)  # once per thread
        g.user = None
        g.role = None
        g.roles = []
        if request.endpoint == "static":
            return None
        school = School.select().first()
        g.school = school
        if (school is None or not school.setup_complete) and request.endpoint not in SETUP_OPEN:
            return redirect(url_for("setup.wizard"))
        _load_identity(app)
        if (
            g.user is not None
            and g.user.must_change_password
            and request.endpoint not in MUST_CHANGE_OPEN
        ):
            return redirect(url_for("auth.change_password"))
        return None

    # No teardown close: each waitress thread keeps its own connection (peewee keeps
    # them thread-local), so a request does not pay for connect + pragmas again.

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
        )
        if g.get("user") is not None:
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def clear_session() -> None:
    """Forget who is logged in, but keep the CSRF secret.

    The login lives in the server-side `UserSession` (the cookie's `sid`); the CSRF
    secret is no credential. Keeping it lets a page that was open when the session
    expired retry its unsaved cells once the teacher has logged in again elsewhere.
    """
    token = session.get("csrf_token")
    session.clear()
    if token:
        session["csrf_token"] = token


def _load_identity(app: Flask) -> None:
    sid = session.get("sid")
    if not sid:
        return
    user, expired = resume_session(sid, settings_of(app).idle_timeout_minutes)
    if user is None or not user.is_active or user.admin_locked:
        clear_session()
        if expired:
            flash("Сеанс завершён после долгого бездействия. Войдите снова.", "info")
        return
    roles = access.grants_of(user)
    if not roles:
        clear_session()
        return
    active = access.ActiveRole.parse(session.get("role", roles[0].key))
    if active not in roles:
        active = roles[0]
        session["role"] = active.key
    g.user, g.person, g.roles, g.role = user, user.person, roles, active


def _register_errors(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        message = "Страница устарела (истёк защитный ключ формы). Обновите её и повторите."
        return _render_error(400, message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 401:
            if is_htmx():
                return "", 401, {"HX-Redirect": url_for("auth.login")}
            return redirect(url_for("auth.login", next=request.full_path))
        return _render_error(exc.code or 500, ERROR_TEXTS.get(exc.code or 500, exc.description))

    @app.errorhandler(OverflowError)
    @app.errorhandler(ValueError)
    def unreadable_input(exc: ValueError):
        # Rule violations are caught in views with their own messages; a bare ValueError
        # here is input nobody anticipated (a tampered id). The transaction rolled back.
        app.logger.warning("unreadable input on %s: %s", request.path, exc)
        return _render_error(400, ERROR_TEXTS[400])

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        return _render_error(500, ERROR_TEXTS[500])


def _render_error(code: int, message: str):
    if is_htmx():
        headers = {"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"}
        return render_template("_partials/error.html", code=code, message=message), code, headers
    return render_template("error.html", code=code, message=message), code


# Every area's blueprint: one module each under appliance/web/, one place that lists them.
BLUEPRINTS = (
    "admin",
    "announcements",
    "atrisk",
    "auth",
    "calendar",
    "classes",
    "control",
    "curriculum",
    "diary",
    "grid",
    "groups",
    "health",
    "help_pages",
    "home",
    "jobs",
    "ktp",
    "lessons",
    "messages",
    "periods",
    "planning",
    "settings",
    "setup",
    "sync",
    "reports",
    "printing",
    "archive",
    "backup",
    "doctor",
    "timetable",
    "years",
)


def _register_blueprints(app: Flask) -> None:
    for name in BLUEPRINTS:
        app.register_blueprint(importlib.import_module(f"{__name__}.{name}").bp)


def _register_template_helpers(app: Flask) -> None:
    from babel.dates import format_date

    @app.template_filter("ru_date")
    def ru_date(value, fmt: str = "d MMMM y") -> str:
        return format_date(value, fmt, locale="ru") if value else ""

    @app.template_filter("ru_datetime")
    def ru_datetime(value) -> str:
        return value.strftime("%d.%m.%Y %H:%M") if value else ""

    @app.context_processor
    def inject():
        def role_label(active: access.ActiveRole) -> str:
            name = ""
            if active.class_id:
                cls = SchoolClass.get_or_none(SchoolClass.id == active.class_id)
                name = cls.name if cls else ""
            return access.role_label(active, name)

        def nav_items() -> list[tuple[str, str]]:
            if g.get("role") is None:
                return []
            return [
                (endpoint, label)
                for endpoint, label, obj, mode in NAVIGATION
                if access.allowed(g.role.role, obj, mode)
            ]

        def can(obj: str, mode: str) -> bool:
            """May the active role do this? (links to pages the role may not open are hidden)"""
            return g.get("role") is not None and access.allowed(g.role.role, obj, mode)

        return {
            "app_version": __version__,
            "role_label": role_label,
            "can": can,
            "can_open": may_open,
            "nav_items": nav_items,
            "ROLES": access.ROLES,
            "today": dt.date.today(),
            # what one form may send in all (MAX_CONTENT_LENGTH): forms with files say it
            "upload_total_mb": current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024),
            "now_dt": dt.datetime.now(),
        }
