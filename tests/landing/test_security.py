from __future__ import annotations

import pytest

from campaigns.campaign_file import SpotifyService
from collectors.landing.consent import email_consent_text, text_version
from collectors.landing.security import RateLimiter, Sessions, is_loopback, same_origin
from collectors.landing.spotify import pkce_pair, scopes_for


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_040.0  # 20 s into a minute window (1_000_020 is 60 * 16_667)

    def __call__(self) -> float:
        return self.now


def test_the_rate_limit_allows_the_budget_then_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)
    assert [limiter.hit("203.0.113.9") for _ in range(3)] == [None, None, None]
    wait = limiter.hit("203.0.113.9")
    assert wait is not None
    assert 1 <= wait <= 60
    assert limiter.hit("198.51.100.1") is None  # per address


def test_the_rate_limit_window_slides() -> None:
    clock = Clock()
    limiter = RateLimiter(4, clock=clock)
    for _ in range(4):
        assert limiter.hit("ip") is None
    clock.now += 60  # next window: the previous one still weighs (1 - 20/60) * 4 ≈ 2.7
    assert limiter.hit("ip") is None
    assert limiter.hit("ip") is not None
    clock.now += 60
    assert limiter.hit("ip") is None


def test_a_zero_rate_limit_is_off() -> None:
    limiter = RateLimiter(0)
    assert all(limiter.hit("ip") is None for _ in range(1000))


def test_sessions_are_signed_and_csrf_tokens_bound_to_them() -> None:
    sessions = Sessions("k" * 32)
    session, cookie = sessions.issue(42, 7, "spotify")
    assert sessions.read(cookie) == session
    assert sessions.read(cookie[:-2] + "xx") is None
    assert sessions.read(Sessions("other key").issue(42, 7, "spotify")[1]) is None
    token = sessions.csrf_token(session)
    assert sessions.csrf_ok(session, token)
    other, _ = sessions.issue(42, 7, "spotify")
    assert not sessions.csrf_ok(other, token)  # same grant, another browser session
    assert not sessions.csrf_ok(session, None)
    assert not sessions.csrf_ok(session, "é" + token[1:])  # not ASCII: refused, not a crash


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"origin": "https://presave.example"}, True),
        ({"origin": "https://evil.example"}, False),
        ({"origin": "null"}, False),
        ({"referer": "https://presave.example/midnight-drive/done"}, True),
        ({"referer": "https://presave.example.evil.example/x"}, False),
        ({}, True),  # not a browser: the CSRF token still decides
    ],
)
def test_same_origin(headers: dict, ok: bool) -> None:
    assert same_origin(headers, "https://presave.example") is ok


def test_pkce_challenge_is_the_s256_of_the_verifier() -> None:
    import base64
    import hashlib

    verifier, challenge = pkce_pair()
    assert 43 <= len(verifier) <= 128
    assert (
        challenge
        == base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


@pytest.mark.parametrize(
    ("follow", "playlist_choice", "email", "expected"),
    [
        ([], False, False, {"user-library-modify", "user-follow-modify"}),
        (
            ["spotify:playlist:p1"],
            False,
            False,
            {"user-library-modify", "user-follow-modify", "playlist-modify-public"},
        ),
        (
            [],
            True,
            True,
            {
                "user-library-modify",
                "user-follow-modify",
                "playlist-read-private",
                "playlist-modify-private",
                "playlist-modify-public",
                "user-read-email",
            },
        ),
    ],
)
def test_the_least_spotify_scopes(follow: list, playlist_choice: bool, email: bool, expected: set) -> None:
    service = SpotifyService(artist="spotify:artist:abc", follow=follow)
    scopes = scopes_for(service, playlist_choice=playlist_choice, with_email=email)
    assert set(scopes) == expected
    assert len(scopes) == len(set(scopes))


def test_the_consent_version_changes_with_the_words() -> None:
    text = email_consent_text("Nova Lane")
    assert "Nova Lane" in text
    assert "unsubscribe" in text
    assert text_version(text) == text_version(email_consent_text("Nova Lane"))
    assert text_version(text) != text_version(email_consent_text("Ada Vale"))


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("203.0.113.9", False),
        ("unknown", False),
        ("", False),
    ],
)
def test_loopback_addresses(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback
