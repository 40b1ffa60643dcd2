"""Rate limits and injected faults: each one seen happening, from the client's side and in the log."""

from __future__ import annotations

import time

import httpx
import pytest
import spotipy

from sandbox.config import FaultConfig, LatencyConfig
from sandbox.faults import FaultInjector
from tests.sandbox.helpers import SandboxServer, add_release, bearer, grant_tokens

TOKEN = "/spotify/accounts/api/token"


def configure(server: SandboxServer, patch: dict[str, object]) -> None:
    response = server.client.put("/sandbox/config", json=patch)
    assert response.status_code == 200, response.text


def advance(server: SandboxServer, seconds: float) -> None:
    server.client.put("/sandbox/clock", json={"advance_s": seconds})


def fan_headers(server: SandboxServer, fan: str, **kwargs: str) -> dict[str, str]:
    return bearer(grant_tokens(server, fan, **kwargs)["access_token"])


def test_rate_limit_answers_429_with_retry_after_and_counts_refused_calls(
    sandbox_server: SandboxServer,
) -> None:
    configure(sandbox_server, {"spotify": {"rate_budget": 5}})
    headers = fan_headers(sandbox_server, "fan-rl")
    sandbox_server.client.put("/sandbox/clock", json={"frozen": True})
    me = "/spotify/v1/me"
    assert [sandbox_server.client.get(me, headers=headers).status_code for _ in range(5)] == [200] * 5
    refused = sandbox_server.client.get(me, headers=headers)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "30"
    assert refused.json() == {"error": {"status": 429, "message": "API rate limit exceeded"}}
    advance(sandbox_server, 15)
    for _ in range(5):  # refused calls count against the window too
        assert sandbox_server.client.get(me, headers=headers).status_code == 429
    advance(sandbox_server, 15)  # the five accepted calls left the window; the five refused ones did not
    still = sandbox_server.client.get(me, headers=headers)
    assert still.status_code == 429
    assert still.headers["retry-after"] == "15"
    advance(sandbox_server, 15)
    assert sandbox_server.client.get(me, headers=headers).status_code == 200
    summary = sandbox_server.client.get("/sandbox/spotify/calls/summary").json()["api"]
    assert summary["by_route"]["GET /me"] == {"200": 6, "429": 7}


