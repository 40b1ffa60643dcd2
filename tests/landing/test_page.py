from __future__ import annotations

from datetime import UTC, datetime

import pytest

from campaigns.campaign_file import parse_campaign
from collectors.landing.page import (
    build_view,
    contrast_ratio,
    is_released,
    listen_url,
    open_in_browser_url,
    release_label,
    release_moment,
    text_on,
)


def _spec(**fields: object):
    return parse_campaign(
        {
            "slug": "midnight-drive",
            "artist": "Nova Lane",
            "title": "Midnight Drive",
            "upc": "198880045560",
            "release_at": "2026-12-04T00:00",
            "timezone": "Europe/London",
            "services": {"spotify": {"artist": "spotify:artist:4Z8W4fKeB5YxbusRsdQVPb"}, "deezer": {}},
            **fields,
        }
    )


def test_a_global_release_is_one_moment_for_everyone() -> None:
    spec = _spec()
    assert release_moment(spec, "Asia/Tokyo") == datetime(2026, 12, 4, 0, 0, tzinfo=UTC)
    assert not is_released(spec, datetime(2026, 12, 3, 23, 59, 59, tzinfo=UTC), "Asia/Tokyo")
    assert is_released(spec, datetime(2026, 12, 4, 0, 0, tzinfo=UTC), "America/New_York")


@pytest.mark.parametrize(
    ("zone", "moment"),
    [
        ("Asia/Tokyo", datetime(2026, 12, 3, 15, 0, tzinfo=UTC)),
        ("America/New_York", datetime(2026, 12, 4, 5, 0, tzinfo=UTC)),
        ("Pacific/Kiritimati", datetime(2026, 12, 3, 10, 0, tzinfo=UTC)),
        (None, datetime(2026, 12, 4, 0, 0, tzinfo=UTC)),  # unknown zone: the campaign's (London, GMT)
    ],
)
def test_a_local_release_flips_at_each_visitors_midnight(zone: str | None, moment: datetime) -> None:
    spec = _spec(release_mode="local")
    assert release_moment(spec, zone) == moment
    assert release_label(spec) == "4 December 2026, 00:00 your time"


def test_the_label_names_the_campaigns_zone_for_a_global_release() -> None:
    assert release_label(_spec()) == "4 December 2026, 00:00 (Europe/London)"


def test_listen_links_use_the_album_when_named_else_a_search() -> None:
    spec = _spec(
        services={
            "spotify": {"artist": "spotify:artist:x1", "album_id": "4aawyAB9vmqN3uQ7FjRGTy"},
            "deezer": {},
        }
    )
    assert listen_url(spec, "spotify") == "https://open.spotify.com/album/4aawyAB9vmqN3uQ7FjRGTy"
    assert listen_url(spec, "deezer") == "https://www.deezer.com/search/Nova%20Lane%20Midnight%20Drive"
    assert listen_url(spec, "apple") == "https://music.apple.com/search?term=Nova+Lane+Midnight+Drive"


@pytest.mark.parametrize(
    ("service", "resolved", "url"),
    [
        ("spotify", "spotify:album:7xYz", "https://open.spotify.com/album/7xYz"),
        ("apple", "apple:albums:1440", "https://music.apple.com/album/1440"),
        ("deezer", "deezer:album:302127", "https://www.deezer.com/album/302127"),
        ("apple", "apple:songs:1,2", "https://music.apple.com/search?term=Nova+Lane+Midnight+Drive"),
        ("deezer", "deezer:track:9", "https://www.deezer.com/search/Nova%20Lane%20Midnight%20Drive"),
        ("spotify", None, "https://open.spotify.com/album/4aawyAB9vmqN3uQ7FjRGTy"),
    ],
)
def test_listen_links_open_the_resolved_album_once_the_executor_found_it(
    service: str, resolved: str | None, url: str
) -> None:
    spec = _spec(
        services={
            "spotify": {"artist": "spotify:artist:x1", "album_id": "4aawyAB9vmqN3uQ7FjRGTy"},
            "apple": {},
            "deezer": {},
        }
    )
    assert listen_url(spec, service, resolved) == url


@pytest.mark.parametrize(
    ("accent", "text"),
    [("#1db954", "#000000"), ("#ffffff", "#000000"), ("#222222", "#ffffff"), ("#0000ff", "#ffffff")],
)
def test_button_text_stays_readable_on_the_accent(accent: str, text: str) -> None:
    assert text_on(accent) == text
    assert contrast_ratio(accent, text) >= 4.5


def test_contrast_ratio_matches_wcag_extremes() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#777777") == pytest.approx(1.0)


def test_the_view_offers_only_configured_services_and_links_pre_orders_through_the_app() -> None:
    spec = _spec(
        preorder_links={"itunes": "https://example.com/i", "merch": "https://example.com/m"},
        artwork="cover.jpg",
    )
    view = build_view(7, spec, {"spotify", "apple"}, "https://presave.example")
    assert view.presave_services == ("spotify",)
    assert [link.href for link in view.listen] == [
        "/midnight-drive/listen/spotify",
        "/midnight-drive/listen/deezer",
    ]
    assert [(link.label, link.href) for link in view.preorder] == [
        ("Pre-order on iTunes", "/midnight-drive/go/itunes"),
        ("Merch", "/midnight-drive/go/merch"),
    ]
    assert view.artwork_url == "https://presave.example/midnight-drive/artwork"
    assert not view.offers_playlist_choice("spotify")
    assert build_view(7, _spec(playlist_name="Radar"), set(), "x").offers_playlist_choice("deezer")


@pytest.mark.parametrize(
    ("platform", "expected"),
    [
        (
            "android",
            "intent://presave.example/midnight-drive?utm_source=ig&ib=instagram#Intent;scheme=https;end",
        ),
        ("ios", "x-safari-https://presave.example/midnight-drive?utm_source=ig&ib=instagram"),
        ("other", "https://presave.example/midnight-drive?utm_source=ig&ib=instagram"),
    ],
)
def test_the_open_in_browser_link_suits_the_phone(platform: str, expected: str) -> None:
    url = open_in_browser_url(
        "https://presave.example", "midnight-drive", {"utm_source": "ig"}, "instagram", platform
    )
    assert url == expected
