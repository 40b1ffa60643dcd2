"""The OAuth `state` is bound to the browser that started it, over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx

from collectors.landing.attempts import BROWSER_COOKIE
from tests.integration.conftest import System, soon
from tests.integration.landing_helpers import Fan, add_campaign, all_services, grants, hidden


def _callback_url(fan: Fan, slug: str, service: str, fan_id: str) -> str:
    """Press the button in the fan's browser and consent at the service: the URL it sends the fan back to."""
    connect = fan.http.get(f"/{slug}/connect/{service}")
    assert connect.status_code == 302, connect.text
    assert BROWSER_COOKIE in connect.cookies
    query = urlencode({"sandbox_fan": fan_id, "sandbox_decision": "approve"})
    answer = fan.service_http.get(f"{connect.headers['location']}&{query}")
    return str(answer.headers["location"]).removeprefix(fan.system.settings.public_url)


def test_a_callback_opened_in_another_browser_completes_nothing_and_the_fan_can_still_finish(
    system: System,
) -> None:
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan, Fan(system) as stranger:
        callback = _callback_url(fan, "midnight-drive", "spotify", "fan-ada")
        elsewhere = stranger.http.get(callback)
        assert grants(system) == []
        home = fan.http.get(callback)
        done = fan.http.get(home.headers["location"])
    assert elsewhere.status_code == 400
    assert "Open this in the browser you started in" in elsewhere.text
    assert "psv_fan" not in elsewhere.cookies  # no fan session: that fan's done page is not shown here
    assert home.status_code == 303
    assert done.status_code == 200
    [grant] = grants(system)
    assert grant.service_user_id == "fan-ada"


def test_a_forged_browser_cookie_does_not_match_the_state(system: System) -> None:
    add_campaign(system, "midnight-drive", soon(), services=all_services())
    with Fan(system) as fan:
        callback = _callback_url(fan, "midnight-drive", "deezer", "fan-bo")
        forged = httpx.get(f"{system.landing_url}{callback}", cookies={BROWSER_COOKIE: "x" * 32}, timeout=10)
        assert forged.status_code == 400
        assert grants(system) == []
        assert fan.http.get(callback).status_code == 303
    assert len(grants(system)) == 1


def test_two_tabs_of_one_browser_both_stay_good(system: System) -> None:
    add_campaign(system, "midnight-drive", soon(), services=all_services())
    with Fan(system) as fan:
        first = _callback_url(fan, "midnight-drive", "spotify", "fan-cy")
        second = _callback_url(fan, "midnight-drive", "deezer", "fan-cy")
        assert fan.http.get(second).status_code == 303
        assert fan.http.get(first).status_code == 303
    assert sorted(g.service for g in grants(system)) == ["deezer", "spotify"]


def test_a_musickit_post_from_another_browser_is_refused_and_the_state_stays_good(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    system.admin.post(
        "/sandbox/apple/fans", json={"id": "dee", "storefront": "gb", "subscribed": True}
    ).raise_for_status()
    origin = {"Origin": system.settings.public_url}
    with Fan(system) as fan, Fan(system) as stranger:
        state = hidden(fan.http.get("/midnight-drive/connect/apple").text, "state")
        token = system.admin.post("/sandbox/apple/fans/dee/user-token").json()["music_user_token"]
        form = {"state": state, "music_user_token": token}
        elsewhere = stranger.http.post("/midnight-drive/connect/apple", data=form, headers=origin)
        assert grants(system) == []
        home = fan.http.post("/midnight-drive/connect/apple", data=form, headers=origin)
    assert elsewhere.status_code == 400
    assert "Open this in the browser you started in" in elsewhere.text
    assert home.status_code == 303
    assert len(grants(system)) == 1
