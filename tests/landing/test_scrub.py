"""The capture rule for attribution values: emails, phone numbers and tokens become a marker."""

from __future__ import annotations

import pytest

from collectors.landing.scrub import EMAIL, PHONE, TOKEN, scrub
from collectors.landing.visit import clean_domain, clean_tag


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("someone@example.com", EMAIL),
        ("newsletter-Ada.Lovelace+music@mail.example.co.uk", EMAIL),
        ("ada%40example.com", EMAIL),
        ("ada(at)example.org", EMAIL),
        ("+44 7700 900123", PHONE),
        ("(555) 010-4477", PHONE),
        ("0033612345678", PHONE),
        ("BQD" + "x7Kp2" * 12, TOKEN),
        ("gAAAAABnZz" + "a1B2c3" * 6, TOKEN),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc", TOKEN),
        ("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", TOKEN),
        ("sk_live_" + "q" * 20, TOKEN),
        ("newsletter", "newsletter"),
        ("@novalane", "@novalane"),
        ("instagram_story_2026", "instagram_story_2026"),
        ("summer-release-campaign-2026", "summer-release-campaign-2026"),
        ("2026-12-04", "2026-12-04"),
        ("release_20261204", "release_20261204"),
        ("newsletter2026december", "newsletter2026december"),
        ("tiktok", "tiktok"),
        (None, None),
    ],
)
def test_values_that_look_personal_or_secret_become_a_marker(value: str | None, stored: str | None) -> None:
    assert scrub(value) == stored


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Someone@Example.com", EMAIL),
        ("  +1 415 555 0100 ", PHONE),
        ("Instagram", "instagram"),
        ("AQB" + "k9Zt" * 15, TOKEN),
    ],
)
def test_utm_tags_are_scrubbed_before_they_are_lower_cased(raw: str, stored: str) -> None:
    assert clean_tag(raw) == stored


@pytest.mark.parametrize(
    ("ref", "stored"),
    [
        ("ada@example.com", EMAIL),
        ("a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6", TOKEN),
        ("instagram.com", "instagram.com"),
        ("www.Linktr.ee", "linktr.ee"),
    ],
)
def test_a_referrer_given_in_the_link_is_scrubbed_too(ref: str, stored: str) -> None:
    assert clean_domain(ref) == stored
