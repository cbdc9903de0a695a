"""Reading a customers CSV as people actually have them: exported by Housecall Pro, Jobber
or QuickBooks, or saved from Excel or Google Sheets.

- Encoding: UTF-8 with or without a byte-order mark (Excel's "CSV UTF-8" writes one),
  UTF-16 with its mark (Excel's "Unicode Text"), else Windows-1252 (Excel's plain "CSV" on
  Windows, where "é" is one byte). A binary file (an .xlsx renamed, a PDF, a picture) is
  refused with what to do instead, never read as garbage.
- Dialect: comma, semicolon (Excel in most of Europe), tab or pipe, whichever splits the
  first rows into the same number of columns; quoted cells may hold commas and newlines.
- Limits: MAX_BYTES and MAX_ROWS, said before anything is read further.
- Columns: each column of the file is given a customer field, pre-filled from the header
  names those products export, and from what this company chose last time.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from app.services.customers import (
    MAX_OTHER_PHONE_LENGTH,
    MAX_OTHER_PHONES,
    MAX_TAG_LENGTH,
    MAX_TAGS,
    split_other_phones,
    split_tags,
)
from app.services.errors import DomainError
from app.services.phones import InvalidPhone, normalize_mobile

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000
# The quoted-cell size the csv module allows (its default is 128 KB): a notes cell is never
# this long, and a file that has one is not a customer list.
MAX_CELL = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_LABELS = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}
ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 (with byte-order mark)",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
}
SAVE_AS_CSV = (
    "Open it in Excel or Google Sheets and save or download it as “CSV”, then upload that file."
)

# Cells a spreadsheet would run as a formula (tab and CR too: Excel evaluates what follows).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

csv.field_size_limit(MAX_CELL)


class FileRefused(DomainError):
    """The file cannot be imported; the message says why and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="file")


# -- fields ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    # Several columns may feed it (joined); the others take one column each when pre-filled.
    many: bool = False


FIELDS = (
    Field("name", "Full name"),
    Field("first_name", "First name"),
    Field("last_name", "Last name"),
    Field("company", "Company name"),
    Field("mobile", "Mobile phone"),
    Field("phone", "Other phone", many=True),
    Field("email", "Email"),
    Field("address", "Address (whole)"),
    Field("street", "Street"),
    Field("street2", "Street line 2"),
    Field("city", "City"),
    Field("state", "State"),
    Field("zip", "ZIP code"),
    Field("notes", "Notes", many=True),
    Field("tags", "Tags", many=True),
)
FIELD_KEYS = frozenset(field.key for field in FIELDS)

