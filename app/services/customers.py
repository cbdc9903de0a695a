"""Customers: create and edit (the phone normalised to E.164), list and search; their other
phones and tags (lists kept in the customer's row), which the form and the CSV import share."""

from __future__ import annotations

import json
import re

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Company, Conversation, Customer
from app.models.customer import customer_search_text
from app.models.types import ilike_contains
from app.services.errors import DomainError
from app.services.phones import looks_like_phone, normalize_mobile, normalize_other_phone

PER_PAGE = 25
# A tag is a short label to find and group customers by, not a note.
MAX_TAGS = 20
MAX_TAG_LENGTH = 40
MAX_OTHER_PHONES = 10
MAX_OTHER_PHONE_LENGTH = 40
_LIST_SEPARATORS = re.compile(r"[,;\n]")


def split_tags(text: str) -> list[str]:
    """The tags typed in `text`, comma-separated, as typed, without blanks or a tag twice
    (ignoring case: the first spelling stays). A tag never holds a comma, so a list written
    back joined with ", " (the form, the export) reads back the same."""
    tags: list[str] = []
    seen: set[str] = set()
    for part in text.split(","):
        tag = " ".join(part.split())
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return tags


def clean_tags(text: str) -> list[str]:
    """Tags typed into the form, or DomainError on the tags field saying what is wrong."""
    tags = split_tags(text)
    if len(tags) > MAX_TAGS:
        raise DomainError(f"At most {MAX_TAGS} tags (this has {len(tags)}).", field="tags")
    too_long = [tag for tag in tags if len(tag) > MAX_TAG_LENGTH]
    if too_long:
        raise DomainError(
            f"A tag can be at most {MAX_TAG_LENGTH} characters: “{too_long[0][:20]}…” has "
            f"{len(too_long[0])}.",
            field="tags",
        )
    return tags


def added_tags(existing: list[str], new: list[str]) -> list[str]:
    """`existing` with the tags of `new` it lacks (ignoring case) after them."""
    known = {tag.casefold() for tag in existing}
    return [*existing, *(tag for tag in new if tag.casefold() not in known)]


def split_other_phones(text: str, *, mobile: str | None = None) -> list[str]:
    """The numbers in `text` (separated by commas, semicolons or lines), each normalised as
    `normalize_other_phone` does, without the mobile or a number twice."""
    phones: list[str] = []
    for part in _LIST_SEPARATORS.split(text):
        if part.strip():
            phone = normalize_other_phone(part)
            if phone != mobile and phone not in phones:
                phones.append(phone)
    return phones


def clean_other_phones(text: str, *, mobile: str | None) -> list[str]:
    """Other phones typed into the form, or DomainError on their field."""
    phones = split_other_phones(text, mobile=mobile)
    if len(phones) > MAX_OTHER_PHONES:
        raise DomainError(f"At most {MAX_OTHER_PHONES} other phones.", field="other_phones")
    too_long = [phone for phone in phones if len(phone) > MAX_OTHER_PHONE_LENGTH]
    if too_long:
        raise DomainError(
            f"“{too_long[0][:20]}…” is not a phone number (too long).", field="other_phones"
        )
    return phones


def _check_phone_free(*, company: Company, phone: str, exclude_id: int | None = None) -> None:
    stmt = sa.select(Customer).filter_by(company_id=company.id, mobile_phone=phone)
    if exclude_id is not None:
        stmt = stmt.where(Customer.id != exclude_id)
    other = db.session.scalar(stmt)
    if other is not None:
        raise DomainError(f"{other.name} already has this mobile number.", field="mobile_phone")


def _flush_checking_phone() -> None:
    # The check above can race a second form saving the same number; the unique
    # constraint decides, and the loser gets the same message instead of a 500.
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise DomainError(
            "Another customer already has this mobile number.", field="mobile_phone"
        ) from None


def create_customer(
    *,
    company: Company,
    name: str,
    mobile_phone: str,
    email: str | None = None,
    address: str | None = None,
    notes: str | None = None,
    company_name: str | None = None,
    other_phones: str = "",
    tags: str = "",
) -> Customer:
    """`other_phones` and `tags` as typed in the form (comma-separated)."""
    phone = normalize_mobile(mobile_phone, field="mobile_phone")
    phones = clean_other_phones(other_phones, mobile=phone)
    tag_list = clean_tags(tags)
    _check_phone_free(company=company, phone=phone)
    customer = Customer(
        company_id=company.id,
        name=name.strip(),
        mobile_phone=phone,
        email=(email or "").strip() or None,
        address=(address or "").strip() or None,
        notes=(notes or "").strip() or None,
        company_name=" ".join((company_name or "").split()) or None,
        other_phones=phones,
        tags=tag_list,
    )
    db.session.add(customer)
    _flush_checking_phone()
    return customer


def update_customer(
    *,
    customer: Customer,
    name: str,
    mobile_phone: str,
    email: str | None = None,
    address: str | None = None,
    notes: str | None = None,
    company_name: str | None = None,
    other_phones: str = "",
    tags: str = "",
) -> Customer:
    phone = normalize_mobile(mobile_phone, field="mobile_phone")
    phones = clean_other_phones(other_phones, mobile=phone)
    tag_list = clean_tags(tags)
    _check_phone_free(company=customer.company, phone=phone, exclude_id=customer.id)
    customer.name = name.strip()
    customer.mobile_phone = phone
    customer.email = (email or "").strip() or None
    customer.address = (address or "").strip() or None
    customer.notes = (notes or "").strip() or None
    customer.company_name = " ".join((company_name or "").split()) or None
    customer.other_phones = phones
    customer.tags = tag_list
    _flush_checking_phone()
    return customer


