"""Estimates and invoices: totals, editing, sending by text, the customer's decisions,
payments and conversions. One module per concern; this package re-exports the names its
callers use (`from app.services import billing; billing.send_document(...)`).

- totals: the arithmetic (the one rounding rule) and parsing/showing amounts. Pure.
- documents: billing settings, creating, editing (details, options, line items, revise).
- links: public links (build, revoke, look up, mark viewed).
- sending: sending by text.
- decisions: the customer's approve / decline / ask for changes.
- conversions: estimate -> invoice or job.
- payments: payments and voiding.
- queries: progress timeline and lists.

## State changes
Every status change is a conditional UPDATE (`... WHERE status IN (allowed)`), so two
requests racing (an approval and a decline, two approvals, a "viewed" GET and an
approval) cannot overwrite each other: exactly one wins and the other sees the result.
"""

from app.formats import money
from app.services.billing.conversions import (
    convert_estimate_to_invoice,
    convert_estimate_to_job,
)
from app.services.billing.decisions import (
    approve_estimate,
    check_approval,
    decline_estimate,
    request_estimate_changes,
)
from app.services.billing.documents import (
    add_line_item,
    add_option,
    billing_settings_for,
    company_today,
    create_estimate,
    create_invoice,
    current_billing_settings,
    document_is_editable,
    estimate_display_status,
    estimate_is_expired,
    line_item_document,
    remove_line_item,
    remove_option,
    rename_option,
    revise_estimate,
    update_billing_settings,
    update_estimate_details,
    update_invoice_details,
    update_line_item,
)
from app.services.billing.links import (
    TOKEN_SHAPE,
    PublicLookup,
    find_public_document,
    mark_viewed,
    public_path,
    public_url,
    revoke_link,
)
from app.services.billing.payments import (
    record_payment,
    take_deposits,
    void_invoice,
)
from app.services.billing.queries import (
    TimelineStep,
    document_progress,
    estimate_total_for_list,
    list_estimates,
    list_invoices,
)
from app.services.billing.sending import (
    SEND_KEY_SHAPE,
    document_amount_text,
    document_texts,
    new_send_key,
    send_document,
    sms_body,
    sms_values,
)
from app.services.billing.totals import (
    MAX_CENTS,
    MAX_QUANTITY_MILLI,
    MAX_TAX_MPCT,
    Document,
    PricedLine,
    Totals,
    compute_totals,
    format_date,
    format_discount,
    format_quantity,
    format_tax_rate,
    invoice_balance_cents,
    invoice_totals,
    line_amount_cents,
    option_totals,
    parse_discount,
    parse_money,
    parse_quantity,
    parse_tax_rate,
    round_half_up,
)

__all__ = [
    "MAX_CENTS",
    "MAX_QUANTITY_MILLI",
    "MAX_TAX_MPCT",
    "SEND_KEY_SHAPE",
    "TOKEN_SHAPE",
    "Document",
    "PricedLine",
    "PublicLookup",
    "TimelineStep",
    "Totals",
    "add_line_item",
    "add_option",
    "approve_estimate",
    "billing_settings_for",
    "check_approval",
    "company_today",
    "compute_totals",
    "convert_estimate_to_invoice",
    "convert_estimate_to_job",
    "create_estimate",
    "create_invoice",
    "current_billing_settings",
    "decline_estimate",
    "document_amount_text",
    "document_is_editable",
    "document_progress",
    "document_texts",
    "estimate_display_status",
    "estimate_is_expired",
    "estimate_total_for_list",
    "find_public_document",
    "format_date",
    "format_discount",
    "format_quantity",
    "format_tax_rate",
    "invoice_balance_cents",
    "invoice_totals",
    "line_amount_cents",
    "line_item_document",
    "list_estimates",
    "list_invoices",
    "mark_viewed",
    "money",
    "new_send_key",
    "option_totals",
    "parse_discount",
    "parse_money",
    "parse_quantity",
    "parse_tax_rate",
    "public_path",
    "public_url",
    "record_payment",
    "remove_line_item",
    "remove_option",
    "rename_option",
    "request_estimate_changes",
    "revise_estimate",
    "revoke_link",
    "round_half_up",
    "send_document",
    "sms_body",
    "sms_values",
    "take_deposits",
    "update_billing_settings",
    "update_estimate_details",
    "update_invoice_details",
    "update_line_item",
    "void_invoice",
]