# Header names, compared lowercased with everything but letters and digits removed
# ("Mobile Phone #" -> "mobilephone"), most specific first: for a field that takes one
# column, the first name found in the file wins, so a Jobber file's "Service Street 1"
# is preferred to its "Billing Street 1" (jobs happen at the service address).
#
# Where the names come from (as of 2026; products rename columns now and then, which is
# why the person checks the mapping before anything is imported):
# - Housecall Pro, Customers > Export (help.housecallpro.com "Exported Report Breakdown"):
#   First Name, Last Name, Display Name / Customer, Email, Company, Mobile Phone (also
#   "Mobile Number"), Home Phone, Work Phone, Customer Tags, Street, Street Line 2, City,
#   State, Zip, Notes.
# - Jobber, Clients > Export (CSV): J-ID, Display Name, First Name, Last Name, Company
#   Name, Main Phone #, Mobile Phone #, Home Phone #, Work Phone #, E-mail, Billing Street 1,
#   Billing Street 2, Billing City, Billing State, Billing Zip code, Service Street 1/2,
#   Service City, Service State, Service Zip code, Tags, Lead Source.
# - QuickBooks Online, Sales > Customers > Export to Excel: Customer, Company, Street
#   Address, City, State, Country, Zip, Phone, Mobile, Email, Notes; QuickBooks Desktop's
#   customer list export: Customer, First Name, Last Name, Main Phone, Mobile, Alt. Phone,
#   Main Email, Bill to 1, Bill to 2, Ship to 1 (...).
# - ProSMS's own export (app.services.customer_imports.EXPORT_HEADER), so a file exported
#   here imports back unchanged.
HEADER_NAMES: dict[str, tuple[str, ...]] = {
    "name": (
        "name",
        "fullname",
        "displayname",
        "customername",
        "clientname",
        "customer",
        "client",
        "contactname",
        "customerfullname",
    ),
    "first_name": ("firstname", "first", "givenname", "contactfirstname"),
    "last_name": ("lastname", "last", "surname", "familyname", "contactlastname"),
    "company": ("company", "companyname", "businessname", "business"),
    "mobile": (
        "mobilephone",
        "mobile",
        "mobilenumber",
        "mobilephonenumber",
        "cellphone",
        "cell",
        "cellnumber",
        "cellphonenumber",
        "textnumber",
    ),
    "phone": (
        "phone",
        "phonenumber",
        "mainphone",
        "homephone",
        "homenumber",
        "workphone",
        "worknumber",
        "altphone",
        "otherphone",
        "businessphone",
        "phonenumbers",
        "otherphones",
    ),
    "email": ("email", "emailaddress", "mainemail", "primaryemail"),
    "address": ("address", "serviceaddress", "fulladdress", "billingaddress"),
    "street": (
        "servicestreet1",
        "servicestreet",
        "street",
        "street1",
        "streetaddress",
        "address1",
        "addressline1",
        "billingstreet1",
        "billingstreet",
        "billto1",
    ),
    "street2": (
        "servicestreet2",
        "streetline2",
        "street2",
        "address2",
        "addressline2",
        "billingstreet2",
        "billto2",
    ),
    "city": ("servicecity", "city", "town", "billingcity"),
    "state": ("servicestate", "state", "province", "stateprovince", "billingstate"),
    "zip": (
        "servicezipcode",
        "servicezip",
        "zip",
        "zipcode",
        "postalcode",
        "postcode",
        "billingzipcode",
        "billingzip",
    ),
    "notes": ("notes", "note", "comments", "customernotes", "privatenotes"),
    "tags": ("tags", "customertags", "clienttags", "tag"),
}


def header_key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def suggest_mapping(header: list[str], *, remembered: dict[str, str] | None = None) -> list[str]:
    """A field for each column of `header` ("" for none): first what the company chose for a
    column of the same name last time (`remembered`: header name -> field), then the known
    header names. A one-column field is given to one column only."""
    mapping = [""] * len(header)
    taken: set[str] = set()
    many = {field.key for field in FIELDS if field.many}
    for index, name in enumerate(header):
        field = (remembered or {}).get(name.strip(), "")
        if field in FIELD_KEYS and (field in many or field not in taken):
            mapping[index] = field
            taken.add(field)
    keys = [header_key(name) for name in header]
    for field, names in HEADER_NAMES.items():
        for name in names:
            if field in taken and field not in many:
                break
            for index, key in enumerate(keys):
                if key == name and not mapping[index]:
                    mapping[index] = field
                    taken.add(field)
                    if field not in many:
                        break
    return mapping


