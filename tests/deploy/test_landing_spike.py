"""The landing app behind two uvicorn workers on PostgreSQL through a short launch spike: ten times the
steady arrival rate, on loopback, bounded in time; every fan who arrived has a grant in the store.
(`make bench BENCH=scale` runs the full 60 s spike and measures 1, 2 and 4 workers.)"""

from __future__ import annotations

import pytest

from bench.scale import landing_on_postgres, spike, steady

pytestmark = pytest.mark.postgres
STEADY_RATE = 3.0  # fans a second


def test_a_launch_spike_of_ten_times_the_steady_rate_loses_no_grant(postgres_server_url: str) -> None:
    with landing_on_postgres(2, postgres_server_url) as cluster:
        before, _, kept = steady(cluster, seconds=2.0, at_once=2)
        found = spike(cluster, rate=STEADY_RATE * 10, seconds=4.0)

    assert before.done > 0
    assert kept == before.done
    assert found.started >= 110
    assert found.fans.statuses == {303: found.started}
    assert found.stored == found.started
    assert found.lost == 0
