"""The sandbox in its own process, as benchmarks and `presave sandbox` run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from sandbox.config import SandboxConfig
from sandbox.env import sandbox_env


def test_env_points_at_the_sandbox(tmp_path: Path) -> None:
    key_file = tmp_path / "AuthKey_SANDBOXKY1.p8"
    env = sandbox_env("http://127.0.0.1:8765/", SandboxConfig(apple={"private_key_path": str(key_file)}))
    assert env["PRESAVE_SPOTIFY_ACCOUNTS_URL"] == "http://127.0.0.1:8765/spotify/accounts"
    assert env["PRESAVE_SPOTIFY_API_URL"] == "http://127.0.0.1:8765/spotify/v1"
    assert env["PRESAVE_SPOTIFY_CLIENT_ID"] == "sandbox-spotify-client"
    assert env["PRESAVE_SPOTIFY_CLIENT_SECRET"] == "sandbox-spotify-secret"
    assert env["PRESAVE_APPLE_API_URL"] == "http://127.0.0.1:8765/apple"
    assert env["PRESAVE_MUSICKIT_JS_URL"] == "http://127.0.0.1:8765/apple/musickit.js"
    assert env["PRESAVE_APPLE_PRIVATE_KEY"] == str(key_file)
    assert key_file.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert env["PRESAVE_DEEZER_CONNECT_URL"] == "http://127.0.0.1:8765/deezer/connect"
    assert env["PRESAVE_DEEZER_API_URL"] == "http://127.0.0.1:8765/deezer/api"
    assert env["PRESAVE_DEEZER_APP_ID"] == "100001"


def test_python_m_sandbox_prints_env_and_serves(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp_path)},
    )
    try:
        assert process.stdout is not None
        lines = {}
        while "PRESAVE_DEEZER_API_URL" not in lines:
            line = process.stdout.readline()
            assert line, "the sandbox exited before printing its environment"
            name, _, value = line.strip().partition("=")
            lines[name] = value
        api = lines["PRESAVE_SPOTIFY_API_URL"]
        response = httpx.get(f"{api}/me", timeout=10)
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "No token provided"
        assert lines["PRESAVE_APPLE_PRIVATE_KEY"].startswith(str(tmp_path))
    finally:
        process.terminate()
        process.wait(timeout=10)
