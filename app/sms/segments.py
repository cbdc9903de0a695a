"""How many SMS segments a text costs, and why.

A text that uses only the GSM-7 alphabet fits 160 characters in one segment (153 per
segment once it is split, the rest carries the reassembly header). One character outside
that alphabet (a curly quote pasted from a word processor, an emoji) switches the whole
text to UCS-2: 70 UTF-16 code units in one segment, 67 per segment when split, so the
same text can cost twice as much or more. `segment_info` says which, counts exactly the
way carriers split (an escaped character or a surrogate pair is never cut in half), and
names the characters to blame with a GSM-7 replacement for the common ones.

static/segments.js implements the same counting for live counters; keep the two in step.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# GSM 03.38 default alphabet (the escape character 0x1B itself is not typeable).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each costs two septets (escape + character).
GSM_EXTENDED = frozenset("^{}\\[~]|€\f")

SINGLE_SEGMENT = {GSM7: 160, UCS2: 70}
PER_SEGMENT = {GSM7: 153, UCS2: 67}

# Characters that usually arrive by copy-paste and have a GSM-7 look-alike.
REPLACEMENTS: dict[str, str] = {
    "\u2018": "'",  # left single quote
    "\u2019": "'",  # right single quote / apostrophe
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",  # prime
    "\u00b4": "'",  # acute accent
    "\u201c": '"',  # left double quote
    "\u201d": '"',  # right double quote
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2015": "-",
    "\u2212": "-",  # minus sign
    "\u2026": "...",  # ellipsis
    "\u00a0": " ",  # non-breaking space
    "\u2007": " ",
    "\u2009": " ",  # thin space
    "\u200a": " ",
    "\u202f": " ",  # narrow no-break space
    "\u2002": " ",
    "\u2003": " ",
    "\u2022": "-",  # bullet
    "\u00d7": "x",  # multiplication sign
    "\t": " ",
}


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "GSM-7" or "UCS-2"
    characters: int  # what a person counts (code points)
    units: int  # septets for GSM-7 (extended count 2), UTF-16 code units for UCS-2
    segments: int
    # The characters (in order of first appearance) that forced UCS-2.
    non_gsm: tuple[str, ...] = ()
    # A GSM-7 replacement for each of `non_gsm` that has one.
    replacements: dict[str, str] = field(default_factory=dict)

    @property
    def is_gsm(self) -> bool:
        return self.encoding == GSM7

    @property
    def summary(self) -> str:
        plural_c = "" if self.characters == 1 else "s"
        plural_s = "" if self.segments == 1 else "s"
        return (
            f"{self.characters} character{plural_c} · {self.segments} segment{plural_s} · "
            f"{self.encoding}"
        )


def is_gsm_char(char: str) -> bool:
    return char in GSM_BASIC or char in GSM_EXTENDED


def _gsm_segments(text: str) -> tuple[int, int]:
    units = sum(2 if c in GSM_EXTENDED else 1 for c in text)
    if units <= SINGLE_SEGMENT[GSM7]:
        return units, (1 if units else 0)
    segments, used = 1, 0
    for char in text:
        cost = 2 if char in GSM_EXTENDED else 1
        if used + cost > PER_SEGMENT[GSM7]:  # an escape pair is never split
            segments, used = segments + 1, 0
        used += cost
    return units, segments


def _ucs2_segments(text: str) -> tuple[int, int]:
    units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
    if units <= SINGLE_SEGMENT[UCS2]:
        return units, (1 if units else 0)
    segments, used = 1, 0
    for char in text:
        cost = 2 if ord(char) > 0xFFFF else 1
        if used + cost > PER_SEGMENT[UCS2]:  # a surrogate pair is never split
            segments, used = segments + 1, 0
        used += cost
    return units, segments


def segment_info(text: str) -> SegmentInfo:
    non_gsm: list[str] = []
    for char in text:
        if not is_gsm_char(char) and char not in non_gsm:
            non_gsm.append(char)
    if not non_gsm:
        units, segments = _gsm_segments(text)
        return SegmentInfo(GSM7, len(text), units, segments)
    units, segments = _ucs2_segments(text)
    return SegmentInfo(
        UCS2,
        len(text),
        units,
        segments,
        non_gsm=tuple(non_gsm),
        replacements={c: REPLACEMENTS[c] for c in non_gsm if c in REPLACEMENTS},
    )


def replace_with_gsm(text: str, chars: str | None = None) -> str:
    """`text` with the known look-alikes replaced (only those in `chars`, when given)."""
    return "".join(
        REPLACEMENTS[c] if c in REPLACEMENTS and (chars is None or c in chars) else c for c in text
    )


def describe_char(char: str) -> str:
    """A name a person can recognise for a character that may be invisible."""
    name = unicodedata.name(char, "").lower()
    if char.isspace() or not char.isprintable():
        return name or f"U+{ord(char):04X}"
    return f"“{char}” ({name})" if name else f"“{char}”"
