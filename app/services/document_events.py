"""What happens to an estimate or invoice, announced to whoever cares (blinker signals), as
app/services/job_events.py does for jobs.

The billing services send these inside the caller's transaction and know nothing of
Stripe; app/services/online_payments connects its receiver, so billing does not import
online_payments (which imports billing).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sender: the Invoice, its `version` just raised (something the customer sees changed);
# old_version: what it was. A Checkout Session made for the old version must not be paid.
invoice_revised = _signals.signal("invoice-revised")
