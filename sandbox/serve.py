"""Serving the sandbox on its own port (the `presave sandbox` command and benchmarks use this)."""

from __future__ import annotations

import socket
import sys
from typing import TextIO

import uvicorn

from sandbox.app import create_app
from sandbox.config import SandboxConfig
from sandbox.env import sandbox_env


def env_lines(base_url: str, config: SandboxConfig) -> list[str]:
    return [f"{name}={value}" for name, value in sandbox_env(base_url, config).items()]


def main(
    host: str = "127.0.0.1", port: int = 8765, config: SandboxConfig | None = None, out: TextIO = sys.stdout
) -> None:
    """Bind first (so `port=0` picks a free port), print the `PRESAVE_*` lines, then serve until stopped."""
    config = config or SandboxConfig()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)  # connections wait in the backlog until uvicorn accepts them
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if family == socket.AF_INET6 else host
    for line in env_lines(f"http://{shown_host}:{bound_port}", config):
        print(line, file=out)
    out.flush()
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), log_level="warning", access_log=False, lifespan="on")
    )
    server.run(sockets=[sock])
