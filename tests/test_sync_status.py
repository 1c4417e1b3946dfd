"""The sync status page: backlog figures, runs, parked changes, «sync now», settings."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from appliance import access, jobs, publishing
from appliance.db import write
from appliance.models import AuditEntry, Job, OutboxEntry, SyncRun, now
from appliance.sync import credentials, outbox, status
from appliance.sync import settings as sync_settings

from . import sync_support
from .factories import PASSWORD, ROLE_ACCOUNTS, ROLES
from .sync_support import entry, put_mark, run

app = sync_support.app  # the app with the sync pages
fake_engine = sync_support.fake_engine

# --- the figures ----------------------------------------------------------------------


def test_overview_counts_cells_not_edits_and_knows_the_oldest(school):
    old = now() - dt.timedelta(hours=3, minutes=5)
    entry("a", created_at=old)
    entry("a")  # a second edit of the same cell: still one change to send
    entry("b")
    entry("c", state="parked", last_error="Нет такого ученика")
    entry("d", state="accepted", accepted_at=now())
    entry("e", state="accepted", accepted_at=now() - dt.timedelta(days=2))
    view = status.overview()
    assert (view.pending, view.pending_entries, view.parked) == (2, 3, 1)
    assert view.oldest_pending_at == old
    assert status.age_text(view.oldest_pending_age) == "3 ч 5 мин"
    assert view.accepted_today == 1
    assert view.last_success is None and view.needs_action is None


def test_needs_action_is_the_latest_finished_run(school):
    run("ok", "Отправлено: 3")
    run("offline", "Нет связи с АСУ РСО")
    wrong = run("needs_action", "Неверный логин или пароль служебной учётной записи.")
    with write():
        SyncRun.create(status="running")  # a run under way does not hide it
    view = status.overview()
    assert view.needs_action.id == wrong.id
    assert view.last_error.id == wrong.id and view.error_is_current
    run("offline", "Нет связи с АСУ РСО")
    assert status.overview().needs_action is None
    success = run("ok", "Отправлено: 1")
    view = status.overview()
    assert view.needs_action is None and not view.error_is_current
    assert view.last_success.id == success.id


def test_age_text_reads_in_russian():
    assert status.age_text(dt.timedelta(seconds=20)) == "меньше минуты"
    assert status.age_text(dt.timedelta(minutes=7)) == "7 мин"
    assert status.age_text(dt.timedelta(days=2, hours=4)) == "2 дн. 4 ч"
    assert status.age_text(None) == ""


# --- parked changes -------------------------------------------------------------------


def _park_latest(reason: str) -> list[outbox.Item]:
    items = outbox.pending_batch(100)
    for item in items:
        outbox.park(item, reason)
    return items


def test_parked_mark_is_described_for_people_and_sent_again(school):
    mark = put_mark(school, "5")
    _park_latest("Период закрыт в АСУ РСО")
    [item] = [p for p in status.parked() if p.entity_uuid == mark.uuid]
    text = item.cell.text
    assert "5А · Математика · " + dt.date.today().strftime("%d.%m.%Y") in text
    assert "Иванов Пётр" in text and text.endswith("отметка «5»")
    assert item.last_error == "Период закрыт в АСУ РСО" and item.state == "parked"
    admin = school.users["admin"]
    assert status.retry_parked(mark.uuid, admin, "10.0.0.1") == 1
    row = OutboxEntry.get(OutboxEntry.entity_uuid == mark.uuid)
    assert (row.state, row.attempts, row.next_attempt_at) == ("pending", 0, None)
    assert [i.entity_uuid for i in outbox.pending_batch(100)].count(mark.uuid) == 1
    audit = AuditEntry.select().order_by(AuditEntry.seq.desc()).first()
    assert audit.action == "sync.retry" and audit.username == "zaytsev.io"
    assert json.loads(audit.after)["entity_uuid"] == mark.uuid
    with pytest.raises(status.SyncStatusError, match="уже не отложено"):
        status.retry_parked(mark.uuid, admin)


def test_a_parked_cell_with_a_newer_edit_is_not_listed(school):
    mark = put_mark(school, "3")
    _park_latest("Нет такого ученика")
    parked = status.overview().parked
    assert mark.uuid in {p.entity_uuid for p in status.parked()}
    put_mark(school, "4")  # the newer edit covers the parked one when it is sent
    assert [p for p in status.parked() if p.entity_uuid == mark.uuid] == []
    assert status.overview().parked == parked - 1


def test_a_deleted_row_is_described_from_the_audit(school):
    mark = put_mark(school, "4")
    put_mark(school, "")  # cleared: the outbox carries a delete with an empty payload
    _park_latest("Отметка уже удалена")
    [item] = [p for p in status.parked() if p.entity_uuid == mark.uuid]
    assert "Иванов Пётр" in item.cell.text and "(удаление)" in item.cell.text


# --- a teacher's own waiting changes --------------------------------------------------


def test_own_waiting_are_the_cells_the_user_changed_last(school):
    teacher = school.users["teacher"]
    first = put_mark(school, "5", index=0)
    put_mark(school, "4", index=1)
    mine = status.own_waiting(teacher)
    assert mine.count >= 2 and first.uuid in {c.entity_uuid for c in mine.cells}
    assert status.own_waiting(school.users["class_teacher"]).count == 0
    outbox.mark_accepted(outbox.pending_batch(100))
    assert status.own_waiting(teacher).count == 0


BY_HAND_REASON = (
    "У урока уже есть работа этого вида: в АСУ РСО у урока одна работа каждого вида. "
    "Поставьте отметку в АСУ РСО вручную."
)


def _park(uuid: str, reason: str) -> None:
    """Park every pending entry of one cell with `reason` (as `push` does on a refusal)."""
    for item in outbox.pending_batch(100):
        if item.entity_uuid == uuid:
            outbox.park(item, reason)


def _accept_the_rest() -> None:
    """What else `put_mark` queued (the lesson's work) went through."""
    outbox.mark_accepted(outbox.pending_batch(100))


def test_own_refused_changes_are_not_counted_as_waiting(school):
    """Parked cells are not «waiting to be sent»; the oldest age is of pending edits."""
    teacher = school.users["teacher"]
    refused = [put_mark(school, "5", index=i) for i in range(2)]
    for mark in refused:
        _park(mark.uuid, "Нет такого ученика в АСУ РСО")
    _accept_the_rest()
    with write():  # refused long ago: must not make the pending backlog look old
        OutboxEntry.update(created_at=now() - dt.timedelta(days=2)).execute()
    mine = status.own_waiting(teacher)
    assert (mine.pending, mine.parked, mine.oldest_pending_at) == (0, 2, None)
    assert {c.entity_uuid for c in mine.parked_cells} == {m.uuid for m in refused}
    assert mine.pending_cells == []
    put_mark(school, "3", index=2)
    mine = status.own_waiting(teacher)
    assert (mine.pending, mine.parked, mine.count) == (1, 2, 3)
    assert now() - mine.oldest_pending_at < dt.timedelta(minutes=1)
    assert [c.state for c in mine.pending_cells] == ["pending"]


def test_parked_advice_follows_the_reason():
    assert "вручную" in status.parked_advice(BY_HAND_REASON)
    assert "администратор" not in status.parked_advice(BY_HAND_REASON)
    other = status.parked_advice("Нет такого ученика в АСУ РСО")
    assert other == "Ничего: администратор устранит причину и отправит снова."


def test_sending_state_follows_the_last_finished_run(school):
    assert status.sending().state == "off"  # no АСУ РСО configured: nothing is sent
    publishing.configure(True)
    try:
        assert status.sending().state == "working"
        run("offline", "Нет связи с АСУ РСО")
        assert status.sending().state == "offline"
        stop = run("needs_action", "Неверный логин или пароль служебной учётной записи.")
        with write():
            SyncRun.create(status="running")  # a run under way does not lift it
        found = status.sending()
        assert (found.state, found.since) == ("stopped", stop.started_at)
        assert found.message.startswith("Неверный логин")
        run("ok", "Отправлено: 1")
        assert status.sending().state == "working"
    finally:
        publishing.configure(False)


def _mine_page(browser) -> str:
    browser.login("smirnova.ev", PASSWORD)
    return re.sub(r"\s+", " ", browser.get("/sync/mine").get_data(as_text=True))


def test_teacher_page_keeps_refused_apart_from_waiting(browser, school):
    """QA: 3 refused marks and nothing pending read «Ждут отправки: 3 … уйдут сами»."""
    publishing.configure(True)
    first = put_mark(school, "5", index=0)
    second = put_mark(school, "4", index=1)
    _park(first.uuid, "Нет такого ученика в АСУ РСО")
    _park(second.uuid, BY_HAND_REASON)
    _accept_the_rest()
    page = _mine_page(browser)
    assert "Ждут отправки: <strong>" not in page and "Ждущих отправки нет." in page
    assert "уйдут сами" not in page
    assert "АСУ РСО отказалась их принять: <strong>2</strong>" in page
    assert "Сами они не уйдут." in page
    # each row: its reason and one instruction that agrees with it
    refused = page[page.index("<h2>Не приняты АСУ РСО</h2>") :]
    rows = re.findall(r"<tr><td>([^<]*)</td>(.*?)</tr>", refused)
    found = {who.split(", ")[-1].split(" —")[0]: rest for who, rest in rows}
    assert set(found) == {"Иванов Пётр", "Петрова Анна"}
    assert "Нет такого ученика" in found["Иванов Пётр"]
    assert "администратор устранит причину и отправит снова" in found["Иванов Пётр"]
    assert "Поставьте отметку в АСУ РСО вручную." in found["Петрова Анна"]
    assert "Внесите это в АСУ РСО вручную" in found["Петрова Анна"]
    assert "администратор" not in found["Петрова Анна"]
    assert "Администратор видит их и отправит снова" not in page


def test_teacher_page_says_sending_is_stopped_when_a_person_must_act(browser, school):
    """QA: 1 pending edit with sync blocked said «Ничего делать не нужно: они уйдут сами»."""
    publishing.configure(True)
    refused = put_mark(school, "5", index=0)
    _park(refused.uuid, "Нет такого ученика в АСУ РСО")
    _accept_the_rest()
    put_mark(school, "3", index=1)
    run("needs_action", "Неверный логин или пароль служебной учётной записи.")
    page = _mine_page(browser)
    assert "Ждут отправки: <strong>1</strong>, самое старое — меньше минуты" in page
    assert "Отправка в АСУ РСО остановлена</strong>" in page
    assert "Причина: Неверный логин или пароль служебной учётной записи." in page
    assert "уйдут сами" not in page and "Ничего делать не нужно" not in page
    assert "АСУ РСО отказалась их принять: <strong>1</strong>" in page
    run("ok", "Отправлено: 0")  # the admin fixed it: sending goes on by itself
    page = browser.get("/sync/mine").get_data(as_text=True)
    assert "Ничего делать не нужно: они уйдут сами." in page and "остановлена" not in page


# --- pages ----------------------------------------------------------------------------


def test_status_page_for_the_office_and_nobody_else(browser, school):
    run("needs_action", "В регионе вход только через Госуслуги: нужен пароль АСУ РСО.")
    entry("x", state="parked", last_error="Нет такого ученика")
    browser.login("zaytsev.io", PASSWORD)
    page = browser.get("/sync/").get_data(as_text=True)
    assert re.search(r'class="flash error" role="alert">\s*<strong>Нужно ваше действие', page)
    assert "вход только через Госуслуги" in page
    assert "Синхронизировать сейчас" in page and "Нет такого ученика" in page
    browser.logout()
    browser.login("orlova.mi", PASSWORD)  # the director reads, without the buttons
    page = browser.get("/sync/").get_data(as_text=True)
    assert "Нужно ваше действие" in page and "Синхронизировать сейчас" not in page
    assert browser.post("/sync/now", {"start": "1"}).status_code == 403
    for username in ("titov.pa", "ivanov.p", "smirnova.ev"):
        browser.logout()
        browser.login(username, PASSWORD)
        assert browser.get("/sync/").status_code == 403


def test_status_page_names_errors_once_and_counts_no_interrupted_run(browser, school):
    """QA: «Последняя ошибка ошибка …», «Отправлено 0» for a killed run, «Ошибок»."""
    run("ok", "Готово: отправлено 5, отложено 1.", pushed=5, failed=1)
    run("error", "Прервано: процесс синхронизации был остановлен.")
    browser.login("zaytsev.io", PASSWORD)
    page = re.sub(r"\s+", " ", browser.get("/sync/").get_data(as_text=True))
    last_error = re.search(r"<th>Последняя ошибка</th><td>(.*?)</td>", page).group(1)
    assert ">сбой</span>" in last_error and "ошибка" not in last_error
    runs = page[page.index("<h2>Последние запуски</h2>") :]
    assert "<th>Ошибок</th>" not in runs and "<th>Отложено или на повтор</th>" in runs
    killed = re.search(r"<tr><td>[^<]*</td> <td><span[^>]*>прервано</span></td>(.*?)</tr>", runs)
    assert killed is not None
    assert killed.group(1).count("<td>—</td>") == 3 and "<td>0</td>" not in killed.group(1)
    assert "<td>5</td><td>0</td><td>1</td>" in runs  # a finished run keeps its figures


def test_interrupted_run_is_told_by_the_engine_message():
    """The engine's message for a killed run is what `status.interrupted` looks for."""
    import inspect

    from appliance.sync import engine

    assert f'message="{status.INTERRUPTED_PREFIX}:' in inspect.getsource(engine._run)
    assert status.interrupted(SyncRun(status="error", message="Прервано: процесс остановлен."))
    assert not status.interrupted(SyncRun(status="offline", message="Прервано: нет связи"))
    assert not status.counted(SyncRun(status="running"))
    assert status.counted(SyncRun(status="offline", message="Отправка прервалась: 503"))


def test_sync_now_queues_one_job_and_runs_the_engine(browser, school, settings, fake_engine):
    browser.login("zaytsev.io", PASSWORD)
    assert browser.post("/sync/now").status_code == 302  # empty: nothing queued
    assert Job.select().count() == 0
    first = browser.post("/sync/now", {"start": "1"})
    job = Job.get(Job.kind == "sync.now")
    assert first.headers["Location"].endswith(f"/jobs/{job.id}")
    again = browser.post("/sync/now", {"start": "1"})  # already queued: the same job
    assert again.headers["Location"].endswith(f"/jobs/{job.id}") and Job.select().count() == 1
    assert AuditEntry.select().where(AuditEntry.action == "sync.run").count() == 1
    jobs.run_pending(settings)
    job = Job.get_by_id(job.id)
    assert job.state == "done" and job.message == "отправлено 2, получено из АСУ РСО 1"
    assert (job.progress, job.total) == (2, 2) and fake_engine.calls == [settings]
    page = browser.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "Готово: отправлено 2, получено из АСУ РСО 1." in page
    assert "<h1>Синхронизация с АСУ РСО</h1>" in page  # not a bare «Задание»


def test_sync_now_that_needs_a_person_fails_the_job_with_the_reason(
    browser, school, settings, fake_engine
):
    fake_engine.result.status = "needs_action"
    fake_engine.result.message = "Неверный пароль служебной учётной записи."
    browser.login("zaytsev.io", PASSWORD)
    browser.post("/sync/now", {"start": "1"})
    [job] = jobs.run_pending(settings)
    assert (job.state, job.message) == ("failed", "Неверный пароль служебной учётной записи.")


def test_retry_button_and_empty_post(browser, school):
    parked = entry("z", state="parked", attempts=4, last_error="Период закрыт")
    browser.login("zaytsev.io", PASSWORD)
    assert browser.post("/sync/retry").status_code == 302  # empty: changes nothing
    assert OutboxEntry.get_by_id(parked.seq).state == "parked"
    assert browser.post("/sync/retry", {"entity_uuid": "z"}).status_code == 302
    assert OutboxEntry.get_by_id(parked.seq).state == "pending"
    browser.logout()
    browser.login("belova.os", PASSWORD)  # the deputy reads, the admin writes
    assert browser.post("/sync/retry", {"entity_uuid": "z"}).status_code == 403


def _settings_form(**changes) -> dict:
    form = {
        "url": "https://asurso.example",
        "school": "1234",
        "enabled": "1",
        "login": "ezh-service",
        "password": "Секрет-42",
    }
    form.update(changes)
    return form


def test_settings_round_trip_keeps_the_password_secret(browser, school, settings):
    browser.login("zaytsev.io", PASSWORD)
    assert browser.get("/sync/settings").status_code == 200
    bad = browser.post("/sync/settings", _settings_form(url="ftp://asurso"))
    assert bad.status_code == 400
    page = bad.get_data(as_text=True)
    assert "Адрес АСУ РСО должен начинаться с https://" in page and "Секрет-42" not in page
    assert not sync_settings.path(settings).exists()
    assert credentials.load(settings.data_dir) is None
    empty = browser.post("/sync/settings")
    assert empty.status_code == 400 and not sync_settings.path(settings).exists()

    assert browser.post("/sync/settings", _settings_form()).status_code == 302
    found = sync_settings.load(settings)
    assert (found.url, found.school, found.enabled) == ("https://asurso.example", "1234", True)
    assert not found.roster_from_upstream
    assert (
        browser.post("/sync/settings", _settings_form(roster_from_upstream="1")).status_code == 302
    )
    assert sync_settings.load(settings).roster_from_upstream
    assert 'name="roster_from_upstream" value="1" checked' in browser.get(
        "/sync/settings"
    ).get_data(as_text=True)
    assert credentials.load(settings.data_dir) == ("ezh-service", "Секрет-42")
    assert publishing.upstream_configured()
    page = browser.get("/sync/settings").get_data(as_text=True)
    assert "ezh-service" in page and "Секрет-42" not in page
    audit = AuditEntry.select().where(AuditEntry.action == "sync.setup").first()
    assert "Секрет" not in audit.after and json.loads(audit.after)["password_changed"] is True

    # An empty password keeps the stored one; switching off stops waiting for АСУ РСО.
    form = _settings_form(password="", enabled="")
    assert browser.post("/sync/settings", form).status_code == 302
    assert credentials.load(settings.data_dir) == ("ezh-service", "Секрет-42")
    assert not sync_settings.load(settings).enabled and not publishing.upstream_configured()
    browser.logout()
    browser.login("orlova.mi", PASSWORD)
    assert browser.get("/sync/settings").status_code == 403


def test_teacher_sees_own_waiting_changes(browser, school):
    put_mark(school, "5")
    browser.login("smirnova.ev", PASSWORD)
    page = browser.get("/sync/mine").get_data(as_text=True)
    assert "Ждут отправки: <strong>" in page and "Иванов Пётр" in page and "отметка «5»" in page
    browser.logout()
    browser.login("kuznetsov.ap", PASSWORD)
    page = browser.get("/sync/mine").get_data(as_text=True)
    assert "Все ваши изменения приняты АСУ РСО." in page and "Иванов Пётр" not in page


@pytest.mark.parametrize("role", ROLES)
def test_sync_routes_obey_the_matrix_and_empty_posts_change_nothing(
    role, app, browser, school, settings
):
    """The access walk over the sync pages (until the lead registers the blueprint)."""
    entry("walk", state="parked", last_error="Нет такого ученика")
    browser.login(ROLE_ACCOUNTS[role], PASSWORD)
    if role == "class_teacher":
        browser.switch_role(school.role_key("class_teacher"))
    failures = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("sync."):
            continue
        obj, mode = app.view_functions[rule.endpoint].access
        allowed = role in access.MATRIX[obj][mode]
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = browser.get(rule.rule) if method == "GET" else browser.post(rule.rule, {})
            ok = response.status_code in (200, 302, 400) if allowed else response.status_code == 403
            if not ok:
                failures.append(f"{method} {rule.rule}: {response.status_code}")
    assert not failures
    assert OutboxEntry.get(OutboxEntry.entity_uuid == "walk").state == "parked"
    assert Job.select().count() == 0 and not sync_settings.path(settings).exists()


def test_sync_now_with_the_real_engine_says_what_is_missing(browser, school, settings):
    """No address yet: the engine refuses, and the job page says why in Russian."""
    browser.login("zaytsev.io", PASSWORD)
    browser.post("/sync/now", {"start": "1"})
    [job] = jobs.run_pending(settings)
    assert job.state == "failed" and job.message.startswith("Синхронизация не настроена")


def test_a_run_started_by_someone_else_is_not_doubled(browser, school):
    with write():
        running = Job.create(kind="sync.now", state="running")  # e.g. the worker's own
    browser.login("zaytsev.io", PASSWORD)
    answer = browser.post("/sync/now", {"start": "1"})
    assert answer.headers["Location"].endswith("/sync/") and Job.select().count() == 1
    page = browser.get("/sync/").get_data(as_text=True)
    assert "Синхронизация уже запущена" in page and f"/jobs/{running.id}" not in page


def test_every_request_path_has_a_russian_label(browser, school):
    from appliance.sync.mapping import DEFAULT_PATHS, PATH_LABELS

    assert set(PATH_LABELS) == set(DEFAULT_PATHS)
    browser.login("zaytsev.io", PASSWORD)
    page = browser.get("/sync/settings").get_data(as_text=True)
    assert "Отметки и посещаемость (запись)" in page and ">quickedit <" not in page


def test_a_change_to_enter_by_hand_is_not_offered_for_sending_again(browser, school):
    """«Отправить снова» would only be refused again: the row says it goes in by hand."""
    entry("again", state="parked", last_error="Нет такого ученика")
    entry("hand", state="parked", last_error=BY_HAND_REASON)
    browser.login("zaytsev.io", PASSWORD)
    page = browser.get("/sync/").get_data(as_text=True)
    assert 'name="entity_uuid" value="again"' in page
    assert 'name="entity_uuid" value="hand"' not in page
    assert "вносится в АСУ РСО вручную" in page
