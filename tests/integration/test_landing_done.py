"""The done page: extra follows the fan may untick, the playlist choice, the email opt-in (a consent record),
CSRF, later choices winning, and erasure."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from campaigns.models import ConsentRecord, Grant, LandingEvent, OwedAction
from campaigns.vault import TokenVault
from collectors.landing.choices import owed_at_release
from collectors.landing.consent import email_consent_text, text_version
from collectors.landing.fans import export_fans
from executor.release import run_release
from services.spotify import SpotifyApp
from tests.integration.conftest import ARTIST_ID, System, soon
from tests.integration.landing_helpers import (
    EXTRA_ARTIST_URI,
    PLAYLIST_URI,
    Fan,
    add_campaign,
    all_services,
    events,
    grants,
    hidden,
)


def _extras(system: System) -> None:
    system.admin.post(
        "/sandbox/spotify/playlists", json={"name": "Night Drives", "id": PLAYLIST_URI.split(":")[2]}
    ).raise_for_status()
    system.admin.post(
        "/sandbox/artists", json={"name": "Ada Vale", "spotify_id": EXTRA_ARTIST_URI.split(":")[2]}
    ).raise_for_status()


def _ledger(system: System) -> list[tuple[str, str, str]]:
    with system.store.session() as session:
        return [
            (a.kind, a.target, a.outcome) for a in session.scalars(select(OwedAction).order_by(OwedAction.id))
        ]


def test_kept_follows_happen_on_completion_and_unticked_ones_never(system: System) -> None:
    _extras(system)
    add_campaign(
        system, "midnight-drive", soon(), services=all_services(follow=[PLAYLIST_URI, EXTRA_ARTIST_URI])
    )
    with Fan(system) as fan:
        fan.oauth("midnight-drive", "spotify", "fan-gil")
        page = fan.done("midnight-drive")
        assert page.status_code == 200
        assert "Playlist: Night Drives" in page.text
        assert "Artist: Ada Vale" in page.text
        assert page.text.count('name="follow"') == 2
        assert page.text.count(" checked>") == 2
        completed = fan.complete("midnight-drive", follow=[PLAYLIST_URI])
        assert completed.status_code == 303
        after = fan.done("midnight-drive")
    assert "Your choices are saved" in after.text
    follows = {f["uri"] for f in system.fan("fan-gil")["follows"]}
    assert follows == {f"spotify:artist:{ARTIST_ID}", PLAYLIST_URI}
    assert _ledger(system) == [
        ("identify", "profile", "delivered"),
        ("follow_artist", f"spotify:artist:{ARTIST_ID}", "queued"),  # answered: checked at release
        ("follow", PLAYLIST_URI, "delivered"),
    ]
    [grant] = grants(system)
    assert grant.choices["follows"] == [PLAYLIST_URI]
    assert grant.choices["declined_follows"] == [EXTRA_ARTIST_URI]
    assert grant.choices["completed_at"]
    assert [e.kind for e in events(system)][-1] == "complete"


def test_the_playlist_choice_offers_the_fans_own_playlists_or_a_new_one(system: System) -> None:
    add_campaign(system, "midnight-drive", soon(), playlist_name="Nova Lane Radar")
    with Fan(system) as fan:
        fan.oauth("midnight-drive", "spotify", "fan-hal")
        [grant] = grants(system)
        token = TokenVault(system.settings.secret_keys()).open(grant.access_token).reveal()
        own = httpx.post(
            f"{system.settings.spotify_api_url}/me/playlists",
            json={"name": "Road trip", "public": False},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        page = fan.done("midnight-drive")
        assert "Road trip" in page.text
        assert "A new playlist named “Nova Lane Radar”" in page.text
        assert fan.complete("midnight-drive", playlist=f"id:{own['id']}").status_code == 303
        assert grants(system)[0].choices["playlist"] == {"id": own["id"]}
        assert fan.complete("midnight-drive", playlist="new").status_code == 303  # later choices win
    [grant] = grants(system)
    assert grant.choices["playlist"] == {"new": "Nova Lane Radar"}
    assert owed_at_release("spotify", grant.choices) == [
        ("save_release", "release"),
        ("add_to_playlist", "new:Nova Lane Radar"),
    ]


def test_the_email_opt_in_asks_spotify_once_more_and_keeps_a_consent_record(system: System) -> None:
    system.admin.post(
        "/sandbox/spotify/fans", json={"id": "fan-ivy", "email": "ivy@example.com"}
    ).raise_for_status()
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        fan.oauth("midnight-drive", "spotify", "fan-ivy")
        page = fan.done("midnight-drive")
        text = email_consent_text("Nova Lane")
        assert text in page.text
        assert 'name="email_opt_in" value="yes" id="email-opt-in">' in page.text  # unticked
        [grant] = grants(system)
        assert grant.email is None
        assert "user-read-email" not in grant.scopes
        opt_in = fan.complete("midnight-drive", email_opt_in="yes")
        assert opt_in.status_code == 303
        query = parse_qs(urlsplit(opt_in.headers["location"]).query)
        assert "user-read-email" in query["scope"][0].split()
        back = fan.authorize(opt_in.headers["location"], "fan-ivy")
        assert back.headers["location"] == "/midnight-drive/done?email=shared"
    [grant] = grants(system)
    vault = TokenVault(system.settings.secret_keys())
    assert grant.email
    assert vault.open(grant.email).reveal() == "ivy@example.com"
    assert "user-read-email" in grant.scopes
    assert grant.choices["email_opt_in"] is True
    with system.store.session() as session:
        record = session.scalars(select(ConsentRecord)).one()
    assert (record.scope, record.text, record.text_version) == ("email_updates", text, text_version(text))
    assert record.campaign_id == grant.campaign_id
    assert record.withdrawn_at is None
    out = io.StringIO()
    with system.store.session() as session:
        assert export_fans(session, vault, "midnight-drive", out) == 1
    assert "ivy@example.com" in out.getvalue()
    assert "fan-ivy" not in out.getvalue()  # the export names fans by pseudonym only


def test_unticking_the_email_box_withdraws_consent_and_drops_the_address(system: System) -> None:
    system.admin.post(
        "/sandbox/spotify/fans", json={"id": "fan-jo", "email": "jo@example.com"}
    ).raise_for_status()
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        fan.oauth("midnight-drive", "spotify", "fan-jo")
        fan.authorize(fan.complete("midnight-drive", email_opt_in="yes").headers["location"], "fan-jo")
        assert fan.complete("midnight-drive").status_code == 303  # box left unticked this time
    [grant] = grants(system)
    assert grant.email is None
    assert grant.choices["email_opt_in"] is False
    with system.store.session() as session:
        assert session.scalars(select(ConsentRecord)).one().withdrawn_at is not None
    out = io.StringIO()
    with system.store.session() as session:
        export_fans(session, TokenVault(system.settings.secret_keys()), "midnight-drive", out)
    assert "jo@example.com" not in out.getvalue()


def test_the_email_sign_in_must_be_the_same_account(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        fan.oauth("midnight-drive", "spotify", "fan-kai")
        answer = fan.authorize(
            fan.complete("midnight-drive", email_opt_in="yes").headers["location"], "fan-other"
        )
    assert answer.status_code == 400
    assert "different account" in answer.text
    assert grants(system)[0].email is None


def test_an_apple_fan_types_the_address_because_apple_shares_none(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        fan.apple("midnight-drive", "amy")
        assert 'type="email"' in fan.done("midnight-drive").text
        missing = fan.complete("midnight-drive", email_opt_in="yes")
        assert missing.status_code == 400
        assert "The email address is needed" in missing.text
        assert fan.complete("midnight-drive", email_opt_in="yes", email="amy@example.com").status_code == 303
    [grant] = grants(system)
    assert TokenVault(system.settings.secret_keys()).open(grant.email or "").reveal() == "amy@example.com"


def test_a_post_without_the_csrf_token_or_from_elsewhere_is_refused(system: System) -> None:
    add_campaign(system, "midnight-drive", soon(), services=all_services(follow=[PLAYLIST_URI]))
    with Fan(system) as fan, Fan(system) as other:
        fan.oauth("midnight-drive", "spotify", "fan-lu")
        other.oauth("midnight-drive", "spotify", "fan-mo")
        csrf = hidden(fan.done("midnight-drive").text, "csrf")
        origin = {"Origin": system.settings.public_url}
        no_token = fan.http.post("/midnight-drive/done", data={"follow": PLAYLIST_URI}, headers=origin)
        elsewhere = fan.http.post(
            "/midnight-drive/done",
            data={"csrf": csrf, "follow": PLAYLIST_URI},
            headers={"Origin": "https://evil.example"},
        )
        someone_elses = other.http.post("/midnight-drive/done", data={"csrf": csrf}, headers=origin)
        not_offered = fan.http.post(
            "/midnight-drive/done",
            data={"csrf": csrf, "follow": "spotify:artist:6rqhFgbbKwnb9MLmUQDhG6"},
            headers=origin,
        )
    assert [no_token.status_code, elsewhere.status_code, someone_elses.status_code] == [403, 403, 403]
    assert not_offered.status_code == 400
    assert "A follow choice names something this page did not offer" in not_offered.text
    assert all(g.choices["completed_at"] is None for g in grants(system))
    assert [f["uri"] for f in system.fan("fan-lu")["follows"]] == [f"spotify:artist:{ARTIST_ID}"]


def test_the_done_page_without_a_pre_save_says_so(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    response = httpx.get(f"{system.landing_url}/midnight-drive/done")
    assert response.status_code == 200
    assert "Pre-save first" in response.text


def test_erasing_from_the_done_page_removes_the_grant_and_unlinks_the_visits(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        fan.visit("midnight-drive")
        fan.oauth("midnight-drive", "spotify", "fan-ned")
        csrf = hidden(fan.done("midnight-drive").text, "csrf")
        erased = fan.http.post("/forget", data={"csrf": csrf}, headers={"Origin": system.settings.public_url})
        again = fan.done("midnight-drive")
    assert erased.status_code == 200
    assert "We erased 1 pre-save" in erased.text
    assert "Pre-save first" in again.text
    assert grants(system) == []
    assert _ledger(system) == []
    recorded = events(system)
    assert [e.kind for e in recorded] == ["visit", "click", "authorize_start", "grant"]  # counts stay
    assert all(e.visitor_id is None and e.ip_hash is None and e.grant_id is None for e in recorded)


def test_a_fan_signs_in_to_erase_every_pre_save_of_their_account(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    add_campaign(system, "second-single", soon())
    with Fan(system) as fan:
        fan.oauth("midnight-drive", "spotify", "fan-ola")
        fan.oauth("second-single", "spotify", "fan-ola")
        fan.oauth("second-single", "spotify", "fan-pia")
        start = fan.http.get("/forget/connect/spotify")  # the state is bound to this browser
        assert start.status_code == 302
        assert parse_qs(urlsplit(start.headers["location"]).query).get("scope", [""]) == [""]
        page = fan.authorize(start.headers["location"], "fan-ola")
    assert page.status_code == 200
    assert "We erased 2 pre-saves" in page.text
    assert [g.service_user_id for g in grants(system)] == ["fan-pia"]
    with system.store.session() as session:
        assert session.scalars(select(Grant.id)).all() == [grants(system)[0].id]
        assert all(e.grant_id != 1 for e in session.scalars(select(LandingEvent)))


def test_an_artist_follow_kept_on_the_done_page_is_checked_and_reported_if_ignored(system: System) -> None:
    _extras(system)
    add_campaign(system, "midnight-drive", soon(), services=all_services(follow=[EXTRA_ARTIST_URI]))
    with Fan(system) as fan:
        fan.oauth("midnight-drive", "spotify", "fan-ivy")
        fan.done("midnight-drive")
        # Spotify answers the artist follow and keeps nothing (reference H: reported for some apps).
        system.admin.put(
            "/sandbox/config", json={"spotify": {"library_artist_follow": "ignored"}}
        ).raise_for_status()
        assert fan.complete("midnight-drive", follow=[EXTRA_ARTIST_URI]).status_code == 303
    assert ("follow", EXTRA_ARTIST_URI, "queued") in _ledger(system)  # answered, not yet counted

    vault = TokenVault(system.settings.secret_keys())
    report = run_release(
        system.store, vault, {"spotify": SpotifyApp.from_settings(system.settings)}, "midnight-drive"
    )

    assert ("follow", EXTRA_ARTIST_URI, "ignored") in _ledger(system)
    assert report.outcomes["ignored"] == 1
    assert EXTRA_ARTIST_URI not in {f["uri"] for f in system.fan("fan-ivy")["follows"]}
