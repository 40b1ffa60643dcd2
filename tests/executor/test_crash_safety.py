"""Kill the executor at random moments, again and again: the next run finishes the work with no action
performed twice and none skipped, as the sandbox's call log shows.

The sandbox runs in this process; the executor is a child process (`python -m executor run`), killed
with SIGKILL together with its shard workers.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from campaigns.models import OwedAction
from tests.executor.conftest import ARTIST_ID, Harness, ago
from tests.sandbox.openapi import assert_calls_match_spec

FOLLOW = "spotify:playlist:37i9dQZF1DX0XUsuxWHRQd"
KILLS = 6


def _env(harness: Harness) -> dict[str, str]:
    settings = harness.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRESAVE_")}
    secret = settings.spotify_client_secret
    assert secret is not None
    assert settings.secret_key is not None
    env |= {
        "PRESAVE_DATA_DIR": str(settings.data_dir),
        "PRESAVE_DATABASE_URL": settings.resolved_database_url,
        "PRESAVE_SECRET_KEY": settings.secret_key.get_secret_value(),
        "PRESAVE_SPOTIFY_CLIENT_ID": settings.spotify_client_id or "",
        "PRESAVE_SPOTIFY_CLIENT_SECRET": secret.get_secret_value(),
        "PRESAVE_SPOTIFY_ACCOUNTS_URL": settings.spotify_accounts_url,
        "PRESAVE_SPOTIFY_API_URL": settings.spotify_api_url,
    }
    return env


def _executor(harness: Harness, shards: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "executor", "run", "crash", "--shards", str(shards), "--threads", "4"],
        env=_env(harness),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the kill takes the shard workers too
    )


def _in_flight(harness: Harness, since: datetime | None = None) -> int:
    """Actions claimed (in flight) and not finished; with `since`, only those claimed after it."""
    query = select(OwedAction.id).where(OwedAction.outcome == "queued", OwedAction.started_at.is_not(None))
    if since is not None:
        query = query.where(OwedAction.started_at >= since)
    with harness.store.session() as session:
        return len(session.scalars(query).all())


def _wait_for_claims(harness: Harness, since: datetime, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not _in_flight(harness, since):
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("store_url", "shards"),
    [("sqlite", 1), pytest.param("postgres", 2, marks=pytest.mark.postgres)],
    indirect=["store_url"],
)
def test_killed_at_random_moments_the_work_is_finished_exactly_once(harness: Harness, shards: int) -> None:
    release = harness.add_release("198880045599", ago(30), tracks=2)
    harness.admin.post(
        "/sandbox/spotify/playlists", json={"name": "Editorial", "id": "37i9dQZF1DX0XUsuxWHRQd"}
    ).raise_for_status()
    campaign = harness.add_campaign(
        "crash",
        "198880045599",
        ago(30),
        services={"spotify": {"artist": f"spotify:artist:{ARTIST_ID}", "follow": [FOLLOW]}},
    )
    fans = [f"fan-{n:02d}" for n in range(24)]
    for number, fan in enumerate(fans):
        choices = {"follows": [FOLLOW], "playlist": {"new": f"Mix {number}"} if number % 3 == 0 else None}
        harness.spotify_grant(campaign, fan, choices=choices)
    # Slow answers stretch the run, so kills land in every phase (planning, claims, calls, outcomes).
    harness.configure(
        {"spotify": {"rotation": "never"}, "faults": {"latency": {"median_ms": 60, "p99_ms": 150}}}
    )

    rng = random.Random(shards)
    left_in_flight = []
    for kill in range(KILLS):
        started = datetime.now(UTC)
        process = _executor(harness, shards)
        if kill % 2 == 0:
            # First (while most of the work is still owed): when this run has actions in flight.
            _wait_for_claims(harness, since=started, timeout_s=10.0)
            time.sleep(rng.uniform(0.0, 0.15))
        else:
            time.sleep(rng.uniform(0.3, 4.0))  # any moment: start-up, planning, claiming, calling
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        left_in_flight.append(_in_flight(harness))
    assert left_in_flight[0], "the first kill did not land while actions were in flight"
    final = _executor(harness, shards)
    _, errors = final.communicate(timeout=120)
    assert final.returncode == 0, errors.decode()

    with harness.store.session() as session:
        actions = list(session.scalars(select(OwedAction)))
    assert {a.outcome for a in actions} == {"delivered"}, [(a.kind, a.outcome, a.reason) for a in actions]
    assert len(actions) == 24 * 3 + 8  # save, artist follow, playlist follow; 8 new playlists

    album = release["spotify"]["uri"]
    tracks = [t["uri"] for t in release["spotify"]["tracks"]]
    library_writes: Counter[tuple[str, str]] = Counter()
    playlist_adds: Counter[tuple[str, str]] = Counter()
    created: Counter[str] = Counter()
    for call in harness.calls("spotify"):
        if call["status"] >= 300 or call["user"] is None:
            continue
        if call["route"] == "PUT /me/library":
            for uri in unquote(call["query"]).removeprefix("uris=").split(","):
                library_writes[(call["user"], uri)] += 1
        elif call["route"] == "POST /me/playlists":
            created[call["user"]] += 1
    for fan in fans:
        state = harness.fan(fan)
        for uri in (album, f"spotify:artist:{ARTIST_ID}", FOLLOW):
            assert library_writes[(fan, uri)] == 1, (fan, uri, library_writes[(fan, uri)])
        for playlist in state["playlists"]:
            for item in playlist["items"]:
                playlist_adds[(playlist["id"], item["uri"])] += 1
        made = [p for p in state["playlists"] if p["name"].startswith("Mix ")]
        assert len(made) == (1 if int(fan[-2:]) % 3 == 0 else 0)
        assert created[fan] == len(made)
        for playlist in made:
            assert [i["uri"] for i in playlist["items"]] == tracks  # each track once, none missing
    assert all(count == 1 for count in playlist_adds.values())
    assert_calls_match_spec(harness.calls("spotify", bodies="true"), check_params=True)
