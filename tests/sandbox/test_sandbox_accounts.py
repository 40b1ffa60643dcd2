"""Spotify's accounts service: codes, PKCE, client auth, expiry, rotation, six-month death, revocation."""

from __future__ import annotations

import pytest
import spotipy

from sandbox.config import SIX_MONTHS_S
from tests.sandbox.helpers import (
    CLIENT_ID,
    REDIRECT_URI,
    SandboxOAuth,
    SandboxServer,
    authorize_code,
    basic_auth,
    bearer,
    code_from,
    grant_tokens,
    pkce_pair,
)

TOKEN = "/spotify/accounts/api/token"


def exchange(server: SandboxServer, code: str, **extra: str) -> dict[str, object]:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, **extra}
    response = server.client.post(TOKEN, data=data, headers=basic_auth() if "client_id" not in extra else {})
    return {"status": response.status_code, **response.json()}


def refresh(server: SandboxServer, token: str, **headers: str) -> dict[str, object]:
    response = server.client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": token}, headers=headers or basic_auth()
    )
    return {"status": response.status_code, **response.json()}


def set_config(server: SandboxServer, patch: dict[str, object]) -> None:
    response = server.client.put("/sandbox/config", json=patch)
    assert response.status_code == 200, response.text


def test_pkce_verifier_is_checked(sandbox_server: SandboxServer) -> None:
    verifier, challenge = pkce_pair()
    code = authorize_code(sandbox_server, "fan-p", challenge=challenge)["code"][0]
    wrong = exchange(sandbox_server, code, client_id=CLIENT_ID, code_verifier="x" * 64)
    assert wrong == {
        "status": 400,
        "error": "invalid_grant",
        "error_description": "code_verifier was incorrect",
    }
    code = authorize_code(sandbox_server, "fan-p", challenge=challenge)["code"][0]
    right = exchange(sandbox_server, code, client_id=CLIENT_ID, code_verifier=verifier)
    assert right["status"] == 200
    assert "refresh_token" in right


def test_pkce_code_needs_its_verifier_even_with_a_secret(sandbox_server: SandboxServer) -> None:
    _, challenge = pkce_pair()
    code = authorize_code(sandbox_server, "fan-p2", challenge=challenge)["code"][0]
    answer = exchange(sandbox_server, code)
    assert (answer["status"], answer["error"]) == (400, "invalid_grant")


def test_client_authentication(sandbox_server: SandboxServer) -> None:
    code = authorize_code(sandbox_server, "fan-c")["code"][0]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    wrong_secret = sandbox_server.client.post(TOKEN, data=data, headers=basic_auth(secret="nope"))
    assert wrong_secret.status_code == 400
    assert wrong_secret.json() == {"error": "invalid_client", "error_description": "Invalid client secret"}
    unknown = sandbox_server.client.post(TOKEN, data=data, headers=basic_auth(client_id="someone-else"))
    assert unknown.json() == {"error": "invalid_client", "error_description": "Invalid client"}
    no_auth = sandbox_server.client.post(TOKEN, data=data)
    assert no_auth.json()["error"] == "invalid_client"
    assert exchange(sandbox_server, code)["status"] == 200  # the failures did not use the code up


def test_codes_are_single_use_short_lived_and_bound_to_their_redirect(sandbox_server: SandboxServer) -> None:
    code = authorize_code(sandbox_server, "fan-code")["code"][0]
    assert exchange(sandbox_server, code)["status"] == 200
    again = exchange(sandbox_server, code)
    assert again == {
        "status": 400,
        "error": "invalid_grant",
        "error_description": "Invalid authorization code",
    }
    late = authorize_code(sandbox_server, "fan-code")["code"][0]
    sandbox_server.client.put("/sandbox/clock", json={"advance_s": 601})
    assert exchange(sandbox_server, late)["error_description"] == "Authorization code expired"
    moved = authorize_code(sandbox_server, "fan-code")["code"][0]
    other = sandbox_server.client.post(
        TOKEN,
        data={"grant_type": "authorization_code", "code": moved, "redirect_uri": "http://127.0.0.1:9/x"},
        headers=basic_auth(),
    )
    assert other.json() == {"error": "invalid_grant", "error_description": "Invalid redirect URI"}


def test_authorize_refuses_bad_requests(sandbox_server: SandboxServer) -> None:
    client = sandbox_server.client
    base = {"client_id": CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT_URI, "state": "s"}
    unknown = client.get("/spotify/accounts/authorize", params={**base, "client_id": "nobody"})
    assert unknown.status_code == 400
    assert "INVALID_CLIENT: Invalid client" in unknown.text
    localhost = client.get(
        "/spotify/accounts/authorize", params={**base, "redirect_uri": "http://localhost:8000/cb"}
    )
    assert (localhost.status_code, "Invalid redirect URI" in localhost.text) == (400, True)
    ipv6 = client.get(
        "/spotify/accounts/authorize",
        params={**base, "redirect_uri": "http://[::1]:5173/cb", "sandbox_fan": "v6"},
    )
    assert ipv6.headers["location"].startswith("http://[::1]:5173/cb?code=")
    implicit = client.get("/spotify/accounts/authorize", params={**base, "response_type": "token"})
    assert implicit.headers["location"] == f"{REDIRECT_URI}?error=unsupported_response_type&state=s"
    scope = client.get("/spotify/accounts/authorize", params={**base, "scope": "user-everything"})
    assert "error=invalid_scope" in scope.headers["location"]


