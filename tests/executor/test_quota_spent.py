"""A spent quota (Spotify, 2026: 429 QUOTA_EXCEEDED per developer account, hours long): `presave release
run` returns at once, exit 0, saying until when it waits, and leaves the actions queued; no process calls
until the pause ends; the run after it delivers every action exactly once. The CLI runs as an operator
runs it (a subprocess), against the sandbox over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from campaigns.models import OwedAction
from sandbox.config import SandboxConfig
from sandbox.env import sandbox_env
from tests.conftest import PSEUDONYM_KEY
from tests.executor.conftest import ARTIST_ID, Harness, ago
from tests.pauses import calls_while_told_to_wait, pauses

pytestmark = pytest.mark.timeout(240)
ROOT = Path(__file__).resolve().parents[2]
QUOTA = 30  # calls per developer account per window
WINDOW_S = 20.0  # Spotify's is a rolling day; short here so the test sees the pause end
LABEL_TOOLS = ("label-tools", "label-tools-secret")  # another Client ID of the label's developer account
WAITS = re.compile(r"spotify told the app to wait until (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC")


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    label = SandboxConfig().spotify.apps[0]
    return SandboxConfig(
        inspection={"record_bodies": True},
        spotify={
            "quota_calls": QUOTA,
            "quota_window_s": WINDOW_S,
            "apps": [
                label.model_dump(),
                {"client_id": LABEL_TOOLS[0], "client_secret": LABEL_TOOLS[1]},  # same developer account
            ],
        },
    )


def release_run(
    harness: Harness, slug: str, *, redis_url: str | None = None
) -> tuple[subprocess.CompletedProcess[str], float]:
    """`presave release run SLUG` in a process of its own, configured by environment (the pacing in the
    operational store, or in Redis at `redis_url`); its answer and how long it took."""
    assert harness.settings.secret_key is not None
    env = {
        **os.environ,
        **sandbox_env(harness.url, SandboxConfig()),
        "PRESAVE_DATA_DIR": str(harness.tmp_path / "data"),
        "PRESAVE_DATABASE_URL": harness.store.engine.url.render_as_string(hide_password=False),
        "PRESAVE_SECRET_KEY": harness.settings.secret_key.get_secret_value(),
        "PRESAVE_PSEUDONYM_KEY": PSEUDONYM_KEY,
    }
    env.pop("PRESAVE_REDIS_URL", None)  # the operational store keeps the pacing here…
    if redis_url is not None:  # …unless told otherwise
        env["PRESAVE_REDIS_URL"] = redis_url
    started = time.monotonic()
    answer = subprocess.run(
        [sys.executable, "-m", "presave", "release", "run", slug],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return answer, time.monotonic() - started


def spend_the_quota(harness: Harness) -> None:
    """Another app of the label's developer account spends the account's quota."""
    token = harness.admin.post(
        "/spotify/accounts/api/token", data={"grant_type": "client_credentials"}, auth=LABEL_TOOLS
    ).json()["access_token"]
    for _ in range(QUOTA):
        harness.admin.get(
            f"/spotify/v1/artists/{ARTIST_ID}", headers={"Authorization": f"Bearer {token}"}
        ).raise_for_status()


def outcomes(harness: Harness) -> list[str]:
    with harness.store.session() as session:
        return sorted(session.scalars(select(OwedAction.outcome)))


def test_a_release_run_with_the_quota_spent_waits_by_rescheduling_and_delivers_once_after(
    harness: Harness,
) -> None:
    harness.add_release("198880045561", ago(60))
    campaign = harness.add_campaign("spent", "198880045561", ago(60))
    fans = [f"spent-fan-{n}" for n in range(4)]
    for fan in fans:
        harness.spotify_grant(campaign, fan)
    label = harness.settings.spotify_client_id
    spend_the_quota(harness)

    answer, took = release_run(harness, "spent")
    assert answer.returncode == 0, answer.stderr
    waits = WAITS.search(answer.stdout)
    assert waits, answer.stdout
    quota_answers = pauses(harness.calls(client_id=label))
    assert len(quota_answers) == 1  # one answer, then no call: the run did not try again
    announced = quota_answers[0]
    until = datetime.strptime(waits.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
    assert announced.until - 2 <= until <= announced.until + 2
    assert took < WINDOW_S  # it returned, it did not sleep the pause away
    assert set(outcomes(harness)) == {"queued"}  # left queued, none failed
    assert len(outcomes(harness)) == 2 * len(fans)  # the follow and the save of each fan

    # another process during the pause: it reads the same pause from the store and makes no call at all
    before = len(harness.calls(client_id=label))
    again, _ = release_run(harness, "spent")
    assert again.returncode == 0, again.stderr
    assert WAITS.search(again.stdout)
    assert len(harness.calls(client_id=label)) == before
    assert set(outcomes(harness)) == {"queued"}

    time.sleep(max(0.0, announced.until - time.time()) + 0.5)
    after, _ = release_run(harness, "spent")
    assert after.returncode == 0, after.stderr
    assert not WAITS.search(after.stdout)
    assert set(outcomes(harness)) == {"delivered"}
    for fan in fans:
        document = harness.fan(fan)
        kept = document["library"] + document["follows"]
        assert kept, document
        assert all(entry["requests"] == 1 for entry in kept), document  # each exactly once
    assert calls_while_told_to_wait(harness.calls(client_id=label)) == []
