"""Spotify's 2026 artist follow through `PUT /me/library` is uncertain (reference H): each one is checked
with `GET /me/library/contains`, and one the service answered but did not keep is reported as ignored by
the service, never counted as delivered."""

from __future__ import annotations

from sqlalchemy import select

from campaigns.models import ActionKind, OwedAction
from executor.entry import report_lines
from tests.executor.conftest import ARTIST_ID, Harness, ago

ARTIST = f"spotify:artist:{ARTIST_ID}"


def _follows(harness: Harness) -> list[OwedAction]:
    with harness.store.session() as session:
        return list(
            session.scalars(select(OwedAction).where(OwedAction.kind == ActionKind.FOLLOW_ARTIST.value))
        )


def _checked(harness: Harness, fan: str) -> bool:
    return any(
        call["route"] == "GET /me/library/contains" and call["user"] == fan and ARTIST_ID in call["query"]
        for call in harness.calls("spotify")
    )


def test_a_follow_the_service_ignores_is_reported_as_ignored_not_delivered(harness: Harness) -> None:
    harness.configure({"spotify": {"library_artist_follow": "ignored"}})
    harness.add_release("198880045570", ago(60))
    campaign = harness.add_campaign("ignored-follow", "198880045570", ago(60))
    fans = ["fan-a", "fan-b", "fan-c"]
    for fan in fans:
        harness.spotify_grant(campaign, fan)

    report = harness.run("ignored-follow")

    assert report.outcomes["ignored"] == 3
    assert report.outcomes["delivered"] == 3  # the saves
    assert report.undone == 0  # nothing left to do: retrying would be ignored again
    assert any(line.startswith("ignored by the service: 3 follows") for line in report_lines(report))
    for action in _follows(harness):
        assert action.outcome == "ignored"
        assert (action.reason or "").startswith("ignored by the service")
    for fan in fans:
        assert ARTIST not in [f["uri"] for f in harness.fan(fan)["follows"]]
        assert _checked(harness, fan)


def test_a_follow_the_service_keeps_is_checked_then_delivered(harness: Harness) -> None:
    harness.add_release("198880045571", ago(60))
    campaign = harness.add_campaign("kept-follow", "198880045571", ago(60))
    harness.spotify_grant(campaign, "fan-k")

    report = harness.run("kept-follow")

    assert report.outcomes["delivered"] == 2
    assert report.outcomes["ignored"] == 0
    assert [action.outcome for action in _follows(harness)] == ["delivered"]
    assert ARTIST in [f["uri"] for f in harness.fan("fan-k")["follows"]]
    assert _checked(harness, "fan-k")
