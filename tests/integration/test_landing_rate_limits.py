"""Rate limits over real HTTP: per client behind trusted proxies only, every route class, and one
budget shared by two app instances (two workers) through Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from collectors.landing.app import create_app
from presave.servers import LoopbackServer
from tests.integration.conftest import System, soon
from tests.integration.landing_helpers import add_campaign, all_services

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """SQLite only: the limits live in memory or Redis, not in the store."""
    return f"sqlite:///{tmp_path / 'presave.db'}"


@pytest.fixture
def prefix() -> Iterator[str]:
    """A key prefix of this test's own in the shared Redis, removed afterwards."""
    name = f"test-limits-{uuid.uuid4().hex}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{name}*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_connect_and_callback_share_one_budget_per_forwarded_client(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    settings = system.settings.model_copy(update={"landing_rate_limit": 3, "trusted_proxies": "127.0.0.1"})
    fan = {"X-Forwarded-For": "203.0.113.9"}  # as a trusted proxy on this host forwards the fan's address
    with LoopbackServer(create_app(settings, system.store)) as server:
        answers = [
            httpx.get(f"{server.url}/midnight-drive/connect/spotify", headers=fan).status_code
            for _ in range(4)
        ]
        callback = httpx.get(
            f"{server.url}/oauth/spotify/callback", params={"state": "x", "code": "y"}, headers=fan
        )
        page = httpx.get(f"{server.url}/midnight-drive", headers=fan)
        other = httpx.get(
            f"{server.url}/midnight-drive/connect/spotify", headers={"X-Forwarded-For": "198.51.100.7"}
        )
    assert answers == [302, 302, 302, 429]
    assert callback.status_code == 429
    assert int(callback.headers["retry-after"]) >= 1
    assert "Too many tries" in callback.text
    assert other.status_code == 302  # another address has its own budget
    assert page.status_code == 200  # pages have a budget of their own, larger


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    settings = system.settings.model_copy(update={"landing_rate_limit": 2})  # no proxy trusted
    with LoopbackServer(create_app(settings, system.store)) as server:
        answers = [
            httpx.get(
                f"{server.url}/midnight-drive/connect/spotify", headers={"X-Forwarded-For": f"198.51.100.{n}"}
            ).status_code
            for n in range(4)
        ]
    assert answers == [302, 302, 429, 429]  # loopback is not exempt, and each header is a lie


def test_ipv6_clients_of_one_64_share_a_budget(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    settings = system.settings.model_copy(update={"landing_rate_limit": 2, "trusted_proxies": "127.0.0.1"})
    with LoopbackServer(create_app(settings, system.store)) as server:
        answers = [
            httpx.get(
                f"{server.url}/midnight-drive/connect/spotify", headers={"X-Forwarded-For": address}
            ).status_code
            for address in ("2001:db8:1:2::1", "2001:db8:1:2::ff", "2001:db8:1:2:abcd::9", "2001:db8:1:3::1")
        ]
    assert answers == [302, 302, 429, 302]


def test_page_views_and_the_done_page_are_limited_too(system: System) -> None:
    add_campaign(system, "midnight-drive", soon(), services=all_services())
    settings = system.settings.model_copy(update={"landing_rate_limit": 1, "trusted_proxies": "127.0.0.1"})
    fan = {"X-Forwarded-For": "203.0.113.10"}
    with LoopbackServer(create_app(settings, system.store)) as server:
        pages = [httpx.get(f"{server.url}/midnight-drive", headers=fan).status_code for _ in range(11)]
        done = [httpx.get(f"{server.url}/midnight-drive/done", headers=fan).status_code for _ in range(3)]
        connect = httpx.get(f"{server.url}/midnight-drive/connect/deezer", headers=fan)
        musickit = httpx.post(
            f"{server.url}/midnight-drive/connect/apple",
            data={"state": "x", "music_user_token": "y" * 20},
            headers={**fan, "Origin": server.url},
        )
    assert pages == [200] * 10 + [429]  # ten times the budget for pages
    assert done == [200, 200, 429]  # twice for the done page
    assert connect.status_code == 302  # the service routes count on their own budget...
    assert musickit.status_code == 429  # ...which connect, callback and the MusicKit POST share
    assert "Too many tries" in musickit.text


def test_two_workers_share_one_limit_through_redis(system: System, prefix: str) -> None:
    add_campaign(system, "midnight-drive", soon())
    settings = system.settings.model_copy(
        update={"landing_rate_limit": 4, "trusted_proxies": "127.0.0.1", "redis_url": REDIS_URL}
    )
    fan = {"X-Forwarded-For": "203.0.113.11"}
    with (
        LoopbackServer(create_app(settings, system.store, limit_prefix=prefix)) as first,
        LoopbackServer(create_app(settings, system.store, limit_prefix=prefix)) as second,
    ):
        answers = [
            httpx.get(f"{server.url}/midnight-drive/connect/spotify", headers=fan).status_code
            for server in (first, second) * 3
        ]
        apart = create_app(settings, system.store, limit_prefix=f"{prefix}-other")
        with LoopbackServer(apart) as third:
            elsewhere = httpx.get(f"{third.url}/midnight-drive/connect/spotify", headers=fan)
    assert answers == [302, 302, 302, 302, 429, 429]  # counted apart, all six would pass
    assert elsewhere.status_code == 302  # the budget lives under the prefix, nowhere else


def test_without_redis_each_worker_counts_alone(system: System) -> None:
    add_campaign(system, "midnight-drive", soon())
    settings = system.settings.model_copy(update={"landing_rate_limit": 2, "trusted_proxies": "127.0.0.1"})
    fan = {"X-Forwarded-For": "203.0.113.12"}
    with (
        LoopbackServer(create_app(settings, system.store)) as first,
        LoopbackServer(create_app(settings, system.store)) as second,
    ):
        answers = [
            httpx.get(f"{server.url}/midnight-drive/connect/spotify", headers=fan).status_code
            for server in (first, second) * 3
        ]
    assert answers == [302, 302, 302, 302, 429, 429]
