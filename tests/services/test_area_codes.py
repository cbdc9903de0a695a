"""The area-code table (app/services/area_codes.json) against libphonenumber's own metadata,
for every code from 200 to 999, not a sample."""

from __future__ import annotations

import re

import phonenumbers
import pytest

from app.services import area_codes, numbers
from app.services.errors import DomainError


def _in_service(region: str) -> set[str]:
    """Area codes with any fixed-line number in the region's metadata pattern (exact to the
    exchange, the three digits after the area code)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    pattern = re.compile(metadata.fixed_line.national_number_pattern)
    found = set()
    for code in range(200, 1000):
        for exchange in range(200, 1000):
            if pattern.fullmatch(f"{code}{exchange}4567"):
                number = phonenumbers.parse(f"+1{code}{exchange}4567")
                # And libphonenumber's public API agrees it is a real number there.
                assert phonenumbers.is_valid_number_for_region(number, region)
                found.add(str(code))
                break
    return found


@pytest.fixture(scope="module")
def libphonenumber():
    return {"US": _in_service("US"), "CA": _in_service("CA")}


def test_every_geographic_code_in_service_is_in_the_table_and_nothing_else(libphonenumber):
    for number in range(200, 1000):
        code = str(number)
        entry = area_codes.lookup(code)
        expected = next((r for r, codes in libphonenumber.items() if code in codes), None)
        if expected is None:
            assert entry is None, f"{code} is in the table but not in service"
        else:
            assert entry is not None, f"{code} ({expected}) is missing from the table"
            assert entry.country == expected, code
            if expected == "US":
                assert entry.state in area_codes.STATE_NAMES, code


@pytest.mark.parametrize(
    ("code", "state", "city"),
    [
        ("713", "TX", "Houston"),
        ("310", "CA", "Los Angeles"),
        ("718", "NY", "Brooklyn"),
        ("203", "CT", "New Haven"),
        ("512", "TX", "Austin"),
    ],
)
def test_big_city_codes_are_searchable(code, state, city):
    assert numbers.check_area_code(code) == code
    entry = area_codes.lookup(code)
    assert entry.state == state and city in entry.cities


def test_toll_free_and_non_geographic_codes_are_not_area_codes():
    for code in ("800", "833", "888", "900", "500", "600", "700"):
        assert area_codes.lookup(code) is None, code


def test_a_canadian_code_gets_the_canadian_message():
    with pytest.raises(DomainError) as refused:
        numbers.check_area_code("905")
    assert "905 is a Canadian area code (Ontario)" in refused.value.message
