# ruff: noqa: F811 — the fixtures come from test_sync_push
"""Class lists from АСУ РСО: new students come in when the school keeps its lists there."""

from __future__ import annotations

from appliance.models import AuditEntry, Enrollment, IdMap, Person, SubjectGroupStudent
from appliance.sync import engine, match
from appliance.sync import settings as sync_settings
from appliance.sync.roster import split_name

from .test_sync_push import LOGIN, PASSWORD, school, upstream  # noqa: F401


def add_upstream_student(store, class_name: str, full_name: str) -> int:
    with store.tx() as con:
        class_id = con.execute("SELECT id FROM class WHERE name = ?", (class_name,)).fetchone()[0]
        cur = con.execute(
            "INSERT INTO person (full_name, is_staff, class_id) VALUES (?, 0, ?)",
            (full_name, class_id),
        )
        person_id = cur.lastrowid
        for (sg_id,) in con.execute("SELECT id FROM subject_group WHERE class_id = ?", (class_id,)):
            con.execute("INSERT INTO sg_student VALUES (?, ?)", (sg_id, person_id))
    return person_id


def configure(settings, url, roster: bool) -> None:
    sync_settings.save(
        settings,
        url=url,
        school="1",
        login=LOGIN,
        password=PASSWORD,
        roster_from_upstream=roster,
    )


def test_split_name_keeps_a_two_word_patronymic():
    assert split_name("Алиев Руслан Тимур оглы") == {
        "last_name": "Алиев",
        "first_name": "Руслан",
        "middle_name": "Тимур оглы",
    }


def test_a_new_student_in_asu_rso_is_enrolled_here(school, upstream, settings):
    url, store, _ = upstream
    remote_id = add_upstream_student(store, "5А", "Новикова Алиса Петровна")
    configure(settings, url, roster=True)
    result = engine.run_once(settings)
    assert result.status == "ok", result.message
    alisa = Person.get(Person.last_name == "Новикова")
    assert (alisa.first_name, alisa.middle_name) == ("Алиса", "Петровна")
    assert Enrollment.get(Enrollment.student == alisa).school_class == school.classes["5А"]
    assert SubjectGroupStudent.select().where(SubjectGroupStudent.student == alisa).exists()
    assert match.known("Person")[alisa.uuid] == str(remote_id)
    assert "Новикова Алиса Петровна (5А)" in result.message
    audit = AuditEntry.get((AuditEntry.action == "person.create") & (AuditEntry.ip == "АСУ РСО"))
    assert audit.entity_uuid == alisa.uuid
    # the next run adds nobody twice
    engine.run_once(settings)
    assert Person.select().where(Person.last_name == "Новикова").count() == 1


def test_without_the_setting_nobody_is_added(school, upstream, settings):
    url, store, _ = upstream
    add_upstream_student(store, "5А", "Новикова Алиса Петровна")
    configure(settings, url, roster=False)
    assert engine.run_once(settings).status == "ok"
    assert not Person.select().where(Person.last_name == "Новикова").exists()


def test_a_student_missing_upstream_is_reported_not_removed(school, upstream, settings):
    url, store, _ = upstream
    gone = school.students["5А"][0]
    configure(settings, url, roster=True)
    assert engine.run_once(settings).status == "ok"  # ids matched
    remote = IdMap.get((IdMap.entity_type == "Person") & (IdMap.local_uuid == gone.uuid))
    with store.tx() as con:
        con.execute("DELETE FROM sg_student WHERE student_id = ?", (int(remote.remote_id),))
    result = engine.run_once(settings)
    assert f"Нет в АСУ РСО: {gone.last_name} {gone.first_name} (5А)" in result.message
    assert Enrollment.get(Enrollment.student == gone).ends is None
