"""Release day end to end against the sandbox: every owed action done once, with an outcome each."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from urllib.parse import unquote

from sqlalchemy import select

from campaigns.models import Grant, OwedAction
from executor.release import campaigns_with_work_due
from tests.executor.conftest import ARTIST_ID, DEEZER_ARTIST, Harness, ago
from tests.sandbox.openapi import assert_calls_match_spec

PLAYLIST = "spotify:playlist:37i9dQZF1DX0XUsuxWHRQd"


def _writes(harness: Harness) -> Counter[tuple[str, str]]:
    """Successful library writes per (fan, URI) in the Spotify call log."""
    seen: Counter[tuple[str, str]] = Counter()
    for call in harness.calls("spotify"):
        if call["method"] == "PUT" and call["route"] == "PUT /me/library" and call["status"] == 200:
            for uri in unquote(call["query"]).removeprefix("uris=").split(","):
                seen[(call["user"], uri)] += 1
    return seen


def _actions(harness: Harness) -> list[OwedAction]:
    with harness.store.session() as session:
        return list(session.scalars(select(OwedAction).order_by(OwedAction.id)))


def test_every_fan_gets_the_release_once_and_a_second_run_adds_nothing(harness: Harness) -> None:
    release = harness.add_release("198880045560", ago(60))
    campaign = harness.add_campaign("midnight-drive", "198880045560", ago(60))
    fans = [f"fan-{n}" for n in range(6)]
    for fan in fans:
        harness.spotify_grant(campaign, fan)

    report = harness.run("midnight-drive")

    album = release["spotify"]["uri"]
    assert report.releases["spotify"] == album
    assert report.outcomes["delivered"] == 12  # a save and the artist follow for each fan
    assert report.undone == 0
    writes = _writes(harness)
    for fan in fans:
        assert writes[(fan, album)] == 1
        assert writes[(fan, f"spotify:artist:{ARTIST_ID}")] == 1
        assert [item["uri"] for item in harness.fan(fan)["library"]].count(album) == 1
    assert report.latency_s["max"] >= 60  # from the release moment to the library

    again = harness.run("midnight-drive")
    assert again.planned == 0
    assert again.performed == 0
    assert _writes(harness) == writes
    assert_calls_match_spec(harness.calls("spotify", bodies="true"), check_params=True)


def test_the_fans_choices_are_followed_and_the_playlist_is_added_or_created(harness: Harness) -> None:
    release = harness.add_release("198880045561", ago(10), tracks=3)
    harness.admin.post(
        "/sandbox/spotify/playlists", json={"name": "Editorial", "id": "37i9dQZF1DX0XUsuxWHRQd"}
    ).raise_for_status()
    campaign = harness.add_campaign(
        "choices",
        "198880045561",
        ago(10),
        services={"spotify": {"artist": f"spotify:artist:{ARTIST_ID}", "follow": [PLAYLIST]}},
    )
    harness.spotify_grant(
        campaign, "fan-new", choices={"follows": [PLAYLIST], "playlist": {"new": "Nova on repeat"}}
    )
    own = harness.spotify_tokens("fan-own")
    created = harness.admin.post(
        "/spotify/v1/me/playlists",
        json={"name": "Mine", "public": False},
        headers={"Authorization": f"Bearer {own['access_token']}"},
    ).json()
    harness.spotify_grant(campaign, "fan-own", choices={"follows": [], "playlist": {"id": created["id"]}})

    report = harness.run("choices")

    assert report.undone == 0
    tracks = [t["uri"] for t in release["spotify"]["tracks"]]
    newer = harness.fan("fan-new")
    assert PLAYLIST in [f["uri"] for f in newer["follows"]]
    made = [p for p in newer["playlists"] if p["name"] == "Nova on repeat"]
    assert len(made) == 1
    assert [i["uri"] for i in made[0]["items"]] == tracks
    mine = [p for p in harness.fan("fan-own")["playlists"] if p["id"] == created["id"]]
    assert [i["uri"] for i in mine[0]["items"]] == tracks
    playlist_actions = [a for a in _actions(harness) if a.kind == "add_to_playlist"]
    assert {a.outcome for a in playlist_actions} == {"delivered"}
    assert made[0]["id"] in {a.resolved_target for a in playlist_actions}
    harness.run("choices")
    assert len([p for p in harness.fan("fan-new")["playlists"] if p["name"] == "Nova on repeat"]) == 1
    assert_calls_match_spec(harness.calls("spotify", bodies="true"), check_params=True)


def test_a_bad_grant_never_stops_the_batch(harness: Harness) -> None:
    harness.add_release("198880045562", ago(10))
    campaign = harness.add_campaign("mixed", "198880045562", ago(10))
    good = harness.spotify_grant(campaign, "fan-good")
    revoked = harness.spotify_grant(campaign, "fan-gone")
    scopeless = harness.spotify_grant(
        campaign, "fan-scope", scope="user-library-read user-follow-modify", choices={}
    )
    harness.admin.post("/sandbox/spotify/fans/fan-gone/revoke").raise_for_status()
    with harness.store.session() as session:  # the revoked fan's access token is dead too: force a refresh
        session.get_one(Grant, revoked).token_expires_at = ago(10)

    report = harness.run("mixed")

    by_grant = {(a.grant_id, a.kind): a for a in _actions(harness)}
    assert by_grant[(good, "save_release")].outcome == "delivered"
    gone = by_grant[(revoked, "save_release")]
    assert gone.outcome == "undeliverable"
    assert "invalid_grant" in (gone.reason or "")
    scope = by_grant[(scopeless, "save_release")]
    assert scope.outcome == "undeliverable"
    assert "403" in (scope.reason or "")
    with harness.store.session() as session:
        assert session.get_one(Grant, revoked).status == "revoked"
    assert report.undone == 0
    calls_before = len(harness.calls("spotify"))
    harness.run("mixed")
    assert len(harness.calls("spotify")) == calls_before  # never retried


def test_a_refreshed_token_is_used_and_a_rotated_one_is_stored(harness: Harness) -> None:
    harness.configure({"spotify": {"rotation": "always"}})
    harness.add_release("198880045563", ago(10))
    campaign = harness.add_campaign("refresh", "198880045563", ago(10))
    grant_id = harness.spotify_grant(campaign, "fan-old")
    with harness.store.session() as session:
        grant = session.get_one(Grant, grant_id)
        grant.token_expires_at = ago(5)
        old_refresh = harness.vault.open(grant.refresh_token or "")

    report = harness.run("refresh")

    assert report.outcomes["delivered"] == 2
    with harness.store.session() as session:
        grant = session.get_one(Grant, grant_id)
        assert harness.vault.open(grant.refresh_token or "") != old_refresh
        assert grant.token_expires_at is not None
        assert grant.token_expires_at > ago(-3000)
    refreshes = [
        c for c in harness.calls("spotify") if c["route"] == "POST /api/token" and c["user"] == "fan-old"
    ]
    assert len(refreshes) == 2  # the grant's code exchange, then one refresh


def test_apple_and_deezer_libraries_get_the_release(harness: Harness) -> None:
    release = harness.add_release("198880045564", ago(10))
    campaign = harness.add_campaign(
        "three-services",
        "198880045564",
        ago(10),
        services={
            "spotify": {"artist": f"spotify:artist:{ARTIST_ID}"},
            "apple": {},
            "deezer": {"artist_id": DEEZER_ARTIST},
        },
    )
    harness.spotify_grant(campaign, "fan-s")
    harness.apple_grant(campaign, "fan-a")
    harness.deezer_grant(campaign, "fan-d")

    report = harness.run("three-services", services=("spotify", "apple", "deezer"))

    assert report.undone == 0, report
    assert set(report.releases) == {"spotify", "apple", "deezer"}
    apple = harness.fan("fan-a", "apple")
    assert release["apple"]["album_id"] in [e["id"] for e in apple["library"] if e["type"] == "albums"]
    deezer = harness.fan("fan-d", "deezer")
    favourites = {(e["type"], e["id"]) for e in deezer["favourites"]}
    assert ("album", release["deezer"]["album_id"]) in favourites
    assert ("artist", DEEZER_ARTIST) in favourites
    harness.run("three-services", services=("spotify", "apple", "deezer"))
    adds = [c for c in harness.calls("apple") if c["route"] == "POST /v1/me/library"]
    assert len(adds) == 1


def test_scopes_for_the_playlist_missing_skip_only_the_playlist(harness: Harness) -> None:
    harness.add_release("198880045565", ago(10))
    campaign = harness.add_campaign("noscope", "198880045565", ago(10))
    harness.spotify_grant(
        campaign,
        "fan-x",
        scope="user-library-read user-library-modify user-follow-read user-follow-modify",
        choices={"playlist": {"new": "Mine"}},
    )
    report = harness.run("noscope")
    outcomes = {a.kind: (a.outcome, a.reason) for a in _actions(harness)}
    assert outcomes["save_release"][0] == "delivered"
    assert outcomes["add_to_playlist"][0] == "undeliverable"
    assert "Insufficient client scope" in (outcomes["add_to_playlist"][1] or "")
    assert report.undone == 0


def test_a_deezer_fan_over_quota_waits_and_the_others_go_on(harness: Harness) -> None:
    release = harness.add_release("198880045566", ago(10))
    campaign = harness.add_campaign(
        "deezer-quota", "198880045566", ago(10), services={"deezer": {"artist_id": DEEZER_ARTIST}}
    )
    for fan in ("fan-d1", "fan-d2"):
        harness.deezer_grant(campaign, fan)
    harness.configure({"deezer": {"quota_calls": 1, "quota_window_s": 1.0}})  # one call per fan per second

    report = harness.run("deezer-quota", services=("deezer",))

    assert report.outcomes["delivered"] == 4, report
    quota = [c for c in harness.calls("deezer") if c["fault"] == "rate_limited"]
    assert quota  # code 4 answered (on HTTP 200), then waited out
    for fan in ("fan-d1", "fan-d2"):
        favourites = {(e["type"], e["id"]) for e in harness.fan(fan, "deezer")["favourites"]}
        assert ("album", release["deezer"]["album_id"]) in favourites


def test_a_grant_time_follow_that_failed_is_retried_before_the_release(harness: Harness) -> None:
    release_at = ago(-86_400)  # tomorrow
    campaign = harness.add_campaign("tomorrow", "198880045567", release_at)
    grant = harness.spotify_grant(campaign, "fan-early")
    with harness.store.session() as session:  # the landing app's follow failed while the fan waited
        session.add(
            OwedAction(
                campaign_id=campaign,
                grant_id=grant,
                service="spotify",
                kind="follow_artist",
                target=f"spotify:artist:{ARTIST_ID}",
                due_at=ago(60),
                outcome="queued",
                attempts=1,
                reason="spotify: 503",
            )
        )
    with harness.store.session() as session:
        assert campaigns_with_work_due(session, datetime.now(UTC)) == ["tomorrow"]

    report = harness.run("tomorrow")

    actions = {a.kind: a for a in _actions(harness)}
    assert actions["follow_artist"].outcome == "delivered"
    assert actions["follow_artist"].attempts == 3  # the landing app's, then the follow and its check
    assert actions["save_release"].outcome == "queued"  # planned ahead, due tomorrow
    assert report.undone == 0
    assert f"spotify:artist:{ARTIST_ID}" in [f["uri"] for f in harness.fan("fan-early")["follows"]]


def _apple_and_deezer_campaign(harness: Harness, slug: str, upc: str) -> tuple[dict, int]:
    release = harness.add_release(upc, ago(10), tracks=3)
    campaign = harness.add_campaign(
        slug, upc, ago(10), services={"apple": {}, "deezer": {"artist_id": DEEZER_ARTIST}}
    )
    return release, campaign


def test_apple_and_deezer_fans_get_their_playlist_once(harness: Harness) -> None:
    release, campaign = _apple_and_deezer_campaign(harness, "playlists-elsewhere", "198880045567")
    new = {"playlist": {"new": "Nova on repeat"}}
    harness.apple_grant(campaign, "fan-a", choices=new)
    harness.deezer_grant(campaign, "fan-d", choices=new)
    harness.admin.post("/sandbox/deezer/fans", json={"id": "fan-d2"}).raise_for_status()
    mine = harness.admin.post("/sandbox/deezer/playlists", json={"title": "Mine", "owner": "fan-d2"}).json()
    harness.deezer_grant(campaign, "fan-d2", choices={"playlist": {"id": mine["id"]}})
    services = ("apple", "deezer")

    report = harness.run("playlists-elsewhere", services=services)
    harness.run("playlists-elsewhere", services=services)

    assert report.undone == 0, report
    playlist_actions = [a for a in _actions(harness) if a.kind == "add_to_playlist"]
    assert len(playlist_actions) == 3
    assert {a.outcome for a in playlist_actions} == {"delivered"}
    songs = [s["id"] for s in release["apple"]["songs"]]
    apple = [p for p in harness.fan("fan-a", "apple")["playlists"] if p["name"] == "Nova on repeat"]
    assert [[t["id"] for t in p["tracks"]] for p in apple] == [songs]
    tracks = [t["id"] for t in release["deezer"]["tracks"]]
    deezer = [p for p in harness.fan("fan-d", "deezer")["playlists"] if p["title"] == "Nova on repeat"]
    assert [[t["id"] for t in p["tracks"]] for p in deezer] == [tracks]
    own = [p for p in harness.fan("fan-d2", "deezer")["playlists"] if p["id"] == mine["id"]]
    assert [t["id"] for t in own[0]["tracks"]] == tracks
    apple_adds = [c for c in harness.calls("apple") if c["route"].endswith("/tracks")]
    deezer_adds = [c for c in harness.calls("deezer") if c["route"] == "POST /playlist/{playlist_id}/tracks"]
    assert (len(apple_adds), len(deezer_adds)) == (1, 2)  # the second run sent nothing again
