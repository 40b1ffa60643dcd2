"""What the landing app's routes share (`Landing`), and the parts it is made of: the campaign cache, the
write transactions, the attribution of a request and the service connectors."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session
from starlette.requests import Request

from campaigns import ledger
from campaigns.campaign_file import RESERVED_SLUGS, SLUG_PATTERN
from campaigns.capacity import SpotifyPlaces, spotify_places
from campaigns.models import Campaign
from campaigns.registry import campaign_spec
from campaigns.rules import LOCAL_LEAD
from campaigns.settings import Settings
from campaigns.store import Store, is_store_outage
from collectors.landing import visit as visits
from collectors.landing.apple import AppleConnect
from collectors.landing.attempts import AttemptBook
from collectors.landing.connectors import Connectors, OAuthConnector
from collectors.landing.deezer import DeezerConnect
from collectors.landing.events import EventSink
from collectors.landing.page import CampaignView, build_view
from collectors.landing.ratelimit import RateLimits, client_address
from collectors.landing.security import Sessions, origin_of
from collectors.landing.spotify import SpotifyConnect
from services import apps_from_settings
from services.apple import AppleApp
from services.deezer import DeezerApp
from services.spotify import SpotifyApp

log = logging.getLogger(__name__)


class CampaignCache:
    """Campaign views by slug, kept `ttl` seconds (unknown slugs too, so a flood of them stays cheap).

    `cached` answers from memory only (for the event loop); `get` may read the store (call it in a
    thread). While the store is away, a view read before is served past its `ttl`, and only one thread
    at a time tries the store again for a slug: the campaign's pages stay up.
    """

    def __init__(
        self,
        store: Store,
        configured: frozenset[str],
        public_url: str,
        ttl: float = 2.0,
        size: int = 1024,
        *,
        spotify_places: Callable[[Session], SpotifyPlaces] | None = None,
    ) -> None:
        self._store = store
        self._spotify_places = spotify_places
        self._configured = configured
        self._public_url = public_url
        self._ttl = ttl
        self._size = size
        self._items: dict[str, tuple[float, CampaignView | None]] = {}
        self._slugs: dict[int, str] = {}
        self._loading: set[str] = set()  # slugs a thread is reading from the store now
        self._lock = threading.Lock()

    def cached(self, slug: str) -> tuple[bool, CampaignView | None]:
        """(True, the view) when memory can answer for `slug` without the store, else (False, None)."""
        if not SLUG_PATTERN.match(slug) or slug in RESERVED_SLUGS:
            return True, None
        hit = self._items.get(slug)
        if hit is not None and (hit[0] > time.monotonic() or slug in self._loading):
            return True, hit[1]  # fresh, or another thread is reading it again: the last view will do
        return False, None

    def get(self, slug: str) -> CampaignView | None:
        if not SLUG_PATTERN.match(slug) or slug in RESERVED_SLUGS:
            return None
        now = time.monotonic()
        hit = self._items.get(slug)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self._lock:
            if hit is not None and slug in self._loading:
                return hit[1]
            self._loading.add(slug)
        try:
            view = self._load(slug)
        except Exception as error:
            if hit is None or not is_store_outage(error):
                raise
            log.warning("campaign %s: the store is away, showing the page read before", slug)
            view = hit[1]
        finally:
            with self._lock:
                self._loading.discard(slug)
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
            with self._store.session() as session:
                slug = session.scalar(select(Campaign.slug).where(Campaign.id == campaign_id))
            if slug is None:
                return None
            self._slugs[campaign_id] = slug
        return self.get(slug)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def _load(self, slug: str) -> CampaignView | None:
        with self._store.session() as session:
            campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
            if campaign is None:
                return None
            try:
                spec = campaign_spec(campaign)
            except ValueError as exc:
                log.error("campaign %s cannot be shown: %s", slug, exc)
                return None
            resolved = (
                ledger.resolved_releases(session, campaign.id, spec.services.offered())
                if datetime.now(UTC) >= campaign.release_at - LOCAL_LEAD  # none resolved before
                else {}
            )
            full = (
                self._spotify_places is not None
                and "spotify" in spec.services.offered()
                and self._spotify_places(session).full
            )
            return build_view(
                campaign.id, spec, self._configured, self._public_url, resolved, spotify_full=full
            )


class Writes:
    """Write transactions on the operational store. On SQLite, one at a time in this process and begun
    IMMEDIATE: writers queue on a lock instead of sleeping in SQLite's busy handler, and a transaction that
    reads before it writes cannot fail to upgrade when another worker process wrote in between."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._sqlite = store.engine.dialect.name == "sqlite"
        self._lock = threading.Lock()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write transaction through the ORM."""
        if not self._sqlite:
            with self._store.session() as session:
                yield session
            return
        with self._lock, self._store.session() as session:
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            yield session

    @contextmanager
    def core(self) -> Iterator[Connection]:
        """The same without the ORM: a plain connection, for the statements of the grant path."""
        with self._lock if self._sqlite else nullcontext(), self._store.engine.begin() as connection:
            if self._sqlite:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection


class Attribution:
    """Reads a request's attribution: UTM tags, referrer domain, device, in-app browser, country, the
    day's IP hash, the visitor cookie and the browser's time zone."""

    def __init__(self, settings: Settings, ip_key: bytes, limits: RateLimits) -> None:
        self._ip_key = ip_key
        self._trusted = limits.trusted
        self._public_host = urlsplit(settings.public_url).hostname
        self._country_header = settings.country_header

    def client_ip(self, request: Request) -> str:
        """The fan's address: the peer, or what a trusted proxy forwards (`PRESAVE_TRUSTED_PROXIES`)."""
        peer = request.client.host if request.client else "unknown"
        return client_address(peer, request.headers.get("x-forwarded-for"), self._trusted)

    def of(
        self, request: Request, visitor: str | None, *, referrer_from_query: bool = False
    ) -> dict[str, Any]:
        headers = request.headers
        query = request.query_params
        agent = headers.get("user-agent")
        referrer = (
            visits.clean_domain(query.get("ref"))
            if referrer_from_query
            else visits.referrer_domain(headers.get("referer"), self._public_host)
        )
        return visits.Visit(
            utm_source=visits.clean_tag(query.get("utm_source")),
            utm_medium=visits.clean_tag(query.get("utm_medium")),
            utm_campaign=visits.clean_tag(query.get("utm_campaign")),
            referrer_domain=referrer,
            device_class=visits.device_class(agent),
            in_app_browser=visits.in_app_browser(agent),
            country=visits.country_code(headers.get(self._country_header)) if self._country_header else None,
            ip_hash=visits.ip_hash(self.client_ip(request), self._ip_key, datetime.now(UTC).date()),
            visitor_id=visitor,
            timezone=visits.time_zone(request.cookies.get(TIMEZONE_COOKIE)),
        ).as_dict()


