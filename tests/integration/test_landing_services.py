"""Apple Music (MusicKit) and Deezer (connect) pre-saves against the sandbox, and services left unconfigured."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select

from campaigns.models import OwedAction
from campaigns.vault import TokenVault
from collectors.landing.app import create_app
from collectors.landing.choices import owed_at_release
from presave.servers import LoopbackServer
from tests.integration.conftest import ARTIST_ID, System, add_release, soon
from tests.integration.landing_helpers import (
    DEEZER_ARTIST,
    Fan,
    add_campaign,
    all_services,
    events,
    grants,
    hidden,
)


def _preorder(system: System) -> str:
    """A release Apple lists as a pre-order; returns its Apple album id."""
    response = system.admin.post(
        "/sandbox/releases",
        json={
            "upc": "198880045561",
            "title": "Midnight Drive",
            "artist": {"name": "Nova Lane", "spotify_id": ARTIST_ID},
            "release_at": soon().isoformat(),
            "apple_preorder": True,
            "tracks": [
                {"title": f"Midnight Drive {n}", "isrc": f"QZWFV2600{n}01", "duration_ms": 200_000}
                for n in (1, 2)
            ],
        },
    )
    response.raise_for_status()
    return response.json()["apple"]["album_id"]


def _apple_fan(system: System, fan_id: str, storefront: str = "jp") -> None:
    system.admin.post(
        "/sandbox/apple/fans", json={"id": fan_id, "storefront": storefront, "subscribed": True}
    ).raise_for_status()


def test_the_musickit_page_carries_a_valid_developer_token(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    page = httpx.get(f"{system.landing_url}/midnight-drive/connect/apple")
    assert page.status_code == 200
    assert f'src="{system.settings.musickit_js_url}"' in page.text
    token = hidden(
        page.text.replace("data-developer-token=", 'name="developer_token" value='), "developer_token"
    )
    key = serialization.load_pem_private_key(Path(system.settings.apple_private_key).read_bytes(), None)
    claims = jwt.decode(token, key.public_key(), algorithms=["ES256"])  # type: ignore[union-attr, arg-type]
    assert jwt.get_unverified_header(token)["kid"] == system.settings.apple_key_id
    assert claims["iss"] == system.settings.apple_team_id
    assert 0 < claims["exp"] - claims["iat"] <= 15_777_000
    assert claims["origin"] == [system.settings.public_url]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_an_apple_fan_pre_adds_a_pre_order_at_once(system: System) -> None:
    album = _preorder(system)
    add_campaign(system, "midnight-drive", soon(), services={**all_services(), "apple": {"album_id": album}})
    _apple_fan(system, "amy")
    with Fan(system, country=None) as fan:
        fan.visit("midnight-drive")
        answer = fan.apple("midnight-drive", "amy")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/midnight-drive/done"
        done = fan.done("midnight-drive")
    assert "Added to your library as a pre-add" in done.text
    [grant] = grants(system)
    assert grant.service == "apple"
    assert grant.service_user_id.startswith("mut-")
    assert grant.country == "JP"  # from the Apple storefront, as no proxy header named one
    assert grant.token_expires_at is None
    assert TokenVault(system.settings.secret_keys()).open(grant.access_token).reveal().startswith("Am")
    assert grant.choices["preadd"] == album
    assert owed_at_release("apple", grant.choices) == []
    with system.store.session() as session:
        action = session.scalars(select(OwedAction)).one()
    assert (action.kind, action.target, action.outcome) == ("preadd", album, "delivered")
    pre_adds = system.admin.get("/sandbox/apple/fans/amy").json()["pre_adds"]
    assert [(p["type"], p["id"]) for p in pre_adds] == [("albums", album)]
    assert [e.kind for e in events(system)] == ["visit", "click", "authorize_start", "grant"]
    assert {e.country for e in events(system, kind="grant")} == {"JP"}


def test_without_a_pre_order_id_the_apple_save_is_owed_at_release(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    _apple_fan(system, "bea")
    with Fan(system) as fan:
        assert fan.apple("midnight-drive", "bea").status_code == 303
    [grant] = grants(system)
    assert grant.choices["preadd"] is None
    assert owed_at_release("apple", grant.choices) == [("save_release", "release")]
    with system.store.session() as session:
        assert session.scalars(select(OwedAction)).all() == []


def test_an_apple_refusal_is_a_denial_and_the_state_is_spent(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        page = fan.http.get("/midnight-drive/connect/apple")
        state = hidden(page.text, "state")
        origin = {"Origin": system.settings.public_url}
        refused = fan.http.post(
            "/midnight-drive/connect/apple",
            data={"state": state, "error": "AUTHORIZATION_ERROR"},
            headers=origin,
        )
        again = fan.http.post(
            "/midnight-drive/connect/apple",
            data={"state": state, "music_user_token": "Am" + "x" * 40},
            headers=origin,
        )
    assert refused.status_code == 200
    assert "nothing was saved" in refused.text
    assert again.status_code == 400
    assert grants(system) == []
    assert events(system, kind="denial")[0].detail == "presave:AUTHORIZATION_ERROR"


def test_an_apple_state_posted_to_another_campaign_is_refused_and_stays_good_where_it_belongs(
    system: System,
) -> None:
    add_campaign(system, "midnight-drive", soon())
    add_campaign(system, "other-drop", soon())
    _apple_fan(system, "cleo")
    origin = {"Origin": system.settings.public_url}
    with Fan(system) as fan:
        state = hidden(fan.http.get("/midnight-drive/connect/apple").text, "state")
        token = system.admin.post("/sandbox/apple/fans/cleo/user-token").json()["music_user_token"]
        elsewhere = fan.http.post(
            "/other-drop/connect/apple", data={"state": state, "music_user_token": token}, headers=origin
        )
        assert grants(system) == []
        home = fan.http.post(
            "/midnight-drive/connect/apple", data={"state": state, "music_user_token": token}, headers=origin
        )
    assert elsewhere.status_code == 400
    assert "not valid" in elsewhere.text
    assert home.status_code == 303  # not used up by the wrong campaign
    [grant] = grants(system)
    assert grant.service == "apple"


def test_an_apple_post_from_another_site_is_refused(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        page = fan.http.get("/midnight-drive/connect/apple")
        answer = fan.http.post(
            "/midnight-drive/connect/apple",
            data={"state": hidden(page.text, "state"), "music_user_token": "Am" + "x" * 40},
            headers={"Origin": "https://evil.example"},
        )
    assert answer.status_code == 403
    assert grants(system) == []


def test_a_deezer_fan_connects_and_the_artist_and_album_are_owed_at_release(system: System) -> None:
    add_release(system, "198880045560", soon())
    add_campaign(system, "midnight-drive", soon())
    with Fan(system, country=None) as fan:
        connect = fan.http.get("/midnight-drive/connect/deezer", params={"utm_source": "newsletter"})
        assert connect.status_code == 302
        query = parse_qs(urlsplit(connect.headers["location"]).query)
        assert query["perms"] == ["basic_access,manage_library,offline_access"]
        assert query["redirect_uri"] == [f"{system.settings.public_url}/oauth/deezer/callback"]
        callback = fan.authorize(connect.headers["location"], "dee")
    assert callback.status_code == 303
    [grant] = grants(system)
    deezer_fan = system.admin.get("/sandbox/deezer/fans/dee").json()
    assert (grant.service, grant.service_user_id) == ("deezer", str(deezer_fan["user_id"]))
    assert grant.country == deezer_fan["country"]
    assert grant.token_expires_at is None  # offline_access: no expiry, and Deezer has no refresh token
    assert grant.refresh_token is None
    assert grant.choices["artist"] == DEEZER_ARTIST
    assert owed_at_release("deezer", grant.choices) == [
        ("save_release", "release"),
        ("follow_artist", DEEZER_ARTIST),
    ]
    assert deezer_fan["favourites"] == []  # nothing is done at Deezer before release day
    assert {e.utm_source for e in events(system)} == {"newsletter"}


def test_a_deezer_refusal_is_a_denial(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        callback = fan.oauth("midnight-drive", "deezer", "dan", decision="deny")
    assert callback.status_code == 200
    assert "did not allow Deezer" in callback.text
    assert events(system, kind="denial")[0].detail == "presave:user_denied"


@pytest.mark.parametrize("missing", ["deezer_app_id", "apple_team_id"])
def test_a_service_not_configured_is_not_offered(system: System, missing: str) -> None:
    settings = system.settings.model_copy(update={missing: None})
    service = "deezer" if missing.startswith("deezer") else "apple"
    name = {"deezer": "Deezer", "apple": "Apple Music"}[service]
    add_campaign(system, "midnight-drive", soon())
    with LoopbackServer(create_app(settings, system.store)) as server:
        page = httpx.get(f"{server.url}/midnight-drive")
        connect = httpx.get(f"{server.url}/midnight-drive/connect/{service}")
    assert f"Pre-save on {name}" not in page.text
    assert "Pre-save on Spotify" in page.text
    assert connect.status_code == 404
    assert "not offered" in connect.text
