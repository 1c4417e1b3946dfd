"""Retention of archive units (§9.2): due lists, the act, destruction only past retention,
and the yearly verification reminder."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pypdf import PdfReader

from appliance.backup import archive, retention
from appliance.models import ArchiveRecord, AuditEntry

from .archive_support import make_keys, stub_printer


@pytest.fixture
def units(app, school, settings, tmp_path):
    make_keys(settings, tmp_path)
    stick = tmp_path / "stick"
    stick.mkdir()
    records = archive.build(settings, school.year, stick, printer=stub_printer)
    return settings, stick, records


def _journals(records):
    return [r for r in records if r.unit == "journal"]


def test_journals_fall_due_after_5_years_summaries_after_25(units):
    _, _, records = units
    ends = records[0].year.ends
    assert retention.due_for_destruction(ends) == []
    six_years = ends.replace(year=ends.year + 6)
    assert {r.id for r in retention.due_for_destruction(six_years)} == {
        r.id for r in _journals(records)
    }
    assert len(retention.due_for_destruction(ends.replace(year=ends.year + 26))) == 4


def test_the_act_lists_units_reasons_and_signature_lines(units):
    _, _, records = units
    pdf = retention.act_pdf(_journals(records), "1/2032")
    pages = PdfReader(io.BytesIO(pdf)).pages
    text = " ".join(" ".join(page.extract_text() for page in pages).split())
    assert "АКТ № 1/2032" in text and "об уничтожении" in text
    assert "5А, журнал" in text and "5Б, журнал" in text
    assert "срок хранения 5 лет" in text and "Председатель комиссии" in text


def test_destroy_deletes_the_files_and_marks_the_register(units, school):
    settings, stick, records = units
    journals = _journals(records)
    later = records[0].year.ends.replace(year=records[0].year.ends.year + 6)
    number = retention.act_number(later)
    assert number == f"1/{later.year}"
    done = retention.destroy(
        settings,
        [r.id for r in journals],
        stick,
        number,
        user=school.users["director"],
        today=later,
    )
    assert len(done) == 2
    for record in journals:
        fresh = ArchiveRecord.get_by_id(record.id)
        assert fresh.status == "destroyed" and fresh.destruction_act == number
        assert fresh.destroyed_at is not None
        assert not (stick / record.file_name).exists()
        assert not (stick / f"{record.file_name}.minisig").exists()
        entry = AuditEntry.get(
            (AuditEntry.entity_uuid == record.uuid) & (AuditEntry.action == "archive.destroy")
        )
        assert entry.username == "orlova.mi"
    summaries = [r for r in records if r.unit == "summary"]
    assert all((stick / r.file_name).exists() for r in summaries)
    register = (stick / archive.REGISTER_FILE).read_text(encoding="utf-8-sig")
    assert register.count("уничтожено") == 2
    assert retention.act_number(later) == f"2/{later.year}"
    assert archive.verify(settings, stick).ok  # the destroyed units are no longer checked


def test_a_unit_within_retention_is_never_destroyed(units):
    settings, stick, records = units
    ends = records[0].year.ends
    later = ends.replace(year=ends.year + 6)
    ids = [r.id for r in records]  # journals are due, summaries are not
    with pytest.raises(retention.DestructionError, match="сводная ведомость.*хранится до"):
        retention.destroy(settings, ids, stick, "1/2033", today=later)
    assert all((stick / r.file_name).exists() for r in records)
    assert ArchiveRecord.select().where(ArchiveRecord.status == "destroyed").count() == 0


def test_destroy_needs_the_units_own_medium_and_an_act(units, tmp_path):
    settings, _, records = units
    other = tmp_path / "other-stick"
    other.mkdir()
    later = records[0].year.ends.replace(year=records[0].year.ends.year + 6)
    ids = [r.id for r in _journals(records)]
    with pytest.raises(retention.DestructionError, match="записана на носитель"):
        retention.destroy(settings, ids, other, "1/2033", today=later)
    with pytest.raises(retention.DestructionError, match="номер акта"):
        retention.destroy(settings, ids, other, " ", today=later)


def test_yearly_verification_falls_due(units):
    settings, stick, _ = units
    now = dt.datetime.now()
    assert retention.verification_due(now + dt.timedelta(days=300)) == []
    ArchiveRecord.update(created_at=now - dt.timedelta(days=400)).execute()
    assert len(retention.verification_due(now)) == 4  # written over a year ago, never checked
    archive.verify(settings, stick)
    assert retention.verification_due(now) == []
    assert len(retention.verification_due(now + dt.timedelta(days=366))) == 4
