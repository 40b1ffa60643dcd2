"""End to end through the Spotify stand-in: authorize, token, profile, search, library, inspection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import spotipy

from tests.sandbox.helpers import (
    ALL_SCOPES,
    CLIENT_ID,
    REDIRECT_URI,
    SandboxOAuth,
    SandboxPKCE,
    SandboxServer,
    add_release,
    authorize_code,
    basic_auth,
    bearer,
    code_from,
    spotify_client,
)


def test_spotipy_code_flow_saves_and_follows(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server)
    auth = SandboxOAuth(sandbox_server)
    auth.get_access_token(code_from(sandbox_server, auth.get_authorize_url(), "fan-ana"), as_dict=False)
    sp = spotify_client(sandbox_server, auth)

    me = sp.me()
    assert me["id"] == "fan-ana"
    assert me["account_id"]
    found = sp.search(q="upc:198880045560", type="album")
    assert [a["uri"] for a in found["albums"]["items"]] == [ids["spotify"]["uri"]]
    sp.current_user_saved_albums_add([ids["spotify"]["uri"]])
    sp.user_follow_artists([ids["spotify"]["artist_id"]])
    assert sp.current_user_saved_albums_contains([ids["spotify"]["uri"]]) == [True]

    fan = sandbox_server.client.get("/sandbox/spotify/fans/fan-ana").json()
    assert [e["uri"] for e in fan["library"]] == [ids["spotify"]["uri"]]
    assert [e["uri"] for e in fan["follows"]] == [ids["spotify"]["artist_uri"]]
    assert fan["library"][0]["added_at"].endswith("Z")


def test_spotipy_pkce_flow(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server)
    auth = SandboxPKCE(sandbox_server)
    url = auth.get_authorize_url()
    assert "code_challenge_method=S256" in url
    auth.get_access_token(code_from(sandbox_server, url, "fan-pkce"))
    sp = spotify_client(sandbox_server, auth)
    sp.current_user_saved_tracks_add([ids["spotify"]["tracks"][0]["uri"]])
    fan = sandbox_server.client.get("/sandbox/spotify/fans/fan-pkce").json()
    assert [e["uri"] for e in fan["library"]] == [ids["spotify"]["tracks"][0]["uri"]]
    assert fan["grants"][0]["pkce"] is True


def test_plain_http_flow_with_release_timing_and_call_log(sandbox_server: SandboxServer) -> None:
    client = sandbox_server.client
    release_at = datetime.now(UTC) + timedelta(minutes=30)
    ids = add_release(sandbox_server, release_at=release_at)
    code = authorize_code(sandbox_server, "fan-http")["code"][0]
    token = client.post(
        "/spotify/accounts/api/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        headers=basic_auth(),
    ).json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    assert set(token["scope"].split()) == set(ALL_SCOPES.split())
    headers = bearer(token["access_token"])

    assert client.get("/spotify/v1/me", headers=headers).json()["id"] == "fan-http"
    before = client.get(
        "/spotify/v1/search", params={"q": "upc:198880045560", "type": "album"}, headers=headers
    )
    assert before.json()["albums"]["items"] == []
    album = client.get(f"/spotify/v1/albums/{ids['spotify']['album_id']}", headers=headers)
    assert album.status_code == 404
    assert album.json() == {"error": {"status": 404, "message": "non existing id"}}

    client.put("/sandbox/clock", json={"advance_s": 30 * 60 + 1})
    after = client.get(
        "/spotify/v1/search", params={"q": "upc:198880045560", "type": "album"}, headers=headers
    )
    assert [a["id"] for a in after.json()["albums"]["items"]] == [ids["spotify"]["album_id"]]
    saved = client.put("/spotify/v1/me/library", params={"uris": ids["spotify"]["uri"]}, headers=headers)
    assert saved.status_code == 200
    follow = client.put(
        "/spotify/v1/me/following",
        params={"type": "artist", "ids": ids["spotify"]["artist_id"]},
        headers=headers,
    )
    assert follow.status_code == 204

    calls = client.get("/sandbox/spotify/calls", params={"client_id": CLIENT_ID}).json()["calls"]
    routes = [(c["route"], c["status"]) for c in calls if c["service"] == "spotify"]
    assert routes == [
        ("GET /me", 200),
        ("GET /search", 200),
        ("GET /albums/{album_id}", 404),
        ("GET /search", 200),
        ("PUT /me/library", 200),
        ("PUT /me/following", 204),
    ]
    assert all(c["user"] == "fan-http" for c in calls)
    later = client.get("/sandbox/spotify/calls", params={"since": calls[-2]["seq"]}).json()["calls"]
    assert [c["route"] for c in later] == ["PUT /me/following"]
    summary = client.get("/sandbox/spotify/calls/summary").json()["api"]
    assert summary["by_route"]["GET /search"] == {"200": 2}
    assert summary["total"] == 6


def test_bearer_tokens_are_checked(sandbox_server: SandboxServer) -> None:
    client = sandbox_server.client
    missing = client.get("/spotify/v1/me")
    assert (missing.status_code, missing.json()["error"]["message"]) == (401, "No token provided")
    wrong = client.get("/spotify/v1/me", headers=bearer("BQnotatoken"))
    assert wrong.json() == {"error": {"status": 401, "message": "Invalid access token"}}
    code = authorize_code(sandbox_server, "fan-exp")["code"][0]
    token = client.post(
        "/spotify/accounts/api/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        headers=basic_auth(),
    ).json()["access_token"]
    client.put("/sandbox/clock", json={"advance_s": 3600})
    expired = client.get("/spotify/v1/me", headers=bearer(token))
    assert expired.json() == {"error": {"status": 401, "message": "The access token expired"}}


def test_spotipy_sees_spotify_errors(sandbox_server: SandboxServer) -> None:
    sp = spotipy.Spotify(auth="BQnotatoken", retries=0)
    sp.prefix = f"{sandbox_server.api}/"
    with pytest.raises(spotipy.SpotifyException) as raised:
        sp.me()
    assert raised.value.http_status == 401
    assert "Invalid access token" in raised.value.msg


def test_declining_fan_redirects_with_access_denied(sandbox_server: SandboxServer) -> None:
    answer = authorize_code(sandbox_server, "fan-no", decision="deny", state="abc")
    assert answer == {"error": ["access_denied"], "state": ["abc"]}
    sandbox_server.client.post("/sandbox/spotify/fans", json={"id": "fan-never", "declines": True})
    assert authorize_code(sandbox_server, "fan-never")["error"] == ["access_denied"]


def test_consent_page_agree_creates_a_fan(sandbox_server: SandboxServer) -> None:
    params = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": "user-library-modify",
        "state": "s1",
    }
    page = sandbox_server.client.get("/spotify/accounts/authorize", params=params)
    assert page.status_code == 200
    assert "Agree" in page.text
    assert "Cancel" in page.text
    agreed = sandbox_server.client.post("/spotify/accounts/authorize", data={**params, "decision": "agree"})
    assert agreed.status_code == 303
    assert "code=" in agreed.headers["location"]
    assert len(sandbox_server.client.get("/sandbox/spotify/fans").json()) == 1
    cancelled = sandbox_server.client.post(
        "/spotify/accounts/authorize", data={**params, "decision": "cancel"}
    )
    assert "error=access_denied" in cancelled.headers["location"]
    assert "state=s1" in cancelled.headers["location"]


def test_trailing_slashes_are_tolerated(sandbox_server: SandboxServer) -> None:
    token = sandbox_server.client.post(
        "/spotify/accounts/api/token",
        data={
            "grant_type": "authorization_code",
            "code": authorize_code(sandbox_server, "fan-slash")["code"][0],
            "redirect_uri": REDIRECT_URI,
        },
        headers=basic_auth(),
    ).json()["access_token"]
    response = httpx.get(f"{sandbox_server.api}/me/", headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["id"] == "fan-slash"
