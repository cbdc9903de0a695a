"""Money arithmetic for estimates and invoices, and how amounts, quantities and rates are
parsed from and shown in forms. Pure: it reads the objects it is given, never queries.

## Totals (the one rule, used on screen, in the text and in the PDF)
All amounts are integer cents; every division rounds **half up** (halves away from zero)
through `round_half_up`, nothing else rounds.

1. line amount   = round(quantity_milli x unit_price_cents / 1000)
2. subtotal      = sum of line amounts; taxable subtotal = sum over taxable lines
3. discount      = a fixed amount (capped at the subtotal), or round(subtotal x bp / 10000)
4. the discount is taken off before tax, spread over taxable and non-taxable lines in
   proportion: taxable discount = round(discount x taxable subtotal / subtotal)
5. tax           = round((taxable subtotal - taxable discount) x tax_rate_mpct / 100000)
6. total         = subtotal - discount + tax
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from app.formats import day_text, money
from app.models import (
    DiscountKind,
    Estimate,
    EstimateOption,
    Invoice,
)
from app.services.errors import DomainError

Document = Estimate | Invoice

MAX_CENTS = 100_000_000_00  # $100 million: anything above is a typo
MAX_QUANTITY_MILLI = 1_000_000_000  # one million units
MAX_TAX_MPCT = 30_000  # 30 %


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, halves away from zero.
    Exact (integers only): 0.5 -> 1, 1.5 -> 2, 2.5 -> 3, -0.5 -> -1."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return -quotient if numerator < 0 else quotient


def line_amount_cents(*, quantity_milli: int, unit_price_cents: int) -> int:
    return round_half_up(quantity_milli * unit_price_cents, 1000)


class PricedLine(Protocol):
    quantity_milli: int
    unit_price_cents: int
    taxable: bool


@dataclass(frozen=True)
class Totals:
    line_amounts: tuple[int, ...]
    subtotal_cents: int
    taxable_subtotal_cents: int
    discount_cents: int
    taxable_discount_cents: int
    tax_cents: int
    total_cents: int
    tax_rate_mpct: int


def compute_totals(
    *,
    items: Sequence[PricedLine],
    tax_rate_mpct: int,
    discount_kind: str = DiscountKind.NONE,
    discount_value: int = 0,
) -> Totals:
    """The totals of a list of lines; see the module docstring for the rule."""
    amounts = tuple(
        line_amount_cents(quantity_milli=i.quantity_milli, unit_price_cents=i.unit_price_cents)
        for i in items
    )
    subtotal = sum(amounts)
    taxable = sum(a for item, a in zip(items, amounts, strict=True) if item.taxable)
    if discount_kind == DiscountKind.AMOUNT:
        discount = min(max(discount_value, 0), subtotal)
    elif discount_kind == DiscountKind.PERCENT:
        discount = round_half_up(subtotal * min(max(discount_value, 0), 10_000), 10_000)
    else:
        discount = 0
    taxable_discount = round_half_up(discount * taxable, subtotal) if subtotal else 0
    tax = round_half_up((taxable - taxable_discount) * tax_rate_mpct, 100_000)
    return Totals(
        line_amounts=amounts,
        subtotal_cents=subtotal,
        taxable_subtotal_cents=taxable,
        discount_cents=discount,
        taxable_discount_cents=taxable_discount,
        tax_cents=tax,
        total_cents=subtotal - discount + tax,
        tax_rate_mpct=tax_rate_mpct,
    )


def option_totals(option: EstimateOption) -> Totals:
    estimate = option.estimate
    return compute_totals(
        items=option.items,
        tax_rate_mpct=estimate.tax_rate_mpct,
        discount_kind=estimate.discount_kind,
        discount_value=estimate.discount_value,
    )


def invoice_totals(invoice: Invoice) -> Totals:
    return compute_totals(
        items=invoice.items,
        tax_rate_mpct=invoice.tax_rate_mpct,
        discount_kind=invoice.discount_kind,
        discount_value=invoice.discount_value,
    )


def invoice_balance_cents(invoice: Invoice) -> int:
    return max(invoice_totals(invoice).total_cents - invoice.paid_cents, 0)


_MONEY = re.compile(r"(\d+)(?:\.(\d{1,2}))?")
_DECIMAL3 = re.compile(r"(\d+)(?:\.(\d{1,3}))?")


def parse_money(text: str | None, *, field: str, label: str = "Amount") -> int:
    """ "$1,234.5" -> 123450 cents."""
    raw = (text or "").strip().replace("$", "").replace(",", "").replace(" ", "")
    match = _MONEY.fullmatch(raw)
    if not match:
        raise DomainError(f"{label}: enter an amount like 125 or 125.50.", field=field)
    cents = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if cents > MAX_CENTS:
        raise DomainError(f"{label} is too large.", field=field)
    return cents


def _parse_thousandths(text: str, *, field: str, message: str) -> int:
    raw = text.strip().replace(",", "")
    match = _DECIMAL3.fullmatch(raw)
    if not match:
        raise DomainError(message, field=field)
    return int(match.group(1)) * 1000 + int((match.group(2) or "0").ljust(3, "0"))


def parse_quantity(text: str | None, *, field: str = "quantity") -> int:
    """ "1.5" -> 1500 (thousandths)."""
    milli = _parse_thousandths(
        text or "", field=field, message="Quantity: enter a number like 1, 2.5 or 0.25."
    )
    if milli <= 0:
        raise DomainError("Quantity must be more than zero.", field=field)
    if milli > MAX_QUANTITY_MILLI:
        raise DomainError("Quantity is too large.", field=field)
    return milli


def parse_tax_rate(text: str | None, *, field: str = "tax_rate") -> int:
    """ "8.25" or "8.25%" -> 8250 (thousandths of a percent)."""
    raw = (text or "").strip().removesuffix("%").strip()
    if not raw:
        return 0
    mpct = _parse_thousandths(
        raw, field=field, message="Tax rate: enter a percent like 8.25 (up to 3 decimals)."
    )
    if mpct > MAX_TAX_MPCT:
        raise DomainError("Tax rate can't be more than 30%.", field=field)
    return mpct


def parse_discount(text: str | None, *, field: str = "discount") -> tuple[str, int]:
    """ "" -> no discount; "10%" -> 10 percent (1000 bp); "25" or "$25" -> $25.00 off."""
    raw = (text or "").strip()
    if not raw or raw in {"0", "0%", "$0"}:
        return DiscountKind.NONE, 0
    if raw.endswith("%"):
        mpct = _parse_thousandths(
            raw[:-1].strip(), field=field, message="Discount: enter 10% or an amount like 25."
        )
        if mpct % 10:
            raise DomainError("Discount: use at most 2 decimals in a percent.", field=field)
        bp = mpct // 10
        if bp > 10_000:
            raise DomainError("Discount can't be more than 100%.", field=field)
        return DiscountKind.PERCENT, bp
    return DiscountKind.AMOUNT, parse_money(raw, field=field, label="Discount")


def format_quantity(milli: int) -> str:
    whole, rest = divmod(milli, 1000)
    return f"{whole:,}" if not rest else f"{whole:,}.{rest:03d}".rstrip("0")


def format_tax_rate(mpct: int) -> str:
    whole, rest = divmod(mpct, 1000)
    return f"{whole}%" if not rest else f"{whole}.{rest:03d}".rstrip("0") + "%"


def format_discount(kind: str, value: int) -> str:
    if kind == DiscountKind.PERCENT:
        whole, rest = divmod(value, 100)
        return f"{whole}%" if not rest else f"{whole}.{rest:02d}".rstrip("0") + "%"
    if kind == DiscountKind.AMOUNT:
        return money(value)
    return ""


def format_date(value: date | None) -> str:
    return day_text(value)
