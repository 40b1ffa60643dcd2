"""A Spotify app in development mode admits five accounts: every other fan is told plainly, offered a
reminder on the spot, and owes nothing that would stay queued forever; once the places are taken the page
offers the reminder instead of the Spotify button. Real sandbox and landing app over HTTP."""

from __future__ import annotations

from sqlalchemy import select

from campaigns.models import OwedAction
from campaigns.registry import reminder_counts, summarise
from tests.integration.conftest import System, soon
from tests.integration.landing_helpers import Fan, add_campaign, events, grants

SLUG = "midnight-drive"


def _development_mode(system: System) -> None:
    system.admin.put("/sandbox/config", json={"spotify": {"dev_mode": True}}).raise_for_status()


def _presave(system: System, fan_id: str) -> str:
    """One fan through the Spotify flow; the page they end on."""
    with Fan(system) as fan:
        assert fan.visit(SLUG).status_code == 200
        callback = fan.oauth(SLUG, "spotify", fan_id)
        assert callback.status_code == 303, callback.text
        return fan.done(SLUG).text


def test_the_sixth_fan_of_a_development_mode_app_is_told_and_offered_a_reminder(system: System) -> None:
    add_campaign(system, SLUG, soon(seconds=86_400))
    _development_mode(system)
    pages = [_presave(system, f"fan-{n}") for n in range(6)]
    assert all("You're in." in page for page in pages[:5])
    sixth = pages[5]
    assert "You're in" not in sixth
    assert "cannot save music for your account" in sixth
    assert 'id="remind"' in sixth
    assert 'value="spotify" selected' in sixth
    assert 'id="presave-apple"' in sixth  # another service, on the spot
    turned_away = [g for g in grants(system) if g.status == "unregistered"]
    assert len(turned_away) == 1  # `/me` was refused too: the account stays unknown
    with system.store.session() as session:
        owed = session.scalars(select(OwedAction).where(OwedAction.grant_id == turned_away[0].id)).all()
        summary = summarise(session, SLUG)
        counts = reminder_counts(session, turned_away[0].campaign_id)
    assert owed
    assert {a.outcome for a in owed} == {"undeliverable"}
    assert all("development mode" in (a.reason or "") for a in owed)
    assert summary.grants["spotify"] == 5
    assert summary.outcomes["queued"] == 5 * 1  # the five admitted fans' artist follows, checked later
    assert counts.turned_away == 1
    assert [e.detail for e in events(system, kind="error", service="spotify")] == [
        "presave:user_not_registered"
    ]


def test_once_the_places_are_taken_the_page_offers_the_reminder_instead_of_the_spotify_button(
    system: System,
) -> None:
    add_campaign(system, SLUG, soon(seconds=86_400))
    _development_mode(system)
    for n in range(6):
        _presave(system, f"fan-{n}")
    calls_before = len(system.calls())
    with Fan(system) as fan:
        page = fan.visit(SLUG).text
        assert 'id="presave-spotify"' not in page
        assert 'id="remind"' in page
        assert "development mode" in page
        connect = fan.http.get(f"/{SLUG}/connect/spotify?utm_source=ig")  # a button drawn before the cap
        assert connect.status_code == 303  # nobody is sent to authorize for nothing, nor to a dead end
        assert connect.headers["location"] == f"/{SLUG}?utm_source=ig#remind"
        answer = fan.http.post(
            f"/{SLUG}/remind",
            data={"service": "spotify", "email": "fan6@example.com", "consent": "yes"},
            headers={"Origin": system.settings.public_url},
        )
    assert answer.status_code == 200, answer.text
    assert "Reminder set." in answer.text
    assert len(system.calls()) == calls_before  # no Spotify call for the fans past the cap
    [reminder] = [g for g in grants(system) if g.status == "reminder"]
    assert (reminder.service, reminder.choices) == ("spotify", {"reminder": "spotify_full"})
    assert "fan6@example.com" not in reminder.service_user_id
    with system.store.session() as session:
        assert summarise(session, SLUG).grants["spotify"] == 5


def test_a_reminder_form_without_consent_or_from_another_site_sets_nothing(system: System) -> None:
    add_campaign(
        system,
        SLUG,
        soon(seconds=86_400),
        services={"apple": {}, "tidal": {"link": "https://tidal.com/album/1"}},
    )
    with Fan(system) as fan:
        page = fan.visit(SLUG).text
        assert 'id="remind"' in page
        assert 'value="tidal"' in page
        origin = {"Origin": system.settings.public_url}
        no_consent = fan.http.post(
            f"/{SLUG}/remind", data={"service": "tidal", "email": "a@example.com"}, headers=origin
        )
        bad_email = fan.http.post(
            f"/{SLUG}/remind",
            data={"service": "tidal", "email": "not-an-address", "consent": "yes"},
            headers=origin,
        )
        elsewhere = fan.http.post(
            f"/{SLUG}/remind",
            data={"service": "tidal", "email": "a@example.com", "consent": "yes"},
            headers={"Origin": "https://evil.example"},
        )
        unknown = fan.http.post(
            f"/{SLUG}/remind",
            data={"service": "napster", "email": "a@example.com", "consent": "yes"},
            headers=origin,
        )
    assert (no_consent.status_code, bad_email.status_code, elsewhere.status_code, unknown.status_code) == (
        400,
        400,
        403,
        400,
    )
    assert "Tick the box" in no_consent.text
    assert "not an email address" in bad_email.text
    assert grants(system) == []


def test_a_fan_the_app_refuses_later_ends_undeliverable_and_is_never_called_again(system: System) -> None:
    from executor.release import run_release
    from services.spotify import SpotifyApp

    add_campaign(system, SLUG, soon(seconds=2))
    for n in range(5):
        _presave(system, f"fan-{n}")
    faults = {"services": ["spotify"], "error_share": 1.0, "error_statuses": [502]}
    system.admin.put("/sandbox/config", json={"faults": faults}).raise_for_status()
    page = _presave(system, "fan-late")  # `/me` failed: captured, owed to the executor
    assert "You're in." in page
    system.admin.put("/sandbox/config", json={"faults": {"error_share": 0.0}}).raise_for_status()
    _development_mode(system)
    apps = {"spotify": SpotifyApp.from_settings(system.settings)}
    run_release(system.store, system.settings.vault(), apps, SLUG)
    calls = [c for c in system.calls() if c.get("user") == "fan-late"]
    run_release(system.store, system.settings.vault(), apps, SLUG)
    [late] = [g for g in grants(system) if g.status == "unregistered"]
    with system.store.session() as session:
        owed = session.scalars(select(OwedAction).where(OwedAction.grant_id == late.id)).all()
    assert {a.outcome for a in owed} == {"undeliverable"}
    assert calls  # the executor's `/me` met the refusal once
    assert [c for c in system.calls() if c.get("user") == "fan-late"] == calls  # and never again
