"""What happens to a customer's text, announced to whoever cares (blinker signals).

Routing sends `text_routed` inside the caller's transaction whenever users become
recipients of a stored text (inbound routing, escalation, a hand reassignment), and knows
nothing of who listens: app/services/push.py queues the Web Push notifications. Receivers
connect on import; `app.create_app` imports them in every process.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# sender: the Message (flushed); users: the Users just added as its recipients.
text_routed = _signals.signal("text-routed")
