"""Campaigns of every origin and their pre-saves, checked row by row against hand-made fixtures."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from pipelines.warehouse import Warehouse
from tests.pipelines.marts_fixtures import build, campaign, put, query

UTC = "UTC"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    tmp_path = tmp_path_factory.mktemp("warehouse")
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    # Midnight in New York on 4 December is 05:00 UTC: local days start five hours after UTC's.
    put(warehouse, "campaigns", [campaign("midnight-drive", "2026-12-04 05:00", timezone="America/New_York")])
    put(
        warehouse,
        "grants",
        [
            {
                "campaign_slug": "midnight-drive",
                "service": s,
                "fan_key": k,
                "granted_at": ts(t),
                "status": "active",
                "country": c,
            }
            for s, k, t, c in [
                ("spotify", "f1", "2026-12-03 04:30", "FR"),  # 2 Dec 23:30 local: D-2
                ("spotify", "f2", "2026-12-03 06:00", "FR"),  # 3 Dec 01:00 local: D-1
                ("apple", "f3", "2026-12-04 04:59", "US"),  # one minute before release: D-1
                ("spotify", "f4", "2026-12-04 05:00", "US"),  # at the release moment: not a pre-save
            ]
        ],
    )
    put(
        warehouse,
        "landing_events",
        [
            {
                "event_id": 1,
                "campaign_slug": "midnight-drive",
                "occurred_at": ts("2026-12-03 04:30"),
                "kind": "grant",
                "service": "spotify",
                "fan_key": "f1",
                "utm_source": " Instagram ",
            },
        ],
    )
    put(
        warehouse,
        "presave_fans",
        [
            # The same Spotify fan imported from another tool: counted once, as native.
            {
                "campaign": "Midnight Drive",
                "presaved_on": date(2026, 12, 2),
                "presaved_at": pd.Timestamp("2026-12-02 10:00"),
                "service": "spotify",
                "country": "FR",
                "source": "tiktok",
                "fan_key": "f1",
            },
            {
                "campaign": "Midnight Drive",
                "presaved_on": date(2026, 12, 1),
                "presaved_at": pd.Timestamp("2026-12-01 12:00"),
                "service": "deezer",
                "country": None,
                "source": "TikTok",
                "fan_key": "x1",
            },
            # A campaign run elsewhere, known by the songs export's release date.
            {
                "campaign": "Old Flame!",
                "presaved_on": date(2025, 5, 30),
                "presaved_at": pd.Timestamp("2025-05-30 10:00"),
                "service": "spotify",
                "country": "GB",
                "source": None,
                "fan_key": None,
            },
            {
                "campaign": "Old Flame!",
                "presaved_on": date(2025, 6, 2),
                "presaved_at": pd.Timestamp("2025-06-02 10:00"),
                "service": "spotify",
                "country": "GB",
                "source": None,
                "fan_key": None,
            },
            # Known nowhere: stays in presave_fans only.
            {
                "campaign": "Unknown Song",
                "presaved_on": date(2025, 5, 30),
                "presaved_at": pd.Timestamp("2025-05-30 10:00"),
                "service": "spotify",
                "country": "GB",
                "source": None,
                "fan_key": None,
            },
        ],
    )
    put(
        warehouse,
        "s4a_songs",
        [
            {
                "artist": "Nova Lane",
                "time_window": "all",
                "song": "Old Flame",
                "streams": 100,
                "release_date": date(2025, 6, 1),
                "as_of": date(2025, 7, 1),
            }
        ],
    )
    build(warehouse, "campaign_releases", "presaves", "presaves_daily", "presaves_by_country")
    return warehouse


def test_campaigns_run_here_and_elsewhere_are_listed_with_their_release_day(warehouse: Warehouse) -> None:
    assert query(
        warehouse,
        "SELECT campaign_slug, artist, title, origin, release_date, timezone, release_at::VARCHAR "
        "FROM campaign_releases ORDER BY release_date",
    ) == [
        (
            "old-flame",
            "Nova Lane",
            "Old Flame",
            "imported",
            date(2025, 6, 1),
            "UTC",
            "2025-06-01 00:00:00+00",
        ),
        (
            "midnight-drive",
            "Nova Lane",
            "Midnight Drive",
            "native",
            date(2026, 12, 4),
            "America/New_York",
            "2026-12-04 05:00:00+00",
        ),
    ]


def test_presaves_are_native_grants_and_imported_fans_before_the_release_moment(warehouse: Warehouse) -> None:
    assert query(
        warehouse,
        "SELECT campaign_slug, origin, service, fan_key, presaved_on, days_to_release, country, source "
        "FROM presaves ORDER BY campaign_slug, presaved_at",
    ) == [
        ("midnight-drive", "imported", "deezer", "x1", date(2026, 12, 1), -3, None, "tiktok"),
        ("midnight-drive", "native", "spotify", "f1", date(2026, 12, 2), -2, "FR", "instagram"),
        ("midnight-drive", "native", "spotify", "f2", date(2026, 12, 3), -1, "FR", None),
        ("midnight-drive", "native", "apple", "f3", date(2026, 12, 3), -1, "US", None),
        ("old-flame", "imported", "spotify", None, date(2025, 5, 30), -2, "GB", None),
    ]


def test_daily_presaves_count_per_local_day_and_service_with_a_running_total(warehouse: Warehouse) -> None:
    assert query(
        warehouse,
        "SELECT campaign_slug, date, days_to_release, service, presaves, cumulative FROM presaves_daily "
        "ORDER BY campaign_slug, date, service",
    ) == [
        ("midnight-drive", date(2026, 12, 1), -3, "deezer", 1, 1),
        ("midnight-drive", date(2026, 12, 2), -2, "spotify", 1, 1),
        ("midnight-drive", date(2026, 12, 3), -1, "apple", 1, 1),
        ("midnight-drive", date(2026, 12, 3), -1, "spotify", 1, 2),
        ("old-flame", date(2025, 5, 30), -2, "spotify", 1, 1),
    ]


def test_presaves_by_country_give_each_country_its_share(warehouse: Warehouse) -> None:
    assert query(
        warehouse,
        "SELECT country, service, presaves, share FROM presaves_by_country "
        "WHERE campaign_slug = 'midnight-drive' ORDER BY country, service",
    ) == [("(unknown)", "deezer", 1, 0.25), ("FR", "spotify", 2, 0.5), ("US", "apple", 1, 0.25)]
