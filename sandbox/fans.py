"""Simulated fans going through a campaign's landing page over real HTTP, as their own browsers would.

Every fan has a browser of their own: an HTTP client with its own cookie jar (so the landing app's visitor
cookie tells them apart), their own address (sent as `X-Forwarded-For`, as the proxy in front of the
landing app would; and, where the system routes all of 127.0.0.0/8 to loopback as Linux does, their
connections come from a loopback address of their own, so the landing app sees a peer per fan without
trusting any header), user agent, country and time zone (the `psv_tz` cookie the page's script sets). Each
visits with a UTM source, some press a pre-save button, and then approve, decline at the service, or
abandon on its consent page. What each did is written to the ground truth (`sandbox.truth`).
"""

from __future__ import annotations

import random
import re
import socket
import ssl
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from urllib.parse import urlencode, urlsplit

import httpx

from sandbox.audience import DEVICE_CLASS, SOURCES, USER_AGENTS, pick, pick_agent, pick_country, pick_zone
from sandbox.truth import OUTCOMES, FanTruth, GroundTruth

SANDBOX_SERVICES = ("spotify", "apple", "deezer")  # the services the sandbox stands in for
VISITOR_COOKIE = "psv"  # the landing app's visitor cookie
TIMEZONE_COOKIE = "psv_tz"  # set by the landing page's script from the browser's zone
CLICK_RATE = 0.7  # visitors who press a pre-save button
DECLINE_RATES = {"spotify": 0.05, "apple": 0.1, "deezer": 0.08}  # of those who pressed it
ABANDON_RATES = {"spotify": 0.1, "apple": 0.16, "deezer": 0.12}  # left on the service's consent step


@dataclass(frozen=True)
class FanPlan:
    """What one simulated fan will do."""

    fan_id: str
    service: str  # the button they press, if they press one
    country: str
    utm_source: str | None
    user_agent: str
    clicks: bool
    declines: bool
    ip: str = "127.0.0.1"  # sent as X-Forwarded-For, as the proxy in front of the landing app would
    reading_s: float = 0.0  # time on the page before pressing the button
    abandons: bool = False  # pressed the button, then left on the service's consent step
    timezone: str = "UTC"
    device: str = "mobile"

    @property
    def outcome(self) -> str:
        if not self.clicks:
            return "visited"
        return "abandoned" if self.abandons else "declined" if self.declines else "granted"


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
    abandon_rates: dict[str, float] | None = None,
    click_rate: float = CLICK_RATE,
) -> list[FanPlan]:
    """Visitors until `count` of them will grant: the others leave without pressing a button, abandon on
    the service's consent step or decline there, at the given rates (defaults: `DECLINE_RATES`,
    `ABANDON_RATES`; rates not given for a service are zero when a dict is passed).

    Each comes from an address of their own (carrier-grade NAT space) and reads the page for a time drawn
    from `reading_s` (seconds, uniform) before pressing the button.
    """
    rng = random.Random(seed)
    declines_at = DECLINE_RATES if decline_rates is None else decline_rates
    abandons_at = ABANDON_RATES if abandon_rates is None else abandon_rates
    plans: list[FanPlan] = []
    granted = 0
    index = 0
    addresses: set[str] = set()
    while granted < count:
        index += 1
        service = pick(rng, services)
        clicks = rng.random() < click_rate
        abandons = clicks and rng.random() < abandons_at.get(service, 0.0)
        declines = clicks and not abandons and rng.random() < declines_at.get(service, 0.0)
        choices = {"clicks": clicks, "declines": declines, "abandons": abandons}
        plans.append(_visitor(rng, f"{prefix}{index:06d}", service, reading_s, addresses, choices))
        granted += clicks and not declines and not abandons
    return plans


def _visitor(
    rng: random.Random,
    fan_id: str,
    service: str,
    reading_s: tuple[float, float],
    addresses: set[str],
    choices: dict[str, bool],
) -> FanPlan:
    """Where a visitor comes from, on what, and how long they read (the draws in the plan's order)."""
    source = pick(rng, SOURCES)
    agent = pick_agent(rng, source)
    country = pick_country(rng)
    return FanPlan(
        fan_id=fan_id,
        service=service,
        country=country,
        utm_source=source,
        user_agent=USER_AGENTS[agent],
        clicks=choices["clicks"],
        declines=choices["declines"],
        ip=_address(rng, addresses),
        reading_s=rng.uniform(*reading_s),
        abandons=choices["abandons"],
        timezone=pick_zone(rng, country),
        device=DEVICE_CLASS[agent],
    )


