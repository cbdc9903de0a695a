"""/dev/push: what the built-in fake push service received (registered only while
WEB_PUSH_FAKE is on, never in production), with its switches per subscription: the next
push answered 404, 410, 429 or 500, or the subscription expired (410 from now on).

The payloads are encrypted for the browser, which alone holds the key: the page shows
their size and headers, not the words (see docs/push.md). Like the phone simulator it is a
logged-in page and shows only the user's own company: its subscriptions and what was pushed
to them."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.extensions import db
from app.models import PushSubscription, User
from app.push.fake_service import fake_push_service
from app.tenancy import get_or_404

bp = Blueprint("dev_push", __name__)

OUTCOMES = {"404": 404, "410": 410, "429": 429, "500": 500}


def token_of(endpoint: str) -> str:
    return endpoint.rstrip("/").rpartition("/")[2]


@bp.before_request
def _logged_in():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    return None


@bp.get("/push")
def pushes():
    fake = fake_push_service()
    subscriptions = db.session.execute(
        sa.select(PushSubscription, User.name)
        .join(User, User.id == PushSubscription.user_id)
        .where(PushSubscription.company_id == current_user.company_id)
        .order_by(PushSubscription.id.desc())
    ).all()
    tokens = {token_of(s.endpoint) for s, _name in subscriptions}
    return render_template(
        "dev/push.html",
        received=[p for p in reversed(fake.received) if p.token in tokens],
        subscriptions=[(s, name, token_of(s.endpoint)) for s, name in subscriptions],
        expired=fake.switches.expired,
    )


@bp.post("/push/<int:subscription_id>/switch")
def switch(subscription_id: int):
    subscription = get_or_404(PushSubscription, subscription_id)
    token = token_of(subscription.endpoint)
    outcome = request.form.get("outcome", "")
    if outcome == "expire":
        fake_push_service().expire(token)
        flash("Every later push to this subscription is answered 410 Gone.", "success")
    elif outcome in OUTCOMES:
        fake_push_service().fail_next(token, OUTCOMES[outcome])
        flash(f"The next push to this subscription is answered {outcome}.", "success")
    else:
        abort(400)
    return redirect(url_for("dev_push.pushes"))
