"""The custom SMS number (rule 1 of the seed): suggest an area code, search, buy it once.

A company has at most one number, and nothing in the web app changes it after it is bought.
The database enforces both halves: `phone_numbers.company_id` is unique, and so is
`number_setups.company_id`, the claim a purchase must hold. The claim is committed *before*
Twilio is asked to buy, so two clicks, a reload or two admins in two tabs cannot start two
purchases: the second insert of a claim fails, and that request is told the number is
already being set up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import (
    Company,
    Customer,
    NumberSetup,
    PhoneNumber,
    Role,
    UnroutedInbound,
    User,
    utcnow,
)
from app.services import area_codes
from app.services.errors import Conflict, DomainError, NotAllowed
from app.services.phones import area_code, format_phone, normalize_phone
from app.services.texting import company_number
from app.sms import gateway
from app.urls import public_path_for

log = logging.getLogger(__name__)

SUGGESTED_AREA_CODES = 3
# A claim older than this belongs to a request that died mid-purchase: Twilio answers a
# purchase in seconds and the SDK gives up long before.
STALE_SETUP_AFTER = timedelta(minutes=5)
# The webhooks a bought number points at (endpoints of app/webhooks/).
SMS_WEBHOOK = "webhooks.twilio_sms"
VOICE_WEBHOOK = "webhooks.twilio_voice"
STATUS_WEBHOOK = "webhooks.twilio_status"


class NumberAlreadySet(Conflict):
    """The company already has its number; it cannot be changed from the app."""

    def __init__(self, number: PhoneNumber) -> None:
        super().__init__(
            f"Your custom number is already {format_phone(number.e164)}. "
            "It cannot be changed, so nothing was bought."
        )
        self.number = number


class SetupInProgress(Conflict):
    """Another request holds the claim: the number is being bought right now."""

    def __init__(self, setup: NumberSetup) -> None:
        who = setup.started_by.name if setup.started_by else "Someone"
        super().__init__(
            f"Your custom number is already being set up ({who} chose "
            f"{format_phone(setup.e164)}). Reload this page in a few seconds to see it."
        )
        self.setup = setup


class TwilioUnavailable(DomainError):
    """Twilio could not be asked (down, refusing our credentials): try again shortly."""

    status_code = 503


class PurchaseFailed(DomainError):
    """Twilio refused or could not be reached; nothing was bought and the claim is gone."""

    status_code = 502


# -- area codes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AreaCodeShare:
    code: str
    customers: int
    total: int
    place: area_codes.AreaCode | None

    @property
    def percent(self) -> int:
        # Half up, in integers: 30 of 240 is 12.5%, shown as 13% (round() would say 12).
        return (200 * self.customers + self.total) // (2 * self.total) if self.total else 0


@dataclass(frozen=True)
class AreaCodeSuggestions:
    total_customers: int
    top: list[AreaCodeShare]
    business_code: str | None
    business_place: area_codes.AreaCode | None

    @property
    def best(self) -> str | None:
        """The area code to pre-fill: most customers, else the business phone's."""
        if self.top:
            return self.top[0].code
        return self.business_code


def suggest_area_codes(
    *, company: Company, limit: int = SUGGESTED_AREA_CODES
) -> AreaCodeSuggestions:
    """The area codes of the company's customers, most customers first, with their share."""
    customer_code = sa.func.substr(Customer.mobile_phone, 3, 3)
    scoped = Customer.company_id == company.id
    total = db.session.scalar(sa.select(sa.func.count()).where(scoped)) or 0
    customer_count = sa.func.count().label("customers")
    rows = db.session.execute(
        sa.select(customer_code.label("code"), customer_count)
        .where(
            scoped,
            # North American numbers only: "+1" and ten digits.
            Customer.mobile_phone.like("+1%"),
            sa.func.length(Customer.mobile_phone) == 12,
        )
        .group_by(customer_code)
        .order_by(customer_count.desc(), customer_code)
        .limit(limit)
    ).all()
    business_code = area_code(company.business_phone) if company.business_phone else None
    return AreaCodeSuggestions(
        total_customers=total,
        top=[
            AreaCodeShare(
                code=row.code,
                customers=row.customers,
                total=total,
                place=area_codes.lookup(row.code),
            )
            for row in rows
        ],
        business_code=business_code,
        business_place=area_codes.lookup(business_code) if business_code else None,
    )


