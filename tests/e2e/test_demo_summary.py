"""The demo's summary: release day in a label's words, and the asset checks that failed read from
Dagster's own evaluations of the runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from presave.demo import FailedCheck, conversion_words, demo_instance, failed_checks, release_day_words

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
NONE = {"queued": 0, "delivered": 0, "pending_source": 0, "undeliverable": 0, "failed": 0}


@pytest.mark.parametrize(
    ("outcomes", "presaves", "release_at", "words"),
    [
        (NONE, 189, NOW + timedelta(days=10), "189 pre-saves wait for 12:00 UTC"),
        (NONE | {"delivered": 21}, 0, NOW + timedelta(days=10), "nothing owed yet"),
        (NONE | {"delivered": 1040}, 520, NOW - timedelta(minutes=3), "1040 delivered"),
        (
            NONE | {"delivered": 980, "pending_source": 3, "failed": 1},
            500,
            NOW - timedelta(days=30),
            "980 delivered, 3 pending source, 1 failed",
        ),
        (NONE, 0, NOW - timedelta(days=30), "nothing owed"),
    ],
)
def test_release_day_is_told_as_waiting_before_the_release_and_as_outcomes_after(
    outcomes: dict[str, int], presaves: int, release_at: datetime, words: str
) -> None:
    assert release_day_words(outcomes, presaves, release_at, NOW) == words


@dg.asset
def figure() -> int:
    return 1


@dg.asset_check(asset=figure, description="shares stay within zero and one")
def share_within_bounds() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, description="2 rows above one")


@dg.asset_check(asset=figure)
def has_rows() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.asset_check(asset=figure)
def no_gaps() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, metadata={"missing_days": 3})


def test_the_checks_that_failed_come_from_the_runs_in_the_demos_own_instance(tmp_path: Path) -> None:
    instance = demo_instance(tmp_path / "data")
    result = dg.materialize([figure, share_within_bounds, has_rows, no_gaps], instance=instance)

    assert sorted(failed_checks(instance, [result.run_id]), key=lambda c: c.check) == [
        FailedCheck("figure", "no_gaps", "missing_days 3"),  # no description: what it found
        FailedCheck("figure", "share_within_bounds", "2 rows above one"),
    ]
    assert (tmp_path / "data" / "dagster" / "dagster.yaml").exists()
    with dg.DagsterInstance.from_config(str(tmp_path / "data" / "dagster")) as again:
        assert [run.run_id for run in again.get_runs()] == [result.run_id]  # kept where dagster dev looks


ROW = {"chose": 0, "granted": 0, "reminder": 0, "turned_away": 0, "declined": 0, "abandoned": 0, "failed": 0}


@pytest.mark.parametrize(
    ("row", "words"),
    [
        (
            ROW | {"chose": 405, "granted": 5, "reminder": 399, "turned_away": 1},
            "5/405 direct (1.2%), 399/405 reminders (98.5%); 1 turned away",
        ),
        (ROW | {"chose": 26, "reminder": 26}, "26/26 reminders (100.0%)"),
        (
            ROW | {"chose": 203, "granted": 150, "declined": 22, "abandoned": 31},
            "150/203 direct (73.9%); 22 declined, 31 abandoned",
        ),
        (ROW | {"chose": 3, "abandoned": 3}, "0/3; 3 abandoned"),
    ],
)
def test_the_true_conversion_counts_reminders_beside_direct_pre_saves(
    row: dict[str, int], words: str
) -> None:
    assert conversion_words(row) == words
