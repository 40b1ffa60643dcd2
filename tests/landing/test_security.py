from __future__ import annotations

import pytest

from campaigns.campaign_file import SpotifyService
from collectors.landing.consent import email_consent_text, text_version
from collectors.landing.security import Sessions, same_origin
from collectors.landing.spotify import pkce_pair, scopes_for


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
        ([], False, False, {"user-library-modify", "user-follow-modify", "user-follow-read"}),
        (
            ["spotify:playlist:p1"],
            False,
            False,
            {"user-library-modify", "user-follow-modify", "user-follow-read", "playlist-modify-public"},
        ),
        (
            [],
            True,
            True,
            {
                "user-library-modify",
                "user-follow-modify",
                "user-follow-read",
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
