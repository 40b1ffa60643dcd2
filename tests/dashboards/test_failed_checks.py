"""A failed asset check reaches the dashboard's snapshot with its mart, and marks what it refutes: the
campaigns it names (or every campaign when it names none), on the pages and in the pitch pack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from dashboards import checks, queries
from dashboards.queries import WarehouseReader
from pipelines.marts.assets import asset_checks
from pipelines.marts.assets import assets as mart_assets
from pipelines.resources import WarehouseResource
from pipelines.warehouse import Warehouse
from tests.pipelines.marts_fixtures import put

FAILED = pd.DataFrame(
    {
        "asset": ["follower_gain", "presaves_daily", "campaign_lift"],
        "check_name": ["follower_gain_shares_within_zero_and_one", "presaves_daily_keys", "lift_x"],
        "description": ["Shares lie between 0 and 1.", "Key never empty and unique.", "x"],
        "detail": ["1 rows break the rule (night-swim)", "0 rows with an empty key, 2 keys repeated", "y"],
        "campaigns": [["night-swim"], [], ["old-flame"]],
    }
)


@pytest.mark.parametrize(
    ("marts", "campaign", "expected"),
    [
        (("follower_gain",), "night-swim", ["follower_gain"]),  # names this campaign
        (("follower_gain",), "old-flame", []),  # names another one
        (("presaves_daily",), "old-flame", ["presaves_daily"]),  # names none: every campaign
        (
            ("follower_gain", "presaves_daily", "campaign_lift"),
            None,
            ["follower_gain", "presaves_daily", "campaign_lift"],
        ),
        (("funnel_sources",), "night-swim", []),  # not a mart the page shows
    ],
)
def test_a_failed_check_refutes_the_campaigns_it_names_or_every_one(marts, campaign, expected) -> None:
    assert list(checks.refuting(FAILED, marts, campaign)["asset"]) == expected


def test_the_mark_says_which_mart_which_rule_and_what_broke_it() -> None:
    [text] = checks.sentences(FAILED, ("follower_gain",), "night-swim")
    assert text.startswith(checks.MARK)
    assert "follower gain shares within zero and one" in text
    assert "Shares lie between 0 and 1." in text
    assert "1 rows break the rule (night-swim)" in text


def _gain_beyond_its_follows(warehouse: Warehouse) -> None:
    """A follower series that grew by 2 while the ledger delivered 5 follows: a share above 1."""
    release = datetime.now(UTC).date() - timedelta(days=3)
    put(
        warehouse,
        "campaign_releases",
        [
            {
                "campaign_slug": "night-swim",
                "artist": "Nova Lane",
                "title": "Night Swim",
                "origin": "native",
                "release_at": pd.Timestamp(release, tz="UTC"),
                "release_date": release,
                "first_stream_date": release,
                "timezone": "UTC",
            }
        ],
    )
    days = [release - timedelta(days=n) for n in range(70)]
    put(
        warehouse,
        "s4a_audience_timeline",
        [
            {
                "artist": "Nova Lane",
                "date": d,
                "followers": 100 + (2 if d >= release - timedelta(days=5) else 0),
            }
            for d in days
        ],
    )
    moment = pd.Timestamp(datetime.now(UTC) - timedelta(days=6))
    put(
        warehouse,
        "owed_actions",
        [
            {
                "action_id": i,
                "campaign_slug": "night-swim",
                "fan_key": f"f{i}",
                "service": "spotify",
                "kind": "follow_artist",
                "target": "spotify:artist:x",
                "due_at": moment,
                "outcome": "delivered",
                "attempts": 1,
                "done_at": moment,
            }
            for i in range(5)
        ],
    )


def test_a_mart_built_with_a_broken_rule_publishes_its_failed_check_beside_its_rows(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    _gain_beyond_its_follows(warehouse)
    gain = next(a for a in mart_assets if a.key.to_user_string() == "follower_gain")
    result = dg.materialize(
        [gain, *[c for c in asset_checks if any(k.asset_key == gain.key for k in c.check_keys)]],
        resources={"warehouse": WarehouseResource(path=str(warehouse.path))},
        raise_on_error=False,
    )
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations["follower_gain_shares_within_zero_and_one"] is False
    reader = WarehouseReader(warehouse.snapshot_path)  # what the dashboard reads
    shares = reader.query("SELECT presave_share FROM follower_gain")["presave_share"]
    assert list(shares) == [2.5]
    failed = reader.query(queries.FAILED_CHECKS)
    [text] = checks.sentences(failed, ("follower_gain",), "night-swim")
    assert "follower gain shares within zero and one" in text
    assert "1 rows break the rule (night-swim)" in text
    every = reader.query(queries.MART_CHECKS)
    assert set(every[every.asset == "follower_gain"]["check_name"]) == {
        "follower_gain_keys",
        "follower_gain_row_count",
        "follower_gain_shares_within_zero_and_one",
    }
