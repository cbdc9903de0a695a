"""Reading customers CSVs: encodings, dialects, limits, binary files, the mapping guessed
from Housecall Pro, Jobber and QuickBooks header names."""

from __future__ import annotations

import codecs

import pytest

from app.services import customer_files
from app.services.customer_files import (
    FileRefused,
    check_mapping,
    data_rows,
    read_csv,
    suggest_mapping,
)
from app.services.errors import DomainError
from tests.fixtures.customer_files import (
    HCP_HEADER,
    JOBBER_HEADER,
    csv_bytes,
    hcp_file,
    jobber_file,
)


def _rows(data: bytes):
    shape = read_csv(data)
    return shape, list(data_rows(data, encoding=shape.encoding, delimiter=shape.delimiter))


def test_an_hcp_export_is_read_with_its_quoted_newlines_and_mapped():
    shape, rows = _rows(hcp_file())
    assert (shape.encoding, shape.delimiter, shape.row_count) == ("utf-8", ",", 6)
    assert shape.header == HCP_HEADER
    # A note with a newline inside quotes stays one cell of one row.
    assert rows[0][1][-1] == "Gate code 1234\nDog in the yard"
    assert [number for number, _ in rows] == [2, 3, 4, 5, 6, 7]
    mapping = dict(zip(HCP_HEADER, suggest_mapping(shape.header), strict=True))
    assert mapping == {
        "Customer": "name",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Company": "company",
        "Mobile Phone": "mobile",
        "Home Phone": "phone",
        "Work Phone": "phone",
        "Customer Tags": "tags",
        "Street": "street",
        "Street Line 2": "street2",
        "City": "city",
        "State": "state",
        "Zip": "zip",
        "Notes": "notes",
    }


def test_a_jobber_export_maps_the_service_address_not_the_billing_one():
    shape, _ = _rows(jobber_file())
    mapping = dict(zip(JOBBER_HEADER, suggest_mapping(shape.header), strict=True))
    assert mapping["Display Name"] == "name"
    assert mapping["Mobile Phone #"] == "mobile"
    assert mapping["Main Phone #"] == "phone"
    assert mapping["E-mail"] == "email"
    assert mapping["Service Street 1"] == "street"
    assert mapping["Service Zip code"] == "zip"
    assert mapping["Billing Street 1"] == ""
    assert mapping["Billing City"] == ""
    assert mapping["J-ID"] == mapping["Lead Source"] == ""


def test_quickbooks_online_headers_are_recognised():
    header = [
        "Customer",
        "Company",
        "Street Address",
        "City",
        "State",
        "Country",
        "Zip",
        "Phone",
        "Mobile",
        "Email",
        "Notes",
    ]
    mapping = dict(zip(header, suggest_mapping(header), strict=True))
    assert mapping["Customer"] == "name"
    assert mapping["Street Address"] == "street"
    assert mapping["Phone"] == "phone"
    assert mapping["Mobile"] == "mobile"
    assert mapping["Country"] == ""


def test_the_company_s_last_mapping_wins_over_the_guess():
    header = ["Client", "Cell", "Info"]
    remembered = {"Info": "notes", "Client": "company"}
    assert suggest_mapping(header, remembered=remembered) == ["company", "mobile", "notes"]


def test_windows_1252_with_accents():
    data = csv_bytes(
        ["Nom", "Mobile"], [["José Müller-Françoise", "5125550101"]], encoding="cp1252"
    )
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    shape, rows = _rows(data)
    assert shape.encoding == "cp1252"
    assert shape.encoding_label == "Windows-1252"
    assert rows[0][1][0] == "José Müller-Françoise"


def test_utf8_with_a_byte_order_mark_keeps_the_first_header_clean():
    data = codecs.BOM_UTF8 + csv_bytes(["Name", "Mobile"], [["Zoë", "5125550101"]])
    shape, rows = _rows(data)
    assert shape.encoding == "utf-8-sig"
    assert shape.header == ["Name", "Mobile"]  # not "\ufeffName"
    assert suggest_mapping(shape.header) == ["name", "mobile"]
    assert rows[0][1] == ["Zoë", "5125550101"]


def test_utf16_from_excel_unicode_text():
    data = "Name\tMobile\r\nZoë\t5125550101\r\n".encode("utf-16")
    shape, rows = _rows(data)
    assert (shape.encoding, shape.delimiter) == ("utf-16", "\t")
    assert rows[0][1] == ["Zoë", "5125550101"]


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_the_delimiter_is_sniffed(delimiter):
    # Commas inside cells must not fool the sniffer on a semicolon file.
    data = csv_bytes(
        ["Name", "Mobile", "Address"],
        [
            ["Cooper, Jane", "512 555 0101", "12 Oak St, Austin"],
            ["Fox, Robert", "512 555 0102", "88 Elm Rd, Austin"],
        ],
        delimiter=delimiter,
    )
    shape, rows = _rows(data)
    assert shape.delimiter == delimiter
    assert rows[1][1] == ["Fox, Robert", "512 555 0102", "88 Elm Rd, Austin"]