# Enough words for "jane 12 oak st"; more only makes the query longer.
MAX_SEARCH_WORDS = 5
# A picker shows a handful of customers: the person typing narrows it down, not scrolls.
PICKER_LIMIT = 10


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _case_blind_like() -> bool:
    """Whether LIKE itself ignores case: SQLite's does (for ASCII, as far as its lower()
    goes too), so lower() there only costs time. PostgreSQL compares lower() to lower():
    its ILIKE lowercases the pattern again for every row."""
    return db.session.get_bind().dialect.name == "sqlite"


def _folded(column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    return column if _case_blind_like() else sa.func.lower(column)


def _searchable_text() -> sa.ColumnElement[str]:
    # Lowercased on PostgreSQL exactly as ix_customers_search_trgm is, so the index serves.
    return _folded(customer_search_text())


def _in_company_or_tags(word: str) -> sa.ColumnElement[bool]:
    """`word` is part of the customer's company name or of one of their tags. The tags are
    matched in the list's JSON text, so the word is spelled as JSON spells it there
    (SQLite's JSON escapes non-ASCII letters as \\u00e9, PostgreSQL's JSONB does not)."""
    sqlite_json = db.session.get_bind().dialect.name != "postgresql"
    encoded = json.dumps(word, ensure_ascii=sqlite_json)[1:-1]
    return sa.or_(
        ilike_contains(Customer.company_name, word),
        ilike_contains(sa.cast(Customer.tags, sa.Text), encoded),
    )


def _matches(text: str, *, company_and_tags: bool = False) -> sa.ColumnElement[bool] | None:
    """Customers whose name, email or address holds every word typed (a word of 3+ digits
    may also be part of the phone). Typed like a phone number, the digits are looked for
    in the phone (stored as E.164: "(512) 555-01" and "512 555 01" both find
    +1512555 01...), and the text as typed in the address (a house number).

    With `company_and_tags` (the customers list), a word may also be in the company name
    or a tag. The picker leaves them out: its query is served by the search text's trigram
    index on PostgreSQL, which an OR with other columns would give up."""
    words = text.lower().split()[:MAX_SEARCH_WORDS]
    if not words:
        return None
    searchable = _searchable_text()
    digits = _digits(text)
    if len(digits) >= 3 and looks_like_phone(text):
        return sa.or_(
            Customer.mobile_phone.contains(digits, autoescape=True),
            searchable.contains(" ".join(words), autoescape=True),
        )

    def word_matches(word: str) -> sa.ColumnElement[bool]:
        condition = searchable.contains(word, autoescape=True)
        if len(_digits(word)) >= 3:
            condition = sa.or_(
                condition, Customer.mobile_phone.contains(_digits(word), autoescape=True)
            )
        if company_and_tags:
            condition = sa.or_(condition, _in_company_or_tags(word))
        return condition

    return sa.and_(*(word_matches(word) for word in words))


def has_tag(tag: str) -> sa.ColumnElement[bool]:
    """Customers with exactly this tag. On PostgreSQL JSONB containment (`tags @> '["VIP"]'`),
    which ix_customers_tags serves; elsewhere (SQLite) a look through the list's items."""
    if db.session.get_bind().dialect.name == "postgresql":
        # The column is JSON in the model (JSONB only as PostgreSQL's variant): give it
        # JSONB's operators, without a cast in the SQL (the index is on the bare column).
        return sa.type_coerce(Customer.tags, JSONB).contains([tag])
    items = sa.func.json_each(Customer.tags).table_valued("value")
    return sa.exists(sa.select(1).select_from(items).where(items.c.value == tag))


def customers_page(*, company: Company, q: str = "", tag: str = "", page: int = 1) -> Pagination:
    """Customers by name, filtered by name, email, address, company name, tags or the digits
    of their phone; with `tag`, only the customers who have that tag."""
    stmt = sa.select(Customer).where(Customer.company_id == company.id)
    condition = _matches(q, company_and_tags=True)
    if condition is not None:
        stmt = stmt.where(condition)
    if tag:
        stmt = stmt.where(has_tag(tag))
    stmt = stmt.order_by(sa.func.lower(Customer.name), Customer.id)
    return db.paginate(stmt, page=max(page, 1), per_page=PER_PAGE, error_out=False)


def search_customers(*, company: Company, q: str, limit: int = PICKER_LIMIT) -> list[Customer]:
    """At most `limit` customers matching `q` (as the customers list matches), best first:
    the name typed exactly, then names starting with it, then names with a word starting
    with it, then the other matches; newest first within each. No text: the newest.

    One LIMITed query scoped to the company, so its cost does not depend on how many
    customers the page could have listed."""
    stmt = sa.select(Customer).where(Customer.company_id == company.id)
    text = " ".join(q.split())
    condition = _matches(text)
    if condition is not None:
        name, typed = _folded(Customer.name), text.lower()
        rank = sa.case(
            (sa.func.lower(Customer.name) == typed, 0),
            (name.startswith(typed, autoescape=True), 1),
            (name.contains(" " + typed, autoescape=True), 2),
            else_=3,
        )
        stmt = stmt.where(condition).order_by(rank, Customer.id.desc())
    else:
        stmt = stmt.order_by(Customer.id.desc())
    return list(db.session.scalars(stmt.limit(limit)))


def company_has_customers(company: Company) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(Customer.company_id == company.id)))


def customer_conversation(customer: Customer) -> Conversation | None:
    """The texts between the company's number and this customer's mobile, if any yet."""
    return db.session.scalar(
        sa.select(Conversation).filter_by(
            company_id=customer.company_id, phone=customer.mobile_phone
        )
    )
