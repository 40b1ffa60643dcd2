"""`presave demo --no-dashboard` end to end, checked from the outside: the sandbox's view of every fan's
library on each service, the operational store's ledger, and the warehouse's marts."""

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

LIVE_UPC = "198880045560"


def _album_entries(service: str, fan: dict, album: dict) -> list[dict]:
    if service == "spotify":
        return [e for e in fan["library"] if e["uri"] == album["spotify"]["uri"]]
    if service == "apple":
        return [e for e in fan["library"] if e["type"] == "albums" and e["id"] == album["apple"]["album_id"]]
    return [
        e for e in fan["favourites"] if e["type"] == "album" and e["id"] == str(album["deezer"]["album_id"])
    ]


def test_the_demo_saves_the_album_once_to_every_fan_on_every_service(tmp_path: Path) -> None:
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
            grants = dict(
                connection.execute(
                    text(
                        "SELECT g.service, count(*) FROM grants g JOIN campaigns c ON c.id = g.campaign_id "
                        "WHERE c.slug = 'midnight-drive' GROUP BY 1"
                    )
                ).all()
            )
            outcomes = dict(
                connection.execute(
                    text(
                        "SELECT a.outcome, count(*) FROM owed_actions a JOIN campaigns c ON c.id = a.campaign_id "
                        "WHERE c.slug = 'midnight-drive' GROUP BY 1"
                    )
                ).all()
            )
            spotify_ids = set(
                connection.execute(
                    text(
                        "SELECT g.service_user_id FROM grants g JOIN campaigns c ON c.id = g.campaign_id "
                        "WHERE c.slug = 'midnight-drive' AND g.service = 'spotify'"
                    )
                ).scalars()
            )
        engine.dispose()
        assert sum(grants.values()) >= 500
        assert set(grants) == {"spotify", "apple", "deezer"}
        assert set(outcomes) == {"delivered"}  # nothing queued, failed or undeliverable

        with httpx.Client(base_url=sandbox.url, timeout=30) as admin:
            album = next(r for r in admin.get("/sandbox/releases").json() if r["upc"] == LIVE_UPC)
            for service in ("spotify", "apple", "deezer"):
                holders = set()
                for fan_id in admin.get(f"/sandbox/{service}/fans").json():
                    entries = _album_entries(
                        service, admin.get(f"/sandbox/{service}/fans/{fan_id}").json(), album
                    )
                    assert len(entries) <= 1, (service, fan_id)
                    if entries:
                        assert entries[0]["requests"] == 1, (service, fan_id, "saved more than once")
                        holders.add(fan_id)
                assert len(holders) == grants[service], service  # every granting fan, and only they
                if service == "spotify":
                    assert holders == spotify_ids

    calls = [c.as_json(bodies=True) for c in sandbox_app.state.sandbox.calls.calls(services=("spotify",))]
    assert len(calls) > 3 * grants["spotify"]
    assert_calls_match_spec(calls, check_params=True)

    with duckdb.connect(str(data_dir / "warehouse.snapshot.duckdb"), read_only=True) as warehouse:
        rows = warehouse.execute(
            "SELECT day, streams, presaves FROM first_week WHERE campaign_slug = 'midnight-drive' ORDER BY day"
        ).fetchall()
        leaked = warehouse.execute(
            "SELECT count(*) FROM grants WHERE fan_key IN (SELECT unnest(?::VARCHAR[]))",
            [sorted(spotify_ids)],
        ).fetchone()
        services = warehouse.execute(
            "SELECT service FROM service_conversion WHERE campaign_slug = 'midnight-drive' GROUP BY 1"
        ).fetchall()
    assert [day for day, _, _ in rows] == list(range(7))
    assert all(streams > 0 for _, streams, _ in rows)
    assert {presaves for _, _, presaves in rows} == {sum(grants.values())}
    assert leaked == (0,)  # fans appear under keyed hashes, never their service ids
    assert {"spotify", "apple", "deezer"} <= {s for (s,) in services}
