"""The import and export pages: access, upload errors, mapping, dry run, inline and worker
imports with the progress fragment, undo, export, and the number page's onboarding."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Customer, CustomerImport, ImportStatus, Role, utcnow
from app.services import customer_imports as imports
from tests.fixtures.customer_files import csv_bytes, hcp_file

URL = "/customers/import"


@pytest.fixture
def owner(make, client, log_in):
    company = make.company(name="Fresh Plumbing", business_phone="+15125550100")
    db.session.commit()
    log_in(client, company.owner)
    return company.owner


def _upload(client, data: bytes, name: str = "customers.csv"):
    return client.post(
        URL, data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data"
    )


def _the_import() -> CustomerImport:
    db.session.expire_all()
    return db.session.scalars(sa.select(CustomerImport)).one()


@pytest.mark.parametrize("role", [Role.OFFICE, Role.TECH])
@pytest.mark.parametrize("path", [URL, "/customers/export.csv"])
def test_only_owners_and_admins_import_and_export(make, client, log_in, role, path):
    company = make.company()
    user = make.user(company, role=role)
    db.session.commit()
    log_in(client, user)
    assert client.get(path).status_code == 403


def test_another_company_s_import_is_404(make, client, log_in, owner):
    other = make.company()
    theirs = imports.start_import(
        company=other, actor=other.owner, filename="x.csv", data=hcp_file()
    )
    db.session.commit()
    for path in ("", "/problems.csv", "/progress"):
        assert client.get(f"{URL}/{theirs.id}{path}").status_code == 404
    for path in ("/mapping", "/confirm", "/undo"):
        assert client.post(f"{URL}/{theirs.id}{path}").status_code == 404


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Choose the CSV file"),  # no file chosen at all
        (b"\r\n", "This file is empty."),
        (b"PK\x03\x04" + bytes(300), "Excel workbook"),
        (b"Name,Mobile\r\n", "no customers under it"),
    ],
)
def test_a_bad_file_is_a_field_error_and_nothing_is_kept(client, owner, data, message):
    if data:
        response = _upload(client, data)
    else:
        response = client.post(URL, data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(CustomerImport.id))) == 0


def test_a_file_over_20_mb_is_refused_with_a_message(client, owner):
    data = b"Name,Mobile\r\n" + b"x" * (21 * 1024 * 1024)
    response = _upload(client, data)
    assert response.status_code == 422
    assert "larger than 20 MB" in response.get_data(as_text=True)


def test_upload_map_dry_run_import_undo(client, owner):
    response = _upload(client, hcp_file(), "hcp export.csv")
    assert response.status_code == 303
    imp = _the_import()
    page = client.get(response.location).get_data(as_text=True)
    assert "What is in each column?" in page
    assert '<option value="mobile" selected>' in page
    assert "Jane Cooper" in page  # the first rows are shown

    # A mapping without a phone is refused and shown again as chosen.
    mapping = {f"column-{i}": field for i, field in enumerate(imp.mapping)}
    no_phone = {k: ("" if v in ("mobile", "phone") else v) for k, v in mapping.items()}
    response = client.post(f"{URL}/{imp.id}/mapping", data=no_phone)
    assert response.status_code == 422
    assert "mobile phone" in response.get_data(as_text=True)
    assert _the_import().status == ImportStatus.UPLOADED

    response = client.post(f"{URL}/{imp.id}/mapping", data=mapping)
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert "Dry run: nothing has been imported yet" in page
    assert "Import 2 customers" in page
    assert "No mobile number: “(800) 555-0100” is not a mobile number." in page
    # The dry run shows the fields besides the notes: company, other phones, tags.
    assert "Tags: VIP, Maintenance plan" in page
    assert "Warren Dental · Other phones: (512) 555-0199" in page
    assert db.session.scalar(sa.select(sa.func.count(Customer.id))) == 0

    problems = client.get(f"{URL}/{imp.id}/problems.csv")
    assert problems.mimetype == "text/csv"
    assert "attachment" in problems.headers["Content-Disposition"]
    assert problems.get_data(as_text=True).count("\r\n") == 5  # header + 4 rows

    response = client.post(f"{URL}/{imp.id}/confirm")
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert "Imported: 2 new, 0 merged, 4 skipped. Nobody was texted." in page
    wade = db.session.scalar(sa.select(Customer).filter_by(mobile_phone="+15125550102"))
    assert (wade.company_name, wade.other_phones, wade.notes) == (
        "Warren Dental",
        ["+15125550199"],
        None,
    )
    assert "Undo this import" in page
    assert db.session.scalar(sa.select(sa.func.count(Customer.id))) == 2
    history = client.get(URL).get_data(as_text=True)
    assert "hcp export.csv" in history and owner.name in history

    response = client.post(f"{URL}/{imp.id}/undo")
    assert response.status_code == 303
    page = client.get(response.location).get_data(as_text=True)
    assert "Import undone: 2 customers removed" in page
    assert db.session.scalar(sa.select(sa.func.count(Customer.id))) == 0
    assert client.post(f"{URL}/{imp.id}/undo").status_code == 409


def test_a_large_file_goes_to_the_worker_with_a_progress_bar(app, client, owner, monkeypatch):
    monkeypatch.setitem(app.config, "IMPORT_INLINE_ROWS", 5)
    monkeypatch.setattr(imports, "BATCH_SIZE", 4)
    rows = [[f"C {n}", f"512555{n:04d}"] for n in range(10)]
    _upload(client, csv_bytes(["Name", "Mobile"], rows))
    imp = _the_import()
    client.post(f"{URL}/{imp.id}/mapping", data={"column-0": "name", "column-1": "mobile"})
    client.post(f"{URL}/{imp.id}/confirm")
    assert _the_import().status == ImportStatus.QUEUED
    page = client.get(f"{URL}/{imp.id}").get_data(as_text=True)
    assert 'id="import-progress"' in page and 'hx-trigger="every 1s"' in page

    imports.run_queued_imports(now=utcnow(), budget_seconds=0)
    fragment = client.get(f"{URL}/{imp.id}/progress", headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert text.lstrip().startswith('<div id="import-progress"')
    assert "4 of 10 rows (40%)" in text
    # Without htmx the progress address is the page itself.
    assert client.get(f"{URL}/{imp.id}/progress").status_code == 302

    while _the_import().status != ImportStatus.DONE:
        imports.run_queued_imports(now=utcnow(), budget_seconds=60)
    done = client.get(f"{URL}/{imp.id}/progress", headers={"HX-Request": "true"})
    assert done.headers["HX-Redirect"].endswith(f"{URL}/{imp.id}")


def test_export_downloads_every_customer_as_csv(make, client, owner):
    make.customer(owner.company, name='=HYPERLINK("http://x")', phone="+15125550101")
    db.session.commit()
    response = client.get("/customers/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="customers-')
    text = response.get_data(as_text=True)
    assert "'=HYPERLINK" in text


def test_an_exported_file_uploads_back_with_the_new_columns_mapped(make, client, owner):
    make.customer(
        owner.company,
        name="Jo",
        phone="+15125550101",
        company_name="Jo Co",
        other_phones="5125550199",
        tags="VIP, Roof",
    )
    db.session.commit()
    exported = client.get("/customers/export.csv").get_data()
    assert b'Jo,Jo Co,(512) 555-0101,(512) 555-0199,,,"VIP, Roof",' in exported
    _upload(client, exported, "customers.csv")
    imp = _the_import()
    assert imp.mapping[:8] == [
        "name", "company", "mobile", "phone", "email", "address", "tags", "notes"
    ]  # fmt: skip


def test_the_number_page_asks_for_an_import_first_then_uses_it(client, owner, numbers_fake):
    page = client.get("/settings/number").get_data(as_text=True)
    assert "Import your customers first to get the best area code" in page
    assert f'href="{URL}"' in page

    rows = [[f"C {n}", f"737555{n:04d}"] for n in range(3)] + [["D", "5125550199"]]
    _upload(client, csv_bytes(["Name", "Mobile"], rows))
    imp = _the_import()
    client.post(f"{URL}/{imp.id}/mapping", data={"column-0": "name", "column-1": "mobile"})
    client.post(f"{URL}/{imp.id}/confirm")

    page = client.get("/settings/number").get_data(as_text=True)
    assert "Import your customers first" not in page
    assert "your 4 customers, including the ones you imported" in page
    assert 'data-testid="suggestion-737"' in page
    assert 'value="737"' in page  # pre-filled with the imported customers' area code


def test_the_customers_page_offers_import_and_export_to_managers_only(make, client, log_in):
    company = make.company()
    office = make.user(company, role=Role.OFFICE)
    db.session.commit()
    log_in(client, company.owner)
    assert f'href="{URL}"' in client.get("/customers").get_data(as_text=True)
    client.post("/logout")
    log_in(client, office)
    assert f'href="{URL}"' not in client.get("/customers").get_data(as_text=True)


def test_a_discarded_draft_says_so(client, owner):
    _upload(client, hcp_file())
    imp = _the_import()
    imports.forget_stale_drafts(now=imp.created_at + imports.DRAFT_KEPT + timedelta(minutes=1))
    db.session.commit()
    page = client.get(f"{URL}/{imp.id}")
    assert page.status_code == 200
    assert "no longer kept" in page.get_data(as_text=True)
    assert client.post(f"{URL}/{imp.id}/confirm").status_code == 409
