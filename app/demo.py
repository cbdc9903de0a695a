"""`flask demo`: a demo company to click around in, seeded idempotently."""

from __future__ import annotations

import io
from datetime import datetime, time, timedelta

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from PIL import Image, ImageDraw, ImageFont

from app.extensions import db
from app.models import (
    Company,
    ConsentSource,
    Customer,
    JobStatus,
    PhoneNumber,
    RegistrationKind,
    RegistrationStatus,
    Role,
    User,
    utcnow,
)
from app.services.accounts import create_user, sign_up
from app.services.consent import record_consent
from app.services.customers import create_customer
from app.services.inbound import receive_sms
from app.services.job_status import job_set_status
from app.services.jobs import create_job
from app.services.numbers import (
    company_number,
    provision_number,
    search_numbers,
    suggest_area_codes,
)
from app.services.phones import format_phone
from app.services.photos import store_profile_photo
from app.services.registration import registration_for
from app.urls import public_url_for

DEMO_PASSWORD = "demo-password"
OWNER_EMAIL = "owner@example.com"
TEAM = [
    ("Olivia Office", "office@example.com", Role.OFFICE, None, None),
    ("Maria Garcia", "maria@example.com", Role.TECH, "+15125550141", (46, 125, 50)),
    ("Dev Patel", "dev@example.com", Role.TECH, "+15125550142", (21, 101, 192)),
    ("Sam Lee", "sam@example.com", Role.TECH, "+15125550143", (173, 20, 87)),
]
CUSTOMERS = [
    ("Avery Johnson", "+15125550101", "1201 Barton Springs Rd, Austin, TX"),
    ("Brooke Williams", "+15125550102", "400 W 2nd St, Austin, TX"),
    ("Carlos Hernandez", "+15125550103", "2100 S Lamar Blvd, Austin, TX"),
    ("Dana Kim", "+15125550104", "5400 Burnet Rd, Austin, TX"),
    ("Eli Thompson", "+15125550105", "901 E 6th St, Austin, TX"),
    ("Fatima Ali", "+15125550106", "3300 Bee Caves Rd, Austin, TX"),
    ("Grace Chen", "+15125550107", "1000 E 41st St, Austin, TX"),
    ("Hector Ruiz", "+15125550108", "7800 Shoal Creek Blvd, Austin, TX"),
    ("Isla Brown", "+15125550109", "2500 Exposition Blvd, Austin, TX"),
    ("Jamal Wright", "+15125550110", "6500 Manchaca Rd, Austin, TX"),
    ("Kara Nguyen", "+15125550111", "1600 Royal Crest Dr, Austin, TX"),
    ("Liam O'Connor", "+15125550112", "4500 Duval St, Austin, TX"),
    ("Mia Rossi", "+15125550113", "300 Congress Ave, Austin, TX"),
    ("Noah Davis", "+15125550114", "8900 Research Blvd, Austin, TX"),
    ("Owen Martinez", "+17375550115", "11000 Pecan Park Blvd, Cedar Park, TX"),
    ("Priya Shah", "+17375550116", "1400 Main St, Round Rock, TX"),
    ("Quinn Foster", "+15125550117", "2200 Wells Branch Pkwy, Austin, TX"),
    ("Rosa Lopez", "+15125550118", "500 E Riverside Dr, Austin, TX"),
    ("Sofia Rivera", "+12105550119", "700 E Houston St, San Antonio, TX"),
    ("Theo Walker", "+15125550120", "3800 N Lamar Blvd, Austin, TX"),
]
# (customer index, day offset, local hour, hours, description, status, tech indexes)
JOBS = [
    (0, -1, 9, 2, "Replace kitchen faucet", JobStatus.FINISHED, [0]),
    (1, -1, 13, 3, "Water heater flush and inspection", JobStatus.FINISHED, [1]),
    (2, -1, 15, 1, "Clogged bathroom sink", JobStatus.CANCELED, [2]),
    (3, 0, 8, 2, "Leaking shower valve", JobStatus.FINISHED, [0]),
    (4, 0, 10, 2, "Garbage disposal replacement", JobStatus.STARTED, [1]),
    (5, 0, 11, 2, "Running toilet repair", JobStatus.ON_MY_WAY, [0]),
    (6, 0, 13, 3, "Tankless water heater install", JobStatus.SCHEDULED, [1, 2]),
    (7, 0, 14, 1, "Outdoor spigot replacement", JobStatus.SCHEDULED, [2]),
    (8, 0, 16, 2, "Sewer line camera inspection", JobStatus.SCHEDULED, [0]),
    (9, 1, 8, 2, "Annual plumbing inspection", JobStatus.SCHEDULED, [2]),
    (10, 1, 10, 2, "Install water softener", JobStatus.SCHEDULED, [1]),
    (11, 1, 13, 1, "Low water pressure diagnosis", JobStatus.SCHEDULED, [0]),
    (12, 1, 15, 2, "Replace shut-off valves", JobStatus.SCHEDULED, []),
    (13, 2, 9, 4, "Repipe guest bathroom", JobStatus.SCHEDULED, [1, 2]),
    (14, 2, 14, 1, "Dripping tub spout", JobStatus.SCHEDULED, [0]),
]
STATUS_PATH = {
    JobStatus.SCHEDULED: [],
    JobStatus.ON_MY_WAY: [JobStatus.ON_MY_WAY],
    JobStatus.STARTED: [JobStatus.ON_MY_WAY, JobStatus.STARTED],
    JobStatus.FINISHED: [JobStatus.ON_MY_WAY, JobStatus.STARTED, JobStatus.FINISHED],
    JobStatus.CANCELED: [JobStatus.CANCELED],
}