def check_area_code(raw: str | None, *, field: str = "area_code") -> str:
    """A US area code typed by a person, or a DomainError naming the field."""
    code = (raw or "").strip().strip("()")
    if not code:
        raise DomainError("Enter a 3-digit area code, like 512.", field=field)
    if not area_codes.is_well_formed(code):
        raise DomainError(
            f"“{code}” is not an area code: use 3 digits, not starting with 0 or 1.", field=field
        )
    place = area_codes.lookup(code)
    if place is None:
        raise DomainError(f"{code} is not a US area code in use.", field=field)
    if place.country != "US":
        raise DomainError(
            f"{code} is a Canadian area code ({place.place}); custom numbers are US numbers.",
            field=field,
        )
    return code


# -- search ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AvailableNumber:
    e164: str
    locality: str | None
    region: str | None

    @property
    def display(self) -> str:
        return format_phone(self.e164)

    @property
    def place(self) -> str:
        return ", ".join(part for part in (self.locality, self.region) if part)


@dataclass(frozen=True)
class NumberSearch:
    area_code: str
    place: area_codes.AreaCode | None
    numbers: list[AvailableNumber]
    # Filled only when nothing is available: other area codes of the same state, each with
    # the towns it shares with this one (overlays first).
    nearby: list[tuple[area_codes.AreaCode, list[str]]]

    @property
    def state_name(self) -> str:
        state = self.place.state if self.place else None
        return area_codes.STATE_NAMES.get(state or "", "the same state")


def search_numbers(*, area_code: str, limit: int = 10) -> NumberSearch:
    """Local numbers Twilio can sell in `area_code`, able to text, send photos and ring."""
    code = check_area_code(area_code)
    try:
        found = gateway.search_local_numbers(area_code=code, limit=limit)
    except gateway.GatewayError as error:
        raise TwilioUnavailable(
            f"We couldn't reach Twilio to search {code} numbers ({error}). Try again shortly."
        ) from error
    numbers = [
        AvailableNumber(e164=item.e164, locality=item.locality, region=item.region)
        for item in found
    ]
    return NumberSearch(
        area_code=code,
        place=area_codes.lookup(code),
        numbers=numbers,
        nearby=[]
        if numbers
        else [
            (other, area_codes.shared_cities(code, other.code)[:3])
            for other in area_codes.nearby(code)
        ],
    )


def check_chosen_number(raw: str | None) -> str:
    """The number a person chose, as E.164, or a DomainError (it must be a US number)."""
    e164 = normalize_phone(raw or "", field="phone_number")
    if area_code(e164) is None:
        raise DomainError("Custom numbers are US numbers.", field="phone_number")
    return e164


# -- state ----------------------------------------------------------------------------------


def pending_setup(company: Company) -> NumberSetup | None:
    return db.session.scalar(sa.select(NumberSetup).filter_by(company_id=company.id))


def is_stale(setup: NumberSetup, *, now: datetime | None = None) -> bool:
    return (now or utcnow()) - setup.started_at > STALE_SETUP_AFTER


def company_for_called_number(to: str) -> Company | None:
    """The company whose custom number is `to` (any format), or None."""
    try:
        e164 = normalize_phone(to)
    except DomainError:
        return None
    number = db.session.scalar(sa.select(PhoneNumber).filter_by(e164=e164))
    return number.company if number else None


# -- provisioning ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookUrls:
    sms_url: str
    voice_url: str
    status_callback: str

    @classmethod
    def under(cls, public_base_url: str) -> WebhookUrls:
        base = public_base_url.rstrip("/")
        return cls(
            sms_url=base + public_path_for(SMS_WEBHOOK),
            voice_url=base + public_path_for(VOICE_WEBHOOK),
            status_callback=base + public_path_for(STATUS_WEBHOOK),
        )


