"""The rules every part applies the same way: a fan's release moment and the choices document's shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from campaigns.choices import CHOICES_VERSION, FanChoices, parse_choices
from campaigns.rules import (
    REFRESH_TOKEN_LIFETIME,
    SERVICES,
    release_moment,
    unservable_at,
    unservable_sql,
)

LONDON_MIDNIGHT = datetime(2026, 12, 4, 0, 0, tzinfo=UTC)  # Europe/London is UTC in December


@pytest.mark.parametrize(
    ("mode", "fan_timezone", "country", "expected"),
    [
        ("global", "Asia/Tokyo", "JP", LONDON_MIDNIGHT),  # one moment for everyone
        ("local", "Asia/Tokyo", None, datetime(2026, 12, 3, 15, 0, tzinfo=UTC)),  # the fan's own zone
        ("local", "Not/AZone", "JP", datetime(2026, 12, 3, 15, 0, tzinfo=UTC)),  # else the country's
        ("local", None, "US", datetime(2026, 12, 4, 5, 0, tzinfo=UTC)),  # a country's main zone (New York)
        ("local", None, None, LONDON_MIDNIGHT),  # else the campaign's zone
        ("local", "", "ZZ", LONDON_MIDNIGHT),
    ],
)
def test_a_fans_release_moment_falls_back_from_their_zone_to_their_country_to_the_campaign(
    mode: str, fan_timezone: str | None, country: str | None, expected: datetime
) -> None:
    moment = release_moment(
        LONDON_MIDNIGHT, "Europe/London", mode, fan_timezone=fan_timezone, country=country
    )
    assert moment == expected


def test_the_services_are_listed_in_one_order() -> None:
    assert [str(s) for s in SERVICES] == ["spotify", "apple", "deezer"]


def test_a_choices_document_reads_back_as_written() -> None:
    chosen = FanChoices(
        follows=("spotify:playlist:37i9dQZF1DX0XUsuxWHRQd",),
        new_playlist="Nova on repeat",
        artist="spotify:artist:4Z8W4fKeB5YxbusRsdQVPb",
        declined_follows=("spotify:user:abc",),
        email_opt_in=True,
        completed_at="2026-11-22T10:00:00+00:00",
    )
    document = chosen.document()
    assert document["v"] == CHOICES_VERSION
    assert document["playlist"] == {"new": "Nova on repeat"}
    assert parse_choices(document) == chosen
    assert parse_choices(document).problems == ()


def test_a_document_of_another_version_is_read_and_reported() -> None:
    read = parse_choices({"v": 2, "playlist": {"id": "p1"}})
    assert read.playlist_target == "p1"
    assert any("choices.v" in problem for problem in read.problems)


@pytest.mark.parametrize(
    ("age_at_release", "unservable"),
    [
        (REFRESH_TOKEN_LIFETIME - timedelta(seconds=1), False),
        (REFRESH_TOKEN_LIFETIME, True),
        (REFRESH_TOKEN_LIFETIME + timedelta(seconds=1), True),
        (timedelta(days=30), False),
    ],
)
def test_the_token_health_rule_reads_the_same_in_python_and_in_the_marts_sql(
    age_at_release: timedelta, unservable: bool
) -> None:
    moment = datetime(2026, 12, 4, tzinfo=UTC)
    granted_at = moment - age_at_release
    condition = unservable_sql("CAST(? AS TIMESTAMPTZ)", "CAST(? AS TIMESTAMPTZ)")
    with duckdb.connect() as connection:
        row = connection.execute(f"SELECT {condition}", [granted_at, moment]).fetchone()
    assert row is not None
    assert unservable_at(granted_at, moment) is unservable
    assert row[0] is unservable
