"""The artist follow made while the fan waits at the callback is answered by Spotify's 2026 library route,
which may keep nothing (reference H): it is never counted as delivered there; the executor checks it with
`GET /me/library/contains` and reports it `ignored` when the service did not keep it."""

from __future__ import annotations

from sqlalchemy import select

from campaigns.models import ActionKind, OwedAction
from campaigns.vault import TokenVault
from collectors.landing.records import UNCONFIRMED_FOLLOW
from executor.release import ReleaseReport, run_release
from services.spotify import SpotifyApp
from tests.integration.conftest import ARTIST_ID, System, soon
from tests.integration.landing_helpers import Fan, add_campaign

ARTIST = f"spotify:artist:{ARTIST_ID}"


def _artist_follow(system: System) -> OwedAction:
    with system.store.session() as session:
        return session.scalars(
            select(OwedAction).where(OwedAction.kind == ActionKind.FOLLOW_ARTIST.value)
        ).one()


def _checked(system: System, fan: str) -> bool:
    return any(
        call["route"] == "GET /me/library/contains" and call["user"] == fan and ARTIST_ID in call["query"]
        for call in system.calls()
    )


def _grant_then_release(system: System, mode: str, fan_id: str) -> ReleaseReport:
    system.admin.put("/sandbox/config", json={"spotify": {"library_artist_follow": mode}}).raise_for_status()
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        assert fan.oauth("midnight-drive", "spotify", fan_id).status_code == 303
        page = fan.done("midnight-drive").text
    assert "to follow Nova Lane for you; we check it took on release day" in page
    assert "still pending" not in page
    waiting = _artist_follow(system)
    assert (waiting.outcome, waiting.reason) == ("queued", UNCONFIRMED_FOLLOW)  # answered, not counted
    assert waiting.started_at is not None  # the executor checks it before anything else
    assert not _checked(system, fan_id)
    vault = TokenVault(system.settings.secret_keys())
    return run_release(
        system.store, vault, {"spotify": SpotifyApp.from_settings(system.settings)}, "midnight-drive"
    )


def test_a_grant_time_follow_the_service_ignores_ends_ignored_not_delivered(system: System) -> None:
    report = _grant_then_release(system, "ignored", "fan-ida")

    follow = _artist_follow(system)
    assert follow.outcome == "ignored"
    assert (follow.reason or "").startswith("ignored by the service")
    assert report.outcomes["ignored"] == 1
    assert report.outcomes["delivered"] == 0
    assert ARTIST not in [f["uri"] for f in system.fan("fan-ida")["follows"]]
    assert _checked(system, "fan-ida")


def test_a_grant_time_follow_the_service_keeps_is_checked_then_delivered(system: System) -> None:
    report = _grant_then_release(system, "kept", "fan-kit")

    follow = _artist_follow(system)
    assert follow.outcome == "delivered"
    assert report.outcomes["delivered"] == 1
    assert report.outcomes["ignored"] == 0
    assert ARTIST in [f["uri"] for f in system.fan("fan-kit")["follows"]]
    assert _checked(system, "fan-kit")
    assert [c["route"] for c in system.calls() if c["user"] == "fan-kit"].count("PUT /me/library") == 1
