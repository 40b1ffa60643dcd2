from __future__ import annotations

from datetime import date

import pytest

from collectors.landing import visit

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


@pytest.mark.parametrize(
    ("agent", "device", "in_app"),
    [
        (IPHONE, "mobile", None),
        (IPHONE + " Instagram 350.0.0.0", "mobile", "instagram"),
        (IPHONE + " [FBAN/FBIOS;FBAV/480.0]", "mobile", "facebook"),
        ("Mozilla/5.0 (Linux; Android 14) Mobile Safari/537.36 musical_ly_2023", "mobile", "tiktok"),
        ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)", "tablet", None),
        ("Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 Safari/537.36", "tablet", None),
        ("Mozilla/5.0 (X11; Linux x86_64) Chrome/140 Safari/537.36", "desktop", None),
        ("facebookexternalhit/1.1", "bot", None),
        (None, "desktop", None),
    ],
)
def test_device_class_and_in_app_browser(agent: str | None, device: str, in_app: str | None) -> None:
    assert visit.device_class(agent) == device
    assert visit.in_app_browser(agent) == in_app


@pytest.mark.parametrize(
    ("referrer", "expected"),
    [
        ("https://l.instagram.com/?u=x", "l.instagram.com"),
        ("https://www.tiktok.com/@nova", "tiktok.com"),
        ("http://127.0.0.1:8000/other", None),  # our own pages are not a referrer
        ("", None),
        (None, None),
        ("not a url", None),
    ],
)
def test_referrer_domain(referrer: str | None, expected: str | None) -> None:
    assert visit.referrer_domain(referrer, own_host="127.0.0.1") == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [("GB", "GB"), ("jp", "JP"), (" us ", "US"), ("XX", None), ("T1", None), ("GBR", None), (None, None)],
)
def test_country_from_a_proxy_header(header: str | None, expected: str | None) -> None:
    assert visit.country_code(header) == expected


@pytest.mark.parametrize(
    ("raw", "expected"), [(" Instagram ", "instagram"), ("", None), ("  ", None), ("x" * 300, "x" * 100)]
)
def test_utm_tags_are_trimmed_lowered_and_bounded(raw: str, expected: str | None) -> None:
    assert visit.clean_tag(raw) == expected


def test_ip_hashes_count_within_a_day_but_do_not_join_across_days() -> None:
    key = b"k" * 32
    monday = visit.ip_hash("203.0.113.9", key, date(2026, 11, 23))
    assert monday == visit.ip_hash("203.0.113.9", key, date(2026, 11, 23))
    assert monday != visit.ip_hash("203.0.113.9", key, date(2026, 11, 24))
    assert monday != visit.ip_hash("203.0.113.10", key, date(2026, 11, 23))
    assert "203.0.113" not in (monday or "")