def test_access_tokens_expire_after_the_configured_lifetime(sandbox_server: SandboxServer) -> None:
    set_config(sandbox_server, {"spotify": {"access_token_lifetime_s": 120}})
    tokens = grant_tokens(sandbox_server, "fan-life")
    assert tokens["expires_in"] == 120
    headers = bearer(tokens["access_token"])
    sandbox_server.client.put("/sandbox/clock", json={"advance_s": 119})
    assert sandbox_server.client.get("/spotify/v1/me", headers=headers).status_code == 200
    sandbox_server.client.put("/sandbox/clock", json={"advance_s": 1})
    expired = sandbox_server.client.get("/spotify/v1/me", headers=headers)
    assert expired.json()["error"] == {"status": 401, "message": "The access token expired"}
    renewed = refresh(sandbox_server, tokens["refresh_token"])
    assert (
        sandbox_server.client.get("/spotify/v1/me", headers=bearer(renewed["access_token"])).status_code
        == 200
    )


def test_rotation_always_replaces_and_kills_the_old_refresh_token(sandbox_server: SandboxServer) -> None:
    set_config(sandbox_server, {"spotify": {"rotation": "always"}})
    first = grant_tokens(sandbox_server, "fan-rot")["refresh_token"]
    answer = refresh(sandbox_server, first)
    assert answer["refresh_token"] != first
    assert refresh(sandbox_server, first) == {
        "status": 400,
        "error": "invalid_grant",
        "error_description": "Invalid refresh token",
    }
    assert refresh(sandbox_server, answer["refresh_token"])["status"] == 200


def test_rotation_never_keeps_the_refresh_token(sandbox_server: SandboxServer) -> None:
    set_config(sandbox_server, {"spotify": {"rotation": "never"}})
    token = grant_tokens(sandbox_server, "fan-keep")["refresh_token"]
    for _ in range(3):
        answer = refresh(sandbox_server, token)
        assert answer["status"] == 200
        assert "refresh_token" not in answer


def test_rotation_sometimes_gives_both_answers(sandbox_server: SandboxServer) -> None:
    set_config(sandbox_server, {"spotify": {"rotation": "sometimes", "rotation_share": 0.5}})
    token = grant_tokens(sandbox_server, "fan-some")["refresh_token"]
    rotated = 0
    for _ in range(30):
        answer = refresh(sandbox_server, token)
        assert answer["status"] == 200
        if "refresh_token" in answer:
            rotated += 1
            token = answer["refresh_token"]
    assert 5 <= rotated <= 25


def test_refresh_tokens_die_six_months_after_the_grant(sandbox_server: SandboxServer) -> None:
    set_config(sandbox_server, {"spotify": {"rotation": "always"}})
    token = grant_tokens(sandbox_server, "fan-old")["refresh_token"]
    for _ in range(5):  # a refresh every month does not extend the grant
        sandbox_server.client.put("/sandbox/clock", json={"advance_s": 30 * 86400})
        answer = refresh(sandbox_server, token)
        assert answer["status"] == 200
        token = answer["refresh_token"]
    sandbox_server.client.put("/sandbox/clock", json={"advance_s": SIX_MONTHS_S - 5 * 30 * 86400})
    dead = refresh(sandbox_server, token)
    assert (dead["status"], dead["error"]) == (400, "invalid_grant")


def test_revoked_app_loses_access_and_refresh(sandbox_server: SandboxServer) -> None:
    tokens = grant_tokens(sandbox_server, "fan-rev")
    revoked = sandbox_server.client.post(
        "/sandbox/spotify/fans/fan-rev/revoke", params={"client_id": CLIENT_ID}
    )
    assert revoked.json() == {"revoked": 1}
    api = sandbox_server.client.get("/spotify/v1/me", headers=bearer(tokens["access_token"]))
    assert api.json()["error"] == {"status": 401, "message": "Invalid access token"}
    assert refresh(sandbox_server, tokens["refresh_token"])["error_description"] == "Refresh token revoked"
    again = grant_tokens(sandbox_server, "fan-rev")  # granting again works
    assert (
        sandbox_server.client.get("/spotify/v1/me", headers=bearer(again["access_token"])).status_code == 200
    )


def test_spotipy_surfaces_invalid_grant(sandbox_server: SandboxServer) -> None:
    auth = SandboxOAuth(sandbox_server)
    auth.get_access_token(code_from(sandbox_server, auth.get_authorize_url(), "fan-sp"), as_dict=False)
    info = auth.get_cached_token()
    sandbox_server.client.post("/sandbox/spotify/fans/fan-sp/revoke")
    with pytest.raises(spotipy.SpotifyOauthError) as raised:
        auth.refresh_access_token(info["refresh_token"])
    assert raised.value.error == "invalid_grant"
    assert raised.value.error_description == "Refresh token revoked"


def test_spotipy_keeps_the_old_refresh_token_when_not_rotated(sandbox_server: SandboxServer) -> None:
    sandbox_server.client.put("/sandbox/config", json={"spotify": {"rotation": "never"}})
    auth = SandboxOAuth(sandbox_server)
    auth.get_access_token(code_from(sandbox_server, auth.get_authorize_url(), "fan-sp2"), as_dict=False)
    info = auth.get_cached_token()
    renewed = auth.refresh_access_token(info["refresh_token"])
    assert renewed["refresh_token"] == info["refresh_token"]
    assert renewed["access_token"] != info["access_token"]


def test_client_credentials_token_cannot_act_for_a_user(sandbox_server: SandboxServer) -> None:
    answer = sandbox_server.client.post(
        TOKEN, data={"grant_type": "client_credentials"}, headers=basic_auth()
    )
    assert answer.status_code == 200
    assert "refresh_token" not in answer.json()
    me = sandbox_server.client.get("/spotify/v1/me", headers=bearer(answer.json()["access_token"]))
    assert me.json()["error"]["status"] == 401
