"""A fan who authorizes while Spotify has told the app to wait (429 with a Retry-After on the Web API):
the code exchange goes to the accounts service, which is not the rate-limited Web API, so the grant is
stored and the fan sees the done page; `/me` and the follow stay owed, and no Web API call is sent
during the pause. Real sandbox and landing app over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from campaigns.models import OwedAction
from tests.integration.conftest import System, add_campaign, add_release, soon
from tests.integration.landing_helpers import Fan, grants
from tests.pauses import calls_while_told_to_wait, pauses

SLUG = "midnight-drive"
UPC = "198880045560"


def test_a_fan_who_authorizes_during_a_pause_gets_a_stored_grant_and_owed_calls(system: System) -> None:
    add_release(system, UPC, soon())
    add_campaign(system, SLUG, UPC, soon())
    # the app's Web API budget: one call per minute, so the first fan's follow is answered 429
    system.admin.put(
        "/sandbox/config", json={"spotify": {"rate_budget": 1, "rate_window_s": 60}}
    ).raise_for_status()
    with Fan(system) as first:
        assert first.visit(SLUG).status_code == 200
        assert first.oauth(SLUG, "spotify", "fan-dee").status_code == 303
    [announced] = pauses([c for c in system.calls() if c["service"] == "spotify"])
    assert announced.retry_after > 10  # the app is told to wait well past the second fan's visit

    with Fan(system) as second:
        assert second.visit(SLUG).status_code == 200
        callback = second.oauth(SLUG, "spotify", "fan-eli")
        assert callback.status_code == 303, callback.text
        assert callback.headers["location"] == f"/{SLUG}/done"
        done = second.done(SLUG)
        assert done.status_code == 200
        assert "Pre-save first" not in done.text

    stored = grants(system)
    assert len(stored) == 2
    later = stored[1]
    assert later.service_user_id.startswith("pending:")  # `/me` was not sent during the pause
    with system.store.session() as session:
        owed = set(
            session.execute(
                select(OwedAction.kind, OwedAction.outcome).where(OwedAction.grant_id == later.id)
            ).all()
        )
    assert owed == {("identify", "queued"), ("follow_artist", "queued")}
    web_api = [c for c in system.calls() if c["service"] == "spotify"]
    assert calls_while_told_to_wait(web_api) == []
    exchanges = [c for c in system.calls() if c["service"] == "spotify_accounts" and c["method"] == "POST"]
    assert len(exchanges) == 2  # both fans' codes exchanged, the second during the pause
