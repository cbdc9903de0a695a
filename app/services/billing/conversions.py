"""Turning an approved estimate into an invoice or a job (one click, at most once each)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Estimate,
    EstimateStatus,
    Invoice,
    Job,
    User,
)
from app.services.billing.documents import _copy_item, create_invoice
from app.services.billing.payments import take_deposits
from app.services.errors import Conflict
from app.services.jobs import create_job


def convert_estimate_to_invoice(*, estimate: Estimate) -> Invoice:
    """An invoice with the approved option's lines (one click; a second click returns the
    same invoice)."""
    if estimate.converted_invoice_id is not None:
        return db.session.get(Invoice, estimate.converted_invoice_id)  # type: ignore[return-value]
    if estimate.status != EstimateStatus.APPROVED or estimate.approved_option is None:
        raise Conflict("Only an approved estimate can be turned into an invoice.")
    savepoint = db.session.begin_nested()
    invoice = create_invoice(
        company=estimate.company,
        customer=estimate.customer,
        job=estimate.converted_job or estimate.job,
        title=estimate.title,
    )
    invoice.estimate_id = estimate.id
    invoice.tax_rate_mpct = estimate.tax_rate_mpct
    invoice.discount_kind = estimate.discount_kind
    invoice.discount_value = estimate.discount_value
    invoice.notes = estimate.notes
    for item in estimate.approved_option.items:
        db.session.add(_copy_item(item, invoice_id=invoice.id))
    db.session.flush()
    won = db.session.execute(
        sa.update(Estimate)
        .where(Estimate.id == estimate.id, Estimate.converted_invoice_id.is_(None))
        .values(converted_invoice_id=invoice.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        savepoint.rollback()
        db.session.refresh(estimate)
        return db.session.get(Invoice, estimate.converted_invoice_id)  # type: ignore[return-value]
    savepoint.commit()
    db.session.refresh(estimate)
    # A deposit paid online on the estimate counts against the new invoice's balance.
    take_deposits(invoice=invoice, estimate=estimate)
    db.session.refresh(invoice)
    return invoice


def convert_estimate_to_job(
    *,
    estimate: Estimate,
    scheduled_start: datetime,
    scheduled_end: datetime,
    techs: Sequence[User] = (),
) -> Job:
    """A job for the approved work (one click; a second click returns the same job)."""
    if estimate.converted_job_id is not None:
        return db.session.get(Job, estimate.converted_job_id)  # type: ignore[return-value]
    if estimate.status != EstimateStatus.APPROVED or estimate.approved_option is None:
        raise Conflict("Only an approved estimate can be turned into a job.")
    option = estimate.approved_option
    description = estimate.title or option.title or estimate.label
    savepoint = db.session.begin_nested()
    job = create_job(
        company=estimate.company,
        customer=estimate.customer,
        description=description[:255],
        scheduled_start=scheduled_start,
        scheduled_end=scheduled_end,
        notes=f"From {estimate.label}" + (f" ({option.title})" if option.title else ""),
        techs=techs,
    )
    won = db.session.execute(
        sa.update(Estimate)
        .where(Estimate.id == estimate.id, Estimate.converted_job_id.is_(None))
        .values(converted_job_id=job.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        savepoint.rollback()
        db.session.refresh(estimate)
        return db.session.get(Job, estimate.converted_job_id)  # type: ignore[return-value]
    savepoint.commit()
    if estimate.converted_invoice_id is not None:
        invoice = db.session.get(Invoice, estimate.converted_invoice_id)
        if invoice is not None and invoice.job_id is None:
            invoice.job_id = job.id
    db.session.flush()
    db.session.refresh(estimate)
    return job
