"""A fan's browser for the landing integration tests: real HTTP to the landing app and the sandbox."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from sqlalchemy import select

from campaigns.campaign_file import parse_campaign
from campaigns.models import Grant, LandingEvent
from campaigns.registry import create_campaign
from tests.integration.conftest import ARTIST_ID, System

PLAYLIST_URI = "spotify:playlist:37i9dQZF1DX0XUsuxWHRQd"
EXTRA_ARTIST_URI = "spotify:artist:0OdUWJ0sBjDrqHygGUXeCF"
DEEZER_ARTIST = "27"


def all_services(**spotify: Any) -> dict[str, Any]:
    return {
        "spotify": {"artist": f"spotify:artist:{ARTIST_ID}", **spotify},
        "apple": {},
        "deezer": {"artist_id": DEEZER_ARTIST},
    }


def add_campaign(system: System, slug: str, release_at: datetime, **fields: Any) -> None:
    document = {
        "slug": slug,
        "artist": "Nova Lane",
        "title": "Midnight Drive",
        "upc": "198880045560",
        "release_at": release_at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
        "timezone": "UTC",
        "services": all_services(),
        **fields,
    }
    with system.store.session() as session:
        create_campaign(session, parse_campaign(document))


def spotify_fails(system: System, failing: bool) -> None:
    """Every Spotify Web API call answers 502, or none does (the accounts service still works)."""
    faults = (
        {"services": ["spotify"], "error_share": 1.0, "error_statuses": [502]}
        if failing
        else {"error_share": 0.0}
    )
    system.admin.put("/sandbox/config", json={"faults": faults}).raise_for_status()


def flush(system: System) -> None:
    assert system.landing_app.state.landing.events.flush()


def events(system: System, **where: Any) -> list[LandingEvent]:
    flush(system)
    with system.store.session() as session:
        query = select(LandingEvent).order_by(LandingEvent.occurred_at, LandingEvent.id)
        for key, value in where.items():
            query = query.where(getattr(LandingEvent, key) == value)
        return list(session.scalars(query))


def grants(system: System) -> list[Grant]:
    with system.store.session() as session:
        return list(session.scalars(select(Grant).order_by(Grant.id)))


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return unescape(match.group(1))


class Fan:
    """One fan's browser: cookies kept, the proxy's country header on every request."""

    def __init__(self, system: System, *, country: str | None = "GB", user_agent: str | None = None) -> None:
        headers = {"CF-IPCountry": country} if country else {}
        if user_agent:
            headers["User-Agent"] = user_agent
        self.system = system
        self.http = httpx.Client(base_url=system.landing_url, timeout=10, headers=headers)
        self.service_http = httpx.Client(timeout=10, headers=headers)

    def close(self) -> None:
        self.http.close()
        self.service_http.close()

    def __enter__(self) -> Fan:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def visit(self, slug: str, **query: str) -> httpx.Response:
        return self.http.get(f"/{slug}", params=query)

    def oauth(
        self, slug: str, service: str, fan_id: str, *, decision: str = "approve", **query: str
    ) -> httpx.Response:
        """Press the pre-save button, consent at the (sandbox) service, come back: the callback's answer."""
        connect = self.http.get(f"/{slug}/connect/{service}", params=query)
        assert connect.status_code == 302, connect.text
        return self.authorize(connect.headers["location"], fan_id, decision=decision)

    def authorize(self, authorize_url: str, fan_id: str, *, decision: str = "approve") -> httpx.Response:
        separator = "&" if urlsplit(authorize_url).query else "?"
        answer = self.service_http.get(
            f"{authorize_url}{separator}{urlencode({'sandbox_fan': fan_id, 'sandbox_decision': decision})}"
        )
        assert answer.status_code in (302, 303), answer.text
        location = answer.headers["location"]
        assert location.startswith(self.system.settings.public_url)
        return self.http.get(location.removeprefix(self.system.settings.public_url))

    def apple(self, slug: str, fan_id: str, **query: str) -> httpx.Response:
        """The MusicKit page, then what MusicKit's authorize() gives, posted back as the page's script does."""
        page = self.http.get(f"/{slug}/connect/apple", params=query)
        assert page.status_code == 200, page.text
        token = self.system.admin.post(f"/sandbox/apple/fans/{fan_id}/user-token").json()["music_user_token"]
        return self.http.post(
            f"/{slug}/connect/apple",
            data={"state": hidden(page.text, "state"), "music_user_token": token},
            headers={"Origin": self.system.settings.public_url},
        )

    def done(self, slug: str) -> httpx.Response:
        return self.http.get(f"/{slug}/done")

    def complete(self, slug: str, **form: Any) -> httpx.Response:
        page = self.done(slug)
        assert page.status_code == 200, page.text
        data = {"csrf": hidden(page.text, "csrf"), **form}
        return self.http.post(f"/{slug}/done", data=data, headers={"Origin": self.system.settings.public_url})
