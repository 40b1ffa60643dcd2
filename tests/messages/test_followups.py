"""Follow-up days against the campaign's own baseline."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from campaigns.campaign_file import CampaignFileError, parse_campaign
from campaigns.store import Store
from campaigns.vault import TokenVault
from pipelines.followups.effect import TABLE, followup_frame, followup_rows, write_followups
from pipelines.warehouse import Warehouse
from tests.messages.world import add_fan, campaign_document, make_campaign

D = date(2026, 11, 1)


def day(n: int) -> date:
    return D + timedelta(days=n)


@pytest.mark.parametrize(
    ("daily", "followups", "expected"),
    [
        # a quiet campaign (2 a day) with a reminder day of 10: five times its baseline
        ({day(n): 2 for n in range(6)} | {day(3): 10}, [day(3)], [(10, 2, 5, 5.0)]),
        # days without a pre-save count as zero in the baseline
        ({day(0): 4, day(4): 4, day(2): 9}, [day(2)], [(9, 2.0, 4, 4.5)]),
        # a reminder day with no pre-save at all
        ({day(0): 3, day(1): 3}, [day(2)], [(0, 3.0, 2, 0.0)]),
        # no baseline to compare with: no ratio
        ({day(0): 0}, [day(0)], [(0, None, 0, None)]),
    ],
)
def test_each_follow_up_day_is_set_against_the_median_of_the_other_days(
    daily: dict, followups: list, expected: list
) -> None:
    last = max([*daily, *followups])
    rows = followup_rows("midnight-drive", daily, followups, last)
    assert [row[2:] for row in rows] == expected


def test_the_campaign_file_takes_follow_up_days_and_refuses_what_is_not_a_date() -> None:
    spec = parse_campaign(campaign_document(followups=["2026-11-20", "2026-11-27"]))
    assert spec.followups == [date(2026, 11, 20), date(2026, 11, 27)]
    with pytest.raises(CampaignFileError, match="followups"):
        parse_campaign(campaign_document(followups=["next friday"]))


def test_follow_up_days_reach_the_warehouse_counted_in_the_campaigns_zone(
    store: Store, vault: TokenVault, tmp_path: Path
) -> None:
    campaign = make_campaign(store, followups=["2026-11-20"])
    at = datetime(2026, 11, 14, 12, tzinfo=UTC)
    for n in range(6):  # one a day from the 14th to the 19th, four on the 20th, one on the 21st
        add_fan(store, vault, campaign, f"daily-{n}", consent=False, granted_at=at + timedelta(days=n))
    for n in range(4):
        add_fan(
            store, vault, campaign, f"reminded-{n}", consent=False, granted_at=at + timedelta(days=6, hours=n)
        )
    add_fan(store, vault, campaign, "late", consent=False, granted_at=at + timedelta(days=7))
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")

    frame = followup_frame(store, datetime(2026, 11, 25, tzinfo=UTC))
    with warehouse.writer() as connection:
        write_followups(connection, frame)
    with warehouse.reader() as connection:
        rows = connection.execute(f"SELECT * FROM {TABLE}").fetchall()

    # baseline: the 14th–19th, 21st–24th: 1,1,1,1,1,1,1,0,0,0 → median 1
    assert rows == [("midnight-drive", date(2026, 11, 20), 4, 1.0, 10, 4.0)]
