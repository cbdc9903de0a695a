"""How a route runs a service: commit when it succeeds; when it refuses (a `DomainError`),
roll back and show why. So a route reads validate -> call -> flash/redirect or render:

    if form.validate_on_submit():
        with service_call(form) as call:
            job = create_job(company=company, ...)
        if call.ok:
            flash(f"Job #{job.number} booked.", "success")
            return redirect(url_for("office.job_detail", job_id=job.id))
    return render_template("office/job_form.html", form=form), 422 if form.errors else 200

Only `DomainError` is caught; anything else is a bug and fails the request as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import flash
from flask_wtf import FlaskForm

from app.extensions import db
from app.forms import show_domain_error
from app.services.errors import DomainError


@dataclass
class ServiceCall:
    error: DomainError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def message(self) -> str | None:
        return self.error.message if self.error is not None else None

    @property
    def status_code(self) -> int:
        """The HTTP status the refusal asks for (422 for a field error, 409 for a conflict)."""
        return self.error.status_code if self.error is not None else 200


@contextmanager
def service_call(
    form: FlaskForm | None = None, *, flash_error: bool = False, refresh: tuple[object, ...] = ()
) -> Iterator[ServiceCall]:
    """Commit what the block did, or, on a `DomainError`: roll back, reload `refresh` (rows
    the page shows again), put the message on `form` (its field, else above the form)
    and/or flash it, and leave it on `call.error` for the route."""
    call = ServiceCall()
    try:
        yield call
    except DomainError as error:
        db.session.rollback()
        for row in refresh:
            db.session.refresh(row)
        call.error = error
        if form is not None:
            show_domain_error(form, error)
        if flash_error:
            flash(error.message, "error")
    else:
        db.session.commit()