def _avatar(name: str, color: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (480, 480), color)
    draw = ImageDraw.Draw(image)
    initials = "".join(part[0] for part in name.split()[:2]).upper()
    font = ImageFont.load_default(size=200)
    draw.text((240, 240), initials, fill="white", font=font, anchor="mm")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def approve_demo_registration(company: Company) -> None:
    """The demo company as if its 10DLC brand and campaign had been approved. It has no
    Messaging Service: the fake Twilio of `flask demo` is gone by the time `make run`
    sends, so its texts name the number only, as before registration existed."""
    registration = registration_for(company)
    registration.kind = RegistrationKind.STANDARD
    registration.status = RegistrationStatus.APPROVED
    registration.details = {"legal_name": company.name, "demo": True}
    registration.submitted_at = registration.approved_at = utcnow()


def seed_demo() -> tuple[Company, bool]:
    """Create the demo company unless it exists. Returns (company, created)."""
    owner = db.session.scalar(sa.select(User).filter_by(email=OWNER_EMAIL))
    if owner is not None:
        return owner.company, False

    owner = sign_up(
        company_name="Lone Star Plumbing",
        name="Alice Owner",
        email=OWNER_EMAIL,
        password=DEMO_PASSWORD,
        time_zone="America/Chicago",
        business_phone="+15125550100",
    )
    company = owner.company
    # Registered and approved, so the demo's texts flow (a fresh sign-up starts at
    # not_started and its texts are skipped until its registration is approved).
    approve_demo_registration(company)
    company.address = "1500 S Congress Ave, Austin, TX 78704"
    company.email = "hello@lonestarplumbing.example"
    techs: list[User] = []
    for name, email, role, mobile, color in TEAM:
        user = create_user(
            company=company,
            name=name,
            email=email,
            password=DEMO_PASSWORD,
            role=role,
            mobile_phone=mobile,
        )
        if role == Role.TECH:
            store_profile_photo(
                user=user,
                data=_avatar(name, color),
                upload_folder=current_app.config["UPLOAD_FOLDER"],
            )
            techs.append(user)

    customers: list[Customer] = [
        create_customer(company=company, name=name, mobile_phone=phone, address=address)
        for name, phone, address in CUSTOMERS
    ]
    # Before the jobs, so their automated texts have a number to come from.
    ensure_demo_number(company, owner)
    today = company.today()
    for cust_i, day, hour, hours, description, status, tech_is in JOBS:
        start = datetime.combine(today + timedelta(days=day), time(hour), tzinfo=company.tz)
        job = create_job(
            company=company,
            customer=customers[cust_i],
            description=description,
            scheduled_start=start,
            scheduled_end=start + timedelta(hours=hours),
            techs=[techs[i] for i in tech_is],
        )
        actor = techs[tech_is[0]] if tech_is else owner
        for step in STATUS_PATH[status]:
            eta = 30 if step == JobStatus.ON_MY_WAY else None
            job_set_status(job=job, status=step, actor=actor, eta_minutes=eta)
        # The office read the consent script when booking (docs/compliance.md).
        record_consent(customer=customers[cust_i], source=ConsentSource.VERBAL, actor=owner)
    _demo_revocation(company, customers[-1])
    db.session.flush()
    return company, True


