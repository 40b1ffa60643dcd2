"""What a fan sees and does, in Debian's Chromium: each service's flow against the sandbox, the done page,
the flip at the release moment (global and at local midnight), the in-app browser notice, and the basics
of accessibility. Screenshots land in test-artefacts/landing/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from campaigns.models import Campaign, OwedAction
from tests.browser.conftest import PHONE, screenshot
from tests.integration.conftest import ARTIST_ID, System, soon
from tests.integration.landing_helpers import (
    PLAYLIST_URI,
    Fan,
    add_campaign,
    all_services,
    events,
    grants,
)

pytestmark = pytest.mark.browser
INSTAGRAM = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Instagram 350.0"


def _playlist(system: System) -> None:
    system.admin.post(
        "/sandbox/spotify/playlists", json={"name": "Night Drives", "id": PLAYLIST_URI.split(":")[2]}
    ).raise_for_status()


def _kinds(system: System) -> list[str]:
    return [e.kind for e in events(system)]


def test_a_spotify_fan_presaves_and_unticks_a_follow(system: System, phone: Any) -> None:
    _playlist(system)
    add_campaign(
        system,
        "midnight-drive",
        soon(3 * 86400),
        services=all_services(follow=[PLAYLIST_URI, "spotify:user:nova"]),
        playlist_name="Nova Lane Radar",
        preorder_links={"itunes": "https://itunes.example/album/1"},
        accent_color="#e94560",
    )
    page = phone.new_page()
    page.goto(f"{system.landing_url}/midnight-drive?utm_source=instagram&utm_medium=story")
    assert page.get_by_role("heading", name="Midnight Drive").is_visible()
    assert re.fullmatch(r"Out in 2 days 23:\d\d:\d\d", page.locator("#countdown").inner_text())
    screenshot(page, "landing-campaign-before-flip")
    page.get_by_role("link", name="Pre-save on Spotify").click()
    page.get_by_role("button", name="Agree").click()  # the (sandbox) Spotify consent page
    page.wait_for_url(f"{system.landing_url}/midnight-drive/done")
    assert page.get_by_role("heading", name="You're in.").is_visible()
    assert page.get_by_label("Playlist: Night Drives").is_checked()
    screenshot(page, "landing-done-page-spotify")
    page.get_by_label("User: nova").uncheck()
    page.get_by_label("A new playlist named “Nova Lane Radar”").check()
    assert not page.get_by_label(re.compile("Yes, email me news")).is_checked()  # opt-in starts unticked
    page.get_by_role("button", name="Done").click()
    page.wait_for_selector("#saved")
    screenshot(page, "landing-done-page-completed")

    [grant] = grants(system)
    assert grant.choices["follows"] == [PLAYLIST_URI]
    assert grant.choices["declined_follows"] == ["spotify:user:nova"]
    assert grant.choices["playlist"] == {"new": "Nova Lane Radar"}
    follows = {f["uri"] for f in system.fan(grant.service_user_id)["follows"]}
    assert follows == {f"spotify:artist:{ARTIST_ID}", PLAYLIST_URI}
    assert _kinds(system) == ["visit", "click", "authorize_start", "grant", "complete"]
    assert {e.utm_source for e in events(system)} == {"instagram"}
    assert {e.device_class for e in events(system)} == {"mobile"}


def test_an_apple_music_fan_pre_adds_through_musickit(system: System, phone: Any) -> None:
    response = system.admin.post(
        "/sandbox/releases",
        json={
            "upc": "198880045561",
            "title": "Midnight Drive",
            "artist": {"name": "Nova Lane", "spotify_id": ARTIST_ID},
            "release_at": soon().isoformat(),
            "apple_preorder": True,
            "tracks": [{"title": f"T{n}", "isrc": f"QZWFV2600{n}01", "duration_ms": 200_000} for n in (1, 2)],
        },
    )
    album = response.json()["apple"]["album_id"]
    add_campaign(system, "midnight-drive", soon(), services={**all_services(), "apple": {"album_id": album}})
    page = phone.new_page()
    page.goto(f"{system.landing_url}/midnight-drive")
    page.get_by_role("link", name="Pre-save on Apple Music").click()
    connect = page.get_by_role("button", name="Connect Apple Music")
    connect.wait_for(state="visible")
    page.wait_for_function("!document.getElementById('apple-connect').disabled")
    screenshot(page, "landing-apple-musickit-page")
    with page.expect_popup() as popup_info:
        connect.click()
    popup = popup_info.value
    popup.get_by_role("button", name="Agree").click()  # the (sandbox) Apple sign-in window
    page.wait_for_url(f"{system.landing_url}/midnight-drive/done")
    assert page.get_by_text("Added to your library as a pre-add").is_visible()
    assert page.get_by_role(
        "textbox", name="Email address"
    ).is_visible()  # Apple shares no address: the fan types one
    screenshot(page, "landing-done-page-apple")
    [grant] = grants(system)
    assert grant.service == "apple"
    with system.store.session() as session:
        action = session.scalars(select(OwedAction)).one()
    assert (action.kind, action.target, action.outcome) == ("preadd", album, "delivered")
    assert _kinds(system) == ["visit", "click", "authorize_start", "grant"]


def test_a_deezer_fan_connects(system: System, phone: Any) -> None:
    add_campaign(system, "midnight-drive", soon())
    page = phone.new_page()
    page.goto(f"{system.landing_url}/midnight-drive")
    page.get_by_role("link", name="Pre-save on Deezer").click()
    page.get_by_role("button", name="Agree").click()  # the (sandbox) Deezer connect page
    page.wait_for_url(f"{system.landing_url}/midnight-drive/done")
    assert page.get_by_text("You will follow Nova Lane on Deezer on release day").is_visible()
    [grant] = grants(system)
    assert grant.service == "deezer"
    assert _kinds(system) == ["visit", "click", "authorize_start", "grant"]


def test_a_fan_who_cancels_sees_that_nothing_was_saved(system: System, phone: Any) -> None:
    add_campaign(system, "midnight-drive", soon())
    page = phone.new_page()
    page.goto(f"{system.landing_url}/midnight-drive")
    page.get_by_role("link", name="Pre-save on Spotify").click()
    page.get_by_role("button", name="Cancel").click()
    assert page.get_by_role("heading", name="Not saved").is_visible()
    screenshot(page, "landing-denied")
    page.get_by_role("link", name="Start again").click()
    assert page.url == f"{system.landing_url}/midnight-drive"
    assert grants(system) == []
    assert _kinds(system) == ["visit", "click", "authorize_start", "denial", "visit"]


def test_the_page_flips_to_a_smart_link_at_the_release_moment(system: System, phone: Any) -> None:
    release = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    add_campaign(system, "midnight-drive", release)
    page = phone.new_page()
    page.goto(f"{system.landing_url}/midnight-drive")
    assert page.get_by_role("link", name="Pre-save on Spotify").is_visible()
    assert not page.get_by_role("link", name="Listen on Spotify").is_visible()
    screenshot(page, "landing-flip-before")
    page.get_by_role("link", name="Listen on Spotify").wait_for(state="visible", timeout=10_000)  # no reload
    assert not page.get_by_role("link", name="Pre-save on Spotify").is_visible()
    screenshot(page, "landing-flip-after")
    page.reload()  # and the server renders the smart link too
    assert page.locator("#presave").get_attribute("hidden") is not None
    for name in ("Listen on Spotify", "Listen on Apple Music", "Listen on Deezer"):
        assert page.get_by_role("link", name=name).is_visible()


@pytest.mark.parametrize(("zone", "released"), [("Pacific/Kiritimati", True), ("Pacific/Honolulu", False)])
def test_a_local_release_flips_at_the_visitors_own_midnight(
    system: System, chromium: Any, zone: str, released: bool
) -> None:
    today = datetime.now(
        ZoneInfo("Pacific/Kiritimati")
    ).date()  # past midnight there, still ahead in Honolulu
    add_campaign(system, "midnight-drive", datetime.now(UTC), release_mode="local")
    with system.store.session() as session:
        campaign = session.scalars(select(Campaign)).one()
        campaign.spec = {**campaign.spec, "release_at": f"{today.isoformat()}T00:00:00"}
    context = chromium.new_context(**PHONE, timezone_id=zone)
    page = context.new_page()
    page.goto(f"{system.landing_url}/midnight-drive")  # no zone cookie yet: the page's script decides
    assert page.get_by_role("link", name="Listen on Spotify").is_visible() is released
    assert page.get_by_role("link", name="Pre-save on Spotify").is_visible() is not released
    assert {c["name"]: c["value"] for c in context.cookies()}["psv_tz"].replace("%2F", "/") == zone
    page.reload()  # now the server knows the zone as well
    assert (page.locator("#listen").get_attribute("hidden") is None) is released
    context.close()


def test_an_in_app_browser_is_told_to_open_the_page_in_the_browser(system: System, chromium: Any) -> None:
    add_campaign(system, "midnight-drive", soon())
    context = chromium.new_context(**{**PHONE, "user_agent": INSTAGRAM})
    page = context.new_page()
    page.goto(f"{system.landing_url}/midnight-drive?utm_source=instagram")
    notice = page.get_by_role("note")
    assert "You're in Instagram's browser" in notice.inner_text()
    assert page.get_by_role("link", name="Open in browser").get_attribute("href").startswith("x-safari-http")
    screenshot(page, "landing-in-app-instagram")
    context.close()
    [visit] = events(system)
    assert (visit.kind, visit.in_app_browser) == ("visit", "instagram")


def test_the_page_works_by_keyboard_and_reads_well(system: System, phone: Any) -> None:
    add_campaign(system, "midnight-drive", soon(), accent_color="#1db954")
    page = phone.new_page()
    page.goto(f"{system.landing_url}/midnight-drive")
    ratio = page.evaluate(
        """() => {
          const lum = (c) => { const v = c.match(/\\d+/g).slice(0, 3).map(Number).map(x => x / 255)
            .map(x => x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4);
            return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
          const style = getComputedStyle(document.getElementById('presave-spotify'));
          const [a, b] = [lum(style.color), lum(style.backgroundColor)].sort((x, y) => y - x);
          return (a + 0.05) / (b + 0.05);
        }"""
    )
    assert ratio >= 4.5
    assert page.locator("html").get_attribute("lang") == "en"
    page.keyboard.press("Tab")  # the first stop is the first pre-save button
    assert page.evaluate("document.activeElement.textContent").strip() == "Pre-save on Spotify"
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Agree").wait_for()
    assert _kinds(system)[:2] == ["visit", "click"]


def test_every_form_control_on_the_done_page_has_a_label(system: System, phone: Any) -> None:
    add_campaign(
        system,
        "midnight-drive",
        soon(),
        services=all_services(follow=["spotify:user:nova"]),
        playlist_name="R",
    )
    with Fan(system) as fan:
        fan.oauth("midnight-drive", "spotify", "fan-a11y")
        cookie = fan.http.cookies.get("psv_fan")
    phone.add_cookies([{"name": "psv_fan", "value": cookie, "url": system.landing_url}])
    page = phone.new_page()
    page.goto(f"{system.landing_url}/midnight-drive/done")
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input:not([type=hidden]), button')]
             .filter(el => !(el.labels && el.labels.length) && !el.textContent.trim())
             .map(el => el.outerHTML)"""
    )
    assert unlabelled == []
