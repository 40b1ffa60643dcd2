from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from campaigns.campaign_file import CampaignFileError, load_campaign_file, parse_campaign

VALID = {
    "slug": "midnight-drive",
    "artist": "Nova Lane",
    "title": "Midnight Drive",
    "upc": "198880045560",
    "release_at": "2026-12-04T00:00",
    "timezone": "Europe/London",
    "services": {
        "spotify": {
            "artist": "spotify:artist:4Z8W4fKeB5YxbusRsdQVPb",
            "follow": ["spotify:playlist:37i9dQZF1DX0XUsuxWHRQd"],
        }
    },
}


def test_the_design_example_parses_with_defaults() -> None:
    spec = parse_campaign(VALID)
    assert spec.release_mode == "global"
    assert spec.services.offered() == ["spotify"]
    assert spec.release_at_utc == datetime(2026, 12, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timezone", "local", "utc"),
    [
        ("Europe/London", "2026-07-01T00:00", datetime(2026, 6, 30, 23, tzinfo=UTC)),
        ("Asia/Tokyo", "2026-12-04T00:00", datetime(2026, 12, 3, 15, tzinfo=UTC)),
        ("America/Los_Angeles", "2026-12-04T00:00", datetime(2026, 12, 4, 8, tzinfo=UTC)),
    ],
)
def test_release_at_is_local_time_in_the_campaign_time_zone(timezone: str, local: str, utc: datetime) -> None:
    assert parse_campaign({**VALID, "timezone": timezone, "release_at": local}).release_at_utc == utc


@pytest.mark.parametrize(
    ("change", "field", "why"),
    [
        ({"slug": "Midnight Drive"}, "slug", "url-safe"),
        ({"slug": "oauth"}, "slug", "reserved"),
        ({"upc": "12345"}, "upc", "12 to 14 digits"),
        ({"timezone": "Mars/Olympus"}, "timezone", "IANA time zone"),
        ({"release_at": "next friday"}, "release_at", "datetime"),
        ({"release_mode": "sometimes"}, "release_mode", "'global' or 'local'"),
        ({"services": {}}, "services", "at least one"),
        ({"isrcs": ["USABC2400001", "US-ABC-24-00001"]}, "isrcs.1", "is not an ISRC"),  # the item named
        ({"accent_color": "green"}, "accent_color", "hex colour"),
        ({"preorder_links": {"itunes": "http://x"}}, "preorder_links", "https://"),
        ({"colour": "#fff"}, "colour", "is not a campaign field"),
        (
            {"services": {"spotify": {"artist": "spotify:artist:abc", "follow": ["spotify:track:x"]}}},
            "services.spotify.follow.0",
            "not a Spotify artist, user or playlist URI",
        ),
        (
            {"services": {"spotify": {"artist": "spotify:artist:a", "follow": ["spotify:artist:b"] * 4}}},
            "services.spotify.follow",
            "at most 3",
        ),
    ],
)
def test_an_invalid_file_names_the_field_and_why(change: dict, field: str, why: str) -> None:
    with pytest.raises(CampaignFileError) as caught:
        parse_campaign({**VALID, **change})
    fields = {f for f, _ in caught.value.problems}
    assert field in fields, caught.value.problems
    assert why in str(caught.value)


@pytest.mark.parametrize("missing", ["slug", "artist", "title", "release_at", "timezone", "services"])
def test_each_required_field_is_reported_missing(missing: str) -> None:
    document = {k: v for k, v in VALID.items() if k != missing}
    with pytest.raises(CampaignFileError, match=f"{missing}: is required"):
        parse_campaign(document)


def test_a_release_needs_a_way_to_be_found() -> None:
    with pytest.raises(CampaignFileError, match="upc"):
        parse_campaign({k: v for k, v in VALID.items() if k != "upc"})
    own_id = {**VALID, "services": {"apple": {"album_id": "1577502911"}}}
    del own_id["upc"]
    assert parse_campaign(own_id).services.offered() == ["apple"]


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("slug: a\nartist: [unclosed\ntitle: x\n")
    with pytest.raises(CampaignFileError, match=r"bad.yaml: line \d+: not valid YAML"):
        load_campaign_file(path)


def test_a_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- slug\n- artist\n")
    with pytest.raises(CampaignFileError, match="must be a YAML mapping"):
        load_campaign_file(path)