def check_mapping(mapping: list[str], *, columns: int) -> list[str]:
    """The mapping a form sent, checked: one known field (or "") per column, a name and a
    mobile phone among them."""
    if len(mapping) != columns or any(field not in FIELD_KEYS | {""} for field in mapping):
        raise DomainError("Choose a field (or “Don't import”) for every column.", field="mapping")
    chosen = set(mapping)
    if not chosen & {"name", "first_name", "last_name", "company"}:
        raise DomainError(
            "Choose the column that holds the customer's name (or first and last name).",
            field="mapping",
        )
    if not chosen & {"mobile", "phone"}:
        raise DomainError(
            "Choose the column that holds the mobile phone: customers are texted there.",
            field="mapping",
        )
    single = [f for f in mapping if f and not next(x for x in FIELDS if x.key == f).many]
    doubled = sorted({f for f in single if single.count(f) > 1})
    if doubled:
        labels = ", ".join(next(x.label for x in FIELDS if x.key == f) for f in doubled)
        raise DomainError(f"Only one column can be {labels}.", field="mapping")
    return mapping


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvShape:
    encoding: str
    delimiter: str
    header: list[str]
    row_count: int

    @property
    def encoding_label(self) -> str:
        return ENCODING_LABELS.get(self.encoding, self.encoding)

    @property
    def delimiter_label(self) -> str:
        return DELIMITER_LABELS.get(self.delimiter, repr(self.delimiter))


_MAGIC = (
    (b"PK\x03\x04", "This is an Excel workbook (.xlsx) or another zipped file, not a CSV."),
    (b"\xd0\xcf\x11\xe0", "This is an old Excel workbook (.xls), not a CSV."),
    (b"%PDF", "This is a PDF, not a CSV."),
)


def decode(data: bytes) -> tuple[str, str]:
    """The file's text and the codec that read it, or FileRefused for a binary file."""
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise FileRefused(f"{what} {SAVE_AS_CSV}")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise FileRefused(f"This file could not be read as text. {SAVE_AS_CSV}") from None
    head = data[:65536]
    # Text files have no NUL bytes and almost no other control characters.
    controls = sum(1 for byte in head if byte < 32 and byte not in b"\t\n\r\x0c")
    if b"\x00" in head or controls > len(head) // 100:
        raise FileRefused(f"This is not a text file (it looks like a binary file). {SAVE_AS_CSV}")
    encoding = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        raise FileRefused(
            "This file's characters are in an encoding we cannot read. "
            "Save it as “CSV UTF-8” and upload it again."
        ) from None


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first rows into the same number (2+) of columns."""
    sample = text[:65536]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        try:
            records = [
                row
                for row, _ in zip(
                    csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter),
                    range(50),
                    strict=False,
                )
                if any(cell.strip() for cell in row)
            ]
        except csv.Error:
            continue
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        score = (sum(len(row) == width for row in records) / len(records), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _records(text: str, delimiter: str) -> Iterator[list[str]]:
    try:
        yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except csv.Error as error:
        raise FileRefused(f"This file is not a well-formed CSV ({error}).") from None


def read_csv(data: bytes) -> CsvShape:
    """Check an uploaded file and describe it: encoding, delimiter, header, rows."""
    if len(data) > MAX_BYTES:
        raise FileRefused(
            f"This file is {len(data) / 1024 / 1024:.1f} MB; the limit is "
            f"{MAX_BYTES // 1024 // 1024} MB. Split it into smaller files."
        )
    if not data.strip():
        raise FileRefused("This file is empty.")
    text, encoding = decode(data)
    if not text.strip():
        raise FileRefused("This file is empty.")
    delimiter = sniff_delimiter(text)
    records = _records(text, delimiter)
    header: list[str] | None = None
    rows = 0
    for record in records:
        if header is None:
            if any(cell.strip() for cell in record):
                header = [cell.strip() for cell in record]
            continue
        if any(cell.strip() for cell in record):
            rows += 1
            if rows > MAX_ROWS:
                raise FileRefused(
                    f"This file has more than {MAX_ROWS:,} customers; the limit is "
                    f"{MAX_ROWS:,} per import. Split it into smaller files."
                )
    if header is None:
        raise FileRefused("This file is empty.")
    if rows == 0:
        raise FileRefused(
            "This file has a header row but no customers under it. The first row must be "
            "the column names, and each row after it one customer."
        )
    return CsvShape(encoding=encoding, delimiter=delimiter, header=header, row_count=rows)


def data_rows(data: bytes, *, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(spreadsheet row number, cells) of every non-blank row after the header. Row numbers
    are what a spreadsheet shows: the header is row 1."""
    text = data.decode(encoding)
    number = 0
    seen_header = False
    for record in _records(text, delimiter):
        number += 1
        if not any(cell.strip() for cell in record):
            continue
        if not seen_header:
            seen_header = True
            continue
        yield number, record