def _address(rng: random.Random, taken: set[str]) -> str:
    """A carrier-grade NAT address (100.64.0.0/10) no other planned fan has."""
    while True:
        address = f"100.{rng.randint(64, 127)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        if address not in taken:
            taken.add(address)
            return address


def loopback_address(ip: str) -> str:
    """The loopback address a fan connects from: 127.x.y.z, one per planned (100.64.0.0/10) address."""
    octets = [int(part) for part in ip.split(".")]
    return f"127.{octets[1] - 63}.{octets[2]}.{octets[3]}" if octets[0] == 100 else "127.0.0.1"


@cache
def loopback_aliases() -> bool:
    """Whether a socket can bind a loopback address other than 127.0.0.1 (Linux: yes; macOS: no)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.1.2.3", 0))
        except OSError:
            return False
    return True


def register_fans(sandbox_url: str, plans: list[FanPlan], http: httpx.Client | None = None) -> None:
    """Tell the sandbox each fan's country and whether they decline, before they arrive."""
    client = http or httpx.Client(timeout=30.0)
    try:
        for plan in plans:
            if plan.service not in SANDBOX_SERVICES:  # a link-only service: nobody to register
                continue
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
    truth: GroundTruth | None = None,
) -> SimulationReport:
    """Walk every planned fan through the landing flow concurrently; returns what happened to each.

    Each fan browses with a client of their own (their own cookies), connecting from their own loopback
    address where the system allows it (`loopback_address`), else over one shared connection pool.
    Apple fans need `sandbox_url`: MusicKit's sign-in is JavaScript, so the simulator asks the sandbox for
    the Music User Token the shim would have given and posts it as the page does.
    Fans who would arrive after `deadline` (the release moment, for a pre-save) stay away: "late".
    With `truth`, every fan who came is recorded there (`sandbox.truth.FanTruth`).
    """
    report = SimulationReport()

    own_addresses = loopback_aliases() and urlsplit(landing_url).hostname == "127.0.0.1"
    tls = ssl.create_default_context()  # one for all: each transport would load the CA bundle (~0.2 s)

    def visit(plan: FanPlan) -> str:
        if deadline is not None and datetime.now(UTC) >= deadline:
            return "late"
        own = (
            httpx.HTTPTransport(local_address=loopback_address(plan.ip), verify=tls)
            if own_addresses
            else None
        )
        fan = Fan(own or transport, landing_url, slug, plan, sandbox_url)
        try:
            outcome = fan.presave()
        finally:
            if own is not None:
                own.close()
        if truth is not None and outcome in OUTCOMES:
            truth.add_fan(fan.truth(outcome))
        return outcome

    with (
        httpx.HTTPTransport(limits=_pool_limits(concurrency)) as transport,
        ThreadPoolExecutor(concurrency) as pool,
    ):
        for plan, outcome in zip(plans, pool.map(visit, plans), strict=True):
            _tally(report, plan, outcome, on_fan)
    return report


def _pool_limits(concurrency: int) -> httpx.Limits:
    # Idle connections are dropped before uvicorn's 5 s keep-alive ends, so no request races its close.
    return httpx.Limits(
        max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2, keepalive_expiry=2.0
    )


def _tally(
    report: SimulationReport, plan: FanPlan, outcome: str, on_fan: Callable[[str], None] | None
) -> None:
    report.outcomes[outcome] += 1
    if outcome == "granted":
        report.granted_fans.append(plan.fan_id)
    if on_fan:
        on_fan(outcome)


