"""Simulated history of a campaign's past days: visitors, clicks per service, denials, abandonments,
grants and their ledger, backdated, as the landing app and the executor would have written them.

The demo and the tests need earlier campaigns to compare against (and an upcoming one with weeks of
pre-saves behind it); real ones would have come through the landing app. Visitors arrive in a burst after
the announcement and again toward the release; each is a fan of their own (visitor id, country, time
zone, device, source), presses a service's button at `CLICK_RATE`, then abandons, declines or grants at
the simulator's per-service rates. Tokens are sealed random strings: a released campaign's grants are
never used again; an upcoming campaign's would fail at its release (the demo never gets there).
What each fan did goes to the ground truth (`sandbox.truth`) when one is given.
"""

from __future__ import annotations

import base64
import math
import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert

from campaigns.ledger import insert_ignoring_duplicates
from campaigns.models import Campaign, Grant, GrantStatus, LandingEvent, Outcome, OwedAction
from campaigns.store import Store
from campaigns.vault import TokenVault
from sandbox.audience import DEVICE_CLASS, SOURCES, pick, pick_agent, pick_country, pick_zone
from sandbox.fans import ABANDON_RATES, CLICK_RATE, DECLINE_RATES
from sandbox.truth import FanTruth, GroundTruth

SERVICE_SHARES = {"spotify": 0.62, "apple": 0.28, "deezer": 0.10}  # of visitors who press a button
DELIVERY_RATE = 0.97  # release-day saves delivered; the rest lost their grant (revoked) before release
DENIAL_CODES = {"spotify": "access_denied", "apple": "AUTHORIZATION_ERROR", "deezer": "user_denied"}
WINDOW_DAYS = 28  # a campaign's pre-save window before its release
ANSWER_S = 45.0  # from the visit to the service's answer


@dataclass(frozen=True)
class HistoryFan:
    """One backdated visitor and what they did."""

    index: int
    at: datetime
    service: str | None
    outcome: str
    source: str | None
    country: str
    timezone: str
    agent: str
    visitor_id: str


def presave_moments(release_at: datetime, count: int, rng: random.Random, days: int = 28) -> list[datetime]:
    """When `count` visitors arrived over the `days` before release: a burst at the announcement, then
    rising toward release day."""
    return arrival_moments(release_at - timedelta(days=days), release_at, release_at, count, rng)


def arrival_moments(
    opens: datetime, closes: datetime, release_at: datetime, count: int, rng: random.Random
) -> list[datetime]:
    """`count` arrival moments between `opens` (the announcement) and `closes` (release, or now)."""
    span = (closes - opens).total_seconds()
    if span <= 0:
        raise ValueError(f"the window closes ({closes}) before it opens ({opens})")
    moments: list[datetime] = []
    while len(moments) < count:
        at = opens + timedelta(seconds=rng.uniform(0, span))
        age_days = (at - opens).total_seconds() / 86_400
        to_release_days = max((release_at - at).total_seconds() / 86_400, 0.0)
        density = math.exp(-age_days / 5.0) + 0.7 * math.exp(-to_release_days / 4.0)
        if rng.uniform(0, 1.7) < density:
            moments.append(at)
    return sorted(moments)


