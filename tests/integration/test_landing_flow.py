from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from sqlalchemy import select

from campaigns.models import Grant, LandingEvent, OwedAction
from campaigns.vault import TokenVault
from tests.integration.conftest import ARTIST_ID, System, add_campaign, add_release, soon


def _presave(
    system: System, slug: str, fan_id: str, *, decision: str = "approve", utm: str = "instagram"
) -> httpx.Response:
    """A fan's browser: campaign page, pre-save button, the service's consent, back to the landing app."""
    # A trusted proxy in front of the landing app adds the country header to every request.
    with httpx.Client(base_url=system.landing_url, timeout=10, headers={"CF-IPCountry": "GB"}) as browser:
        page = browser.get(f"/{slug}", params={"utm_source": utm, "utm_medium": "story"})
        assert page.status_code == 200
        assert "Pre-save on Spotify" in page.text
        connect = browser.get(f"/{slug}/connect/spotify", params={"utm_source": utm, "utm_medium": "story"})
        assert connect.status_code == 302
        authorize_url = connect.headers["location"]
        authorize = httpx.get(
            f"{authorize_url}&{urlencode({'sandbox_fan': fan_id, 'sandbox_decision': decision})}"
        )
        assert authorize.status_code in (302, 303)
        callback = browser.get(authorize.headers["location"])
        return callback


def test_a_fan_presaves_through_the_real_flow(system: System) -> None:
    add_release(system, "198880045560", soon())
    add_campaign(system, "midnight-drive", "198880045560", soon())
    callback = _presave(system, "midnight-drive", "fan-ada")
    assert callback.status_code == 303
    assert callback.headers["location"].startswith("/midnight-drive/done")

    assert f"spotify:artist:{ARTIST_ID}" in [f["uri"] for f in system.fan("fan-ada")["follows"]]
    with system.store.session() as session:
        grant = session.scalars(select(Grant)).one()
        vault = TokenVault(system.settings.secret_keys())
        assert grant.service_user_id == "fan-ada"
        assert grant.country == "GB"
        assert vault.open(grant.access_token).reveal()  # sealed, and opens
        assert grant.refresh_token
        assert vault.open(grant.refresh_token).reveal() not in grant.refresh_token
        events = session.scalars(select(LandingEvent).order_by(LandingEvent.id)).all()
        assert [e.kind for e in events] == ["visit", "authorize_start", "grant"]
        assert {e.utm_source for e in events} == {"instagram"}
        assert events[2].grant_id == grant.id
        follow = session.scalars(select(OwedAction)).one()
        assert (follow.kind, follow.target, follow.outcome) == (
            "follow_artist",
            f"spotify:artist:{ARTIST_ID}",
            "delivered",
        )


def test_the_authorize_url_carries_pkce_and_a_fixed_redirect(system: System) -> None:
    add_campaign(system, "midnight-drive", "198880045560", soon())
    response = httpx.get(f"{system.landing_url}/midnight-drive/connect/spotify")
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["redirect_uri"] == [f"{system.settings.public_url}/oauth/spotify/callback"]
    assert "user-library-modify" in query["scope"][0].split()
    assert "user-read-email" not in query["scope"][0].split()


def test_a_replayed_callback_is_refused_and_stores_nothing_more(system: System) -> None:
    add_campaign(system, "midnight-drive", "198880045560", soon())
    with httpx.Client(base_url=system.landing_url) as browser:
        connect = browser.get("/midnight-drive/connect/spotify")
        authorize = httpx.get(connect.headers["location"] + "&sandbox_fan=fan-bo")
        first = browser.get(authorize.headers["location"])
        again = browser.get(authorize.headers["location"])
    assert first.status_code == 303
    assert again.status_code == 400
    assert "already used" in again.text
    with system.store.session() as session:
        assert len(session.scalars(select(Grant)).all()) == 1


def test_a_forged_state_is_refused(system: System) -> None:
    add_campaign(system, "midnight-drive", "198880045560", soon())
    response = httpx.get(
        f"{system.landing_url}/oauth/spotify/callback", params={"code": "x", "state": "forged"}
    )
    assert response.status_code == 400
    assert "not valid" in response.text


def test_a_declining_fan_is_recorded_as_a_denial(system: System) -> None:
    add_campaign(system, "midnight-drive", "198880045560", soon())
    callback = _presave(system, "midnight-drive", "fan-cy", decision="deny")
    assert callback.status_code == 200
    assert "nothing was saved" in callback.text
    with system.store.session() as session:
        assert session.scalars(select(Grant)).all() == []
        kinds = [e.kind for e in session.scalars(select(LandingEvent).order_by(LandingEvent.id))]
        assert kinds == ["visit", "authorize_start", "denial"]


def test_the_same_account_presaving_twice_counts_once(system: System) -> None:
    add_campaign(system, "midnight-drive", "198880045560", soon())
    assert _presave(system, "midnight-drive", "fan-di").status_code == 303
    assert _presave(system, "midnight-drive", "fan-di", utm="tiktok").status_code == 303
    with system.store.session() as session:
        assert len(session.scalars(select(Grant)).all()) == 1


def test_an_unknown_campaign_is_a_clear_404(system: System) -> None:
    response = httpx.get(f"{system.landing_url}/no-such-campaign")
    assert response.status_code == 404
    assert "no campaign at this address" in response.text
