"""What happens to a job, announced to whoever cares (blinker signals, shipped with Flask).

The job services send these inside the caller's transaction and know nothing of texts;
app/services/notifications.py connects the customer texts to them. So a job service does
not import notifications (which imports half the product), and a later feature (push,
follow-ups) connects its own receiver instead of editing the job services.

Receivers run synchronously, in the sender's transaction, and an exception in one fails the
request as a direct call would. `app.create_app` imports the receivers' modules, so they are
connected in every process (web, worker, CLI).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sender: the Job, just booked and flushed (techs assigned).
job_booked = _signals.signal("job-booked")
# sender: the Job; old_start, old_end, old_tech_ids: what it was before. Sent only when the
# time or the techs really moved, so saving an unchanged form texts nobody.
job_changed = _signals.signal("job-changed")
# sender: the job_status.Transition (changed=True); actor: the User who changed it, or None.
job_status_changed = _signals.signal("job-status-changed")
