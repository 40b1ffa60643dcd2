from __future__ import annotations

import pytest

from collectors.landing.ratelimit import LocalLimiter, client_address, limit_key, parse_networks

PROXIES = parse_networks("10.0.0.0/8, 192.0.2.1, 2001:db8:ffff::/48")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_040.0  # 20 s into a minute window (1_000_020 is 60 * 16_667)

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "trusted", "client"),
    [
        ("203.0.113.9", None, PROXIES, "203.0.113.9"),
        ("203.0.113.9", "198.51.100.7", PROXIES, "203.0.113.9"),  # untrusted peer: its header is ignored
        ("203.0.113.9", "198.51.100.7", (), "203.0.113.9"),
        ("127.0.0.1", "198.51.100.7", (), "127.0.0.1"),  # unset: loopback is no proxy either
        ("10.1.2.3", "198.51.100.7", PROXIES, "198.51.100.7"),
        ("10.1.2.3", None, PROXIES, "10.1.2.3"),  # a proxy that forwards nothing counts as itself
        ("10.1.2.3", "1.2.3.4, 198.51.100.7", PROXIES, "198.51.100.7"),  # spoofed left entry ignored
        ("10.1.2.3", "1.2.3.4, 198.51.100.7, 192.0.2.1", PROXIES, "198.51.100.7"),  # proxy chain
        ("10.1.2.3", "192.0.2.1, 10.9.9.9", PROXIES, "192.0.2.1"),  # all trusted: the farthest one
        ("10.1.2.3", "not-an-ip", PROXIES, "10.1.2.3"),  # garbage stops at the proxy that passed it
        ("10.1.2.3", "1.2.3.4, garbage, 198.51.100.7", PROXIES, "198.51.100.7"),
        ("2001:db8:ffff:1::5", "2001:db8:1:2::9", PROXIES, "2001:db8:1:2::9"),
        ("::ffff:10.1.2.3", "198.51.100.7", PROXIES, "198.51.100.7"),  # IPv4-mapped peer
        ("testclient", "198.51.100.7", PROXIES, "testclient"),
    ],
)
def test_the_client_address_believes_forwarded_for_only_from_trusted_proxies(
    peer: str, forwarded_for: str | None, trusted: tuple, client: str
) -> None:
    assert client_address(peer, forwarded_for, trusted) == client
    assert "1.2.3.4" not in client_address(peer, forwarded_for, trusted)


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2::9", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # one /64: one budget
        ("2001:db8:1:3::9", "2001:db8:1:3::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("unknown", "other:unknown"),
    ],
)
def test_the_limit_key_is_the_ipv4_address_or_the_ipv6_64(address: str, key: str) -> None:
    assert limit_key(address) == key


def test_a_bad_trusted_proxy_is_named() -> None:
    with pytest.raises(ValueError, match=r"PRESAVE_TRUSTED_PROXIES: 'proxy\.local'"):
        parse_networks("10.0.0.0/8,proxy.local")


def test_the_rate_limit_allows_the_budget_then_says_how_long_to_wait() -> None:
    limiter = LocalLimiter(3, clock=Clock())
    assert [limiter.hit("203.0.113.9") for _ in range(3)] == [None, None, None]
    wait = limiter.hit("203.0.113.9")
    assert wait is not None
    assert 1 <= wait <= 60
    assert limiter.hit("198.51.100.1") is None  # per key


def test_the_rate_limit_window_slides() -> None:
    clock = Clock()
    limiter = LocalLimiter(4, clock=clock)
    for _ in range(4):
        assert limiter.hit("ip") is None
    clock.now += 60  # next window: the previous one still weighs (1 - 20/60) * 4 ≈ 2.7
    assert limiter.hit("ip") is None
    assert limiter.hit("ip") is not None
    clock.now += 60
    assert limiter.hit("ip") is None


def test_a_zero_rate_limit_is_off() -> None:
    limiter = LocalLimiter(0)
    assert all(limiter.hit("ip") is None for _ in range(1000))


def test_the_local_table_stays_bounded_and_forgets_the_least_recent_client() -> None:
    limiter = LocalLimiter(2, clock=Clock(), max_keys=100)
    limiter.hit("busy")
    limiter.hit("busy")
    for n in range(99):
        limiter.hit(f"client-{n}")
    assert limiter.hit("busy") is not None  # still remembered: it was hit most recently... then 99 others
    for n in range(99, 10_000):
        limiter.hit(f"client-{n}")
    assert len(limiter) == 100
    assert limiter.hit("client-9999") is None  # recent ones are kept (second hit of a budget of 2)
    assert limiter.hit("client-9999") is not None
