"""tests/deploy from a plain shell: the executables the tests start come from the virtual environment of the
interpreter running them, not from PATH."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.deploy.conftest import celery_workers, require_broker

pytestmark = pytest.mark.celery


def test_release_workers_start_from_a_shell_without_the_virtual_environment_on_path(tmp_path: Path) -> None:
    broker = require_broker("redis").replace("/0", "/15")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "PRESAVE_CELERY_BROKER_URL": broker,
    }
    with celery_workers(["plain-shell"], env, tmp_path) as hosts:
        assert [host.split("@")[0] for host in hosts] == ["plain-shell"]
