"""North American area codes: where each one is, and which others to try when one is sold out.

The data (`area_codes.json`, next to this module) is derived from the geocoding tables that
ship with `phonenumbers` (libphonenumber). Loading those tables takes ~100 MB and half a
second, far too much for every web worker, so the few facts this product needs are extracted
once into a small file. Regenerate it after upgrading `phonenumbers`:

    python -m app.services.area_codes

"Nearby" is honest about what the data knows: libphonenumber tells us each area code's state
and the towns its exchanges serve, not distances. So the suggestions are the other area codes
of the same state, those serving the same towns (overlays, e.g. 737 over 512) first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("area_codes.json")
AREA_CODE_PATTERN = re.compile(r"^[2-9]\d\d$")
CITIES_KEPT = 12

US_STATES = {
    "Alabama": "AL",
    "Alaska": "AK",
    "Arizona": "AZ",
    "Arkansas": "AR",
    "California": "CA",
    "Colorado": "CO",
    "Connecticut": "CT",
    "Delaware": "DE",
    "Florida": "FL",
    "Georgia": "GA",
    "Hawaii": "HI",
    "Idaho": "ID",
    "Illinois": "IL",
    "Indiana": "IN",
    "Iowa": "IA",
    "Kansas": "KS",
    "Kentucky": "KY",
    "Louisiana": "LA",
    "Maine": "ME",
    "Maryland": "MD",
    "Massachusetts": "MA",
    "Michigan": "MI",
    "Minnesota": "MN",
    "Mississippi": "MS",
    "Missouri": "MO",
    "Montana": "MT",
    "Nebraska": "NE",
    "Nevada": "NV",
    "New Hampshire": "NH",
    "New Jersey": "NJ",
    "New Mexico": "NM",
    "New York": "NY",
    "North Carolina": "NC",
    "North Dakota": "ND",
    "Ohio": "OH",
    "Oklahoma": "OK",
    "Oregon": "OR",
    "Pennsylvania": "PA",
    "Rhode Island": "RI",
    "South Carolina": "SC",
    "South Dakota": "SD",
    "Tennessee": "TN",
    "Texas": "TX",
    "Utah": "UT",
    "Vermont": "VT",
    "Virginia": "VA",
    "Washington": "WA",
    "Washington D.C.": "DC",
    "West Virginia": "WV",
    "Wisconsin": "WI",
    "Wyoming": "WY",
}
STATE_NAMES = {abbr: name for name, abbr in US_STATES.items()}


@dataclass(frozen=True)
class AreaCode:
    code: str
    country: str  # "US" or "CA" (Canada and the US share the +1 numbering plan)
    place: str  # "Texas", "New York, NY": libphonenumber's own description
    state: str | None  # two letters, US only
    cities: tuple[str, ...]  # towns its exchanges serve, most exchanges first

    @property
    def label(self) -> str:
        """A short human description: "Austin, TX" or "Texas"."""
        if self.cities and self.state:
            return f"{self.cities[0]}, {self.state}"
        return self.place


@lru_cache(maxsize=1)
def _table() -> dict[str, AreaCode]:
    raw = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return {
        code: AreaCode(
            code=code,
            country=entry["country"],
            place=entry["place"],
            state=entry.get("state"),
            cities=tuple(entry.get("cities", ())),
        )
        for code, entry in raw.items()
    }


def lookup(code: str) -> AreaCode | None:
    return _table().get(code)


def is_well_formed(code: str) -> bool:
    """Three digits, not starting with 0 or 1 (NANP rules)."""
    return bool(AREA_CODE_PATTERN.match(code))


def nearby(code: str, *, limit: int = 5) -> list[AreaCode]:
    """Other US area codes of the same state, overlays and shared towns first."""
    home = lookup(code)
    if home is None or home.state is None:
        return []
    home_cities = set(home.cities)
    same_state = [
        other for other in _table().values() if other.state == home.state and other.code != code
    ]
    same_state.sort(key=lambda other: (-len(home_cities & set(other.cities)), other.code))
    return same_state[:limit]


def shared_cities(code: str, other: str) -> list[str]:
    """Towns both area codes serve, in `other`'s order (explains why it is suggested)."""
    first, second = lookup(code), lookup(other)
    if first is None or second is None:
        return []
    return [city for city in second.cities if city in set(first.cities)]