def build_connectors(settings: Settings, public_origin: str) -> Connectors:
    """A connector for each service configured here, over its app (`services.apps_from_settings`: a
    configuration that cannot work turns its service off, logged; Deezer needs its secret here, for the
    code exchange). The apps' pacing is shared with every process using the label's credentials."""
    apps = apps_from_settings(
        settings,
        origin=public_origin,
        upgrade=False,  # the store is migrated on start
        on_error=lambda service, exc: log.error("%s is off: %s", service, exc),
    )
    spotify, apple, deezer = apps.get("spotify"), apps.get("apple"), apps.get("deezer")
    oauth: list[OAuthConnector] = []
    if isinstance(spotify, SpotifyApp):
        oauth.append(SpotifyConnect(spotify))
    if isinstance(deezer, DeezerApp) and deezer.secret is not None:
        oauth.append(DeezerConnect(deezer))
    return Connectors(oauth, AppleConnect(apple) if isinstance(apple, AppleApp) else None)


class Landing:
    """What the routes share: the settings and store, the secrets' keepers (vault, authorization states,
    fan sessions), the rate limiter, the write transactions, the attribution reader, the connectors, the
    event sink and the campaign cache."""

    def __init__(self, settings: Settings, store: Store, *, limit_prefix: str = "presave-landing") -> None:
        self.settings = settings
        self.store = store
        self.vault = settings.vault()
        keys = self.vault.pseudonyms  # their own secret: a Fernet rotation logs no fan out
        assert keys is not None
        self.attempts = AttemptBook(keys.hexkey("state"), self.vault)
        self.sessions = Sessions(keys.hexkey("session"))
        self.limits = RateLimits.from_settings(settings, prefix=limit_prefix)
        self.writes = Writes(store)
        self.attribution = Attribution(settings, keys.key("ip"), self.limits)
        self.public_origin = origin_of(settings.public_url)
        self.connectors = build_connectors(settings, self.public_origin)
        self.events = EventSink(store, transaction=self.writes.core)
        self.campaigns = CampaignCache(
            store,
            self.connectors.configured,
            settings.public_url,
            spotify_places=partial(
                spotify_places,
                configured="spotify" in self.connectors.configured,
                mode=settings.spotify_mode,
                allowlist=settings.spotify_allowlist,
            ),
        )
        self.vault_errors = 0  # sealed tokens the configured keys could not open (reported by /healthz)
        self._vault_lock = threading.Lock()

    def vault_failed(self, grant_id: int, what: str) -> None:
        """A grant's sealed token the configured keys cannot open (a key removed too soon): logged without
        the token, counted for `/healthz`; the grant's calls stay owed (the executor reports them too)."""
        with self._vault_lock:
            self.vault_errors += 1
        log.error("grant %d: its token cannot be opened with the configured keys (%s)", grant_id, what)

    def visit(
        self, request: Request, visitor: str | None, *, referrer_from_query: bool = False
    ) -> dict[str, Any]:
        return self.attribution.of(request, visitor, referrer_from_query=referrer_from_query)

    def close(self) -> None:
        self.events.close()
        self.connectors.close()


VISITOR_COOKIE = "psv"
TIMEZONE_COOKIE = "psv_tz"