# -- one row ---------------------------------------------------------------------------------


def _cell(raw: str) -> str:
    text = raw.strip()
    # Our own export (and careful spreadsheets) put a ' before a cell that would otherwise
    # run as a formula: take it off again.
    if len(text) > 1 and text[0] == "'" and text[1] in FORMULA_START:
        text = text[1:]
    return text


@dataclass
class RowValues:
    name: str = ""
    mobile: str | None = None  # E.164 once accepted
    email: str | None = None
    address: str | None = None
    notes: str | None = None
    company_name: str | None = None
    other_phones: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    problem: str | None = None  # why the row cannot be imported


def _join(parts: Iterable[str], separator: str) -> str:
    return separator.join(part for part in parts if part)


def row_values(cells: list[str], mapping: list[str]) -> RowValues:
    """The customer a row describes, or the reason it cannot be one."""
    found: dict[str, list[str]] = {}
    for index, key in enumerate(mapping):
        if key and index < len(cells):
            value = _cell(cells[index])
            if value:
                found.setdefault(key, []).append(value)

    def one(key: str) -> str:
        return " ".join(found.get(key, []))

    person = _join((one("first_name"), one("last_name")), " ")
    name = one("name") or person or one("company")
    values = RowValues(name=" ".join(name.split())[:120])

    # The mobile column decides; only without one is the first textable "other phone"
    # taken. An unusable mobile is the row's problem, not a reason to text another number.
    mobile, refusal, others = None, None, []
    for raw in found.get("mobile", []):
        if mobile is None and refusal is None:
            try:
                mobile = normalize_mobile(raw, strict=True)
            except InvalidPhone as error:
                refusal = error.message
            continue
        others.append(raw)
    other_refusal = None
    for raw in found.get("phone", []):
        if mobile is None and refusal is None:
            try:
                mobile = normalize_mobile(raw, strict=True)
                continue
            except InvalidPhone as error:
                other_refusal = other_refusal or error.message
        others.append(raw)
    values.mobile = mobile

    email = one("email").split()[0] if one("email") else ""
    if "@" in email and "." in email.rsplit("@", 1)[-1] and len(email) <= 255:
        values.email = email
    parts = _join((one("street"), one("street2"), one("city")), ", ")
    region = _join((one("state"), one("zip")), " ")
    address = one("address") or _join((parts, region), ", ")
    values.address = address[:255] or None

    values.company_name = " ".join(one("company").split())[:120] or None
    notes = [*found.get("notes", [])]
    # Tags and numbers a customer cannot keep (too many, too long) stay in the notes:
    # an import loses nothing the file had.
    tags = split_tags(",".join(found.get("tags", [])))
    values.tags = [tag for tag in tags if len(tag) <= MAX_TAG_LENGTH][:MAX_TAGS]
    left_over = [tag for tag in tags if tag not in values.tags]
    if left_over:
        notes.append("Tags: " + ", ".join(left_over))
    phones = split_other_phones(",".join(others), mobile=mobile)
    values.other_phones = [p for p in phones if len(p) <= MAX_OTHER_PHONE_LENGTH][:MAX_OTHER_PHONES]
    left_over = [phone for phone in phones if phone not in values.other_phones]
    if left_over:
        notes.append("Other phones: " + ", ".join(left_over))
    values.notes = "\n".join(notes) or None

    if not values.name:
        values.problem = "No name."
    elif refusal:
        values.problem = refusal
    elif values.mobile is None:
        if other_refusal:
            values.problem = f"No mobile number: {other_refusal}"
        else:
            values.problem = "No mobile number."
    return values
