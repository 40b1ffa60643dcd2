"""What the landing app's routes share: settings, the store, the vault, the service connectors, the
event sink, the campaign cache, the rate limiter and the fan sessions."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session
from starlette.requests import Request

from campaigns.campaign_file import RESERVED_SLUGS, SLUG_PATTERN
from campaigns.models import Campaign
from campaigns.registry import campaign_spec
from campaigns.settings import Settings
from campaigns.store import Store
from collectors.landing import visit as visits
from collectors.landing.apple import AppleConnect, AppleKeyError, DeveloperToken, load_private_key
from collectors.landing.attempts import AttemptBook
from collectors.landing.connectors import ConnectError
from collectors.landing.deezer import DeezerConnect
from collectors.landing.events import EventSink
from collectors.landing.page import CampaignView, build_view
from collectors.landing.security import RateLimiter, Sessions
from collectors.landing.spotify import SpotifyConnect
from collectors.landing.transport import Transport

log = logging.getLogger(__name__)
SERVICES = ("spotify", "apple", "deezer")


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class CampaignCache:
    """Campaign views by slug, kept `ttl` seconds (unknown slugs too, so a flood of them stays cheap)."""

    def __init__(self, landing: Landing, ttl: float = 2.0, size: int = 1024) -> None:
        self._landing = landing
        self._ttl = ttl
        self._size = size
        self._items: dict[str, tuple[float, CampaignView | None]] = {}
        self._slugs: dict[int, str] = {}
        self._lock = threading.Lock()

    def get(self, slug: str) -> CampaignView | None:
        if not SLUG_PATTERN.match(slug) or slug in RESERVED_SLUGS:
            return None
        now = time.monotonic()
        hit = self._items.get(slug)
        if hit is not None and hit[0] > now:
            return hit[1]
        view = self._load(slug)
        with self._lock:
            if len(self._items) >= self._size:
                for key in [k for k, (until, _) in self._items.items() if until <= now] or list(self._items)[
                    :1
                ]:
                    self._items.pop(key, None)
            self._items[slug] = (now + self._ttl, view)
        return view

    def by_id(self, campaign_id: int) -> CampaignView | None:
        slug = self._slugs.get(campaign_id)  # a slug never changes, so this needs no expiry
        if slug is None:
            with self._landing.store.session() as session:
                slug = session.scalar(select(Campaign.slug).where(Campaign.id == campaign_id))
            if slug is None:
                return None
            self._slugs[campaign_id] = slug
        return self.get(slug)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def _load(self, slug: str) -> CampaignView | None:
        with self._landing.store.session() as session:
            campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
            if campaign is None:
                return None
            try:
                spec = campaign_spec(campaign)
            except ValueError as exc:
                log.error("campaign %s cannot be shown: %s", slug, exc)
                return None
            return build_view(
                campaign.id, spec, self._landing.configured_services, self._landing.settings.public_url
            )


class Landing:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.vault = settings.vault()
        keys = self.vault.pseudonyms  # their own secret: a Fernet rotation logs no fan out
        assert keys is not None
        self.attempts = AttemptBook(keys.hexkey("state"), self.vault)
        self.sessions = Sessions(keys.hexkey("session"))
        self.ip_key = keys.key("ip")
        self.http = Transport()
        self.public_origin = origin_of(settings.public_url)
        self.public_host = urlsplit(settings.public_url).hostname
        self.limiter = RateLimiter(settings.landing_rate_limit)
        self._sqlite = store.engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock()
        self.events = EventSink(store, transaction=self.writing_core)
        self.spotify = self._spotify()
        self.deezer = self._deezer()
        self.apple = self._apple()
        self.configured_services = {
            name
            for name, connector in zip(SERVICES, (self.spotify, self.apple, self.deezer), strict=True)
            if connector
        }
        self.campaigns = CampaignCache(self)
        self.entity_names: dict[str, str] = {}

    def _spotify(self) -> SpotifyConnect | None:
        try:
            return SpotifyConnect(self.settings, self.http)
        except ConnectError:
            return None

    def _deezer(self) -> DeezerConnect | None:
        try:
            return DeezerConnect(self.settings, self.http)
        except ConnectError:
            return None

    def _apple(self) -> AppleConnect | None:
        settings = self.settings
        if not (settings.apple_team_id and settings.apple_key_id and settings.apple_private_key):
            return None
        try:
            key = load_private_key(settings.apple_private_key)
        except AppleKeyError as exc:
            log.error("Apple Music is off: %s", exc)
            return None
        developer = DeveloperToken(settings.apple_team_id, settings.apple_key_id, key, self.public_origin)
        return AppleConnect(settings, self.http, developer)

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write transaction. On SQLite, one at a time in this process and begun IMMEDIATE: writers
        queue on a lock instead of sleeping in SQLite's busy handler, and a transaction that reads before
        it writes cannot fail to upgrade when another worker process wrote in between."""
        if not self._sqlite:
            with self.store.session() as session:
                yield session
            return
        with self._write_lock, self.store.session() as session:
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            yield session

    @contextmanager
    def writing_core(self) -> Iterator[Connection]:
        """`writing()` without the ORM: a plain connection, for the statements of the grant path."""
        with self._write_lock if self._sqlite else nullcontext(), self.store.engine.begin() as connection:
            if self._sqlite:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection

    def configured(self, service: str) -> bool:
        return service in self.configured_services

    def content_security_policy(self) -> str:
        """Scripts from us (and MusicKit's origin); forms post to us, and redirect to the services."""
        musickit = origin_of(self.settings.musickit_js_url) if self.apple else ""
        frames = musickit or "'none'"
        apple_api = origin_of(self.settings.apple_api_url) if self.apple else ""
        services = " ".join(
            origin_of(url)
            for url, on in (
                (self.settings.spotify_accounts_url, self.spotify),
                (self.settings.deezer_connect_url, self.deezer),
            )
            if on
        )
        return (
            "default-src 'self'; "
            f"script-src 'self' {musickit}; "
            f"connect-src 'self' {musickit} {apple_api}; "
            f"frame-src {frames}; "
            "img-src 'self' https: data:; "
            "style-src 'self' 'unsafe-inline'; "
            f"form-action 'self' {services}; "
            "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
        )

    def client_ip(self, request: Request) -> str:
        return request.client.host if request.client else "unknown"

    def visit(
        self, request: Request, visitor: str | None, *, referrer_from_query: bool = False
    ) -> dict[str, str | None]:
        """The attribution of this request: UTM tags, referrer domain, device, in-app browser, country,
        the day's IP hash, the visitor cookie and the browser's time zone."""
        headers = request.headers
        query = request.query_params
        agent = headers.get("user-agent")
        country_header = self.settings.country_header
        referrer = (
            visits.clean_domain(query.get("ref"))
            if referrer_from_query
            else visits.referrer_domain(headers.get("referer"), self.public_host)
        )
        return visits.Visit(
            utm_source=visits.clean_tag(query.get("utm_source")),
            utm_medium=visits.clean_tag(query.get("utm_medium")),
            utm_campaign=visits.clean_tag(query.get("utm_campaign")),
            referrer_domain=referrer,
            device_class=visits.device_class(agent),
            in_app_browser=visits.in_app_browser(agent),
            country=visits.country_code(headers.get(country_header)) if country_header else None,
            ip_hash=visits.ip_hash(self.client_ip(request), self.ip_key, datetime.now(UTC).date()),
            visitor_id=visitor,
            timezone=visits.time_zone(request.cookies.get(TIMEZONE_COOKIE)),
        ).as_dict()

    def close(self) -> None:
        self.events.close()
        self.http.close()


VISITOR_COOKIE = "psv"
TIMEZONE_COOKIE = "psv_tz"
