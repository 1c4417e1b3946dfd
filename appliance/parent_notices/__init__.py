"""Notices to parents (§4.3, §7.3, §7.4): what this package offers.

- `risk`: students at risk in a reader's scope — failing a subject (a predicted period
  mark of «2» or a weighted average under the school's threshold) or missing lessons
  without a reason (more «Н» in the term than the school allows) — with the facts.
- `notify`: the one-click notice: an in-app message to each parent with an account and
  a letter for each parent without one, recorded as `Notification` rows, in one
  transaction that also queues the letters' PDF.
- `letters`: the printable letters (one page each, on the school's letterhead).
- `digest`: the weekly «Итоги недели» to parents, sent by the background worker.
- `log`: who was notified of what, when, by whom, and whether they read it.

Every notice is a `Notification` row; its ``payload`` (JSON) keeps the facts as they
were when it was sent (class, subject, term, average, absences, the message thread,
the letters' job), so the log and the letters never recompute them.
"""
