"""The settings page's «Виды работ»: which АСУ РСО assignment type a work type goes under."""

from __future__ import annotations

import json

from appliance.db import write
from appliance.models import AuditEntry, WorkType
from appliance.sync import settings as sync_settings

from .factories import PASSWORD
from .test_sync_status import _settings_form as _form


def test_the_admin_maps_a_work_type_and_the_mapping_is_audited(browser, school, settings):
    with write():
        trip = WorkType.create(name="Экскурсия", short_name="Экск", weight=1)
        homework = WorkType.create(name="Домашняя работа", short_name="ДЗ", weight=1)
    browser.login("zaytsev.io", PASSWORD)
    page = browser.get("/sync/settings").get_data(as_text=True)
    assert "Виды работ" in page and f'name="wt_{trip.id}"' in page
    assert 'placeholder="Домашнее задание"' in page  # the built-in correspondence
    answer = browser.post("/sync/settings", _form(**{f"wt_{trip.id}": "Зачёт"}))
    assert answer.status_code == 302
    assert sync_settings.load(settings).work_types == {"Экскурсия": "Зачёт"}
    assert sync_settings.load(settings).mapping().work_types["Домашняя работа"] == (
        "Домашнее задание"
    )
    page = browser.get("/sync/settings").get_data(as_text=True)
    assert f'name="wt_{trip.id}" value="Зачёт"' in page
    audit = (
        AuditEntry.select()
        .where(AuditEntry.action == "sync.setup")
        .order_by(AuditEntry.seq.desc())[0]
    )
    assert json.loads(audit.after)["work_types"] == {"Экскурсия": "Зачёт"}
    # A form without the section (an older page) keeps the stored correspondences.
    assert browser.post("/sync/settings", _form(password="")).status_code == 302
    assert sync_settings.load(settings).work_types == {"Экскурсия": "Зачёт"}
    # Emptied: back to "the same name in АСУ РСО".
    form = _form(password="", **{f"wt_{trip.id}": "", f"wt_{homework.id}": ""})
    assert browser.post("/sync/settings", form).status_code == 302
    assert sync_settings.load(settings).work_types == {}
