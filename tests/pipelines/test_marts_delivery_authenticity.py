"""Release-day outcomes, token health and authenticity signs, by hand (and percentiles against numpy)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.warehouse import Warehouse
from tests.pipelines.marts_fixtures import build, campaign, put, query, table

RELEASE = pd.Timestamp("2026-12-04 00:00", tz="UTC")


def action(
    number: int, kind: str, outcome: str, seconds: float | None, fan: str = "f", service: str = "spotify"
) -> dict:
    return {
        "action_id": number,
        "campaign_slug": "midnight-drive",
        "fan_key": f"{fan}{number}",
        "service": service,
        "kind": kind,
        "target": "release",
        "due_at": RELEASE,
        "outcome": outcome,
        "attempts": 1,
        "done_at": RELEASE + pd.Timedelta(seconds=seconds) if seconds is not None else None,
    }


def test_outcomes_are_counted_and_time_to_library_measured_from_the_due_moment(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    delays = [10.0, 20.0, 40.0]
    put(
        warehouse,
        "owed_actions",
        [action(i, "save_release", "delivered", s) for i, s in enumerate(delays)]
        + [
            action(3, "save_release", "failed", None),
            action(4, "save_release", "pending_source", None),
            action(5, "follow_artist", "delivered", 2.0),
        ],
    )
    build(warehouse, "release_outcomes")
    saves = table(warehouse, "SELECT * FROM release_outcomes WHERE kind = 'save_release'").iloc[0]
    assert (saves.planned, saves.delivered, saves.failed, saves.pending_source, saves.queued) == (
        5,
        3,
        1,
        1,
        0,
    )
    assert saves.delivered_share == pytest.approx(3 / 5)
    assert saves.median_seconds_to_library == pytest.approx(np.percentile(delays, 50)) == 20
    assert saves.p90_seconds_to_library == pytest.approx(np.percentile(delays, 90)) == 36
    assert saves.max_seconds_to_library == 40
    assert query(
        warehouse, "SELECT planned, delivered FROM release_outcomes WHERE kind = 'follow_artist'"
    ) == [(1, 1)]


def test_token_health_counts_spotify_grants_whose_token_dies_before_they_are_due(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    put(warehouse, "campaigns", [campaign("midnight-drive", "2026-12-04 00:00")])
    grants = [
        (
            "spotify",
            "old",
            "2026-05-01",
            "active",
        ),  # dead by 30 October (half a Julian year): before 4 December
        ("spotify", "edge", "2026-06-04", "active"),  # exactly six months at the release moment
        ("spotify", "fresh", "2026-11-01", "active"),
        ("spotify", "gone", "2026-04-01", "expired"),
        ("spotify", "left", "2026-11-02", "revoked"),
        ("apple", "apple", "2026-01-01", "active"),  # Apple Music user tokens are not Spotify's
    ]
    put(
        warehouse,
        "grants",
        [
            {
                "campaign_slug": "midnight-drive",
                "service": s,
                "fan_key": k,
                "granted_at": pd.Timestamp(t, tz="UTC"),
                "status": st,
            }
            for s, k, t, st in grants
        ],
    )
    build(warehouse, "token_health")
    assert query(
        warehouse,
        "SELECT service, grants, active, expired, revoked, expiring_before_due, earliest_expiry::DATE "
        "FROM token_health ORDER BY service",
    ) == [
        ("apple", 1, 1, 0, 0, 0, None),
        ("spotify", 5, 3, 1, 1, 2, date(2026, 10, 30)),
    ]  # the check's figure


@pytest.fixture(scope="module")
def flagged(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    tmp_path = tmp_path_factory.mktemp("flagged")
    """60 pre-saves over ten days: 12 from one IP within five minutes, 3 granted half a second after the
    page opened, 4 from a country where the artist has no listeners; an audience of 100 listeners."""
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    put(warehouse, "campaigns", [campaign("midnight-drive", "2026-12-04 00:00")])
    start = pd.Timestamp("2026-11-20 00:00", tz="UTC")
    grants, events = [], []
    for i in range(60):
        if i < 12:
            at, ip = pd.Timestamp("2026-11-25 03:00", tz="UTC") + pd.Timedelta(seconds=20 * i), "ip-burst"
        else:
            at, ip = start + pd.Timedelta(hours=4 * i), f"ip-{i}"
        country = "KP" if 20 <= i < 24 else ("FR" if i % 2 else "US")
        lead = 0.5 if 30 <= i < 33 else 45.0
        grants.append(
            {
                "campaign_slug": "midnight-drive",
                "service": "spotify",
                "fan_key": f"f{i}",
                "granted_at": at,
                "status": "active",
                "country": country,
            }
        )
        common = {
            "campaign_slug": "midnight-drive",
            "visitor_key": f"v{i}",
            "ip_hash": ip,
            "device_class": "mobile",
        }
        events.append(
            {**common, "event_id": 2 * i, "occurred_at": at - pd.Timedelta(seconds=lead), "kind": "visit"}
        )
        events.append(
            {
                **common,
                "event_id": 2 * i + 1,
                "occurred_at": at,
                "kind": "grant",
                "service": "spotify",
                "fan_key": f"f{i}",
            }
        )
    put(warehouse, "grants", grants)
    put(warehouse, "landing_events", events)
    put(
        warehouse,
        "distrokid_bank",
        [
            {
                "reporting_date": date(2026, 10, 1),
                "sale_month": date(2026, 8, 1),
                "store": "Spotify",
                "artist": "Nova Lane",
                "isrc": "X",
                "country": c,
                "quantity": q,
                "earnings_usd": 1.0,
                "report_rows": 1,
            }
            for c, q in (("FR", 1000), ("US", 500))
        ],
    )
    put(
        warehouse,
        "s4a_audience_timeline",
        [
            {
                "artist": "nova lane",
                "date": date(2026, 11, 6) + pd.Timedelta(days=d),
                "listeners": 4 if d < 25 else 0,
                "streams": 9,
                "followers": None,
            }
            for d in range(28)
        ],
    )
    build(warehouse, "campaign_releases", "presaves", "authenticity_scores")
    return warehouse


def test_each_sign_implicates_the_grants_it_should(flagged: Warehouse) -> None:
    row = table(flagged, "SELECT * FROM authenticity_scores").iloc[0]
    assert row.grants == 60
    assert row.ip_burst_grants == 12
    assert row.device_burst_grants == 0  # every grant is mobile: one class, no burst against itself
    assert row.no_time_on_page_grants == 3
    assert row.foreign_country_grants == 4
    assert (row.audience_size, row.audience_source) == (100.0, "Spotify listeners, 28 days before release")
    assert row.audience_excess == 60 - 0.5 * 100


def test_the_score_multiplies_what_each_sign_leaves_and_gives_its_reasons(flagged: Warehouse) -> None:
    row = table(flagged, "SELECT * FROM authenticity_scores").iloc[0]
    assert row.score == pytest.approx((1 - 12 / 60) * (1 - 3 / 60) * (1 - 4 / 60) * (1 - 10 / 60))
    reasons = row.reasons.split("\n")
    assert len(reasons) == 4
    assert reasons[0].startswith("12 of 60 grants came in bursts from 1 IP hash(s)")
    assert "KP (4)" in reasons[2]
    assert "60 pre-saves against an audience of 100" in reasons[3]


def _quiet_campaign(warehouse: Warehouse, *, with_events: bool, ip_hashes: int = 30) -> None:
    """30 grants three hours apart; with their landing events (distinct IP hashes on the last `ip_hashes`
    of them, a minute on the page)."""
    put(warehouse, "campaigns", [campaign("midnight-drive", "2026-12-04 00:00")])
    moments = [pd.Timestamp("2026-11-20", tz="UTC") + pd.Timedelta(hours=3 * i) for i in range(30)]
    put(
        warehouse,
        "grants",
        [
            {
                "campaign_slug": "midnight-drive",
                "service": "spotify",
                "fan_key": f"f{i}",
                "status": "active",
                "granted_at": at,
            }
            for i, at in enumerate(moments)
        ],
    )
    if with_events:
        events = []
        for i, at in enumerate(moments):
            common = {
                "campaign_slug": "midnight-drive",
                "visitor_key": f"v{i}",
                "ip_hash": f"ip{i}" if i >= 30 - ip_hashes else None,
                "device_class": ("mobile", "desktop")[i % 2],
            }
            events.append(
                {**common, "event_id": 2 * i, "occurred_at": at - pd.Timedelta(minutes=1), "kind": "visit"}
            )
            events.append(
                {
                    **common,
                    "event_id": 2 * i + 1,
                    "occurred_at": at,
                    "kind": "grant",
                    "service": "spotify",
                    "fan_key": f"f{i}",
                }
            )
        put(warehouse, "landing_events", events)
    build(warehouse, "campaign_releases", "presaves", "authenticity_scores")


def test_a_campaign_without_warning_signs_in_the_signs_checked_says_how_many_were_checked(
    tmp_path: Path,
) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    _quiet_campaign(warehouse, with_events=True)
    assert query(
        warehouse, "SELECT grants, score, reasons, status, signs_checked FROM authenticity_scores"
    ) == [(30, 1.0, "", "no warning sign in the 3 of 5 signs checked", 3)]
    not_checked = query(warehouse, "SELECT not_checked FROM authenticity_scores")[0][0]
    assert not_checked == "countries outside the audience, pre-saves beyond the audience"


def test_a_sign_with_data_on_few_pre_saves_is_not_checked_and_says_on_how_many(tmp_path: Path) -> None:
    """Visitors before the landing recorded IP hashes: an IP burst among the few that have one is no check."""
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    _quiet_campaign(warehouse, with_events=True, ip_hashes=5)
    status, not_checked, checked = query(
        warehouse, "SELECT status, not_checked, signs_checked FROM authenticity_scores"
    )[0]
    assert status == "no warning sign in the 2 of 5 signs checked"
    assert not_checked.startswith("IP hash burst (data on 5 of 30 pre-saves), ")
    assert checked == 2


def test_a_campaign_without_data_to_check_is_not_checked_rather_than_clean(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    _quiet_campaign(warehouse, with_events=False)
    assert query(warehouse, "SELECT grants, score, status FROM authenticity_scores") == [
        (30, None, "not checked (no data)")
    ]


def test_an_artist_follow_the_service_ignored_is_counted_apart_and_named_so_never_delivered(
    tmp_path: Path,
) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    put(
        warehouse,
        "owed_actions",
        [
            action(1, "follow_artist", "delivered", 2.0),
            action(2, "follow_artist", "ignored", 3.0),
            action(3, "follow_artist", "ignored", 4.0),
        ],
    )
    build(warehouse, "release_outcomes")
    build(warehouse, "release_actions")
    assert query(warehouse, "SELECT planned, delivered, ignored, delivered_share FROM release_outcomes") == [
        (3, 1, 2, pytest.approx(1 / 3))
    ]
    assert query(
        warehouse,
        "SELECT outcome_label, count(*), count(seconds_to_library) FROM release_actions "
        "WHERE outcome = 'ignored' GROUP BY ALL",
    ) == [("ignored by the service", 2, 0)]
