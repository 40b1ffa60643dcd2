"""Child processes the command line starts: sandbox, landing app and Streamlit dashboard."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from campaigns.settings import Settings


@dataclass
class ChildProcess:
    name: str
    process: subprocess.Popen[str] | None  # None: a server someone else runs
    url: str
    env: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port(preferred: int) -> int:
    """The preferred port when it is free, else any free port on loopback."""
    for candidate in (preferred, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise RuntimeError("no free port on 127.0.0.1")


def start_sandbox(port: int) -> ChildProcess:
    """`python -m sandbox` in its own process, with the default configuration."""
    from sandbox.config import SandboxConfig
    from sandbox.env import sandbox_env

    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    child = ChildProcess("sandbox", process, url, sandbox_env(url, SandboxConfig()))
    _wait_until_up(child, f"{url}/sandbox/spotify/fans")
    return child


def attach_sandbox(url: str) -> ChildProcess:
    """A sandbox already running elsewhere (with the default configuration)."""
    from sandbox.config import SandboxConfig
    from sandbox.env import sandbox_env

    url = url.rstrip("/")
    child = ChildProcess("sandbox", None, url, sandbox_env(url, SandboxConfig()))
    _wait_until_up(child, f"{url}/sandbox/spotify/fans")
    return child


def start_landing(port: int, data_dir: Path) -> ChildProcess:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "presave",
            "landing",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env={**os.environ, "PRESAVE_DATA_DIR": str(data_dir)},
        text=True,
    )
    child = ChildProcess("landing", process, f"http://127.0.0.1:{port}")
    _wait_until_up(child, f"{child.url}/healthz")
    return child


def _wait_until_up(child: ChildProcess, url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.process is not None and child.process.poll() is not None:
            raise RuntimeError(f"the {child.name} process exited with status {child.process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    child.stop()
    raise RuntimeError(f"the {child.name} did not answer at {url} within {timeout:.0f}s")


DASHBOARD_SCRIPT = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"


def run_dashboard(settings: Settings, *, port: int = 8501, host: str = "127.0.0.1") -> subprocess.Popen[str]:
    """Start Streamlit on the warehouse snapshot; the dashboard never sees the operational store."""
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(DASHBOARD_SCRIPT),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--",
        "--warehouse",
        str(settings.warehouse_snapshot_path),
    ]
    env = dict(os.environ)
    if settings.dashboard_password_hash:  # it may come from the .env file, which Streamlit does not read
        env["PRESAVE_DASHBOARD_PASSWORD_HASH"] = settings.dashboard_password_hash.get_secret_value()
    return subprocess.Popen(command, text=True, env=env)


def start_dashboard(settings: Settings, port: int) -> ChildProcess:
    """The dashboard in its own process, returned once Streamlit answers its health check."""
    child = ChildProcess("dashboard", run_dashboard(settings, port=port), f"http://127.0.0.1:{port}")
    _wait_until_up(child, f"{child.url}/_stcore/health", timeout=60.0)
    return child
