"""Simulated fans going through a campaign's landing page over real HTTP, as a browser would.

Each fan visits (with a UTM source drawn from a realistic mix), some click a pre-save button, the service's
authorize page approves or declines as that fan, and the landing app's callback stores the grant.
"""

from __future__ import annotations

import random
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
    country: str
    utm_source: str | None
    user_agent: str
    clicks: bool
    declines: bool


@dataclass
class SimulationReport:
    outcomes: Counter[str] = field(default_factory=Counter)
    granted_fans: list[str] = field(default_factory=list)

    @property
    def grants(self) -> int:
        return self.outcomes["granted"]


def plan_fans(count: int, *, seed: int, prefix: str = "fan") -> list[FanPlan]:
    """`count` fans who all click through and approve, plus browsers and decliners around them."""
    rng = random.Random(seed)
    plans: list[FanPlan] = []
    granted = 0
    index = 0
    while granted < count:
        index += 1
        clicks = rng.random() < 0.8
        declines = clicks and rng.random() < 0.06
        source = _pick(rng, SOURCES)
        agent = (
            USER_AGENTS["instagram"]
            if source == "instagram"
            else USER_AGENTS[_pick(rng, (("mobile", 0.7), ("desktop", 0.3)))]
        )
        plans.append(
            FanPlan(
                fan_id=f"{prefix}{index:06d}",
                country=_pick(rng, COUNTRIES),
                utm_source=source,
                user_agent=agent,
                clicks=clicks,
                declines=declines,
            )
        )
        granted += clicks and not declines
    return plans


def register_fans(sandbox_url: str, plans: list[FanPlan], http: httpx.Client | None = None) -> None:
    """Tell the sandbox each fan's country and whether they decline, before they arrive."""
    client = http or httpx.Client(timeout=30.0)
    try:
        for plan in plans:
            response = client.post(
                f"{sandbox_url}/sandbox/spotify/fans",
                json={
                    "id": plan.fan_id,
                    "country": plan.country,
                    "display_name": plan.fan_id,
                    "declines": plan.declines,
                },
            )
            response.raise_for_status()
    finally:
        if http is None:
            client.close()


def simulate_fans(
    landing_url: str,
    slug: str,
    plans: list[FanPlan],
    *,
    service: str = "spotify",
    concurrency: int = 16,
    on_fan: Callable[[str], None] | None = None,
    deadline: datetime | None = None,
) -> SimulationReport:
    """Walk every planned fan through the landing flow concurrently; returns what happened to each.

    Fans who would arrive after `deadline` (the release moment, for a pre-save) stay away: "late".
    """
    report = SimulationReport()
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)

    def visit(plan: FanPlan) -> str:
        if deadline is not None and datetime.now(UTC) >= deadline:
            return "late"
        return _one_fan(http, landing_url, slug, service, plan)

    with httpx.Client(timeout=30.0, limits=limits) as http, ThreadPoolExecutor(concurrency) as pool:
        for plan, outcome in zip(plans, pool.map(visit, plans), strict=True):
            report.outcomes[outcome] += 1
            if outcome == "granted":
                report.granted_fans.append(plan.fan_id)
            if on_fan:
                on_fan(outcome)
    return report


def _one_fan(http: httpx.Client, landing_url: str, slug: str, service: str, plan: FanPlan) -> str:
    headers = {"User-Agent": plan.user_agent, "CF-IPCountry": plan.country}
    query = {"utm_source": plan.utm_source, "utm_medium": "social"} if plan.utm_source else {}
    cookies: dict[str, str] = {}
    page = http.get(f"{landing_url}/{slug}", params=query, headers=headers)
    page.raise_for_status()
    cookies.update(page.cookies)
    if not plan.clicks:
        return "visited"
    connect = http.get(
        f"{landing_url}/{slug}/connect/{service}", params=query, headers=headers, cookies=cookies
    )
    if connect.status_code != 302:
        return f"connect_{connect.status_code}"
    authorize_url = connect.headers["location"]
    decision = {"sandbox_fan": plan.fan_id, "sandbox_decision": "deny" if plan.declines else "approve"}
    separator = "&" if urlsplit(authorize_url).query else "?"
    authorize = http.get(f"{authorize_url}{separator}{urlencode(decision)}", headers=headers)
    if authorize.status_code not in (302, 303):
        return f"authorize_{authorize.status_code}"
    callback = http.get(authorize.headers["location"], headers=headers, cookies=cookies)
    if plan.declines:
        return "declined" if callback.status_code == 200 else f"callback_{callback.status_code}"
    if callback.status_code != 303:
        return f"callback_{callback.status_code}"
    done = http.get(f"{landing_url}{callback.headers['location']}", headers=headers, cookies=cookies)
    return "granted" if done.status_code == 200 else f"done_{done.status_code}"


def _pick(rng: random.Random, weighted: tuple[tuple[T, float], ...]) -> T:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights=weights, k=1)[0]
