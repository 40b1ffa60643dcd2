"""Spotify Web API routes: 2026 and older ones, limits, scopes, paging, dev mode, release timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import spotipy

from tests.sandbox.helpers import (
    SandboxOAuth,
    SandboxServer,
    add_release,
    bearer,
    code_from,
    grant_tokens,
    spotify_client,
)
from tests.sandbox.openapi import assert_calls_match_spec


def fan_headers(server: SandboxServer, fan: str, **kwargs: str) -> dict[str, str]:
    return bearer(grant_tokens(server, fan, **kwargs)["access_token"])


def fan_view(server: SandboxServer, fan: str) -> dict[str, object]:
    return server.client.get(f"/sandbox/spotify/fans/{fan}").json()


def spotipy_for(server: SandboxServer, fan: str) -> spotipy.Spotify:
    auth = SandboxOAuth(server)
    auth.get_access_token(code_from(server, auth.get_authorize_url(), fan), as_dict=False)
    return spotify_client(server, auth, retries=0)


def test_library_takes_at_most_40_uris_and_checks_them(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server, tracks=1)
    headers = fan_headers(sandbox_server, "fan-40")
    track = ids["spotify"]["tracks"][0]["uri"]
    too_many = sandbox_server.client.put(
        "/spotify/v1/me/library", params={"uris": ",".join([track] * 41)}, headers=headers
    )
    assert too_many.json() == {"error": {"status": 400, "message": "Too many ids requested"}}
    forty = sandbox_server.client.put(
        "/spotify/v1/me/library", params={"uris": ",".join([track] * 40)}, headers=headers
    )
    assert forty.status_code == 200
    bad = sandbox_server.client.put(
        "/spotify/v1/me/library", params={"uris": "spotify:album:short"}, headers=headers
    )
    assert bad.status_code == 400
    missing = sandbox_server.client.put("/spotify/v1/me/library", headers=headers)
    assert missing.status_code == 400
    unknown = sandbox_server.client.put(
        "/spotify/v1/me/library", params={"uris": "spotify:album:0000000000000000000000"}, headers=headers
    )
    assert unknown.status_code == 404
    entries = fan_view(sandbox_server, "fan-40")["library"]
    assert [(e["uri"], e["requests"]) for e in entries] == [(track, 40)]


def test_scopes_are_enforced_per_uri_type(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server)
    headers = fan_headers(sandbox_server, "fan-scope", scope="user-library-modify")
    album = sandbox_server.client.put(
        "/spotify/v1/me/library", params={"uris": ids["spotify"]["uri"]}, headers=headers
    )
    assert album.status_code == 200
    artist = sandbox_server.client.put(
        "/spotify/v1/me/library", params={"uris": ids["spotify"]["artist_uri"]}, headers=headers
    )
    assert artist.json() == {"error": {"status": 403, "message": "Insufficient client scope"}}
    old = sandbox_server.client.put(
        "/spotify/v1/me/following",
        params={"type": "artist", "ids": ids["spotify"]["artist_id"]},
        headers=headers,
    )
    assert old.status_code == 403
    contains = sandbox_server.client.get(
        "/spotify/v1/me/library/contains", params={"uris": ids["spotify"]["uri"]}, headers=headers
    )
    assert contains.json()["error"]["message"] == "Insufficient client scope"
    assert [e["uri"] for e in fan_view(sandbox_server, "fan-scope")["follows"]] == []


def test_spotipy_library_follow_and_playlist_verbs(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server, tracks=3)
    editorial = sandbox_server.client.post(
        "/sandbox/spotify/playlists", json={"name": "New Music Friday"}
    ).json()
    sp = spotipy_for(sandbox_server, "fan-verbs")
    tracks = [t["uri"] for t in ids["spotify"]["tracks"]]
    sp.current_user_saved_tracks_add(tracks[:2])
    sp.current_user_saved_albums_add([ids["spotify"]["album_id"]])
    sp.user_follow_artists([ids["spotify"]["artist_id"]])
    sp.current_user_follow_playlist(editorial["id"])
    assert sp.current_user_saved_tracks_contains(tracks) == [True, True, False]
    playlist = sp.current_user_playlist_create("Pre-saved", public=False, description="from the campaign")
    snapshot = sp.playlist_add_items(playlist["id"], [tracks[2]])
    assert snapshot["snapshot_id"]
    sp.playlist_add_items(playlist["id"], [tracks[0]], position=0)
    items = sp.playlist_items(playlist["id"])
    assert [i["item"]["uri"] for i in items["items"]] == [tracks[0], tracks[2]]
    sp.current_user_saved_tracks_delete([tracks[1]])

    view = fan_view(sandbox_server, "fan-verbs")
    assert {e["uri"] for e in view["library"]} == {tracks[0], ids["spotify"]["uri"]}
    assert {e["uri"] for e in view["follows"]} == {
        ids["spotify"]["artist_uri"],
        editorial["uri"],
        playlist["uri"],
    }
    assert [i["uri"] for i in view["playlists"][0]["items"]] == [tracks[0], tracks[2]]
    calls = sandbox_server.client.get("/sandbox/spotify/calls", params={"bodies": "true"}).json()["calls"]
    assert_calls_match_spec(calls, check_params=False)


def test_playlist_items_accept_query_object_and_bare_array(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server, tracks=3)
    headers = fan_headers(sandbox_server, "fan-pl")
    tracks = [t["uri"] for t in ids["spotify"]["tracks"]]
    created = sandbox_server.client.post("/spotify/v1/me/playlists", json={"name": "Mine"}, headers=headers)
    assert created.status_code == 201
    playlist_id = created.json()["id"]
    url = f"/spotify/v1/playlists/{playlist_id}/items"
    by_query = sandbox_server.client.post(
        url, params={"uris": tracks[0]}, json={"uris": [tracks[1]]}, headers=headers
    )
    assert by_query.status_code == 201
    by_object = sandbox_server.client.post(url, json={"uris": [tracks[1]], "position": 0}, headers=headers)
    by_array = sandbox_server.client.post(url, json=[tracks[2]], headers=headers)
    old_route = sandbox_server.client.post(
        f"/spotify/v1/playlists/{playlist_id}/tracks", json=[tracks[0]], headers=headers
    )
    assert [r.status_code for r in (by_object, by_array, old_route)] == [201, 201, 201]
    assert len({r.json()["snapshot_id"] for r in (by_query, by_object, by_array, old_route)}) == 4
    too_many = sandbox_server.client.post(url, json=[tracks[0]] * 101, headers=headers)
    assert too_many.status_code == 400
    not_mine = sandbox_server.client.post(
        url, json=[tracks[0]], headers=fan_headers(sandbox_server, "fan-other")
    )
    assert not_mine.status_code == 403
    items = fan_view(sandbox_server, "fan-pl")["playlists"][0]["items"]
    assert [i["uri"] for i in items] == [tracks[1], tracks[0], tracks[2], tracks[0]]


def test_older_routes_take_ids_in_query_or_body(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server, tracks=2)
    headers = fan_headers(sandbox_server, "fan-old")
    track_ids = [t["id"] for t in ids["spotify"]["tracks"]]
    assert (
        sandbox_server.client.put(
            "/spotify/v1/me/tracks", json={"ids": track_ids[:1]}, headers=headers
        ).status_code
        == 200
    )
    assert (
        sandbox_server.client.put(
            "/spotify/v1/me/tracks/", params={"ids": track_ids[1]}, headers=headers
        ).status_code
        == 200
    )
    albums = sandbox_server.client.put(
        "/spotify/v1/me/albums", params={"ids": ",".join([ids["spotify"]["album_id"]] * 21)}, headers=headers
    )
    assert albums.status_code == 400  # the query form takes at most 20
    stamped = sandbox_server.client.put(
        "/spotify/v1/me/albums",
        json={"timestamped_ids": [{"id": ids["spotify"]["album_id"], "added_at": "2026-01-01T00:00:00Z"}]},
        headers=headers,
    )
    assert stamped.status_code == 200
    follow = sandbox_server.client.put(
        "/spotify/v1/me/following?type=artist", json={"ids": [ids["spotify"]["artist_id"]]}, headers=headers
    )
    assert follow.status_code == 204
    editorial = sandbox_server.client.post("/sandbox/spotify/playlists", json={"name": "Hot Hits"}).json()
    followed = sandbox_server.client.put(
        f"/spotify/v1/playlists/{editorial['id']}/followers", json={"public": True}, headers=headers
    )
    assert followed.status_code == 200
    saved = sandbox_server.client.get("/spotify/v1/me/albums", headers=headers).json()
    assert [i["album"]["id"] for i in saved["items"]] == [ids["spotify"]["album_id"]]
    view = fan_view(sandbox_server, "fan-old")
    assert len(view["library"]) == 3
    assert {f["uri"] for f in view["follows"]} == {ids["spotify"]["artist_uri"], editorial["uri"]}


def test_album_tracks_paging_links_point_at_the_sandbox(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server, tracks=25)
    sp = spotipy_for(sandbox_server, "fan-pages")
    page = sp.album_tracks(ids["spotify"]["album_id"], limit=10)
    assert page["total"] == 25
    assert page["next"].startswith(sandbox_server.api + "/albums/")
    seen = [t["id"] for t in page["items"]]
    while page["next"]:
        page = sp.next(page)
        seen += [t["id"] for t in page["items"]]
    assert seen == [t["id"] for t in ids["spotify"]["tracks"]]
    album = sp.album(ids["spotify"]["album_id"])
    assert album["tracks"]["total"] == 25
    assert album["external_ids"] == {"upc": "198880045560"}


def test_search_filters_and_limits(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server, tracks=2)
    add_release(sandbox_server, upc="198880045577", title="Other Record", artist="Someone Else")
    headers = fan_headers(sandbox_server, "fan-search")
    isrc = "QZWFV2456001"

    def search(**params: str) -> dict[str, object]:
        return sandbox_server.client.get("/spotify/v1/search", params=params, headers=headers).json()

    by_isrc = search(q=f"isrc:{isrc}", type="track")
    assert [t["id"] for t in by_isrc["tracks"]["items"]] == [ids["spotify"]["tracks"][0]["id"]]
    assert search(q=f"isrc:{isrc}", type="album")["albums"]["items"] == []
    assert search(q="upc:198880045560", type="track")["tracks"]["items"] == []
    by_artist = search(q='artist:"Nova Lane"', type="album,artist")
    assert [a["id"] for a in by_artist["albums"]["items"]] == [ids["spotify"]["album_id"]]
    assert by_artist["artists"]["items"][0]["id"] == ids["spotify"]["artist_id"]
    assert search(q="midnight drive", type="album")["albums"]["total"] == 1
    assert search(q="x", type="album", limit="51")["error"] == {"status": 400, "message": "Invalid limit"}
    assert search(q="x", type="album", offset="1001")["error"]["status"] == 400
    assert search(q="x", type="songs")["error"]["status"] == 400
    assert search(type="album")["error"]["status"] == 400
    assert search(q="x", type="album", market="XX")["error"]["message"] == "Invalid market code"
    default = search(q="record", type="album")
    assert default["albums"]["limit"] == 20


def test_artist_followers_count_the_fans_following(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server)
    headers = fan_headers(sandbox_server, "fan-f1")
    artist_url = f"/spotify/v1/artists/{ids['spotify']['artist_id']}"
    before = sandbox_server.client.get(artist_url, headers=headers).json()["followers"]["total"]
    sandbox_server.client.put(
        "/spotify/v1/me/library", params={"uris": ids["spotify"]["artist_uri"]}, headers=headers
    )
    after = sandbox_server.client.get(artist_url, headers=headers).json()["followers"]["total"]
    assert after == before + 1


def test_dev_mode_removes_deprecated_routes_and_fields_and_admits_five_users(
    sandbox_server: SandboxServer,
) -> None:
    ids = add_release(sandbox_server)
    sandbox_server.client.put("/sandbox/config", json={"spotify": {"dev_mode": True}})
    fans = [fan_headers(sandbox_server, f"dev-fan-{n}") for n in range(6)]
    first = fans[0]
    me = sandbox_server.client.get("/spotify/v1/me", headers=first).json()
    assert "country" not in me
    assert "email" not in me
    assert me["account_id"]
    album = sandbox_server.client.get(
        f"/spotify/v1/albums/{ids['spotify']['album_id']}", headers=first
    ).json()
    assert "available_markets" not in album
    assert "popularity" not in album
    assert album["external_ids"] == {"upc": "198880045560"}
    artist = sandbox_server.client.get(
        f"/spotify/v1/artists/{ids['spotify']['artist_id']}", headers=first
    ).json()
    assert "followers" not in artist
    assert "popularity" not in artist
    removed = sandbox_server.client.put(
        "/spotify/v1/me/following",
        params={"type": "artist", "ids": ids["spotify"]["artist_id"]},
        headers=first,
    )
    assert removed.status_code == 403
    assert (
        sandbox_server.client.put(
            "/spotify/v1/me/albums", params={"ids": ids["spotify"]["album_id"]}, headers=first
        ).status_code
        == 403
    )
    kept = sandbox_server.client.put(
        "/spotify/v1/me/library", params={"uris": ids["spotify"]["artist_uri"]}, headers=first
    )
    assert kept.status_code == 200
    over = sandbox_server.client.get(
        "/spotify/v1/search", params={"q": "a", "type": "album", "limit": 11}, headers=first
    )
    assert over.json()["error"] == {"status": 400, "message": "Invalid limit"}
    fifth = sandbox_server.client.get("/spotify/v1/me", headers=fans[4])
    sixth = sandbox_server.client.get("/spotify/v1/me", headers=fans[5])
    assert fifth.status_code == 200
    assert sixth.json() == {
        "error": {"status": 403, "message": "User not registered in the Developer Dashboard"}
    }


def test_local_midnight_release_reaches_tokyo_before_los_angeles(sandbox_server: SandboxServer) -> None:
    client = sandbox_server.client
    release_day = (datetime.now(UTC) + timedelta(days=3)).date()
    midnight_london = datetime(release_day.year, release_day.month, release_day.day, tzinfo=UTC)
    ids = add_release(
        sandbox_server, release_at=midnight_london, release_mode="local", timezone="Europe/London"
    )
    client.post("/sandbox/spotify/fans", json={"id": "tokyo", "country": "JP"})
    client.post(
        "/sandbox/spotify/fans", json={"id": "la", "country": "US", "timezone": "America/Los_Angeles"}
    )
    # 16:00 UTC the day before: already past midnight in Tokyo (UTC+9), still morning in Los Angeles
    moment = midnight_london - timedelta(hours=8)
    client.put("/sandbox/clock", json={"now": moment.isoformat()})
    tokyo, la = fan_headers(sandbox_server, "tokyo"), fan_headers(sandbox_server, "la")
    album = f"/spotify/v1/albums/{ids['spotify']['album_id']}"
    assert client.get(album, headers=tokyo).status_code == 200
    assert client.get(album, headers=la).status_code == 404
    query = {"q": "upc:198880045560", "type": "album"}
    assert client.get("/spotify/v1/search", params=query, headers=tokyo).json()["albums"]["total"] == 1
    assert client.get("/spotify/v1/search", params=query, headers=la).json()["albums"]["total"] == 0
    client.put("/sandbox/clock", json={"now": (midnight_london + timedelta(hours=8)).isoformat()})
    la = fan_headers(sandbox_server, "la")
    assert client.get(album, headers=la).status_code == 200
    markets = client.get(album, headers=la).json()["available_markets"]
    assert "JP" in markets
    assert "US" in markets


def test_unreleased_tracks_cannot_be_saved_or_found(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server, release_at=datetime.now(UTC) + timedelta(days=1))
    headers = fan_headers(sandbox_server, "fan-early")
    track = ids["spotify"]["tracks"][0]
    saved = sandbox_server.client.put(
        "/spotify/v1/me/library", params={"uris": track["uri"]}, headers=headers
    )
    assert saved.json() == {"error": {"status": 404, "message": "non existing id"}}
    assert sandbox_server.client.get(f"/spotify/v1/tracks/{track['id']}", headers=headers).status_code == 404
    found = sandbox_server.client.get(
        "/spotify/v1/search", params={"q": f"isrc:{track['isrc']}", "type": "track"}, headers=headers
    )
    assert found.json()["tracks"]["total"] == 0


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/spotify/v1/me/"), ("GET", "/spotify/v1/me/library/contains/?uris=spotify:user:x")],
)
def test_trailing_slash_is_the_same_route(sandbox_server: SandboxServer, method: str, path: str) -> None:
    headers = fan_headers(sandbox_server, "fan-slash")
    assert sandbox_server.client.request(method, path, headers=headers).status_code == 200


def test_per_fan_call_view_shows_each_action_once(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server)
    headers = fan_headers(sandbox_server, "fan-calls")
    sandbox_server.client.put(
        "/spotify/v1/me/library", params={"uris": ids["spotify"]["uri"]}, headers=headers
    )
    sandbox_server.client.put(
        "/spotify/v1/me/library", params={"uris": ids["spotify"]["uri"]}, headers=headers
    )
    calls = sandbox_server.client.get("/sandbox/spotify/fans/fan-calls/calls").json()["calls"]
    assert [c["route"] for c in calls] == [
        "GET /authorize",
        "POST /api/token",
        "PUT /me/library",
        "PUT /me/library",
    ]
    assert fan_view(sandbox_server, "fan-calls")["library"][0]["requests"] == 2
