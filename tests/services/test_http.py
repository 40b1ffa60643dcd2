"""The one HTTP stack: the environment's proxy and netrc settings are honoured, and read once per origin."""

from __future__ import annotations

import pytest
import requests

from services import http


def test_a_session_honours_the_environments_proxies_and_reads_them_once_per_origin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    reads: list[str] = []
    real = requests.sessions.get_environ_proxies

    def counted(url: str, no_proxy: str | None = None) -> dict[str, str]:
        reads.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counted)
    session = http.new_session()
    for _ in range(3):
        remote = session.merge_environment_settings("https://api.example/v1/me", {}, None, None, None)
        local = session.merge_environment_settings("http://127.0.0.1:9/v1/me", {}, None, None, None)
    assert remote["proxies"]["https"] == "http://proxy.example:3128"
    assert "http" not in local["proxies"]  # NO_PROXY still keeps loopback off the proxy
    assert len(reads) == 2  # once per origin, not once per call


def test_a_session_reads_netrc_once_per_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    looked: list[str] = []
    monkeypatch.setattr(requests.utils, "get_netrc_auth", lambda url: looked.append(url) or ("fan", "pw"))
    session = http.new_session()
    prepared = [
        session.prepare_request(requests.Request("GET", "https://api.example/v1/me")) for _ in range(3)
    ]
    assert looked == ["https://api.example/v1/me"]
    assert all(p.headers["Authorization"].startswith("Basic ") for p in prepared)
    assert session.trust_env
