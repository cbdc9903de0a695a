"""The public links of estimates and invoices: building, revoking, looking up, marking viewed."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Estimate,
    Invoice,
    InvoiceStatus,
    RevokedLink,
    utcnow,
)
from app.models.billing import DocumentType, LinkRevocation
from app.services.billing.documents import _fresh_token
from app.services.billing.totals import Document
from app.urls import public_path_for, public_url_for

# Public tokens are URL-safe base64 of PUBLIC_TOKEN_BYTES; anything else is never looked up.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def public_path(document: Document) -> str:
    return public_path_for(document.public_endpoint, token=document.public_token)


def public_url(document: Document) -> str:
    return public_url_for(document.public_endpoint, token=document.public_token)


def revoke_link(*, document: Document, reason: str = LinkRevocation.REVOKED) -> str:
    """Retire the document's link (it answers 410 from now on) and issue a new one."""
    db.session.add(
        RevokedLink(
            company_id=document.company_id,
            document_type=document.kind,
            document_id=document.id,
            token=document.public_token,
            reason=reason,
        )
    )
    document.public_token = _fresh_token()
    db.session.flush()
    return document.public_token


@dataclass(frozen=True)
class PublicLookup:
    """What a public token leads to: the document, and why it is gone if it is."""

    document: Document | None
    gone: str | None = None  # "void", "superseded", "revoked"; None while valid


def find_public_document(*, kind: str, token: str) -> PublicLookup:
    """The document behind a public token, compared exactly (case-sensitive).

    An unknown token gives PublicLookup(None) (404); a revoked token, a void invoice or a
    superseded estimate give the document with `gone` set (410, with the company's
    contact details)."""
    if not TOKEN_SHAPE.fullmatch(token or ""):
        return PublicLookup(None)
    model: type[Estimate] | type[Invoice] = Estimate if kind == DocumentType.ESTIMATE else Invoice
    document = db.session.scalar(sa.select(model).filter_by(public_token=token))
    # Databases may compare case-insensitively under some collations; the final word is an
    # exact, constant-time comparison.
    if document is not None and secrets.compare_digest(document.public_token, token):
        if isinstance(document, Invoice) and document.status == InvoiceStatus.VOID:
            return PublicLookup(document, "void")
        if isinstance(document, Estimate) and document.superseded_by_id is not None:
            return PublicLookup(document, LinkRevocation.SUPERSEDED)
        return PublicLookup(document)
    revoked = db.session.scalar(sa.select(RevokedLink).filter_by(token=token, document_type=kind))
    if revoked is None or not secrets.compare_digest(revoked.token, token):
        return PublicLookup(None)
    return PublicLookup(db.session.get(model, revoked.document_id), revoked.reason)


def mark_viewed(*, document: Document, now: datetime | None = None) -> bool:
    """Record that the customer opened the page: the first view time, and sent -> viewed.
    Never touches any other status (an approved estimate stays approved)."""
    now = now or utcnow()
    model = type(document)
    changed = False
    if document.viewed_at is None:
        result = db.session.execute(
            sa.update(model)
            .where(model.id == document.id, model.viewed_at.is_(None))
            .values(viewed_at=now)
            .execution_options(synchronize_session=False)
        )
        changed = bool(result.rowcount)
    result = db.session.execute(
        sa.update(model)
        .where(model.id == document.id, model.status == model.statuses.SENT)
        .values(status=model.statuses.VIEWED)
        .execution_options(synchronize_session=False)
    )
    changed = changed or bool(result.rowcount)
    if changed:
        db.session.refresh(document)
    return changed