def plan_history(
    services: tuple[str, ...],
    grants: int,
    opens: datetime,
    closes: datetime,
    release_at: datetime,
    rng: random.Random,
) -> list[HistoryFan]:
    """Visitors until `grants` of them granted, spread over the window."""
    shares = tuple((s, SERVICE_SHARES.get(s, 0.1)) for s in services)
    drawn: list[tuple[str | None, str]] = []
    granted = 0
    while granted < grants:
        service = pick(rng, shares)
        if rng.random() >= CLICK_RATE:
            drawn.append((None, "visited"))
            continue
        if rng.random() < ABANDON_RATES.get(service, 0.0):
            drawn.append((service, "abandoned"))
        elif rng.random() < DECLINE_RATES.get(service, 0.0):
            drawn.append((service, "declined"))
        else:
            drawn.append((service, "granted"))
            granted += 1
    # A visitor's answer comes ANSWER_S after the visit: it too must fall before the window closes.
    moments = arrival_moments(opens, closes - timedelta(seconds=ANSWER_S), release_at, len(drawn), rng)
    fans = []
    for index, ((chosen, outcome), at) in enumerate(zip(drawn, moments, strict=True)):
        source = pick(rng, SOURCES)
        country = pick_country(rng)
        fans.append(
            HistoryFan(
                index=index,
                at=at,
                service=chosen,
                outcome=outcome,
                source=source,
                country=country,
                timezone=pick_zone(rng, country),
                agent=pick_agent(rng, source),
                visitor_id=base64.urlsafe_b64encode(rng.randbytes(16)).decode().rstrip("="),
            )
        )
    return fans


def write_campaign_history(
    store: Store,
    vault: TokenVault,
    slug: str,
    presaves: int,
    *,
    seed: int,
    user_prefix: str | None = None,
    truth: GroundTruth | None = None,
    until: datetime | None = None,
    window_days: int = WINDOW_DAYS,
    services: tuple[str, ...] | None = None,
) -> int:
    """Backdated visitors of a campaign until `presaves` of them granted; returns the grants written.

    The window opens `window_days` before the release and closes at the release, or at `until` (now, for
    a campaign still collecting: its grants stay active and owe their release-day actions). A released
    campaign's saves are delivered on release day (`DELIVERY_RATE`; the rest were revoked before).
    """
    rng = random.Random(seed)
    prefix = user_prefix or f"{slug}-fan"
    with store.session() as session:
        campaign = session.query(Campaign).filter_by(slug=slug).one()
        release_at = campaign.release_at
        closes = min(until, release_at) if until is not None else release_at
        released = closes >= release_at
        offered = tuple(s for s in ("spotify", "apple", "deezer") if campaign.spec["services"].get(s))
        fans = plan_history(
            services or offered, presaves, release_at - timedelta(days=window_days), closes, release_at, rng
        )
        sealed = vault.seal(secrets.token_urlsafe(24))  # placeholder: never a real token
        grants: dict[int, Grant] = {}
        for fan in fans:
            if fan.outcome == "granted":
                grants[fan.index] = _grant(campaign, vault, fan, f"{prefix}{fan.index:06d}", sealed, released)
        session.add_all(grants.values())
        session.flush()
        events = [event for fan in fans for event in _events(campaign.id, fan, grants.get(fan.index))]
        session.execute(insert(LandingEvent), events)  # plain rows: many, never read back here
        actions = [
            action
            for index, grant in grants.items()
            for action in _actions(campaign, grant, released, rng, release_at)
        ]
        insert_ignoring_duplicates(session, OwedAction.__table__, actions)  # type: ignore[arg-type]
    if truth is not None:
        truth.add_fans(_truth(slug, fan, f"{prefix}{fan.index:06d}") for fan in fans)
    return len(grants)


def _grant(
    campaign: Campaign, vault: TokenVault, fan: HistoryFan, user_id: str, sealed: str, released: bool
) -> Grant:
    assert fan.service is not None
    granted_at = fan.at + timedelta(seconds=ANSWER_S)
    return Grant(
        campaign_id=campaign.id,
        service=fan.service,
        service_user_id=user_id,
        fan_key=vault.pseudonym(fan.service, user_id),
        access_token=sealed,
        refresh_token=None,
        token_expires_at=granted_at + timedelta(hours=1),
        scopes="user-library-modify user-follow-modify" if fan.service == "spotify" else "",
        granted_at=granted_at,
        status=GrantStatus.EXPIRED if released else GrantStatus.ACTIVE,
        status_reason="history" if released else None,
        country=fan.country,
        fan_timezone=fan.timezone,
        choices={},
        created_at=granted_at,
        updated_at=granted_at,
    )