class Fan:
    """One fan's browser: the campaign page, the pre-save button, the service's consent, the done page."""

    def __init__(
        self,
        transport: httpx.BaseTransport,
        landing_url: str,
        slug: str,
        plan: FanPlan,
        sandbox_url: str | None,
    ) -> None:
        # The client is never closed: closing it would close the shared transport.
        self.http = httpx.Client(
            transport=transport,
            timeout=30.0,
            headers={"User-Agent": plan.user_agent, "CF-IPCountry": plan.country, "X-Forwarded-For": plan.ip},
        )
        self.landing_url = landing_url
        self.slug = slug
        self.plan = plan
        self.sandbox_url = sandbox_url
        self.query = {"utm_source": plan.utm_source, "utm_medium": "social"} if plan.utm_source else {}
        self.visited_at = datetime.now(UTC)
        self.granted_at: datetime | None = None

    @property
    def visitor_id(self) -> str | None:
        return self.http.cookies.get(VISITOR_COOKIE)

    def truth(self, outcome: str) -> FanTruth:
        plan = self.plan
        return FanTruth(
            campaign=self.slug,
            fan_id=plan.fan_id,
            visitor_id=self.visitor_id,
            visited_at=self.visited_at,
            service=plan.service if plan.clicks else None,
            outcome=outcome,  # type: ignore[arg-type]
            source=plan.utm_source,
            country=plan.country,
            timezone=plan.timezone,
            device=plan.device,
            ip=plan.ip,
            origin="live",
            granted_at=self.granted_at,
        )

    def presave(self) -> str:
        self.visited_at = datetime.now(UTC)
        page = self._get(f"/{self.slug}", params=self.query)
        page.raise_for_status()
        self.http.cookies.set(TIMEZONE_COOKIE, self.plan.timezone)  # what the page's script does
        if not self.plan.clicks:
            return "visited"
        time.sleep(self.plan.reading_s)
        if f'id="presave-{self.plan.service}"' not in page.text and 'id="remind"' in page.text:
            return "reminder" if self._remind(page) else "remind_refused"  # no direct save offered here
        connect = self._get(f"/{self.slug}/connect/{self.plan.service}", params=self.query)
        if connect.status_code == 303:  # the places were taken while the fan read: the page offers a reminder
            page = self.http.get(httpx.URL(self.landing_url).join(connect.headers["location"]))
            return "reminder" if self._remind(page) else "remind_refused"
        if self.plan.service == "apple":
            return self._musickit(connect)
        if connect.status_code != 302:
            return f"connect_{connect.status_code}"
        return self._oauth(connect.headers["location"])

    def _oauth(self, authorize_url: str) -> str:
        """Spotify and Deezer: the service's consent answers as this fan, then back to the callback."""
        if self.plan.abandons:  # the consent page is shown; the fan closes the tab
            consent = self.http.get(authorize_url)
            return "abandoned" if consent.status_code == 200 else f"authorize_{consent.status_code}"
        decision = {
            "sandbox_fan": self.plan.fan_id,
            "sandbox_decision": "deny" if self.plan.declines else "approve",
        }
        separator = "&" if urlsplit(authorize_url).query else "?"
        authorize = self.http.get(f"{authorize_url}{separator}{urlencode(decision)}")
        if authorize.status_code >= 500:
            return "failed"
        if authorize.status_code not in (302, 303):
            return f"authorize_{authorize.status_code}"
        return self._finish(self.http.get(authorize.headers["location"]))

    def _musickit(self, page: httpx.Response) -> str:
        """Apple: the MusicKit page posts the Music User Token (or MusicKit's refusal) back."""
        if page.status_code != 200 or self.sandbox_url is None:
            return f"connect_{page.status_code}"
        if self.plan.abandons:  # the sign-in popup is closed without an answer
            return "abandoned"
        state = _hidden_input(page.text, "state")
        form = {"state": state, "music_user_token": "", "error": ""}
        if self.plan.declines:
            form["error"] = "AUTHORIZATION_ERROR"
        else:
            token = self.http.post(f"{self.sandbox_url}/sandbox/apple/fans/{self.plan.fan_id}/user-token")
            token.raise_for_status()
            form["music_user_token"] = token.json()["music_user_token"]
        headers = {"Origin": self.landing_url, "Referer": str(page.url)}
        posted = self.http.post(f"{self.landing_url}/{self.slug}/connect/apple", data=form, headers=headers)
        return self._finish(posted)

    def _finish(self, callback: httpx.Response) -> str:
        if self.plan.declines:
            return "declined" if callback.status_code == 200 else f"callback_{callback.status_code}"
        if callback.status_code == 502:  # the service failed the landing app; the page says try again
            return "failed"
        if callback.status_code != 303:
            return f"callback_{callback.status_code}"
        self.granted_at = datetime.now(UTC)
        done = self._get(callback.headers["location"])
        if done.status_code == 200 and 'id="turned-away"' in done.text:  # the label's app cannot save
            self.granted_at = None
            return "turned_away" if self._remind(done) else "remind_refused"
        return "granted" if done.status_code == 200 else f"done_{done.status_code}"

    def _remind(self, page: httpx.Response) -> bool:
        """Sign up for the reminder the page offers, for the service the fan came for."""
        form = {"service": self.plan.service, "email": f"{self.plan.fan_id}@fans.example", "consent": "yes"}
        if 'name="turned_away"' in page.text:
            form["turned_away"] = "yes"
        headers = {"Origin": self.landing_url, "Referer": str(page.url)}
        answer = self.http.post(f"{self.landing_url}/{self.slug}/remind", data=form, headers=headers)
        return answer.status_code == 200

    def _get(self, path: str, params: dict[str, str] | None = None) -> httpx.Response:
        return self.http.get(f"{self.landing_url}{path}", params=params)


def _hidden_input(html: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    if match is None:
        raise ValueError(f"the page has no hidden input {name!r}")
    return match.group(1)
