"""Spotify pre-saves through the real flow: landing app and sandbox over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from campaigns.models import OwedAction
from campaigns.vault import TokenVault
from tests.integration.conftest import ARTIST_ID, System, add_release, soon
from tests.integration.landing_helpers import (
    EXTRA_ARTIST_URI,
    PLAYLIST_URI,
    Fan,
    add_campaign,
    all_services,
    events,
    grants,
)


def _presave(
    system: System, slug: str, fan_id: str, *, decision: str = "approve", utm: str = "instagram"
) -> httpx.Response:
    """A fan's browser through page, pre-save button and the service's consent; the callback's answer.
    (The release-day tests use it to make grants.)"""
    with Fan(system) as fan:
        assert fan.visit(slug, utm_source=utm, utm_medium="story").status_code == 200
        return fan.oauth(slug, "spotify", fan_id, decision=decision, utm_source=utm, utm_medium="story")


def test_a_fan_presaves_through_the_real_flow(system: System) -> None:
    add_release(system, "198880045560", soon())
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        page = fan.visit("midnight-drive", utm_source="Instagram", utm_medium="story", utm_campaign="launch")
        assert page.status_code == 200
        assert "Pre-save on Spotify" in page.text
        callback = fan.oauth(
            "midnight-drive", "spotify", "fan-ada", utm_source="instagram", utm_medium="story"
        )
    assert callback.status_code == 303
    assert callback.headers["location"] == "/midnight-drive/done"

    assert f"spotify:artist:{ARTIST_ID}" in [f["uri"] for f in system.fan("fan-ada")["follows"]]
    [grant] = grants(system)
    vault = TokenVault(system.settings.secret_keys())
    assert grant.service_user_id == "fan-ada"
    assert grant.country == "GB"
    assert vault.open(grant.access_token).reveal()  # sealed, and opens
    assert grant.refresh_token
    assert vault.open(grant.refresh_token).reveal() not in grant.refresh_token
    assert grant.choices["artist"] == f"spotify:artist:{ARTIST_ID}"
    assert grant.choices["completed_at"] is None
    recorded = events(system)
    assert [e.kind for e in recorded] == ["visit", "click", "authorize_start", "grant"]
    assert {e.utm_source for e in recorded} == {"instagram"}
    assert recorded[0].utm_campaign == "launch"
    assert {e.service for e in recorded[1:]} == {"spotify"}
    assert recorded[3].grant_id == grant.id
    assert all(e.ip_hash and len(e.ip_hash) == 32 and "127.0.0.1" not in e.ip_hash for e in recorded)
    assert len({e.visitor_id for e in recorded}) == 1  # one visitor through the funnel
    with system.store.session() as session:
        identified, follow = session.scalars(select(OwedAction).order_by(OwedAction.id)).all()
    assert (identified.kind, identified.outcome) == ("identify", "delivered")
    assert grant.service_user_id == "fan-ada"
    assert (follow.kind, follow.target, follow.outcome) == (  # answered: checked on release day
        "follow_artist",
        f"spotify:artist:{ARTIST_ID}",
        "queued",
    )


def test_the_authorize_url_carries_pkce_a_fixed_redirect_and_the_least_scopes(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    response = httpx.get(f"{system.landing_url}/midnight-drive/connect/spotify")
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["redirect_uri"] == [f"{system.settings.public_url}/oauth/spotify/callback"]
    assert sorted(query["scope"][0].split()) == [
        "user-follow-modify",
        "user-follow-read",  # to check the artist follow was kept (reference H)
        "user-library-modify",
    ]


def test_playlist_follows_and_the_playlist_choice_add_their_scopes(system: System) -> None:
    add_campaign(
        system,
        "midnight-drive",
        soon(),
        services=all_services(follow=[PLAYLIST_URI]),
        playlist_name="Nova Lane Radar",
    )
    response = httpx.get(f"{system.landing_url}/midnight-drive/connect/spotify")
    scopes = parse_qs(urlsplit(response.headers["location"]).query)["scope"][0].split()
    assert set(scopes) == {
        "user-library-modify",
        "user-follow-modify",
        "user-follow-read",
        "playlist-modify-public",
        "playlist-modify-private",
        "playlist-read-private",
    }
    assert "user-read-email" not in scopes


def test_a_replayed_callback_is_refused_and_stores_nothing_more(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        connect = fan.http.get("/midnight-drive/connect/spotify")
        answer = fan.service_http.get(connect.headers["location"] + "&sandbox_fan=fan-bo")
        path = answer.headers["location"].removeprefix(system.settings.public_url)
        first = fan.http.get(path)
        again = fan.http.get(path)
    assert first.status_code == 303
    assert again.status_code == 400
    assert "already used" in again.text
    assert len(grants(system)) == 1


def test_a_forged_state_is_refused(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    response = httpx.get(
        f"{system.landing_url}/oauth/spotify/callback", params={"code": "x", "state": "forged"}
    )
    assert response.status_code == 400
    assert "not valid" in response.text
    assert grants(system) == []


def test_a_declining_fan_is_recorded_as_a_denial(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        fan.visit("midnight-drive")
        callback = fan.oauth("midnight-drive", "spotify", "fan-cy", decision="deny")
    assert callback.status_code == 200
    assert "nothing was saved" in callback.text
    assert grants(system) == []
    recorded = events(system)
    assert [e.kind for e in recorded] == ["visit", "click", "authorize_start", "denial"]
    assert recorded[-1].detail == "presave:access_denied"


def test_the_same_account_presaving_twice_counts_once(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        assert fan.oauth("midnight-drive", "spotify", "fan-di").status_code == 303
    with Fan(system, country="FR") as fan:
        assert fan.oauth("midnight-drive", "spotify", "fan-di", utm_source="tiktok").status_code == 303
    [grant] = grants(system)
    assert grant.country == "FR"  # the later grant's answers win
    assert [e.detail for e in events(system, kind="grant")] == [None, "again"]
    with system.store.session() as session:
        follow = session.scalars(select(OwedAction).where(OwedAction.kind == "follow_artist")).one()
    assert follow.attempts == 1  # followed once, not again
    assert [f["requests"] for f in system.fan("fan-di")["follows"]] == [1]


def test_a_failed_artist_follow_is_queued_for_the_executor(system: System) -> None:
    unknown = "spotify:artist:0000000000000000000000"  # not in the sandbox's catalogue: the follow fails
    add_campaign(system, "midnight-drive", soon(), services={"spotify": {"artist": unknown}})
    with Fan(system) as fan:
        callback = fan.oauth("midnight-drive", "spotify", "fan-ed")
    assert callback.status_code == 303  # the pre-save stands
    with system.store.session() as session:
        action = session.scalars(select(OwedAction).where(OwedAction.kind == "follow_artist")).one()
    assert (action.kind, action.target, action.outcome, action.reason) == (
        "follow_artist",
        unknown,
        "queued",
        "library_404",
    )
    assert len(grants(system)) == 1


def test_extra_follows_are_not_made_before_the_fan_sees_them(system: System) -> None:
    add_campaign(system, "midnight-drive", soon(), services=all_services(follow=[EXTRA_ARTIST_URI]))
    with Fan(system) as fan:
        assert fan.oauth("midnight-drive", "spotify", "fan-fi").status_code == 303
    follows = [f["uri"] for f in system.fan("fan-fi")["follows"]]
    assert follows == [f"spotify:artist:{ARTIST_ID}"]


def test_an_unknown_campaign_is_a_clear_404(system: System) -> None:
    response = httpx.get(f"{system.landing_url}/no-such-campaign")
    assert response.status_code == 404
    assert "no campaign at this address" in response.text
    assert httpx.get(f"{system.landing_url}/no-such-campaign/connect/spotify").status_code == 404