def _state_of(place: str, city_states: list[str]) -> str | None:
    match = re.match(r"^.*, ([A-Z]{2})$", place)
    if match:
        return match.group(1)
    if place in US_STATES:
        return US_STATES[place]
    if place == "Washington State":  # libphonenumber's name for 564's state
        return "WA"
    return max(set(city_states), key=city_states.count) if city_states else None


def geographic_codes(region: str) -> set[str]:
    """The area codes libphonenumber's metadata knows fixed-line numbers in, for one region
    ("US", "CA"): the geographic area codes in service. (Toll-free, premium and personal
    codes have patterns of their own, so 800 or 900 are not among them.) The metadata holds
    one pattern per region, exact to the exchange (the three digits after the area code);
    a code is in service when any of its exchanges is."""
    import phonenumbers

    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
    pattern = re.compile(metadata.fixed_line.national_number_pattern)
    return {
        str(code)
        for code in range(200, 1000)
        if any(pattern.fullmatch(f"{code}{exchange}4567") for exchange in range(200, 1000))
    }


def regenerate() -> int:
    """Rebuild area_codes.json from libphonenumber. Returns the count.

    Which codes: every geographic area code of the US and Canada in libphonenumber's
    metadata (`geographic_codes`). Where each one is: the geocoding data, whose prefixes
    are as long as they need to be; a code split between descriptions ("1713" has no
    entry of its own, only "17132" Texas, "171322" Houston, TX, ...) is described by its
    shortest prefixes. An earlier version took only codes with a 4-digit entry of their
    own, and so dropped 713, 310, 718, 203, 905 and many more.)"""
    from collections import Counter

    from phonenumbers.geodata import GEOCODE_DATA

    countries = dict.fromkeys(geographic_codes("US"), "US")
    countries.update(dict.fromkeys(geographic_codes("CA"), "CA"))

    # One pass over the 287k prefixes, grouped by "1" + area code: (prefix length, text).
    by_code: dict[str, list[tuple[int, str]]] = {}
    for prefix, names in GEOCODE_DATA.items():
        if len(prefix) >= 4 and prefix.startswith("1") and names.get("en"):
            by_code.setdefault(prefix[1:4], []).append((len(prefix), names["en"]))

    entries: dict[str, dict[str, object]] = {}
    for code, country in sorted(countries.items()):
        described = by_code.get(code, [])
        cities: Counter[str] = Counter()
        city_states: list[str] = []
        for length, description in described:
            match = re.match(r"^(.*), ([A-Z]{2})$", description)
            if match:
                # Ranked by exchanges served: a 6-digit prefix covers ten exchanges.
                cities[match.group(1)] += 10 ** (7 - length)
                city_states.append(match.group(2))
        shortest = min((length for length, _ in described), default=0)
        widest = Counter(text for length, text in described if length == shortest)
        place = (
            widest.most_common(1)[0][0]
            if widest
            else ("United States" if country == "US" else "Canada")
        )
        ranked = [city for city, _ in cities.most_common(CITIES_KEPT)]
        # Big-city codes (212, 210) are described only at the area-code level: "New York, NY".
        place_city = re.match(r"^(.*), [A-Z]{2}$", place)
        if place_city and place_city.group(1) not in ranked:
            ranked = [place_city.group(1), *ranked][:CITIES_KEPT]
        entry: dict[str, object] = {"country": country, "place": place, "cities": ranked}
        if country == "US":
            entry["state"] = _state_of(place, city_states)
        entries[code] = entry
    DATA_FILE.write_text(json.dumps(entries, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    _table.cache_clear()
    return len(entries)


if __name__ == "__main__":
    print(f"Wrote {regenerate()} area codes to {DATA_FILE}")
