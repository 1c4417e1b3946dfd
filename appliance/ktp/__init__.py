"""КТП (calendar-thematic plan) of a subject group: import, checks, versions, review (§7.4–7.5).

What the package offers, one module each:

- `importer.read_plan_file` — a teacher's XLSX/CSV as it really is → `PlanRow`s and
  per-row messages in Russian (no database);
- `checks.check_rows` — hours against the curriculum, empty topics, Russian topics,
  dates on school days; errors block submitting, warnings do not;
- `workflow` — every change as an audited write: import, copy, row edits (a new draft
  version when the latest one left the teacher's hands), submit, approve, return;
- `queries` — scope (whose groups), versions, the review queue, copy sources;
- `export.plan_xlsx` — a version as XLSX in the importer's own columns.

Which version lessons follow is decided in one place, `appliance.plan_progress.current_plans`.
"""