def test_blank_rows_are_not_customers_but_keep_the_row_numbers():
    data = b"Name,Mobile\n\nJane,5125550101\n,\nBob,5125550102\n"
    shape, rows = _rows(data)
    assert shape.row_count == 2
    assert [number for number, _ in rows] == [3, 5]


@pytest.mark.parametrize("data", [b"", b"   \r\n", b"\r\n\r\n"])
def test_an_empty_file_is_refused(data):
    with pytest.raises(FileRefused, match="empty"):
        read_csv(data)


def test_a_header_without_rows_is_refused():
    with pytest.raises(FileRefused, match="no customers under it"):
        read_csv(b"Name,Mobile\r\n")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 4, "Excel workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200), "old Excel"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)), "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "not a text file"),
        (bytes(range(256)) * 40, "not a text file"),
    ],
)
def test_a_binary_file_named_csv_is_refused_with_what_to_do(data, message):
    with pytest.raises(FileRefused, match=message) as error:
        read_csv(data)
    assert "CSV" in str(error.value)
    assert error.value.field == "file"


def test_too_big_and_too_many_rows(monkeypatch):
    monkeypatch.setattr(customer_files, "MAX_BYTES", 100)
    with pytest.raises(FileRefused, match="the limit is 0 MB"):
        read_csv(b"Name,Mobile\n" + b"Jane,5125550101\n" * 10)
    monkeypatch.setattr(customer_files, "MAX_BYTES", 20 * 1024 * 1024)
    monkeypatch.setattr(customer_files, "MAX_ROWS", 3)
    with pytest.raises(FileRefused, match="more than 3 customers"):
        read_csv(b"Name,Mobile\n" + b"Jane,5125550101\n" * 4)
    assert read_csv(b"Name,Mobile\n" + b"Jane,5125550101\n" * 3).row_count == 3


def test_the_real_limits_are_the_issue_s():
    assert customer_files.MAX_BYTES == 20 * 1024 * 1024
    assert customer_files.MAX_ROWS == 50_000


def test_a_mapping_needs_a_name_and_a_phone_and_one_column_per_field():
    assert check_mapping(["name", "mobile", ""], columns=3) == ["name", "mobile", ""]
    assert check_mapping(["first_name", "last_name", "phone"], columns=3)
    with pytest.raises(DomainError, match="name"):
        check_mapping(["email", "mobile"], columns=2)
    with pytest.raises(DomainError, match="mobile phone"):
        check_mapping(["name", "email"], columns=2)
    with pytest.raises(DomainError, match="Only one column can be Email"):
        check_mapping(["name", "mobile", "email", "email"], columns=4)
    with pytest.raises(DomainError, match="every column"):
        check_mapping(["name", "mobile", "password"], columns=3)
    with pytest.raises(DomainError, match="every column"):
        check_mapping(["name", "mobile"], columns=3)
    # Several notes or other-phone columns are fine.
    assert check_mapping(["name", "mobile", "phone", "phone", "notes", "notes"], columns=6)


def test_a_row_s_company_other_phones_and_tags_are_their_own_fields():
    mapping = ["name", "company", "mobile", "phone", "phone", "tags", "notes"]
    cells = [
        "Jo",
        " Jo  Co ",
        "512-555-0101",
        "(512) 555-0199; 512-555-0101",  # the mobile again: not an other phone
        "555-01 ext 9",
        "VIP, Roof,, vip",
        "Gate",
    ]
    values = customer_files.row_values(cells, mapping)
    assert values.problem is None
    assert values.company_name == "Jo Co"
    assert values.other_phones == ["+15125550199", "555-01 ext 9"]
    assert values.tags == ["VIP", "Roof"]
    assert values.notes == "Gate"


def test_a_company_alone_names_the_customer_and_is_its_company_name():
    values = customer_files.row_values(["Warren Dental", "5125550102"], ["company", "mobile"])
    assert (values.name, values.company_name) == ("Warren Dental", "Warren Dental")


def test_our_export_s_header_maps_back_onto_the_same_fields():
    from app.services.customer_export import EXPORT_HEADER

    mapping = dict(zip(EXPORT_HEADER, suggest_mapping(EXPORT_HEADER), strict=True))
    assert mapping == {
        "Name": "name",
        "Company name": "company",
        "Mobile phone": "mobile",
        "Other phones": "phone",
        "Email": "email",
        "Address": "address",
        "Tags": "tags",
        "Notes": "notes",
        "Added": "",
    }