def test_rate_limit_is_per_app(sandbox_server: SandboxServer) -> None:
    configure(
        sandbox_server,
        {
            "spotify": {
                "rate_budget": 2,
                "apps": [
                    {"client_id": "sandbox-spotify-client", "client_secret": "sandbox-spotify-secret"},
                    {"client_id": "label-two", "client_secret": "two-secret", "rate_budget": 100},
                ],
            }
        },
    )
    sandbox_server.client.put("/sandbox/clock", json={"frozen": True})
    first = fan_headers(sandbox_server, "fan-a")
    second = fan_headers(sandbox_server, "fan-b", client_id="label-two", client_secret="two-secret")
    statuses = [sandbox_server.client.get("/spotify/v1/me", headers=first).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert all(
        sandbox_server.client.get("/spotify/v1/me", headers=second).status_code == 200 for _ in range(5)
    )


def test_spotipy_without_status_retries_sees_retry_after(sandbox_server: SandboxServer) -> None:
    configure(sandbox_server, {"spotify": {"rate_budget": 1}})
    token = grant_tokens(sandbox_server, "fan-sp429")["access_token"]
    sp = spotipy.Spotify(auth=token, retries=0, status_forcelist=(500, 502, 503, 504))
    sp.prefix = f"{sandbox_server.api}/"
    sp.me()
    with pytest.raises(spotipy.SpotifyException) as raised:
        sp.me()
    assert raised.value.http_status == 429
    assert int(raised.value.headers["Retry-After"]) >= 1


def test_server_errors_come_at_the_configured_share(sandbox_server: SandboxServer) -> None:
    headers = fan_headers(sandbox_server, "fan-5xx")
    configure(sandbox_server, {"faults": {"seed": 3, "error_share": 0.3}})
    answers = [sandbox_server.client.get("/spotify/v1/me", headers=headers) for _ in range(100)]
    failed = [a for a in answers if a.status_code >= 500]
    assert 15 <= len(failed) <= 45
    assert {a.status_code for a in failed} == {500, 502, 503}
    assert all(a.json()["error"]["status"] == a.status_code for a in failed)
    log = sandbox_server.client.get("/sandbox/spotify/calls").json()["calls"]
    assert sum(1 for c in log if (c["fault"] or "").startswith("error_")) == len(failed)


def test_fault_plans_repeat_for_the_same_seed() -> None:
    config = FaultConfig(seed=11, error_share=0.2, drop_share=0.1, slow_share=0.1, revoke_share=0.05)

    def labels(config: FaultConfig) -> list[str | None]:
        injector = FaultInjector(config)
        plans = [injector.plan("spotify", user_call=True) for _ in range(200)]
        return [p.label if p else None for p in plans]

    assert labels(config) == labels(config)
    assert labels(config) != labels(config.model_copy(update={"seed": 12}))
    assert FaultInjector(config).plan("apple_music_unknown", user_call=True) is None


def test_dropped_connection_before_the_action(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server)
    headers = fan_headers(sandbox_server, "fan-drop")
    configure(sandbox_server, {"faults": {"drop_share": 1.0, "after_processing_share": 0.0}})
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.put(f"{sandbox_server.api}/me/library", params={"uris": ids["spotify"]["uri"]}, headers=headers)
    configure(sandbox_server, {"faults": {"drop_share": 0.0}})
    assert sandbox_server.client.get("/sandbox/spotify/fans/fan-drop").json()["library"] == []
    call = sandbox_server.client.get("/sandbox/spotify/calls").json()["calls"][-1]
    assert (call["route"], call["status"], call["fault"]) == ("PUT /me/library", 0, "drop")


def test_dropped_connection_after_the_action(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server)
    headers = fan_headers(sandbox_server, "fan-drop2")
    configure(sandbox_server, {"faults": {"drop_share": 1.0, "after_processing_share": 1.0}})
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.put(f"{sandbox_server.api}/me/library", params={"uris": ids["spotify"]["uri"]}, headers=headers)
    configure(sandbox_server, {"faults": {"drop_share": 0.0}})
    library = sandbox_server.client.get("/sandbox/spotify/fans/fan-drop2").json()["library"]
    assert [e["uri"] for e in library] == [ids["spotify"]["uri"]]
    call = sandbox_server.client.get("/sandbox/spotify/calls").json()["calls"][-1]
    assert (call["status"], call["fault"]) == (200, "drop_after")


def test_spotipy_sees_a_dropped_connection_as_a_connection_error(sandbox_server: SandboxServer) -> None:
    token = grant_tokens(sandbox_server, "fan-drop3")["access_token"]
    configure(sandbox_server, {"faults": {"drop_share": 1.0}})
    sp = spotipy.Spotify(auth=token, retries=0)
    sp.prefix = f"{sandbox_server.api}/"
    with pytest.raises(Exception) as raised:  # noqa: PT011 - requests' ConnectionError, whichever subclass
        sp.me()
    assert "Connection aborted" in str(raised.value) or "RemoteDisconnected" in str(raised.value)


@pytest.mark.parametrize(("after", "saved"), [(0.0, False), (1.0, True)])
def test_answers_slower_than_the_client_timeout(
    sandbox_server: SandboxServer, after: float, saved: bool
) -> None:
    ids = add_release(sandbox_server)
    headers = fan_headers(sandbox_server, "fan-slow")
    configure(sandbox_server, {"faults": {"slow_share": 1.0, "slow_s": 1.5, "after_processing_share": after}})
    with pytest.raises(httpx.ReadTimeout):
        httpx.put(
            f"{sandbox_server.api}/me/library",
            params={"uris": ids["spotify"]["uri"]},
            headers=headers,
            timeout=0.3,
        )
    configure(sandbox_server, {"faults": {"slow_share": 0.0}})
    time.sleep(0.2)  # the server notices the hang-up
    library = sandbox_server.client.get("/sandbox/spotify/fans/fan-slow").json()["library"]
    assert bool(library) is saved


def test_slow_answer_still_arrives_for_a_patient_client(sandbox_server: SandboxServer) -> None:
    headers = fan_headers(sandbox_server, "fan-patient")
    configure(sandbox_server, {"faults": {"slow_share": 1.0, "slow_s": 0.5}})
    started = time.perf_counter()
    answer = httpx.get(f"{sandbox_server.api}/me", headers=headers, timeout=5)
    assert answer.status_code == 200
    assert time.perf_counter() - started >= 0.5


def test_latency_distribution_delays_calls(sandbox_server: SandboxServer) -> None:
    headers = fan_headers(sandbox_server, "fan-lat")
    configure(sandbox_server, {"faults": {"latency": {"median_ms": 80, "p99_ms": 120}}})
    for _ in range(5):
        sandbox_server.client.get("/spotify/v1/me", headers=headers)
    durations = [
        c["duration_ms"] for c in sandbox_server.client.get("/sandbox/spotify/calls").json()["calls"][-5:]
    ]
    assert min(durations) >= 40
    assert all(
        c["fault"] == "latency"
        for c in sandbox_server.client.get("/sandbox/spotify/calls").json()["calls"][-5:]
    )


def test_latency_draws_follow_the_configured_percentiles() -> None:
    injector = FaultInjector(FaultConfig(seed=5, latency=LatencyConfig(median_ms=100, p99_ms=400)))
    draws = sorted(p.latency_s for p in (injector.plan("spotify", user_call=False) for _ in range(4000)) if p)
    median, p99 = draws[len(draws) // 2], draws[int(len(draws) * 0.99)]
    assert 0.09 <= median <= 0.11
    assert 0.33 <= p99 <= 0.48


def test_library_full_answers_502_and_saves_nothing(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server)
    sandbox_server.client.post("/sandbox/spotify/fans", json={"id": "fan-full", "library_full": True})
    headers = fan_headers(sandbox_server, "fan-full")
    full = sandbox_server.client.put(
        "/spotify/v1/me/library", params={"uris": ids["spotify"]["uri"]}, headers=headers
    )
    assert full.json() == {"error": {"status": 502, "message": "Something went wrong"}}
    follow = sandbox_server.client.put(
        "/spotify/v1/me/library", params={"uris": ids["spotify"]["artist_uri"]}, headers=headers
    )
    assert follow.status_code == 200
    view = sandbox_server.client.get("/sandbox/spotify/fans/fan-full").json()
    assert view["library"] == []
    assert len(view["follows"]) == 1


def test_library_full_share_picks_fans_by_seed(sandbox_server: SandboxServer) -> None:
    ids = add_release(sandbox_server)
    configure(sandbox_server, {"spotify": {"library_full_share": 0.5}})
    statuses = []
    for n in range(20):
        headers = fan_headers(sandbox_server, f"fan-share-{n}")
        answer = sandbox_server.client.put(
            "/spotify/v1/me/library", params={"uris": ids["spotify"]["uri"]}, headers=headers
        )
        again = sandbox_server.client.put(
            "/spotify/v1/me/library", params={"uris": ids["spotify"]["uri"]}, headers=headers
        )
        assert again.status_code == answer.status_code  # a full library stays full
        statuses.append(answer.status_code)
    assert 3 <= statuses.count(502) <= 17
    assert set(statuses) == {200, 502}


def test_fans_revoke_in_the_middle_of_a_run(sandbox_server: SandboxServer) -> None:
    fans = {f"fan-mid-{n}": grant_tokens(sandbox_server, f"fan-mid-{n}") for n in range(6)}
    configure(sandbox_server, {"faults": {"seed": 2, "revoke_share": 0.1}})
    revoked_at: dict[str, int] = {}
    for step in range(15):
        for fan, tokens in fans.items():
            status = sandbox_server.client.get(
                "/spotify/v1/me", headers=bearer(tokens["access_token"])
            ).status_code
            if fan in revoked_at:
                assert status == 401  # once revoked, always refused
            elif status == 401:
                revoked_at[fan] = step
            else:
                assert status == 200
    assert 1 <= len(revoked_at) < len(fans)
    configure(sandbox_server, {"faults": {"revoke_share": 0.0}})
    lost = next(iter(revoked_at))
    answer = sandbox_server.client.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": fans[lost]["refresh_token"]},
        auth=("sandbox-spotify-client", "sandbox-spotify-secret"),
    )
    assert answer.json() == {"error": "invalid_grant", "error_description": "Refresh token revoked"}


def test_accounts_service_faults_when_enabled(sandbox_server: SandboxServer) -> None:
    configure(
        sandbox_server,
        {"faults": {"services": ["spotify_accounts"], "error_share": 1.0, "error_statuses": [503]}},
    )
    answer = sandbox_server.client.post(TOKEN, data={"grant_type": "client_credentials"})
    assert answer.status_code == 503
    assert answer.json()["error"] == "server_error"


def test_an_artist_follow_through_the_library_can_be_kept_ignored_or_rejected(
    sandbox_server: SandboxServer,
) -> None:
    artist = add_release(sandbox_server)["spotify"]["artist_uri"]
    for mode, status, followed in (("ignored", 200, False), ("rejected", 400, False), ("kept", 200, True)):
        configure(sandbox_server, {"spotify": {"library_artist_follow": mode}})
        headers = fan_headers(sandbox_server, f"fan-follow-{mode}")
        put = sandbox_server.client.put("/spotify/v1/me/library", params={"uris": artist}, headers=headers)
        assert put.status_code == status
        contains = sandbox_server.client.get(
            "/spotify/v1/me/library/contains", params={"uris": artist}, headers=headers
        )
        assert contains.json() == [followed]


def _app_token(server: SandboxServer, client_id: str, secret: str) -> dict[str, str]:
    answer = server.client.post(TOKEN, data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert answer.status_code == 200, answer.text
    return bearer(answer.json()["access_token"])


def test_a_developer_accounts_quota_is_shared_by_its_client_ids_and_answers_quota_exceeded_for_hours(
    sandbox_server: SandboxServer,
) -> None:
    """Spotify, July 2026: the quota is counted per developer account across its Client IDs; once it is
    spent every call answers 429 with reason QUOTA_EXCEEDED and a Retry-After of hours."""
    configure(
        sandbox_server,
        {
            "spotify": {
                "quota_calls": 4,
                "apps": [
                    {"client_id": "label-app", "client_secret": "s1", "developer_account": "label"},
                    {"client_id": "label-tools", "client_secret": "s2", "developer_account": "label"},
                    {"client_id": "someone-else", "client_secret": "s3", "developer_account": "other"},
                ],
            }
        },
    )
    artist = add_release(sandbox_server)["spotify"]["artist_id"]
    path = f"/spotify/v1/artists/{artist}"
    label_app = _app_token(sandbox_server, "label-app", "s1")
    label_tools = _app_token(sandbox_server, "label-tools", "s2")
    served = [sandbox_server.client.get(path, headers=h).status_code for h in [label_app, label_tools] * 2]
    assert served == [200] * 4

    spent = sandbox_server.client.get(path, headers=label_app)
    assert spent.status_code == 429
    assert spent.json() == {
        "error": {"status": 429, "message": "Too many requests", "reason": "QUOTA_EXCEEDED"}
    }
    assert int(spent.headers["retry-after"]) > 3600 * 20  # the rolling day, less the seconds gone
    assert sandbox_server.client.get(path, headers=label_tools).status_code == 429  # the account's
    other = _app_token(sandbox_server, "someone-else", "s3")
    assert sandbox_server.client.get(path, headers=other).status_code == 200  # another account's budget

    logged = sandbox_server.client.get("/sandbox/spotify/calls", params={"client_id": "label-app"}).json()
    last = logged["calls"][-1]
    assert (last["status"], last["fault"], last["retry_after"]) == (429, "quota_exceeded", spent_after(spent))

    advance(sandbox_server, 86_400)  # a day later the quota is back
    fresh = _app_token(sandbox_server, "label-app", "s1")
    assert sandbox_server.client.get(path, headers=fresh).status_code == 200


def spent_after(response: httpx.Response) -> int:
    return int(response.headers["retry-after"])


def test_random_throttling_answers_429_with_its_retry_after_and_does_nothing(
    sandbox_server: SandboxServer,
) -> None:
    headers = fan_headers(sandbox_server, "fan-throttled")
    album = add_release(sandbox_server)["spotify"]["uri"]
    configure(sandbox_server, {"faults": {"throttle_share": 1.0, "throttle_retry_after_s": 2}})
    refused = sandbox_server.client.put("/spotify/v1/me/library", params={"uris": album}, headers=headers)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "2"
    configure(sandbox_server, {"faults": {"throttle_share": 0.0}})
    assert sandbox_server.client.get("/sandbox/spotify/fans/fan-throttled").json()["library"] == []
    [logged] = [
        c for c in sandbox_server.client.get("/sandbox/spotify/calls").json()["calls"] if c["status"] == 429
    ]
    assert (logged["fault"], logged["retry_after"]) == ("throttled", 2)
