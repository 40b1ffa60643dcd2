"""Apple Music and Deezer playlists: a playlist created for a fan is found again after a crash that
came between creating it and recording it, so the fan never gets two."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from campaigns.ledger import Claimed
from campaigns.models import ActionKind, Grant
from services.catalog import fan_actions
from services.model import Lookup, open_tokens
from tests.executor.conftest import DEEZER_ARTIST, Harness, ago


class CrashAfterCreating(Exception):
    """The process died after the service created the playlist, before the ledger recorded it."""


def _crash(_playlist_id: str) -> None:
    raise CrashAfterCreating


def _fan_session(harness: Harness, grant_id: int, service: str) -> tuple[Any, Any]:
    with harness.store.session() as session:
        grant = session.get_one(Grant, grant_id)
        tokens = open_tokens(harness.vault, grant.access_token, None, None, None)
    app = harness.apple() if service == "apple" else harness.deezer()
    return app, fan_actions(app, tokens, lambda _: None)


@pytest.mark.parametrize("service", ["apple", "deezer"])
def test_a_playlist_created_just_before_a_crash_is_found_and_filled(harness: Harness, service: str) -> None:
    upc = "198880045568" if service == "apple" else "198880045569"
    harness.add_release(upc, ago(10), tracks=3)
    campaign = harness.add_campaign(
        f"crash-{service}", upc, ago(10), services={"apple": {}, "deezer": {"artist_id": DEEZER_ARTIST}}
    )
    choices = {"playlist": {"new": "Nova on repeat"}}
    grant_id = (harness.apple_grant if service == "apple" else harness.deezer_grant)(
        campaign, f"fan-{service}", choices=choices
    )
    action = Claimed(
        id=41,
        grant_id=grant_id,
        service=service,
        kind=ActionKind.ADD_TO_PLAYLIST,
        target="new:Nova on repeat",
        due_at=datetime.now(UTC),
        attempts=1,
        resolved_target=None,
        interrupted=True,
    )
    app, before = _fan_session(harness, grant_id, service)
    release = app.resolve(Lookup(None, upc, ()))
    assert release is not None
    with pytest.raises(CrashAfterCreating):
        before.perform(action, release, _crash)

    _, after = _fan_session(harness, grant_id, service)  # the next run: a new process, nothing in memory
    assert after.verify(action, release) is False  # found, but still empty
    noted: list[str] = []
    after.perform(action, release, noted.append)
    assert after.verify(action, release) is True

    seen = harness.fan(f"fan-{service}", service)["playlists"]
    named = [p for p in seen if p.get("name", p.get("title")) == "Nova on repeat"]
    assert len(named) == 1
    assert [t["id"] for t in named[0]["tracks"]] == list(release.tracks)
    assert noted == []  # no second playlist was created, so none was recorded
