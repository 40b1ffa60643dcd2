"""The Apple Music stand-in: developer tokens, Music User Tokens, library adds, pre-adds, playlists, 429."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from sandbox.apple.keys import developer_token
from sandbox.config import SandboxConfig
from sandbox.env import sandbox_env
from tests.sandbox.helpers import SandboxServer, add_release

SIX_MONTHS = 15_777_000


def dev_headers(server: SandboxServer, **kwargs: object) -> dict[str, str]:
    config = server.sandbox.config.apple
    token = developer_token(config, issued_at=server.sandbox.clock.time(), **kwargs)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


def fan_headers(server: SandboxServer, fan: str, **spec: object) -> dict[str, str]:
    server.client.post("/sandbox/apple/fans", json={"id": fan, **spec})
    user_token = server.client.post(f"/sandbox/apple/fans/{fan}/user-token").json()["music_user_token"]
    return {**dev_headers(server), "Music-User-Token": user_token}


def apple_error(response: object) -> tuple[int, str, str]:
    body = response.json()  # type: ignore[attr-defined]
    error = body["errors"][0]
    assert set(error) >= {"id", "title", "detail", "status", "code"}
    assert isinstance(error["status"], str)
    assert isinstance(error["code"], str)
    return response.status_code, error["status"], error["code"]  # type: ignore[attr-defined]


def test_developer_token_rules(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server)
    url = f"/apple/v1/catalog/us/albums/{ids['apple']['album_id']}"
    client = sandbox_server.client
    assert client.get(url, headers=dev_headers(sandbox_server)).status_code == 200
    assert client.get(url, headers=dev_headers(sandbox_server, lifetime_s=SIX_MONTHS)).status_code == 200
    refused = [
        {},
        dev_headers(sandbox_server, key_id="WRONGKEY99"),
        dev_headers(sandbox_server, team_id="OTHERTEAM1"),
        dev_headers(sandbox_server, key_seed="somebody else's key"),
        dev_headers(sandbox_server, lifetime_s=SIX_MONTHS + 3600),
        {
            "Authorization": "Bearer "
            + jwt.encode(
                {"iss": "SANDBOXTM1", "iat": int(time.time()), "exp": int(time.time()) + 60},
                "s" * 32,
                algorithm="HS256",
                headers={"kid": "SANDBOXKY1"},
            )
        },
        {"Authorization": "Bearer not-a-jwt"},
    ]
    for headers in refused:
        assert apple_error(client.get(url, headers=headers))[:2] == (401, "401"), headers
    short = dev_headers(sandbox_server, lifetime_s=60)
    sandbox_server.client.put("/sandbox/clock", json={"advance_s": 61})
    assert client.get(url, headers=short).status_code == 401


def test_the_projects_own_token_from_the_env_key_file_is_trusted(
    sandbox_server: SandboxServer, tmp_path: Path
) -> None:
    config = SandboxConfig(apple={"private_key_path": str(tmp_path / "AuthKey.p8")})
    env = sandbox_env(sandbox_server.url, config)
    key = Path(env["PRESAVE_APPLE_PRIVATE_KEY"]).read_text()
    assert key.startswith("-----BEGIN PRIVATE KEY-----")
    assert Path(env["PRESAVE_APPLE_PRIVATE_KEY"]).stat().st_mode & 0o777 == 0o600
    now = int(time.time())
    token = jwt.encode(
        {"iss": env["PRESAVE_APPLE_TEAM_ID"], "iat": now, "exp": now + 3600},
        key,
        algorithm="ES256",
        headers={"kid": env["PRESAVE_APPLE_KEY_ID"]},
    )
    answer = sandbox_server.client.get(
        f"{env['PRESAVE_APPLE_API_URL']}/v1/catalog/us/albums",
        params={"ids": "1"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200
    assert answer.json() == {"data": []}


def test_user_routes_need_a_music_user_token(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server)
    params = {"ids[albums]": ids["apple"]["album_id"]}
    without = sandbox_server.client.post(
        "/apple/v1/me/library", params=params, headers=dev_headers(sandbox_server)
    )
    assert apple_error(without)[:2] == (403, "403")
    wrong = sandbox_server.client.post(
        "/apple/v1/me/library",
        params=params,
        headers={**dev_headers(sandbox_server), "Music-User-Token": "nope"},
    )
    assert wrong.status_code == 403
    headers = fan_headers(sandbox_server, "amy")
    sandbox_server.client.post("/sandbox/apple/fans/amy/revoke")
    assert (
        sandbox_server.client.post("/apple/v1/me/library", params=params, headers=headers).status_code == 403
    )


def test_library_add_is_202_and_silently_ignores_what_it_cannot_add(sandbox_server: SandboxServer) -> None:
    live = add_release(sandbox_server)
    later = add_release(sandbox_server, upc="198880045577", release_at=datetime.now(UTC) + timedelta(days=2))
    headers = fan_headers(sandbox_server, "amy")
    answer = sandbox_server.client.post(
        "/apple/v1/me/library",
        params={
            "ids[albums]": f"{live['apple']['album_id']},{later['apple']['album_id']},999",
            "ids[playlists]": "pl.x",
        },
        headers=headers,
    )
    assert (answer.status_code, answer.content) == (202, b"")
    fan = sandbox_server.client.get("/sandbox/apple/fans/amy").json()
    assert {(e["type"], e["id"]) for e in fan["library"]} == {("albums", live["apple"]["album_id"])} | {
        ("songs", s["id"]) for s in live["apple"]["songs"]
    }
    assert fan["pre_adds"] == []
    missing = sandbox_server.client.post("/apple/v1/me/library", headers=headers)
    assert apple_error(missing)[0] == 400


def test_unsubscribed_fans_cannot_add(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server)
    headers = fan_headers(sandbox_server, "free-fan", subscribed=False)
    answer = sandbox_server.client.post(
        "/apple/v1/me/library", params={"ids[albums]": ids["apple"]["album_id"]}, headers=headers
    )
    assert apple_error(answer) == (400, "400", "40015")


def test_pre_order_album_is_pre_added_and_lands_at_release(sandbox_server: SandboxServer) -> None:
    release_at = datetime.now(UTC) + timedelta(days=3)
    ids = add_release(sandbox_server, release_at=release_at, tracks=3, apple_preorder=True)
    assert ids["apple"]["preorder"] is True
    headers = fan_headers(sandbox_server, "early-amy")
    album = sandbox_server.client.get(
        f"/apple/v1/catalog/us/albums/{ids['apple']['album_id']}", headers=headers
    )
    attributes = album.json()["data"][0]["attributes"]
    assert attributes["isComplete"] is False
    assert "playParams" not in attributes
    songs = album.json()["data"][0]["relationships"]["tracks"]["data"]
    assert [s["id"] for s in songs] == [
        ids["apple"]["songs"][0]["id"]
    ]  # only the instant-gratification track
    added = sandbox_server.client.post(
        "/apple/v1/me/library", params={"ids[albums]": ids["apple"]["album_id"]}, headers=headers
    )
    assert added.status_code == 202
    before = sandbox_server.client.get("/sandbox/apple/fans/early-amy").json()
    assert before["library"] == []
    assert [p["id"] for p in before["pre_adds"]] == [ids["apple"]["album_id"]]
    library = sandbox_server.client.get("/apple/v1/me/library/albums", headers=headers).json()
    assert library["data"] == []
    sandbox_server.client.put("/sandbox/clock", json={"now": (release_at + timedelta(hours=1)).isoformat()})
    after = sandbox_server.client.get("/sandbox/apple/fans/early-amy").json()
    assert after["pre_adds"] == []
    landed = [e for e in after["library"] if e["type"] == "albums"]
    assert landed[0]["added_at"] == release_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len([e for e in after["library"] if e["type"] == "songs"]) == 3


def test_albums_that_are_not_pre_orders_stay_hidden_until_release(sandbox_server: SandboxServer) -> None:
    release_at = datetime.now(UTC) + timedelta(days=1)
    ids = add_release(sandbox_server, release_at=release_at)
    single = add_release(
        sandbox_server, upc="198880045599", release_at=release_at, tracks=1, apple_preorder=True
    )
    headers = dev_headers(sandbox_server, lifetime_s=5 * 86400)
    url = f"/apple/v1/catalog/us/albums/{ids['apple']['album_id']}"
    assert apple_error(sandbox_server.client.get(url, headers=headers))[:2] == (404, "404")
    by_upc = sandbox_server.client.get(
        "/apple/v1/catalog/us/albums", params={"filter[upc]": "198880045560"}, headers=headers
    )
    assert by_upc.json() == {"data": []}
    assert (
        sandbox_server.client.get(
            f"/apple/v1/catalog/us/albums/{single['apple']['album_id']}", headers=headers
        ).status_code
        == 404
    )
    sandbox_server.client.put("/sandbox/clock", json={"now": (release_at + timedelta(minutes=1)).isoformat()})
    found = sandbox_server.client.get(
        "/apple/v1/catalog/us/albums", params={"filter[upc]": "198880045560"}, headers=headers
    ).json()["data"]
    assert [a["id"] for a in found] == [ids["apple"]["album_id"]]
    assert found[0]["attributes"]["upc"] == "198880045560"
    isrc = ids["apple"]["songs"][0]["isrc"]
    songs = sandbox_server.client.get(
        "/apple/v1/catalog/us/songs", params={"filter[isrc]": isrc}, headers=headers
    )
    assert [s["id"] for s in songs.json()["data"]] == [ids["apple"]["songs"][0]["id"]]


def test_library_playlists(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server, tracks=2)
    headers = fan_headers(sandbox_server, "list-amy")
    created = sandbox_server.client.post(
        "/apple/v1/me/library/playlists",
        json={"attributes": {"name": "Pre-saves", "description": "x"}},
        headers=headers,
    )
    assert created.status_code == 201
    playlist_id = created.json()["data"][0]["id"]
    assert playlist_id.startswith("p.")
    songs = [{"id": s["id"], "type": "songs"} for s in ids["apple"]["songs"]]
    added = sandbox_server.client.post(
        f"/apple/v1/me/library/playlists/{playlist_id}/tracks", json={"data": songs}, headers=headers
    )
    assert (added.status_code, added.content) == (204, b"")
    unknown = sandbox_server.client.post(
        "/apple/v1/me/library/playlists/p.nothere/tracks", json={"data": songs}, headers=headers
    )
    assert apple_error(unknown)[0] == 404
    bad = sandbox_server.client.post(
        f"/apple/v1/me/library/playlists/{playlist_id}/tracks", json={"data": []}, headers=headers
    )
    assert bad.status_code == 400
    playlist = sandbox_server.client.get("/sandbox/apple/fans/list-amy").json()["playlists"][0]
    assert [t["id"] for t in playlist["tracks"]] == [s["id"] for s in ids["apple"]["songs"]]


def test_rate_limit_answers_429_in_apple_shape(sandbox_server: SandboxServer) -> None:
    sandbox_server.client.put("/sandbox/config", json={"apple": {"rate_budget": 3}})
    sandbox_server.client.put("/sandbox/clock", json={"frozen": True})
    headers = dev_headers(sandbox_server)
    statuses = [
        sandbox_server.client.get(
            "/apple/v1/catalog/us/albums", params={"ids": "1"}, headers=headers
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    limited = sandbox_server.client.get("/apple/v1/catalog/us/albums", params={"ids": "1"}, headers=headers)
    assert apple_error(limited) == (429, "429", "42900")
    summary = sandbox_server.client.get("/sandbox/apple/calls/summary").json()["api"]
    assert summary["by_route"]["GET /v1/catalog/{storefront}/albums"] == {"200": 3, "429": 2}


@pytest.mark.parametrize("storefront", ["xx", "US"])
def test_unknown_storefront_is_a_bad_parameter(sandbox_server: SandboxServer, storefront: str) -> None:
    answer = sandbox_server.client.get(
        f"/apple/v1/catalog/{storefront}/albums/1", headers=dev_headers(sandbox_server)
    )
    assert apple_error(answer)[0] == 400
