"""The funnel by hand; conversion, its Wilson intervals and the service tests against statsmodels."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from pipelines.schema import FUNNEL_STEPS
from pipelines.warehouse import Warehouse
from tests.pipelines.marts_fixtures import build, campaign, put, query, table

DAY = "2026-11-20"


def event(event_id: int, visitor: str, kind: str, service: str | None = None, **extra) -> dict:
    at = pd.Timestamp(f"{DAY} 10:00", tz="UTC") + pd.Timedelta(seconds=event_id)
    return {
        "event_id": event_id,
        "campaign_slug": extra.pop("campaign", "midnight-drive"),
        "occurred_at": at,
        "kind": kind,
        "service": service,
        "visitor_key": visitor,
        **extra,
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    tmp_path = tmp_path_factory.mktemp("small")
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    put(warehouse, "campaigns", [campaign("midnight-drive", "2026-12-04 00:00")])
    fr = {"utm_source": "instagram", "country": "FR"}
    us = {"utm_source": "tiktok", "country": "US"}
    events = [
        event(1, "v1", "visit", **fr),
        event(2, "v1", "click", "spotify", **fr),
        event(3, "v1", "authorize_start", "spotify", **fr),
        event(4, "v1", "grant", "spotify", fan_key="f1", **fr),
        event(5, "v2", "visit", **fr),
        event(6, "v2", "click", "apple", **fr),
        event(7, "v2", "authorize_start", "apple", **fr),
        event(8, "v2", "denial", "apple", **fr),
        event(9, "v3", "visit", **us),
        event(10, "v3", "click", "spotify", **us),
        event(11, "v3", "authorize_start", "spotify", **us),
        event(12, "v3", "grant", "spotify", fan_key="f3", **us),
        event(13, "v4", "visit", **us),
        event(14, "v5", "visit", country="DE"),
        event(15, "v5", "click", "deezer", country="DE"),
        event(16, "v5", "grant", "deezer", fan_key="f5"),  # no country on the event: the visitor's
        event(17, "v5", "grant", "deezer", fan_key="f5"),  # the same fan granting again
    ]
    put(warehouse, "landing_events", events)
    put(
        warehouse,
        "owed_actions",
        [
            {
                "action_id": i,
                "campaign_slug": "midnight-drive",
                "fan_key": fan,
                "service": service,
                "kind": "save_release",
                "target": "release",
                "due_at": pd.Timestamp("2026-12-04", tz="UTC"),
                "outcome": outcome,
                "attempts": 1,
            }
            for i, (fan, service, outcome) in enumerate(
                [("f1", "spotify", "delivered"), ("f3", "spotify", "failed"), ("f5", "deezer", "delivered")]
            )
        ],
    )
    build(warehouse, "funnel_daily", "service_conversion", "service_comparison")
    return warehouse


def test_the_funnel_counts_each_step_per_service_source_and_country(small: Warehouse) -> None:
    assert query(
        small,
        "SELECT service, source, country, visits, clicks, authorize_starts, grants, denials, errors, delivered "
        "FROM funnel_daily WHERE date = DATE '2026-11-20' ORDER BY service, source, country",
    ) == [
        ("(none)", "tiktok", "US", 1, 0, 0, 0, 0, 0, 0),
        ("apple", "instagram", "FR", 1, 1, 1, 0, 1, 0, 0),
        ("deezer", "(direct)", "DE", 1, 1, 0, 2, 0, 0, 1),
        ("spotify", "instagram", "FR", 1, 1, 1, 1, 0, 0, 1),
        ("spotify", "tiktok", "US", 1, 1, 1, 1, 0, 0, 0),
    ]


def test_the_campaign_pages_funnel_sums_each_day_service_and_source_over_the_countries(
    tmp_path: Path,
) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    counts = FUNNEL_STEPS

    def day(source: str, country: str, *values: int) -> dict:
        keys = {"campaign_slug": "midnight-drive", "date": pd.Timestamp(DAY).date(), "service": "spotify"}
        return {**keys, "source": source, "country": country, **dict(zip(counts, values, strict=True))}

    put(
        warehouse,
        "funnel_daily",
        [
            day("instagram", "FR", 3, 2, 2, 1, 1, 0, 1, 1, 0),
            day("instagram", "US", 4, 1, 1, 1, 0, 1, 0, 0, 0),
            day("tiktok", "FR", 1, 0, 0, 0, 0, 0, 0, 2, 1),
        ],
    )
    build(warehouse, "funnel_sources")
    assert query(warehouse, f"SELECT source, {', '.join(counts)} FROM funnel_sources ORDER BY source") == [
        ("instagram", 7, 3, 3, 2, 1, 1, 1, 1, 0),
        ("tiktok", 1, 0, 0, 0, 0, 0, 0, 2, 1),
    ]


def test_conversion_is_counted_on_visitors_by_the_service_they_chose(small: Warehouse) -> None:
    rows = query(
        small,
        "SELECT service, visitors, grants, rate FROM service_conversion "
        "WHERE campaign_slug = 'midnight-drive' AND source = '(all)' ORDER BY service",
    )
    assert rows == [("any", 5, 3, 0.6), ("apple", 1, 0, 0.0), ("deezer", 1, 1, 1.0), ("spotify", 2, 2, 1.0)]
    by_source = query(
        small,
        "SELECT source, service, visitors, grants FROM service_conversion "
        "WHERE campaign_slug = '(all)' AND source <> '(all)' AND service <> 'any' ORDER BY source, service",
    )
    assert by_source == [
        ("(direct)", "deezer", 1, 1),
        ("instagram", "apple", 1, 0),
        ("instagram", "spotify", 1, 1),
        ("tiktok", "spotify", 1, 1),
    ]


SERVICES = {"spotify": (120, 54), "apple": (80, 22), "deezer": (30, 12)}  # visitors, grants


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    tmp_path = tmp_path_factory.mktemp("large")
    """230 visitors over two sources; the first `grants` visitors of each service grant it."""
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    put(warehouse, "campaigns", [campaign("midnight-drive", "2026-12-04 00:00")])
    events, number = [], itertools.count(1)
    for service, (visitors, grants) in SERVICES.items():
        for index in range(visitors):
            visitor, source = f"{service}-{index}", "instagram" if index % 3 else "tiktok"
            events.append(event(next(number), visitor, "visit", utm_source=source))
            events.append(event(next(number), visitor, "authorize_start", service, utm_source=source))
            if index < grants:
                events.append(
                    event(next(number), visitor, "grant", service, fan_key=visitor, utm_source=source)
                )
    put(warehouse, "landing_events", events)
    build(warehouse, "service_conversion", "service_comparison")
    return warehouse


def test_wilson_intervals_match_statsmodels(large: Warehouse) -> None:
    rates = table(large, "SELECT * FROM service_conversion WHERE campaign_slug = '(all)'")
    assert len(rates) == 3 * 4  # three services and `any`, overall and for each of two sources
    for row in rates.itertuples():
        low, high = proportion_confint(row.grants, row.visitors, alpha=0.05, method="wilson")
        assert row.rate == pytest.approx(row.grants / row.visitors)
        assert (row.low, row.high) == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
    overall = rates.set_index(["source", "service"]).loc[("(all)", "spotify")]
    assert (overall.visitors, overall.grants) == (120, 54)


def test_the_two_proportion_test_and_holm_match_statsmodels(large: Warehouse) -> None:
    pairs = table(
        large,
        "SELECT * FROM service_comparison WHERE campaign_slug = '(all)' AND source = '(all)' ORDER BY p_value",
    )
    assert {(r.service_1, r.service_2) for r in pairs.itertuples()} == {
        ("apple", "deezer"),
        ("apple", "spotify"),
        ("deezer", "spotify"),
    }
    for row in pairs.itertuples():
        (n1, x1), (n2, x2) = SERVICES[row.service_1], SERVICES[row.service_2]
        z, p = proportions_ztest([x1, x2], [n1, n2])
        assert row.difference == pytest.approx(x1 / n1 - x2 / n2)
        assert (row.z, row.p_value) == (pytest.approx(z), pytest.approx(p))
        assert row.low < row.difference < row.high
    holm = multipletests(pairs["p_value"], method="holm")[1]
    assert np.allclose(pairs["p_holm"], holm)
    # Apple (27.5 %) against Spotify (45 %): a difference a label should see.
    apple_spotify = pairs.set_index(["service_1", "service_2"]).loc[("apple", "spotify")]
    assert apple_spotify.p_value < 0.05


def test_per_source_families_are_tested_within_their_source(large: Warehouse) -> None:
    tiktok = table(
        large,
        "SELECT * FROM service_comparison WHERE campaign_slug = 'midnight-drive' AND source = 'tiktok' "
        "AND service_1 = 'apple' AND service_2 = 'spotify'",
    ).iloc[0]
    # Every third visitor came from TikTok: indexes 0, 3, 6, … of each service.
    apple = [i for i in range(80) if i % 3 == 0]
    spotify = [i for i in range(120) if i % 3 == 0]
    x1, n1 = sum(i < 22 for i in apple), len(apple)
    x2, n2 = sum(i < 54 for i in spotify), len(spotify)
    _z, p = proportions_ztest([x1, x2], [n1, n2])
    assert (tiktok.rate_1, tiktok.rate_2) == (pytest.approx(x1 / n1), pytest.approx(x2 / n2))
    assert tiktok.p_value == pytest.approx(p)


def test_without_visits_the_conversion_marts_are_empty(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    put(warehouse, "campaigns", [campaign("midnight-drive", "2026-12-04 00:00")])
    build(warehouse, "funnel_daily", "service_conversion", "service_comparison")
    assert query(
        warehouse, "SELECT (SELECT count(*) FROM funnel_daily), (SELECT count(*) FROM service_comparison)"
    ) == [(0, 0)]


@pytest.fixture(scope="module")
def reminded(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """A direct Spotify fan, a Spotify fan past the development-mode places who took a reminder, two
    TIDAL (link-only) fans who signed up with no button to press (one twice), one of whom followed the
    release-day link twice, and an Apple fan who declined."""
    warehouse = Warehouse(tmp_path_factory.mktemp("reminded") / "warehouse.duckdb")
    put(warehouse, "campaigns", [campaign("midnight-drive", "2026-12-04 00:00")])
    ig = {"utm_source": "instagram", "country": "FR"}
    events = [
        event(1, "v1", "visit", **ig),
        event(2, "v1", "authorize_start", "spotify", **ig),
        event(3, "v1", "grant", "spotify", fan_key="f1", **ig),
        event(4, "v2", "visit", **ig),
        event(5, "v2", "click", "spotify", **ig),
        event(6, "v2", "reminder", "spotify", fan_key="r2", **ig),
        event(7, "v3", "visit", **ig),
        event(8, "v3", "reminder", "tidal", fan_key="r3", **ig),
        event(9, "v3", "reminder", "tidal", fan_key="r3", detail="again", **ig),
        event(10, "v4", "visit", **ig),
        event(11, "v4", "reminder", "tidal", fan_key="r4", **ig),
        event(12, "v5", "visit", **ig),
        event(13, "v5", "authorize_start", "apple", **ig),
        event(14, "v5", "denial", "apple", **ig),
        event(15, None, "reminder_click", "tidal", fan_key="r3", utm_source="email"),
        event(16, None, "reminder_click", "tidal", fan_key="r3", utm_source="email"),
    ]
    put(warehouse, "landing_events", events)
    build(warehouse, "funnel_daily", "service_conversion", "service_comparison")
    return warehouse


def test_the_funnel_counts_reminder_sign_ups_and_link_followers_apart_from_grants(
    reminded: Warehouse,
) -> None:
    assert query(
        reminded,
        "SELECT service, source, sum(visits), sum(grants), sum(reminders), sum(reminder_clicks) "
        "FROM funnel_daily GROUP BY ALL ORDER BY service, source",
    ) == [
        ("apple", "instagram", 1, 0, 0, 0),
        ("spotify", "instagram", 2, 1, 1, 0),
        ("tidal", "email", 0, 0, 0, 1),  # the link followed twice by one fan: one fan
        ("tidal", "instagram", 2, 0, 2, 0),  # a renewed sign-up is not a second reminder
    ]


def test_conversion_counts_reminders_beside_direct_grants_and_both_in_all(reminded: Warehouse) -> None:
    rows = query(
        reminded,
        "SELECT service, visitors, grants, rate, reminders, service_visitors, presaves, presave_rate "
        "FROM service_conversion WHERE campaign_slug = 'midnight-drive' AND source = '(all)' ORDER BY service",
    )
    assert rows == [
        ("any", 5, 1, 0.2, 3, 5, 4, 0.8),
        ("apple", 1, 0, 0.0, 0, 1, 0, 0.0),
        ("spotify", 2, 1, 0.5, 1, 2, 2, 1.0),  # the direct button's rate is the one it had
        ("tidal", 0, 0, None, 2, 2, 2, 1.0),  # link-only: no direct button pressed, no direct rate
    ]


def test_services_are_compared_on_direct_conversion_only_where_a_direct_save_was_on_offer(
    reminded: Warehouse,
) -> None:
    pairs = query(
        reminded,
        "SELECT DISTINCT service_1, service_2 FROM service_comparison WHERE source = '(all)'",
    )
    assert pairs == [("apple", "spotify")]  # TIDAL is link-only: its direct zero is no finding
