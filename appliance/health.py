"""The box's health at a glance (`/healthz`, `ezh doctor`)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from . import __version__
from .db import latest_version, schema_version
from .models import OutboxEntry, database


def health(data_dir: Path) -> dict:
    report: dict = {"app_version": __version__}
    try:
        database.execute_sql("SELECT 1").fetchone()
        report["database"] = "ok"
        report["schema_version"] = schema_version()
        report["schema_latest"] = latest_version()
        oldest = (
            OutboxEntry.select(OutboxEntry.created_at)
            .where(OutboxEntry.state != "accepted")
            .order_by(OutboxEntry.seq)
            .first()
        )
        report["oldest_unsent_outbox"] = oldest.created_at.isoformat() if oldest else None
    except Exception:  # the probe must answer even when the database does not
        logging.getLogger(__name__).exception("health check: database failed")
        report["database"] = "error"
    report["free_disk_mb"] = shutil.disk_usage(data_dir).free // (1024 * 1024)
    report["ok"] = report["database"] == "ok" and report.get("schema_version") == report.get(
        "schema_latest"
    )
    return report
