"""Simulated fans going through a campaign's landing page over real HTTP, as a browser would.

Each fan visits (with a UTM source drawn from a realistic mix), some click a pre-save button, the service's
authorize page approves or declines as that fan, and the landing app's callback stores the grant.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import urlencode, urlsplit

import httpx

T = TypeVar("T")

SOURCES = (("instagram", 0.35), ("tiktok", 0.25), ("newsletter", 0.15), ("twitter", 0.1), (None, 0.15))
COUNTRIES = (("GB", 0.3), ("US", 0.3), ("DE", 0.12), ("FR", 0.1), ("JP", 0.08), ("BR", 0.1))
USER_AGENTS = {
    "mobile": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "instagram": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148 Instagram 350.0",
    "desktop": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140 Safari/537.36",
}


@dataclass(frozen=True)
class FanPlan:
    """What one simulated fan will do."""

    fan_id: str
    service: str
    country: str
    utm_source: str | None
    user_agent: str
    clicks: bool
    declines: bool
    ip: str = "127.0.0.1"  # sent as X-Forwarded-For, as the proxy in front of the landing app would
    reading_s: float = 0.0  # time on the page before pressing the button


@dataclass
class SimulationReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    granted_fans: list[str] = field(default_factory=list)

    @property
    def grants(self) -> int:
        return self.outcomes["granted"]


def plan_fans(
    count: int,
    *,
    seed: int,
    prefix: str = "fan",
    reading_s: tuple[float, float] = (0.0, 0.0),
    services: tuple[tuple[str, float], ...] = (("spotify", 1.0),),
    decline_rates: dict[str, float] | None = None,
) -> list[FanPlan]:
    """`count` fans who all click through and approve, plus browsers and decliners around them.

    Each comes from an address of their own (carrier-grade NAT space) and reads the page for a time drawn
    from `reading_s` (seconds, uniform) before pressing the button.
    """
    rng = random.Random(seed)
    plans: list[FanPlan] = []
    granted = 0
    index = 0
    while granted < count:
        index += 1
        service = _pick(rng, services)
        clicks = rng.random() < 0.8
        declines = clicks and rng.random() < (decline_rates or {}).get(service, 0.06)
        source = _pick(rng, SOURCES)
        agent = (
            USER_AGENTS["instagram"]
            if source == "instagram"
            else USER_AGENTS[_pick(rng, (("mobile", 0.7), ("desktop", 0.3)))]
        )
        plans.append(
            FanPlan(
                fan_id=f"{prefix}{index:06d}",
                service=service,
                country=_pick(rng, COUNTRIES),
                utm_source=source,
                user_agent=agent,
                clicks=clicks,
                declines=declines,
                ip=f"100.{rng.randint(64, 127)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                reading_s=rng.uniform(*reading_s),
            )
        )
        granted += clicks and not declines
    return plans


def register_fans(sandbox_url: str, plans: list[FanPlan], http: httpx.Client | None = None) -> None:
    """Tell the sandbox each fan's country and whether they decline, before they arrive."""
    client = http or httpx.Client(timeout=30.0)
    try:
        for plan in plans:
            response = client.post(f"{sandbox_url}/sandbox/{plan.service}/fans", json=_fan_profile(plan))
            response.raise_for_status()
    finally:
        if http is None:
            client.close()


def _fan_profile(plan: FanPlan) -> dict[str, object]:
    if plan.service == "apple":  # Apple knows a storefront, not a country
        return {"id": plan.fan_id, "storefront": plan.country.lower(), "declines": plan.declines}
    profile: dict[str, object] = {"id": plan.fan_id, "country": plan.country, "declines": plan.declines}
    if plan.service == "spotify":
        profile["display_name"] = plan.fan_id
    return profile


