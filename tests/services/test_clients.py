"""The service clients: one error scheme for every service's answers, and no call while the app is told
to wait. Service answers are built as the services send them; the paused-app checks go through the real
HTTP stack to a loopback port where nothing listens (a call would fail differently)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import requests
import spotipy

from campaigns.vault import Secret
from services.deezer import DeezerApp, failure_of
from services.errors import Failure, GrantLost, ServiceFailure
from services.model import Lookup, Tokens
from services.spotify import SpotifyApp, classify

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing listens on loopback
ROOT = Path(__file__).resolve().parents[2]


def _spotify_error(status: int, reason: str | None = None, retry_after: str | None = None) -> Exception:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return spotipy.SpotifyException(
        status, -1, "https://api/me:\n Too many requests", reason=reason, headers=headers
    )


@pytest.mark.parametrize(
    ("error", "kind", "retry_after"),
    [
        (_spotify_error(429, retry_after="2"), Failure.THROTTLED, 2.0),
        (_spotify_error(429, reason="QUOTA_EXCEEDED", retry_after="36000"), Failure.QUOTA_SPENT, 36000.0),
        (_spotify_error(429, reason="QUOTA_EXCEEDED"), Failure.QUOTA_SPENT, None),
        (_spotify_error(429, retry_after="7200"), Failure.QUOTA_SPENT, 7200.0),  # hours: not a throttle
        (_spotify_error(401), Failure.UNAUTHORIZED, None),
        (_spotify_error(403), Failure.FORBIDDEN, None),
        (_spotify_error(404), Failure.NOT_FOUND, None),
        (_spotify_error(502), Failure.TRANSIENT, None),
        (_spotify_error(400), Failure.REFUSED, None),
        (requests.ReadTimeout("read timed out"), Failure.TRANSIENT, None),
        (requests.ConnectionError("reset"), Failure.TRANSIENT, None),
    ],
)
def test_spotify_answers_fall_into_the_one_scheme(
    error: Exception, kind: Failure, retry_after: float | None
) -> None:
    failure = classify(error, "me")
    assert (failure.kind, failure.retry_after, failure.service) == (kind, retry_after, "spotify")
    assert "https://" not in str(failure)  # no URL in what is logged or stored


@pytest.mark.parametrize(
    ("error", "kind", "code"),
    [
        ({"code": 4, "message": "Quota limit exceeded"}, Failure.THROTTLED, "throttled"),
        ({"code": 200, "message": "Permission error"}, Failure.FORBIDDEN, "error_200"),
        ({"code": 800, "message": "no data"}, Failure.NOT_FOUND, "error_800"),
        ({"code": 700, "message": "Service busy"}, Failure.TRANSIENT, "error_700"),
        ({"code": 501, "message": "None data"}, Failure.REFUSED, "error_501"),
        ("wrong code", Failure.REFUSED, "error_None"),
    ],
)
def test_deezer_errors_on_http_200_are_read_once(error: object, kind: Failure, code: str) -> None:
    failure = failure_of(error, "album", with_token=True)
    assert isinstance(failure, ServiceFailure)
    assert (failure.kind, failure.code) == (kind, code)


def test_a_deezer_quota_throttles_only_that_fan_and_a_refused_token_loses_the_grant() -> None:
    quota = failure_of({"code": 4, "message": "Quota limit exceeded"}, "album", with_token=True)
    assert isinstance(quota, ServiceFailure)
    assert quota.app_wide is False
    lost = failure_of({"code": 300, "message": "Invalid OAuth access token."}, "me", with_token=True)
    assert isinstance(lost, GrantLost)
    assert lost.status == "revoked"
    assert lost.refused


def _spotify_nowhere() -> SpotifyApp:
    return SpotifyApp("client", Secret("secret"), NOWHERE, NOWHERE, timeout=2.0)


def test_an_unreachable_service_is_a_transient_failure() -> None:
    with pytest.raises(ServiceFailure) as failed:
        _spotify_nowhere().app_token()
    assert failed.value.kind == Failure.TRANSIENT


@pytest.mark.parametrize(("wait_s", "kind"), [(20.0, Failure.THROTTLED), (36_000.0, Failure.QUOTA_SPENT)])
def test_while_the_app_is_told_to_wait_no_call_is_sent(wait_s: float, kind: Failure) -> None:
    app = _spotify_nowhere()
    app.pacer.on_throttled(wait_s)
    fan = app.fan(Tokens(Secret("access"), None, None))
    for call in (app.app_token, lambda: app.resolve(Lookup(None, "198880045560", ())), fan.me):
        with pytest.raises(ServiceFailure) as refused:
            call()
        assert refused.value.kind == kind  # not TRANSIENT: nothing reached the (absent) service
        assert refused.value.retry_after is not None
        assert refused.value.retry_after > wait_s - 5


def test_the_token_endpoint_is_not_the_paced_web_api_so_a_fan_can_still_authorize_during_a_pause() -> None:
    """The code exchange and a refresh go to the accounts service while the app is told to wait (here
    nowhere answers: TRANSIENT proves they were sent, not refused by the gate)."""
    app = _spotify_nowhere()
    app.pacer.on_throttled(36_000.0)
    for call in (lambda: app.exchange("code", "verifier"), lambda: app.refresh(Secret("refresh"))):
        with pytest.raises(ServiceFailure) as sent:
            call()
        assert sent.value.kind == Failure.TRANSIENT


def test_even_a_call_its_caller_paces_is_not_sent_while_the_app_is_told_to_wait() -> None:
    """The executor paces its own calls (`paced=False`), but a pause set between its turn and the call (by
    another of its threads, or any other process) still holds: the call is refused unsent."""
    app = _spotify_nowhere()
    app.pacer.on_throttled(20.0)
    fan = app.fan(Tokens(Secret("access"), None, None), paced=False)
    with pytest.raises(ServiceFailure) as failed:
        fan.library_add(["spotify:album:abc"])
    assert failed.value.kind == Failure.THROTTLED
    assert failed.value.status is None  # not sent: the (absent) service was never reached


def test_deezer_calls_carry_the_token_in_the_query_and_never_in_an_error() -> None:
    fan = DeezerApp("app", NOWHERE, timeout=2.0).fan(Tokens(Secret("fan-token-123"), None, None))  # type: ignore[arg-type]
    with pytest.raises(ServiceFailure) as failed:
        fan.me()
    assert "fan-token-123" not in str(failed.value)
    assert "fan-token-123" not in failed.value.code


def test_the_services_package_imports_only_campaigns() -> None:
    ours = {
        "campaigns",
        "services",
        "collectors",
        "executor",
        "pipelines",
        "dashboards",
        "sandbox",
        "presave",
    }
    found = set()
    for path in (ROOT / "services").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
    assert found & ours == {"campaigns", "services"}
