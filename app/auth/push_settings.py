"""Web Push on the profile page (templates/auth/_push_settings.html, app/static/push.js)
and the service worker at the site's root (/sw.js, so its scope is every page).

The browser does the subscribing (only it can); these routes keep, change and forget what
it made. They answer the profile card's fragment to push.js (which sends HX-Request) and
redirect a plain form POST back to the profile.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.actions import service_call
from app.auth import bp
from app.auth.access import any_role_required
from app.extensions import db, htmx
from app.models import PushSubscription, User
from app.services import push
from app.tenancy import get_or_404


def push_settings(user: User, error: str | None = None) -> dict:
    """What the profile's notifications card shows."""
    subscriptions = push.subscriptions_of(user)
    return {
        "subscriptions": subscriptions,
        "vapid_public_key": push.vapid_keys().public_key,
        "known_endpoints": [s.endpoint for s in subscriptions],
        "error": error,
    }


def _card(error: str | None = None, status: int = 200):
    if htmx:
        html = render_template("auth/_push_settings.html", push=push_settings(current_user, error))
        return html, status
    if error:
        flash(error, "error")
    return redirect(url_for("auth.profile"))


def _own_subscription(subscription_id: int) -> PushSubscription:
    subscription = get_or_404(PushSubscription, subscription_id)
    if subscription.user_id != current_user.id:
        abort(404)  # a teammate's phone is none of this user's business
    return subscription


@bp.post("/me/push/subscribe")
@any_role_required
def push_subscribe():
    form = request.form
    with service_call() as call:
        push.subscribe(
            user=current_user,
            endpoint=form.get("endpoint", ""),
            p256dh=form.get("p256dh", ""),
            auth=form.get("auth", ""),
            previews=bool(form.get("previews")),
            device=form.get("device", ""),
            # Real push services are HTTPS; a local fake push service (development, the
            # browser test) is plain HTTP on this machine.
            allow_http_loopback=current_app.config["ENV_NAME"] != "production",
        )
    if not call.ok:
        # The card shows why, whatever kind of refusal it was: 422, as a form's field error.
        return _card(call.message, 422)
    if not htmx:
        flash("Notifications are on for this device.", "success")
    return _card()


@bp.post("/me/push/unsubscribe")
@any_role_required
def push_unsubscribe():
    push.unsubscribe_endpoint(user=current_user, endpoint=request.form.get("endpoint", ""))
    db.session.commit()
    return _card()


@bp.post("/me/push/<int:subscription_id>/previews")
@any_role_required
def push_previews(subscription_id: int):
    subscription = _own_subscription(subscription_id)
    previews = bool(request.form.get("previews"))
    push.set_previews(user=current_user, subscription=subscription, previews=previews)
    db.session.commit()
    if not htmx:
        flash(
            "Notifications on that device show the message text."
            if previews
            else "Notifications on that device no longer show the message text.",
            "success",
        )
    return _card()


@bp.post("/me/push/<int:subscription_id>/remove")
@any_role_required
def push_remove(subscription_id: int):
    subscription = _own_subscription(subscription_id)
    push.unsubscribe(user=current_user, subscription=subscription)
    db.session.commit()
    if not htmx:
        flash("That device no longer gets notifications.", "success")
    return _card()


@bp.get("/sw.js")
def service_worker():
    response = current_app.send_static_file("sw.js")
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    # Its scope is the whole site although it is one file; never cached for long, so a
    # new version reaches phones at their next visit.
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response
