"""`presave demo --no-dashboard` end to end, checked from the outside: the sandbox's view of every fan's
library, the operational store's ledger, and the warehouse's first-week mart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import httpx
import pytest
from sqlalchemy import create_engine, text

from presave.servers import LoopbackServer
from sandbox.app import create_app
from sandbox.config import SandboxConfig
from tests.sandbox.openapi import assert_calls_match_spec

pytestmark = pytest.mark.slow


def test_the_demo_saves_the_album_once_to_every_fan_and_builds_the_first_week(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    sandbox_app = create_app(SandboxConfig(inspection={"record_bodies": True}))
    with LoopbackServer(sandbox_app) as sandbox:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRESAVE_")}
        env["PRESAVE_DATA_DIR"] = str(data_dir)
        demo = subprocess.run(
            [sys.executable, "-m", "presave", "demo", "--no-dashboard", "--sandbox-url", sandbox.url],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]

        engine = create_engine(f"sqlite:///{data_dir / 'presave.db'}")
        with engine.connect() as connection:
            fans = (
                connection.execute(
                    text(
                        "SELECT g.service_user_id FROM grants g JOIN campaigns c ON c.id = g.campaign_id "
                        "WHERE c.slug = 'midnight-drive'"
                    )
                )
                .scalars()
                .all()
            )
            outcomes = dict(
                connection.execute(
                    text(
                        "SELECT a.outcome, count(*) FROM owed_actions a JOIN campaigns c ON c.id = a.campaign_id "
                        "WHERE c.slug = 'midnight-drive' GROUP BY 1"
                    )
                ).all()
            )
        engine.dispose()
        assert len(fans) >= 500
        assert outcomes == {
            "delivered": 2 * len(fans)
        }  # the artist follow at grant time, the save on release

        with httpx.Client(base_url=sandbox.url, timeout=30) as admin:
            release = next(r for r in admin.get("/sandbox/releases").json() if r["upc"] == "198880045560")
            album = release["spotify"]["uri"]
            for fan in fans:
                library = [
                    item["uri"] for item in admin.get(f"/sandbox/spotify/fans/{fan}").json()["library"]
                ]
                assert library.count(album) == 1, fan

    calls = [c.as_json(bodies=True) for c in sandbox_app.state.sandbox.calls.calls(services=("spotify",))]
    assert len(calls) > 3 * len(fans)
    assert_calls_match_spec(calls, check_params=True)

    with duckdb.connect(str(data_dir / "warehouse.snapshot.duckdb"), read_only=True) as warehouse:
        rows = warehouse.execute(
            "SELECT day, streams, presaves FROM first_week WHERE campaign_slug = 'midnight-drive' ORDER BY day"
        ).fetchall()
        leaked = warehouse.execute(
            "SELECT count(*) FROM grants WHERE fan_key IN (SELECT unnest(?::VARCHAR[]))", [fans]
        ).fetchone()
    assert [day for day, _, _ in rows] == list(range(7))
    assert all(streams > 0 for _, streams, _ in rows)
    assert {presaves for _, _, presaves in rows} == {len(fans)}
    assert leaked == (0,)  # fans appear under keyed hashes, never their service ids
