"""Two executor shard processes against a throttled sandbox (a rolling budget answered by 429 with a
Retry-After): neither calls inside a window the service announced, whichever shard the 429 answered,
because the pause lives in the operational store both read before every call (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from executor.entry import run_release_day
from executor.release import ReleaseOptions
from sandbox.config import SandboxConfig
from services.shared_pacing import pacing_backend, share_pacing
from tests.executor.conftest import Harness, ago
from tests.pauses import PauseWatcher, describe, pauses

pytestmark = pytest.mark.timeout(300)
FANS = 30


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(spotify={"rate_budget": 12, "rate_window_s": 2.0})  # 6 calls/s for the app


def test_two_shard_processes_never_call_while_the_app_is_told_to_wait(harness: Harness) -> None:
    harness.add_release("198880045590", ago(60))
    campaign = harness.add_campaign("throttled", "198880045590", ago(60))
    for n in range(FANS):
        harness.spotify_grant(campaign, f"throttled-{n}")
    label = harness.settings.spotify_client_id
    first = max((c["seq"] for c in harness.calls(client_id=label)), default=0)
    url = harness.settings.resolved_database_url
    spotify = harness.spotify()
    share_pacing([spotify], url)

    with PauseWatcher(pacing_backend(url).state(spotify.pacing_key)) as watcher:
        report = run_release_day(
            harness.store,
            harness.settings.secret_keys(),
            {"spotify": spotify},
            "throttled",
            options=ReleaseOptions(shards=2, threads=4, linger_s=5.0),
            pacing_url=url,
        )

    assert report.outcomes["delivered"] == 2 * FANS
    assert report.outcomes["failed"] == 0
    calls = [c for c in harness.calls(client_id=label) if c["seq"] > first and c["service"] == "spotify"]
    assert pauses(calls), "the sandbox never throttled: the test proves nothing"
    assert watcher.covers(calls)  # every announced window was kept by all, to its end
    breaches = watcher.breaches(calls)
    assert breaches == [], describe(breaches, calls)
    print("pause visible after the 429 (s):", [round(lag, 3) for lag in watcher.lags_s(calls)])
