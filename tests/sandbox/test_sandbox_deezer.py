"""The Deezer stand-in: connect, the API with `access_token`, writes answering `true`, errors on HTTP 200."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.sandbox.helpers import SandboxServer, add_release

APP_ID = "100001"
SECRET = "sandbox-deezer-secret"
REDIRECT = "http://127.0.0.1:8000/oauth/deezer/callback"
PERMS = "basic_access,email,manage_library,delete_library"


def connect(
    server: SandboxServer, fan: str | None, *, perms: str = PERMS, decision: str | None = None
) -> httpx.Response:
    params = {"app_id": APP_ID, "redirect_uri": REDIRECT, "perms": perms, "state": "st"}
    if fan:
        params["sandbox_fan"] = fan
    if decision:
        params["sandbox_decision"] = decision
    return server.client.get("/deezer/connect/oauth/auth.php", params=params)


def token_for(server: SandboxServer, fan: str, *, perms: str = PERMS) -> str:
    location = connect(server, fan, perms=perms).headers["location"]
    code = parse_qs(urlsplit(location).query)["code"][0]
    answer = server.client.get(
        "/deezer/connect/oauth/access_token.php", params={"app_id": APP_ID, "secret": SECRET, "code": code}
    )
    return parse_qs(answer.text)["access_token"][0]


def error_of(response: httpx.Response) -> tuple[int, int, str]:
    body = response.json()
    return response.status_code, body["error"]["code"], body["error"]["type"]


def test_connect_gives_a_query_string_token_and_json_on_request(sandbox_server: SandboxServer) -> None:
    location = connect(sandbox_server, "dee").headers["location"]
    assert location.startswith(REDIRECT + "?code=")
    assert "state=st" in location
    code = parse_qs(urlsplit(location).query)["code"][0]
    text = sandbox_server.client.get(
        "/deezer/connect/oauth/access_token.php", params={"app_id": APP_ID, "secret": SECRET, "code": code}
    )
    pairs = parse_qs(text.text)
    assert pairs["expires"] == ["3600"]
    assert len(pairs["access_token"][0]) > 20
    again = sandbox_server.client.get(
        "/deezer/connect/oauth/access_token.php", params={"app_id": APP_ID, "secret": SECRET, "code": code}
    )
    assert again.text == "wrong code"
    code2 = parse_qs(
        urlsplit(
            connect(sandbox_server, "dee", perms="basic_access,offline_access").headers["location"]
        ).query
    )["code"][0]
    as_json = sandbox_server.client.get(
        "/deezer/connect/oauth/access_token.php",
        params={"app_id": APP_ID, "secret": SECRET, "code": code2, "output": "json"},
    ).json()
    assert as_json["expires"] == 0  # offline_access: the token never expires
    bad_secret = sandbox_server.client.get(
        "/deezer/connect/oauth/access_token.php", params={"app_id": APP_ID, "secret": "x", "code": code2}
    )
    assert bad_secret.text == "wrong secret"


def test_connect_denial_and_consent_page(sandbox_server: SandboxServer) -> None:
    denied = connect(sandbox_server, "dee-no", decision="deny").headers["location"]
    assert parse_qs(urlsplit(denied).query) == {"error_reason": ["user_denied"], "state": ["st"]}
    page = connect(sandbox_server, None)
    assert page.status_code == 200
    assert "Agree" in page.text
    agreed = sandbox_server.client.post(
        "/deezer/connect/oauth/auth.php",
        data={"app_id": APP_ID, "redirect_uri": REDIRECT, "perms": PERMS, "decision": "agree"},
    )
    assert "code=" in agreed.headers["location"]
    wrong_app = sandbox_server.client.get(
        "/deezer/connect/oauth/auth.php", params={"app_id": "1", "redirect_uri": REDIRECT, "sandbox_fan": "x"}
    )
    assert wrong_app.status_code == 400


def test_library_writes_answer_true_and_land(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server)
    token = token_for(sandbox_server, "dee-lib")
    api = "/deezer/api"
    me = sandbox_server.client.get(f"{api}/user/me", params={"access_token": token}).json()
    assert isinstance(me["id"], int)
    assert me["email"].endswith("@fans.sandbox.invalid")
    album = sandbox_server.client.get(f"{api}/album/upc:198880045560").json()
    assert album["id"] == int(ids["deezer"]["album_id"])
    assert album["upc"] == "198880045560"
    for path, param, value in [
        ("albums", "album_id", ids["deezer"]["album_id"]),
        ("tracks", "track_id", ids["deezer"]["tracks"][0]["id"]),
        ("artists", "artist_id", ids["deezer"]["artist_id"]),
    ]:
        answer = sandbox_server.client.post(
            f"{api}/user/me/{path}", params={param: value, "access_token": token}
        )
        assert answer.json() is True
    playlist = sandbox_server.client.post(
        f"{api}/user/me/playlists", params={"title": "Mine", "access_token": token}
    )
    playlist_id = playlist.json()["id"]
    songs = ",".join(t["id"] for t in ids["deezer"]["tracks"])
    added = sandbox_server.client.post(
        f"{api}/playlist/{playlist_id}/tracks", params={"songs": songs, "access_token": token}
    )
    assert added.json() is True
    fan = sandbox_server.client.get("/sandbox/deezer/fans/dee-lib").json()
    assert {(f["type"], f["id"]) for f in fan["favourites"]} == {
        ("album", ids["deezer"]["album_id"]),
        ("track", ids["deezer"]["tracks"][0]["id"]),
        ("artist", ids["deezer"]["artist_id"]),
    }
    assert [t["id"] for t in fan["playlists"][0]["tracks"]] == [t["id"] for t in ids["deezer"]["tracks"]]
    listed = sandbox_server.client.get(f"{api}/user/me/albums", params={"access_token": token}).json()
    assert listed["total"] == 1


def test_errors_come_on_http_200(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server, release_at=datetime.now(UTC) + timedelta(days=1))
    token = token_for(sandbox_server, "dee-err", perms="basic_access")
    api = "/deezer/api"
    assert error_of(sandbox_server.client.get(f"{api}/album/upc:198880045560")) == (200, 800, "DataException")
    assert error_of(sandbox_server.client.get(f"{api}/album/{ids['deezer']['album_id']}"))[1] == 800
    no_perm = sandbox_server.client.post(
        f"{api}/user/me/albums", params={"album_id": ids["deezer"]["album_id"], "access_token": token}
    )
    assert error_of(no_perm) == (200, 200, "OAuthException")
    assert error_of(sandbox_server.client.get(f"{api}/user/me", params={"access_token": "nope"})) == (
        200,
        300,
        "OAuthException",
    )
    assert error_of(sandbox_server.client.get(f"{api}/user/me"))[1] == 200
    full = token_for(sandbox_server, "dee-err2")
    wrong = sandbox_server.client.post(
        f"{api}/user/me/albums", params={"album_id": "abc", "access_token": full}
    )
    assert error_of(wrong) == (200, 500, "ParameterException")
    unreleased = sandbox_server.client.post(
        f"{api}/user/me/albums", params={"album_id": ids["deezer"]["album_id"], "access_token": full}
    )
    assert error_of(unreleased)[1] == 800


def test_tokens_expire_and_revocation_kills_them(sandbox_server: SandboxServer) -> None:
    token = token_for(sandbox_server, "dee-exp")
    me = "/deezer/api/user/me"
    sandbox_server.client.put("/sandbox/clock", json={"advance_s": 3601})
    assert error_of(sandbox_server.client.get(me, params={"access_token": token}))[1] == 300
    fresh = token_for(sandbox_server, "dee-exp")
    assert "id" in sandbox_server.client.get(me, params={"access_token": fresh}).json()
    sandbox_server.client.post("/sandbox/deezer/fans/dee-exp/revoke")
    assert error_of(sandbox_server.client.get(me, params={"access_token": fresh}))[1] == 300


def test_quota_is_50_calls_per_5_seconds_with_code_4(sandbox_server: SandboxServer) -> None:
    token = token_for(sandbox_server, "dee-quota")
    sandbox_server.client.put("/sandbox/clock", json={"frozen": True})
    answers = [
        sandbox_server.client.get("/deezer/api/user/me", params={"access_token": token}) for _ in range(60)
    ]
    quota = [a for a in answers if "error" in a.json()]
    assert len(quota) == 10
    assert {error_of(a) for a in quota} == {(200, 4, "Exception")}
    assert quota[0].json()["error"]["message"] == "Quota limit exceeded"
    sandbox_server.client.put("/sandbox/clock", json={"advance_s": 5})
    assert "id" in sandbox_server.client.get("/deezer/api/user/me", params={"access_token": token}).json()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_request_method_parameter_and_delete(sandbox_server: SandboxServer, method: str) -> None:
    ids = add_release(sandbox_server)
    token = token_for(sandbox_server, "dee-rm")
    params = {"album_id": ids["deezer"]["album_id"], "access_token": token}
    if method == "GET":
        added = sandbox_server.client.get(
            "/deezer/api/user/me/albums", params={**params, "request_method": "post"}
        )
    else:
        added = sandbox_server.client.post("/deezer/api/user/me/albums", params=params)
    assert added.json() is True
    removed = sandbox_server.client.delete("/deezer/api/user/me/albums", params=params)
    assert removed.json() is True
    assert sandbox_server.client.get("/sandbox/deezer/fans/dee-rm").json()["favourites"] == []
