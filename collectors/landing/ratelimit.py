"""Per-client rate limits: who the client is (behind trusted proxies only), the bucket it counts in (an
IPv4 address, an IPv6 /64), and a budget per route class shared by every worker when Redis is configured.

Without `PRESAVE_REDIS_URL` each process counts on its own, in a bounded table: the least recently seen
client is forgotten first, so memory stays fixed and no hit ever walks the table.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Protocol

from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import RedisStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from campaigns.settings import Settings

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IPV6_GROUP = 64  # one subscriber gets a /64: counting each address would give them 2**64 budgets
MAX_LOCAL_KEYS = 100_000


class RouteClass(StrEnum):
    """What a route costs us; each has its own budget, a multiple of `PRESAVE_LANDING_RATE_LIMIT`."""

    SERVICE = "service"  # connect, OAuth return, MusicKit POST, forget sign-in: each calls a service
    DONE = "done"  # the done page and its form (extra follows happen on submit)
    PAGE = "page"  # campaign page, listen and pre-order links, artwork, the forget page


BUDGET_FACTOR = {RouteClass.SERVICE: 1, RouteClass.DONE: 2, RouteClass.PAGE: 10}


def parse_networks(text: str | None) -> tuple[Network, ...]:
    """`PRESAVE_TRUSTED_PROXIES`: comma-separated addresses or CIDRs (empty: no proxy is trusted)."""
    networks = []
    for part in (text or "").split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"PRESAVE_TRUSTED_PROXIES: {part.strip()!r} is not an address or CIDR"
                ) from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


def client_address(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy; then the nearest address in
    `X-Forwarded-For` that is not itself a trusted proxy (read from the right: entries to the left of
    it were written by the client and prove nothing). An entry that is not an address stops the walk at
    the proxy that passed it on."""
    hop = _address(peer)
    if hop is None:
        return peer
    for entry in reversed((forwarded_for or "").split(",")):
        if not _trusted(hop, trusted):
            break
        forwarded = _address(entry)
        if forwarded is None:
            break
        hop = forwarded
    return str(hop)


def limit_key(address: str) -> str:
    """The bucket a client counts in: its IPv4 address, or the /64 of its IPv6 address."""
    parsed = _address(address)
    if parsed is None:
        return f"other:{address[:64]}"
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, IPV6_GROUP), strict=False))
    return str(parsed)


class Limiter(Protocol):
    def hit(self, key: str) -> float | None:
        """Count a hit; None when allowed, else the seconds to wait before the next one is."""
        ...


class LocalLimiter:
    """At most `per_minute` hits per key in any minute (a sliding window of two fixed windows), in this
    process, for at most `max_keys` keys (the least recently hit is dropped first)."""

    def __init__(
        self, per_minute: int, *, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_LOCAL_KEYS
    ) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._max_keys = max_keys
        self._windows: OrderedDict[str, tuple[int, int, int]] = (
            OrderedDict()
        )  # key -> window, count, previous
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._windows)

    def hit(self, key: str) -> float | None:
        if self.per_minute <= 0:
            return None
        window_float, into = divmod(self._clock(), 60.0)
        window = int(window_float)
        with self._lock:
            start, count, previous = self._windows.get(key, (window, 0, 0))
            if start != window:
                previous = count if start == window - 1 else 0
                start, count = window, 0
            if previous * (1 - into / 60.0) + count + 1 > self.per_minute:
                self._remember(key, (start, count, previous))
                return max(1.0, 60.0 - into)
            self._remember(key, (start, count + 1, previous))
        return None

    def _remember(self, key: str, entry: tuple[int, int, int]) -> None:
        self._windows[key] = entry
        self._windows.move_to_end(key)
        while len(self._windows) > self._max_keys:
            self._windows.popitem(last=False)


class SharedLimiter:
    """The same budget counted in Redis (the `limits` library's sliding window counter), so every
    worker on every machine shares it. A Redis outage lets requests through (logged), rather than
    turning every fan away."""

    def __init__(self, per_minute: int, storage: RedisStorage, scope: str) -> None:
        self.per_minute = per_minute
        self._item = RateLimitItemPerMinute(per_minute, namespace=scope)
        self._limiter = SlidingWindowCounterRateLimiter(storage)

    def hit(self, key: str) -> float | None:
        if self.per_minute <= 0:
            return None
        try:
            if self._limiter.hit(self._item, key):
                return None
            reset = self._limiter.get_window_stats(self._item, key).reset_time
        except StorageError as exc:
            log.warning(
                "rate limit storage unavailable (%s): request let through", type(exc.storage_error).__name__
            )
            return None
        return max(1.0, reset - time.time())


class RateLimits:
    """One limiter per route class."""

    def __init__(
        self, limiters: dict[RouteClass, Limiter], trusted: Sequence[Network], *, shared: bool = False
    ) -> None:
        self._limiters = limiters
        self.trusted = tuple(trusted)
        self.shared = shared  # counted in Redis

    def hit(self, route: RouteClass, key: str) -> float | None:
        return self._limiters[route].hit(key)

    @classmethod
    def from_settings(cls, settings: Settings, *, prefix: str = "presave-landing") -> RateLimits:
        trusted = parse_networks(settings.trusted_proxies)
        budgets = {route: settings.landing_rate_limit * BUDGET_FACTOR[route] for route in RouteClass}
        limiters: dict[RouteClass, Limiter]
        if settings.redis_url:
            storage = RedisStorage(
                settings.redis_url,
                key_prefix=prefix,
                wrap_exceptions=True,
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
            )
            limiters = {
                route: SharedLimiter(budget, storage, route.value) for route, budget in budgets.items()
            }
        else:
            limiters = {route: LocalLimiter(budget) for route, budget in budgets.items()}
        return cls(limiters, trusted, shared=bool(settings.redis_url))
