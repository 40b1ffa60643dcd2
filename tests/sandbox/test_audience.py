"""One audience: the live fans, the campaign histories and other tools' fan exports draw their countries
from the same mix the streaming simulation splits its audience by."""

from __future__ import annotations

import csv
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sandbox.analytics import ReleaseInput, simulate
from sandbox.audience import COUNTRY_SHARES
from sandbox.exports import write_presave_fan_export
from sandbox.fans import plan_fans
from sandbox.history import plan_history

DRAWS = 4000


def _fans() -> list[str]:
    return [p.country for p in plan_fans(DRAWS, seed=1, click_rate=1.0, decline_rates={}, abandon_rates={})]


def _history() -> list[str]:
    release = datetime(2026, 9, 4, tzinfo=UTC)
    fans = plan_history(("spotify",), DRAWS, release - timedelta(days=28), release, release, random.Random(2))
    return [f.country for f in fans]


def _fan_export(tmp_path: Path) -> list[str]:
    path = write_presave_fan_export(tmp_path, campaign="Old Flame", release_date=date(2026, 4, 1), fans=DRAWS)
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["Country"] for row in csv.DictReader(handle)]


@pytest.mark.parametrize("source", ["live fans", "histories", "fan exports"])
def test_every_simulated_fan_comes_from_the_one_country_mix(source: str, tmp_path: Path) -> None:
    countries = {"live fans": _fans, "histories": _history, "fan exports": lambda: _fan_export(tmp_path)}[
        source
    ]()
    counts = Counter(countries)
    assert set(counts) <= set(COUNTRY_SHARES)
    for country, share in COUNTRY_SHARES.items():
        assert abs(counts[country] / len(countries) - share) < 0.025, (country, counts[country])


def test_the_streaming_audience_lives_in_the_same_countries_and_pre_savers_stream_where_they_are() -> None:
    release = date(2026, 3, 6)
    presavers = {"JP": 400}
    simulation = simulate(
        "Nova Lane",
        [ReleaseInput(release, 400, title="Midnight Drive", presaves_by_country=presavers)],
        release,
        release + timedelta(days=6),
        seed=3,
    )
    streams = Counter()
    for row in simulation.daily:
        streams[row.country] += row.streams
    assert set(streams) == set(COUNTRY_SHARES)
    assert streams.most_common(1)[0][0] == "JP"  # 6% of the organic audience, all the pre-savers