def _demo_revocation(company: Company, customer: Customer) -> None:
    """One customer wrote "stop texting me": the inbox shows the office's decision."""
    number = company_number(company)
    if number is None:
        return
    receive_sms(
        form={
            "MessageSid": "SM" + "0" * 28 + "demo",
            "From": customer.mobile_phone,
            "To": number.e164,
            "Body": "Please stop texting me, thanks",
        },
        received_at=utcnow() - timedelta(hours=3),
    )


def ensure_demo_number(company: Company, owner: User) -> PhoneNumber | None:
    """Give the demo company its custom number through the real setup path: the most
    common area code of its customers, a number for sale in its main town. Only against the
    fake Twilio: with a real account, buying a number costs money, so the owner chooses it
    in Settings -> Custom number. Commits (the purchase protocol needs to)."""
    number = company_number(company)
    if number is not None or not current_app.config["TWILIO_FAKE"]:
        return number
    area_code = suggest_area_codes(company=company).best or "512"
    search = search_numbers(area_code=area_code)
    # The area code's main town (Austin for 512) reads best on the demo's pages.
    town = search.place.cities[0] if search.place and search.place.cities else None
    chosen = next((n for n in search.numbers if n.locality == town), search.numbers[0])
    return provision_number(
        company=company,
        actor=owner,
        e164=chosen.e164,
        locality=chosen.locality,
        region=chosen.region,
        public_base_url=current_app.config["PUBLIC_BASE_URL"],
    )


def ensure_demo_stripe(company: Company) -> bool:
    """Connect the demo company to the fake Stripe's demo account, so `make run` takes
    payments at once. Only with the fake: a real company connects its own account."""
    from app.payments.fake_stripe import DEMO_ACCOUNT_ID
    from app.services import online_payments

    if not current_app.config.get("STRIPE_FAKE"):
        return False
    if online_payments.active_account(company) is None:
        online_payments.adopt_account(company=company, account_id=DEMO_ACCOUNT_ID)
        db.session.commit()
    return True


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Seed the demo company (idempotent) and print how to log in."""
    company, created = seed_demo()
    db.session.commit()
    owner = db.session.scalars(sa.select(User).filter_by(email=OWNER_EMAIL)).one()
    number = ensure_demo_number(company, owner)
    stripe_connected = ensure_demo_stripe(company)
    click.echo(
        "Demo company " + ("created" if created else "already present") + f": {company.name}"
    )
    if number is not None:
        click.echo(f"Custom SMS number: {format_phone(number.e164)} ({number.e164})")
    else:
        click.echo(
            "Custom SMS number: none yet (real Twilio: choose it in Settings → Custom number)"
        )
    if stripe_connected:
        click.echo("Online payments: connected to the fake Stripe (pay on /dev/checkout)")
    click.echo(f"\nOpen {public_url_for('auth.login')} and use password '{DEMO_PASSWORD}' with:")
    click.echo(f"  owner   {OWNER_EMAIL}")
    for name, email, role, _mobile, _color in TEAM:
        click.echo(f"  {role:<7} {email}  ({name})")