def simulate_fans(
    landing_url: str,
    slug: str,
    plans: list[FanPlan],
    *,
    sandbox_url: str | None = None,
    concurrency: int = 16,
    on_fan: Callable[[str], None] | None = None,
    deadline: datetime | None = None,
) -> SimulationReport:
    """Walk every planned fan through the landing flow concurrently; returns what happened to each.

    Apple fans need `sandbox_url`: MusicKit's sign-in is JavaScript, so the simulator asks the sandbox for
    the Music User Token the shim would have given and posts it as the page does.
    Fans who would arrive after `deadline` (the release moment, for a pre-save) stay away: "late".
    """
    report = SimulationReport()
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends, so no request races its close.
    limits = httpx.Limits(
        max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2, keepalive_expiry=2.0
    )

    def visit(plan: FanPlan) -> str:
        if deadline is not None and datetime.now(UTC) >= deadline:
            return "late"
        return Fan(http, landing_url, slug, plan, sandbox_url).presave()

    with httpx.Client(timeout=30.0, limits=limits) as http, ThreadPoolExecutor(concurrency) as pool:
        for plan, outcome in zip(plans, pool.map(visit, plans), strict=True):
            report.outcomes[outcome] += 1
            if outcome == "granted":
                report.granted_fans.append(plan.fan_id)
            if on_fan:
                on_fan(outcome)
    return report


class Fan:
    """One fan's browser: the campaign page, the pre-save button, the service's consent, the done page."""

    def __init__(
        self, http: httpx.Client, landing_url: str, slug: str, plan: FanPlan, sandbox_url: str | None
    ) -> None:
        self.http = http
        self.landing_url = landing_url
        self.slug = slug
        self.plan = plan
        self.sandbox_url = sandbox_url
        self.headers = {
            "User-Agent": plan.user_agent,
            "CF-IPCountry": plan.country,
            "X-Forwarded-For": plan.ip,
        }
        self.query = {"utm_source": plan.utm_source, "utm_medium": "social"} if plan.utm_source else {}
        self.cookies: dict[str, str] = {}

    def presave(self) -> str:
        page = self._get(f"/{self.slug}", params=self.query)
        page.raise_for_status()
        if not self.plan.clicks:
            return "visited"
        time.sleep(self.plan.reading_s)
        connect = self._get(f"/{self.slug}/connect/{self.plan.service}", params=self.query)
        if self.plan.service == "apple":
            return self._musickit(connect)
        if connect.status_code != 302:
            return f"connect_{connect.status_code}"
        return self._oauth(connect.headers["location"])

    def _oauth(self, authorize_url: str) -> str:
        """Spotify and Deezer: the service's consent answers as this fan, then back to the callback."""
        decision = {
            "sandbox_fan": self.plan.fan_id,
            "sandbox_decision": "deny" if self.plan.declines else "approve",
        }
        separator = "&" if urlsplit(authorize_url).query else "?"
        authorize = self.http.get(f"{authorize_url}{separator}{urlencode(decision)}", headers=self.headers)
        if authorize.status_code not in (302, 303):
            return f"authorize_{authorize.status_code}"
        return self._finish(
            self.http.get(authorize.headers["location"], headers=self.headers, cookies=self.cookies)
        )

    def _musickit(self, page: httpx.Response) -> str:
        """Apple: the MusicKit page posts the Music User Token (or MusicKit's refusal) back."""
        if page.status_code != 200 or self.sandbox_url is None:
            return f"connect_{page.status_code}"
        state = _hidden_input(page.text, "state")
        form = {"state": state, "music_user_token": "", "error": ""}
        if self.plan.declines:
            form["error"] = "AUTHORIZATION_ERROR"
        else:
            token = self.http.post(f"{self.sandbox_url}/sandbox/apple/fans/{self.plan.fan_id}/user-token")
            token.raise_for_status()
            form["music_user_token"] = token.json()["music_user_token"]
        headers = {**self.headers, "Origin": self.landing_url, "Referer": str(page.url)}
        posted = self.http.post(
            f"{self.landing_url}/{self.slug}/connect/apple", data=form, headers=headers, cookies=self.cookies
        )
        return self._finish(posted)

    def _finish(self, callback: httpx.Response) -> str:
        self.cookies.update(callback.cookies)
        if self.plan.declines:
            return "declined" if callback.status_code == 200 else f"callback_{callback.status_code}"
        if callback.status_code != 303:
            return f"callback_{callback.status_code}"
        done = self._get(callback.headers["location"])
        return "granted" if done.status_code == 200 else f"done_{done.status_code}"

    def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        url = f"{self.landing_url}{path}"
        response = self.http.get(url, params=params, headers=self.headers, cookies=self.cookies)
        self.cookies.update(response.cookies)
        return response


def _hidden_input(html: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    if match is None:
        raise ValueError(f"the page has no hidden input {name!r}")
    return match.group(1)


def _pick(rng: random.Random, weighted: tuple[tuple[T, float], ...]) -> T:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights=weights, k=1)[0]
