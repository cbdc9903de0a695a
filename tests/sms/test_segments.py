"""Segment counting: GSM-7 vs UCS-2, 160/153 and 70/67, extended characters count twice."""

from __future__ import annotations

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)
import pytest

from app.sms.segments import (
    GSM7,
    GSM_BASIC,
    GSM_EXTENDED,
    UCS2,
    replace_with_gsm,
    segment_info,
)


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", GSM7, 0, 0),
        ("Hi", GSM7, 2, 1),
        ("a" * 160, GSM7, 160, 1),
        ("a" * 161, GSM7, 161, 2),
        ("a" * 306, GSM7, 306, 2),
        ("a" * 307, GSM7, 307, 3),
        ("€" * 80, GSM7, 160, 1),  # extended: 2 septets each
        ("€" * 81, GSM7, 162, 2),
        # 152 plain + one escape pair: the pair cannot straddle the boundary.
        ("a" * 152 + "€" + "a" * 10, GSM7, 164, 2),
        ("a" * 152 + "€" + "a" * 152, GSM7, 306, 3),
        ("é" * 70, GSM7, 70, 1),  # é is in the GSM alphabet
        ("á", UCS2, 1, 1),  # á is not
        ("\u2019" * 70, UCS2, 70, 1),
        ("\u2019" * 71, UCS2, 71, 2),
        ("\u2019" * 134, UCS2, 134, 2),
        ("\u2019" * 135, UCS2, 135, 3),
        ("😀", UCS2, 2, 1),  # a surrogate pair: 2 code units
        ("😀" * 35, UCS2, 70, 1),
        ("😀" * 36, UCS2, 72, 2),
        # 66 units then an emoji: the pair is not split across segments.
        ("a" * 66 + "😀" + "a" * 10, UCS2, 78, 2),
        ("a" * 66 + "😀" + "a" * 66, UCS2, 134, 3),
    ],
)
def test_segment_counts(text, encoding, units, segments):
    info = segment_info(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)
    assert info.characters == len(text)


def test_one_curly_quote_turns_the_whole_text_into_ucs2_and_is_named():
    plain = "Hi Ann, your tech is on the way. " * 4  # 132 characters
    assert segment_info(plain).summary == "132 characters · 1 segment · GSM-7"
    curly = plain.replace("Ann,", "Ann\u2019s", 1)
    info = segment_info(curly)
    assert info.encoding == UCS2
    assert info.segments == 2
    assert info.non_gsm == ("\u2019",)
    assert info.replacements == {"\u2019": "'"}
    assert segment_info(replace_with_gsm(curly)).encoding == GSM7


def test_common_lookalikes_have_replacements_but_emoji_do_not():
    info = segment_info("“Hi” \u2013 see you… at 9\u00a0AM 😀")
    assert set(info.non_gsm) == {"“", "”", "\u2013", "…", "\u00a0", "😀"}
    assert info.replacements == {"“": '"', "”": '"', "\u2013": "-", "…": "...", "\u00a0": " "}
    fixed = replace_with_gsm("“Hi” \u2013 see you… at 9\u00a0AM 😀")
    assert fixed == '"Hi" - see you... at 9 AM 😀'
    only_dash = replace_with_gsm("“Hi” \u2013 x", chars="\u2013")
    assert only_dash == "“Hi” - x"


def test_alphabet_matches_the_gsm0338_codec():
    """Our table agrees with an independent implementation, septet for septet."""
    for char in GSM_BASIC:
        assert len(char.encode("gsm03.38")) == 1, repr(char)
    for char in GSM_EXTENDED:
        assert len(char.encode("gsm03.38")) == 2, repr(char)
    for char in "áÁíóú\u2019“€😀ç":
        if char in GSM_BASIC or char in GSM_EXTENDED:
            continue
        try:
            encoded = char.encode("gsm03.38")
        except UnicodeEncodeError:
            continue
        pytest.fail(f"{char!r} encodes to {encoded!r} but our table refuses it")


@pytest.mark.browser
def test_the_live_counter_in_javascript_counts_exactly_like_python(page):
    """static/segments.js (the live counters) and segment_info agree on 300+ texts."""
    import random
    from pathlib import Path

    import app as app_package

    rng = random.Random(1)
    alphabet = "abc\u20ac^\U0001f600\u2019\u00e9 \n{"
    cases = ["", "a" * 160, "a" * 161, "a" * 152 + "\u20ac" + "a" * 10, "\U0001f600" * 36]
    cases += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400))) for _ in range(300)]
    page.set_content("<textarea data-segment-counter='#out'></textarea><p id='out'></p>")
    page.add_script_tag(path=str(Path(app_package.__file__).parent / "static" / "segments.js"))
    js = page.evaluate(
        "cases => cases.map(t => { const r = window.ProSMSSegments.info(t);"
        " return [r.encoding, r.characters, r.units, r.segments]; })",
        cases,
    )
    python = [[i.encoding, i.characters, i.units, i.segments] for i in map(segment_info, cases)]
    assert js == python
    page.fill("textarea", "Hi Ann, we\u2019re on the way")
    assert page.inner_text("#out") == (
        "24 characters \u00b7 1 segment \u00b7 UCS-2 (because of \u201c\u2019\u201d)"
    )