def _events(campaign_id: int, fan: HistoryFan, grant: Grant | None) -> list[dict[str, object]]:
    """What the landing app records for this visitor: visit, click and authorization start, then the
    service's answer (nothing when the fan abandoned)."""
    steps: list[tuple[str, float, str | None]] = [("visit", 0.0, None)]
    if fan.service is not None:
        steps += [("click", 20.0, None), ("authorize_start", 20.5, None)]
    if fan.outcome == "declined":
        steps.append(("denial", ANSWER_S, f"presave:{DENIAL_CODES[fan.service or 'spotify']}"))
    if fan.outcome == "granted":
        steps.append(("grant", ANSWER_S, None))
    return [
        {
            "campaign_id": campaign_id,
            "occurred_at": fan.at + timedelta(seconds=delay),
            "kind": kind,
            "service": fan.service if kind != "visit" else None,
            "visitor_id": fan.visitor_id,
            "grant_id": grant.id if grant is not None and kind == "grant" else None,
            "utm_source": fan.source,
            "utm_medium": "social" if fan.source else None,
            "utm_campaign": None,
            "referrer_domain": None,
            "device_class": DEVICE_CLASS[fan.agent],
            "in_app_browser": fan.agent if fan.agent in ("instagram", "tiktok") else None,
            "country": fan.country,
            "ip_hash": None,
            "detail": detail,
        }
        for kind, delay, detail in steps
    ]


def _actions(
    campaign: Campaign, grant: Grant, released: bool, rng: random.Random, release_at: datetime
) -> list[dict[str, object]]:
    """The ledger: Spotify follows the artist at grant time; on release day the save (and Deezer's follow)."""
    spec = campaign.spec["services"]
    rows: list[dict[str, object]] = []
    granted_at = grant.granted_at
    if grant.service == "spotify" and spec.get("spotify", {}).get("artist"):
        rows.append(
            _action(campaign, grant, "follow_artist", spec["spotify"]["artist"], granted_at, granted_at, True)
        )
    if not released:
        return rows
    delivered = rng.random() < DELIVERY_RATE
    done_at = release_at + timedelta(seconds=rng.uniform(5, 600))
    rows.append(_action(campaign, grant, "save_release", "release", release_at, done_at, delivered))
    if grant.service == "deezer" and spec.get("deezer", {}).get("artist_id"):
        artist = str(spec["deezer"]["artist_id"])
        rows.append(_action(campaign, grant, "follow_artist", artist, release_at, done_at, delivered))
    return rows


def _action(
    campaign: Campaign,
    grant: Grant,
    kind: str,
    target: str,
    due_at: datetime,
    done_at: datetime,
    delivered: bool,
) -> dict[str, object]:
    return {
        "campaign_id": campaign.id,
        "grant_id": grant.id,
        "service": grant.service,
        "kind": kind,
        "target": target,
        "due_at": due_at,
        "outcome": (Outcome.DELIVERED if delivered else Outcome.UNDELIVERABLE).value,
        "attempts": 1,
        "done_at": done_at,
        "reason": None if delivered else "grant revoked before release",
        "created_at": min(due_at, done_at),
    }


def _truth(slug: str, fan: HistoryFan, user_id: str) -> FanTruth:
    return FanTruth(
        campaign=slug,
        fan_id=user_id,
        visitor_id=fan.visitor_id,
        visited_at=fan.at,
        service=fan.service,
        outcome=fan.outcome,  # type: ignore[arg-type]
        source=fan.source,
        country=fan.country,
        timezone=fan.timezone,
        device=DEVICE_CLASS[fan.agent],
        ip=f"100.{64 + fan.index // 65536 % 64}.{fan.index // 256 % 256}.{fan.index % 256}",
        origin="history",
        granted_at=fan.at + timedelta(seconds=ANSWER_S) if fan.outcome == "granted" else None,
    )
