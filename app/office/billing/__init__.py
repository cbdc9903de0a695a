"""Office pages: estimates and invoices.

One detail page per document, made of fragments that htmx swaps in place:
`_billing_items` (one per estimate option, or the invoice's lines, with totals),
`_billing_send` (send by text, copy link, revoke), `_billing_progress` (sent -> delivered
-> viewed -> approved/paid), `_invoice_payments`. Every form also works without
JavaScript: a plain POST gets a redirect back to the page (errors as a flash message).
"""

from app.office.billing import (  # noqa: F401  (each module registers its routes on `bp`)
    documents,
    editing,
    outcomes,
    payments,
    sending,
    settings,
)
