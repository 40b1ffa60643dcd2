"""The page, the flip, measurement and safety, over real HTTP."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from campaigns.models import Base
from campaigns.vault import TokenVault
from collectors.landing import attempts
from tests.integration.conftest import System, soon
from tests.integration.landing_helpers import Fan, add_campaign, events, flush, grants


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """SQLite only: these tests are about pages and HTTP; grants, consent and erasure run on both stores
    in the other landing test modules."""
    return f"sqlite:///{tmp_path / 'presave.db'}"


INSTAGRAM = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Instagram 350.0"


def test_the_page_shows_the_campaign_with_its_tags_and_escapes_its_text(
    system: System, tmp_path: Path
) -> None:
    artwork = system.settings.data_dir / "artwork" / "cover.png"
    artwork.parent.mkdir(parents=True, exist_ok=True)
    artwork.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    add_campaign(
        system,
        "midnight-drive",
        soon(),
        artist="Nova <script>alert(1)</script> Lane",
        accent_color="#ff00aa",
        artwork=str(artwork),
        preorder_links={"itunes": "https://itunes.example/album/1", "merch": "https://shop.example/nova"},
    )
    page = httpx.get(f"{system.landing_url}/midnight-drive")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "Nova &lt;script&gt;alert(1)&lt;/script&gt; Lane" in page.text
    assert '<meta property="og:title"' in page.text
    assert (
        f'<meta property="og:image" content="{system.settings.public_url}/midnight-drive/artwork">'
        in page.text
    )
    assert '<meta name="twitter:card" content="summary_large_image">' in page.text
    assert "--accent: #ff00aa" in page.text
    assert 'id="countdown" role="timer"' in page.text or 'role="timer"' in page.text
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    image = httpx.get(f"{system.landing_url}/midnight-drive/artwork")
    assert (image.status_code, image.headers["content-type"]) == (200, "image/png")
    preorder = httpx.get(f"{system.landing_url}/midnight-drive/go/itunes")
    assert (preorder.status_code, preorder.headers["location"]) == (302, "https://itunes.example/album/1")
    assert httpx.get(f"{system.landing_url}/midnight-drive/go/https:%2F%2Fevil.example").status_code == 404
    assert [e.detail for e in events(system, kind="click")] == ["preorder:itunes"]


def test_after_the_release_the_same_url_is_a_smart_link(system: System) -> None:
    add_campaign(system, "midnight-drive", datetime.now(UTC) - timedelta(minutes=1))
    page = httpx.get(f"{system.landing_url}/midnight-drive")
    assert '<section id="listen" data-phase="after" aria-label="Listen">' in page.text
    assert '<section id="presave" data-phase="before" aria-label="Pre-save" hidden>' in page.text
    for service in ("spotify", "apple", "deezer"):
        assert f'href="/midnight-drive/listen/{service}"' in page.text
    listen = httpx.get(f"{system.landing_url}/midnight-drive/listen/spotify")
    assert listen.status_code == 302
    assert listen.headers["location"].startswith("https://open.spotify.com/search/")
    [click] = events(system, kind="click")
    assert (click.service, click.detail) == ("spotify", "listen")


def test_a_local_release_flips_at_each_visitors_midnight(system: System) -> None:
    # Kiritimati (UTC+14) and Honolulu (UTC-10) are always a calendar day apart: midnight of Kiritimati's
    # today has passed there and is still ahead in Honolulu.
    today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    add_campaign(system, "midnight-drive", datetime.now(UTC), release_mode="local")
    with system.store.session() as session:
        from campaigns.models import Campaign

        campaign = session.query(Campaign).one()
        campaign.spec = {**campaign.spec, "release_at": f"{today.isoformat()}T00:00:00"}
    system.landing_app.state.landing.campaigns.clear()
    ahead = httpx.get(f"{system.landing_url}/midnight-drive", cookies={"psv_tz": "Pacific/Kiritimati"})
    behind = httpx.get(f"{system.landing_url}/midnight-drive", cookies={"psv_tz": "Pacific/Honolulu"})
    assert 'aria-label="Listen">' in ahead.text
    assert 'aria-label="Pre-save" hidden>' in ahead.text
    assert 'aria-label="Pre-save">' in behind.text
    assert 'aria-label="Listen" hidden>' in behind.text
    assert f'data-release-local="{today.isoformat()}T00:00:00"' in behind.text


def test_the_fans_time_zone_goes_with_the_grant(system: System) -> None:
    add_campaign(system, "midnight-drive", soon(), release_mode="local")
    with Fan(system) as fan:
        fan.http.cookies.set("psv_tz", "Asia/Tokyo")
        fan.visit("midnight-drive")
        assert fan.oauth("midnight-drive", "spotify", "fan-yui").status_code == 303
    assert grants(system)[0].fan_timezone == "Asia/Tokyo"


def test_an_in_app_browser_is_asked_to_open_the_system_browser_and_its_doing_so_is_counted(
    system: System,
) -> None:
    add_campaign(system, "midnight-drive", soon())
    with Fan(system, user_agent=INSTAGRAM) as in_app:
        page = in_app.visit("midnight-drive", utm_source="instagram")
    assert "You're in Instagram's browser" in page.text
    link = "x-safari-http://127.0.0.1"
    assert link in page.text
    target = page.text.split('id="open-in-browser" href="')[1].split('"')[0].replace("&amp;", "&")
    assert target.endswith("/midnight-drive?utm_source=instagram&ib=instagram")
    with Fan(system) as outside:
        outside.http.get(target.removeprefix("x-safari-").removeprefix(system.settings.public_url))
    recorded = events(system)
    assert [(e.kind, e.in_app_browser, e.detail) for e in recorded] == [
        ("visit", "instagram", None),
        ("visit", None, None),
        ("open_in_browser", None, "instagram"),
    ]
    assert {e.device_class for e in recorded} == {"mobile", "desktop"}
    assert {e.utm_source for e in recorded} == {"instagram"}


def test_the_referrer_of_the_visit_follows_the_fan_through_the_flow(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        page = fan.http.get("/midnight-drive", headers={"Referer": "https://www.tiktok.com/@nova"})
        link = page.text.split('id="presave-spotify" href="')[1].split('"')[0].replace("&amp;", "&")
        assert link == "/midnight-drive/connect/spotify?ref=tiktok.com"
        connect = fan.http.get(link)
        fan.authorize(connect.headers["location"], "fan-ref")
    assert {e.referrer_domain for e in events(system)} == {"tiktok.com"}


def test_no_raw_ip_is_stored(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        fan.visit("midnight-drive")
        fan.oauth("midnight-drive", "spotify", "fan-ip")
    flush(system)
    with system.store.engine.connect() as connection:
        dump = "\n".join(
            repr(tuple(row))
            for table in Base.metadata.sorted_tables
            for row in connection.execute(select(table))
        )
    assert "fan-ip" in dump  # the dump does hold the store's contents
    assert "127.0.0.1" not in dump.replace(system.settings.public_url, "")


@pytest.mark.parametrize("path", ["/UPPER", "/a_b", "/static", "/forgett%2F..", "/" + "a" * 80, "/oauth"])
def test_bad_slugs_get_a_clear_404(system: System, path: str) -> None:
    response = httpx.get(f"{system.landing_url}{path}")
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.text


def test_an_oversized_body_is_refused_before_it_is_read(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    response = httpx.post(f"{system.landing_url}/midnight-drive/done", data={"csrf": "x" * 20_000})
    assert response.status_code == 413


def test_an_expired_state_says_so(system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        connect = fan.http.get("/midnight-drive/connect/spotify")
        answer = fan.service_http.get(connect.headers["location"] + "&sandbox_fan=fan-late")
        monkeypatch.setattr(attempts, "STATE_LIFETIME", timedelta(seconds=-1))
        late = fan.http.get(answer.headers["location"].removeprefix(system.settings.public_url))
    assert late.status_code == 400
    assert "expired" in late.text
    assert grants(system) == []


def test_the_redirect_uri_is_fixed_whatever_the_request_says(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    response = httpx.get(
        f"{system.landing_url}/midnight-drive/connect/deezer",
        params={"redirect_uri": "https://evil.example/cb", "next": "https://evil.example"},
        headers={"Host": "evil.example"},
    )
    assert response.status_code == 302
    assert "evil" not in response.headers["location"]


def test_no_token_reaches_a_log_line_or_a_page(system: System, caplog: pytest.LogCaptureFixture) -> None:
    add_campaign(system, "midnight-drive", soon())
    caplog.set_level(logging.DEBUG)
    with Fan(system) as fan:
        fan.oauth("midnight-drive", "spotify", "fan-sec")
        done = fan.done("midnight-drive")
        fan.apple("midnight-drive", "amy-sec")
    vault = TokenVault(system.settings.secret_keys())
    secrets = []
    for grant in grants(system):
        secrets.append(vault.open(grant.access_token).reveal())
        if grant.refresh_token:
            secrets.append(vault.open(grant.refresh_token).reveal())
    assert len(secrets) == 3
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in done.text
