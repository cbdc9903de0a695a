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
    return max(set(city_states), key=city_states.count) if city_states else None


def regenerate() -> int:
    """Rebuild area_codes.json from libphonenumber's geocoding data. Returns the count."""
    from collections import Counter

    import phonenumbers
    from phonenumbers.geodata import GEOCODE_DATA

    # One pass over the 287k prefixes, grouped by "1" + area code.
    by_code: dict[str, list[str]] = {}
    for prefix, names in GEOCODE_DATA.items():
        if len(prefix) == 7 and prefix.startswith("1"):
            by_code.setdefault(prefix[1:4], []).append(names.get("en", ""))

    entries: dict[str, dict[str, object]] = {}
    for number in range(200, 1000):
        code = str(number)
        top = GEOCODE_DATA.get("1" + code)
        if not top or "en" not in top:
            continue
        country = phonenumbers.region_code_for_number(phonenumbers.parse(f"+1{code}2345678"))
        if country not in {"US", "CA"}:
            continue
        cities: Counter[str] = Counter()
        city_states: list[str] = []
        for description in by_code.get(code, ()):
            match = re.match(r"^(.*), ([A-Z]{2})$", description)
            if match:
                cities[match.group(1)] += 1
                city_states.append(match.group(2))
        place = top["en"]
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