def _claim(
    *, company: Company, actor: User | None, e164: str, locality: str | None, region: str | None
) -> NumberSetup:
    existing = company_number(company)
    if existing is not None:
        raise NumberAlreadySet(existing)
    if _held_by_another_company(e164):
        # Checked before any claim or money: buying it again would end in a unique-key
        # failure after the purchase (and a claim left blocking setup).
        raise HeldByAnotherCompany(e164)
    setup = NumberSetup(
        company_id=company.id,
        e164=e164,
        locality=(locality or "").strip()[:120] or None,
        region=(region or "").strip()[:64] or None,
        started_by_id=actor.id if actor else None,
        started_at=utcnow(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(setup)
    except IntegrityError:
        # Which unique rule refused us decides the message; the rows may have changed again
        # since, so each is looked up afresh.
        held = pending_setup(company)
        if held is not None:
            raise SetupInProgress(held) from None
        existing = company_number(company)
        if existing is not None:
            raise NumberAlreadySet(existing) from None
        if db.session.scalar(sa.select(NumberSetup.id).filter_by(e164=e164)) is not None:
            raise Conflict(
                f"{format_phone(e164)} is being taken by another business right now. "
                "Choose another number."
            ) from None
        raise Conflict("Your custom number was being set up at the same moment. Reload.") from None
    # A request that finished between our first check and our insert deleted its claim in
    # the transaction that stored the number; this read runs after the insert and sees it.
    existing = company_number(company)
    if existing is not None:
        raise NumberAlreadySet(existing)
    return setup


def provision_number(
    *,
    company: Company,
    actor: User | None,
    e164: str,
    locality: str | None,
    region: str | None,
    public_base_url: str,
) -> PhoneNumber:
    """Buy `e164` from Twilio for `company` and record it. At most once, ever.

    The one service that commits, because the protocol needs separate transactions: the
    claim must be durable before money is spent, and the purchase must be recorded (or the
    claim released) after Twilio answered. Work the caller had pending is committed with
    the claim. `actor` is None only for the operator's tools.
    """
    if actor is not None and actor.role not in Role.MANAGERS:
        raise NotAllowed("Only an owner or admin can set up the custom number.")
    e164 = check_chosen_number(e164)
    company_id = company.id
    claim = {
        "company": company,
        "actor": actor,
        "e164": e164,
        "locality": locality,
        "region": region,
    }
    try:
        setup = _claim(**claim)
    except SetupInProgress as held:
        stale = is_stale(held.setup)
        stale_id, stale_e164 = held.setup.id, held.setup.e164
        db.session.rollback()
        if not stale:
            raise
        # The request that held it died mid-purchase: settle what it did before going on.
        settled = _settle_stale_setup(setup_id=stale_id, e164=stale_e164, company_id=company_id)
        if settled is not None:
            raise NumberAlreadySet(settled) from None
        try:
            setup = _claim(**claim)
        except DomainError:
            db.session.rollback()
            raise
    except DomainError:
        db.session.rollback()
        raise
    db.session.commit()
    setup_id = setup.id

    urls = WebhookUrls.under(public_base_url)
    try:
        bought = gateway.buy_number(
            phone_number=e164,
            sms_url=urls.sms_url,
            voice_url=urls.voice_url,
            status_callback=urls.status_callback,
        )
    except gateway.UnknownOutcome as error:
        # The request left but no answer came back: Twilio may have sold it to us. Look
        # before anything else; if we can't tell, keep the claim so nobody buys a second
        # number, and let the stale-claim check settle it later.
        db.session.rollback()
        owned = _owned_or_none(e164)
        if owned is None:
            log.warning("number purchase outcome unknown company=%s number=%s", company_id, e164)
            raise PurchaseUncertain(
                f"Twilio did not answer while buying {format_phone(e164)}, so we can't tell "
                "yet whether it is yours. Reload this page in a few minutes: we check again "
                "before anything else is bought."
            ) from error
        bought = owned
    except gateway.GatewayError as error:
        db.session.rollback()
        db.session.execute(sa.delete(NumberSetup).where(NumberSetup.id == setup_id))
        db.session.commit()
        log.warning("number purchase failed company=%s number=%s: %s", company_id, e164, error)
        raise PurchaseFailed(
            f"Twilio could not sell us {format_phone(e164)}: {error.explanation} "
            "Nothing was bought. Search again and choose another number."
        ) from error

    try:
        number = _record_purchase(setup_id=setup_id, sid=bought.sid, e164=bought.e164)
    except IntegrityError:
        # Another company recorded this number while Twilio was answering us (the check in
        # `_claim` came first). It is theirs: release our claim so setup is not blocked.
        db.session.rollback()
        db.session.execute(sa.delete(NumberSetup).where(NumberSetup.id == setup_id))
        db.session.commit()
        log.warning("number %s was recorded for another company mid-purchase", e164)
        raise HeldByAnotherCompany(e164) from None
    db.session.commit()
    log.info(
        "number provisioned company=%s number=%s sid=%s", company_id, number.e164, number.twilio_sid
    )
    return number


class HeldByAnotherCompany(Conflict):
    """The chosen number is already another company's custom number."""

    def __init__(self, e164: str) -> None:
        super().__init__(
            f"{format_phone(e164)} is already another business's custom number. "
            "Nothing was bought. Search again and choose another number."
        )


def _held_by_another_company(e164: str) -> bool:
    return db.session.scalar(sa.select(PhoneNumber.id).filter_by(e164=e164)) is not None


class PurchaseUncertain(DomainError):
    """Twilio did not answer the purchase; the claim stays until it is settled."""

    status_code = 504


def _owned_or_none(e164: str) -> gateway.PurchasedNumber | None:
    try:
        return gateway.find_owned_number(e164)
    except gateway.GatewayError as error:
        log.warning("could not look up number %s at Twilio: %s", e164, error)
        return None


def _settle_stale_setup(*, setup_id: int, e164: str, company_id: int) -> PhoneNumber | None:
    """Finish or drop a claim whose request died. Returns the number if it had been bought.

    Twilio is the truth: if the account owns the number, the purchase went through and is
    recorded now; if it doesn't, nothing was bought and the claim is released.
    """
    try:
        owned = gateway.find_owned_number(e164)
    except gateway.GatewayError as error:
        raise TwilioUnavailable(
            f"An earlier setup of {format_phone(e164)} did not finish, and we can't reach "
            f"Twilio to check it ({error}). Nothing was bought; try again shortly."
        ) from error
    if owned is not None:
        try:
            number = _record_purchase(setup_id=setup_id, sid=owned.sid, e164=owned.e164)
            db.session.commit()
            log.info("stale number setup settled: company=%s bought %s", company_id, e164)
            return number
        except (IntegrityError, Conflict):
            db.session.rollback()
            existing = db.session.scalar(sa.select(PhoneNumber).filter_by(company_id=company_id))
            if existing is not None:
                return existing
            # The account owns it for someone else (support reassigned it): not ours.
    db.session.execute(sa.delete(NumberSetup).where(NumberSetup.id == setup_id))
    db.session.commit()
    log.info("stale number setup released: company=%s had not bought %s", company_id, e164)
    return None


def _record_purchase(*, setup_id: int, sid: str, e164: str) -> PhoneNumber:
    setup = db.session.get(NumberSetup, setup_id)
    if setup is None:
        # Only the operator's CLI deletes a claim behind a running purchase.
        raise Conflict("The number setup was cancelled by support while Twilio was buying it.")
    number = PhoneNumber(
        company_id=setup.company_id,
        e164=e164,
        twilio_sid=sid,
        locality=setup.locality,
        region=setup.region,
        provisioned_by_id=setup.started_by_id,
        created_at=utcnow(),
    )
    db.session.add(number)
    db.session.delete(setup)
    db.session.flush()
    return number


# -- the operator's tools (flask numbers ...; never reachable from the web) -----------------


def operator_assign_number(*, company: Company, e164: str, sid: str) -> PhoneNumber:
    """Point `company` at a number the Twilio account already owns (support cases: a
    ported number, a purchase recorded nowhere). Twilio must confirm it owns `e164` under
    `sid`; another company's number is never taken."""
    e164 = check_chosen_number(e164)
    owned = gateway.find_owned_number(e164)
    if owned is None:
        raise DomainError(f"The Twilio account does not own {e164}.")
    if owned.sid != sid:
        raise DomainError(f"Twilio says {e164} has SID {owned.sid}, not {sid}.")
    holder = db.session.scalar(sa.select(PhoneNumber).filter_by(e164=e164))
    if holder is not None and holder.company_id != company.id:
        raise Conflict(f"{e164} belongs to company {holder.company_id}; release it there first.")
    db.session.execute(sa.delete(NumberSetup).where(NumberSetup.company_id == company.id))
    number = company_number(company)
    if number is None:
        number = PhoneNumber(company_id=company.id, created_at=utcnow())
        db.session.add(number)
    number.e164 = e164
    number.twilio_sid = owned.sid
    number.locality = None
    number.region = None
    number.provisioned_by_id = None
    db.session.flush()
    return number


def operator_release_number(*, company: Company) -> PhoneNumber | None:
    """Detach the company's number (and any unfinished setup) so its owner can choose a new
    one. The number stays in the Twilio account; returns what was detached."""
    number = company_number(company)
    db.session.execute(sa.delete(NumberSetup).where(NumberSetup.company_id == company.id))
    if number is not None:
        db.session.delete(number)
    db.session.flush()
    return number


def recent_unrouted(*, limit: int = 20, channel: str | None = None) -> list[UnroutedInbound]:
    """Texts and calls to numbers no company owns, newest first (the quarantine)."""
    stmt = sa.select(UnroutedInbound).order_by(
        UnroutedInbound.created_at.desc(), UnroutedInbound.id.desc()
    )
    if channel:
        stmt = stmt.where(UnroutedInbound.channel == channel)
    return list(db.session.scalars(stmt.limit(limit)))
