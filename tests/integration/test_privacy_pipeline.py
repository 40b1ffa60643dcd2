"""Privacy in operation, end to end through the Dagster jobs, on SQLite and PostgreSQL: links carrying an
address, `presave forget`, then the warehouse job again; and the privacy job's retention."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import httpx
import pytest
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from campaigns.models import AuthorizationAttempt, Grant, LandingEvent, OwedAction
from pipelines.definitions import build_definitions
from pipelines.marts.assets import MARTS
from pipelines.warehouse import Warehouse
from presave.cli import app
from tests.conftest import PSEUDONYM_KEY
from tests.integration.conftest import System, soon
from tests.integration.landing_helpers import Fan, add_campaign, flush

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
EMAIL = "em.forgotten@example.com"
TAGGED = {"utm_source": "someone@example.com", "utm_medium": "+44 7700 900123", "utm_campaign": "dec-drop"}


@pytest.fixture
def env(system: System, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """The deployment's environment: the Dagster resources read their secrets from it (dg.EnvVar)."""
    monkeypatch.chdir(tmp_path)
    values = {
        "PRESAVE_DATA_DIR": str(system.settings.data_dir),
        "PRESAVE_DATABASE_URL": system.settings.resolved_database_url,
        "PRESAVE_SECRET_KEY": system.settings.secret_keys()[0],
        "PRESAVE_PSEUDONYM_KEY": PSEUDONYM_KEY,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def _run(system: System, job: str, run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    definitions = build_definitions(system.settings)
    return definitions.resolve_job_def(job).execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        run_config={**QUIET, **(run_config or {})},
        raise_on_error=False,
    )


def _failed_checks(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    evaluations = [
        e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    return {e.check_name: e.metadata for e in evaluations if not e.passed}  # type: ignore[union-attr]


FAN_ADDRESS = "127.0.0.77"  # the fans' own address: told apart from the services' 127.0.0.1 in a scan


def _from_address(fan: Fan, address: str) -> Fan:
    """The fan's browser connects from `address` (any 127.x address is this machine's)."""
    headers = dict(fan.http.headers)
    fan.http.close()
    fan.http = httpx.Client(
        base_url=fan.system.landing_url,
        timeout=10,
        headers=headers,
        transport=httpx.HTTPTransport(local_address=address),
    )
    return fan


def _two_fans_from_tagged_links(system: System) -> None:
    system.admin.post("/sandbox/spotify/fans", json={"id": "fan-em", "email": EMAIL}).raise_for_status()
    add_campaign(system, "midnight-drive", soon())
    with Fan(system) as fan:
        _from_address(fan, FAN_ADDRESS)
        fan.visit("midnight-drive", **TAGGED)
        fan.oauth("midnight-drive", "spotify", "fan-em", **TAGGED)
        fan.authorize(fan.complete("midnight-drive", email_opt_in="yes").headers["location"], "fan-em")
    with Fan(system) as fan:
        fan.visit("midnight-drive", utm_source="newsletter")
        fan.oauth("midnight-drive", "deezer", "fan-quiet")
    with Fan(system) as fan:
        fan.visit("midnight-drive", utm_source="newsletter")
        fan.oauth("midnight-drive", "spotify", "fan-stays")
    flush(system)


def _other_tools_fans(inbox: Path) -> Path:
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / "featurefm-fans.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["Date", "Email", "Service", "Country", "Campaign", "Source"])
        writer.writerow(
            ["2026-11-20 14:22:05", "ada.lovelace@example.com", "Spotify", "France", "Midnight Drive", "x"]
        )
    return path


def _warehouse_text(system: System) -> str:
    """Every text value of every table in the published snapshot, and the raw bytes of both files."""
    warehouse = Warehouse(system.settings.warehouse_path)
    values: list[str] = []
    with warehouse.reader() as connection:
        columns = connection.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND data_type = 'VARCHAR'"
        ).fetchall()
        for table, column in columns:
            values += [str(v) for (v,) in connection.execute(f'SELECT "{column}" FROM "{table}"').fetchall()]
    raw = b"".join(p.read_bytes() for p in (warehouse.path, warehouse.snapshot_path))
    return "\n".join(values) + raw.decode("latin-1")


def test_links_with_an_address_then_forget_then_the_warehouse_job_keeps_nothing_of_the_fan(
    system: System, env: dict[str, str], capfd: pytest.CaptureFixture[str]
) -> None:
    _two_fans_from_tagged_links(system)
    with system.store.session() as session:
        fan_key = session.scalar(select(Grant.fan_key).where(Grant.service_user_id == "fan-em"))
        visitor = session.scalar(select(LandingEvent.visitor_id).where(LandingEvent.service == "spotify"))
        stored_tags = set(session.execute(select(LandingEvent.utm_source, LandingEvent.utm_medium)).all())
    assert fan_key
    assert visitor
    assert stored_tags - {(None, None)} == {("redacted:email", "redacted:phone"), ("newsletter", None)}
    _other_tools_fans(system.settings.inbox_dir)

    first = _run(system, "warehouse_job")
    assert first.success
    assert _failed_checks(first) == {}
    assert fan_key in _warehouse_text(system)
    loaded = system.settings.data_dir / "loaded"
    assert not any("featurefm" in p.name for p in loaded.rglob("*")), "the fan export stays after loading"

    forgotten = CliRunner(env=env).invoke(app, ["forget", "--service", "spotify", "--user", "fan-em"])
    assert forgotten.exit_code == 0, forgotten.output
    assert "erased 1 grant(s)" in forgotten.stdout

    second = _run(system, "warehouse_job")
    assert second.success
    assert _failed_checks(second) == {}
    everything = _warehouse_text(system)
    for trace in (fan_key, visitor, EMAIL, "fan-em", "someone@example.com", "ada.lovelace"):
        assert trace not in everything
    with Warehouse(system.settings.warehouse_path).reader() as connection:
        assert connection.execute("SELECT count(*) FROM grants").fetchone() == (2,)  # the other fans stay
        assert all(connection.execute(f"SELECT count(*) FROM {m.name}").fetchone() is not None for m in MARTS)
    with system.store.session() as session:
        left = session.scalars(select(AuthorizationAttempt)).all()
        assert [a.service for a in left] == ["deezer", "spotify"], "the two other fans' attempts stay"
        assert all(a.visit.get("visitor_id") != visitor for a in left)
        assert session.scalar(select(LandingEvent.id).where(LandingEvent.visitor_id == visitor)) is None
        dump = "\n".join(str(row) for row in session.execute(text("SELECT * FROM landing_events")).all())
    assert fan_key not in dump
    assert visitor not in dump
    logs = capfd.readouterr()
    for trace in (fan_key, visitor, EMAIL, "someone@example.com", PSEUDONYM_KEY, env["PRESAVE_SECRET_KEY"]):
        assert trace not in logs.out + logs.err


def test_the_privacy_job_retires_tokens_past_retention_and_no_dashboard_figure_changes(
    system: System, env: dict[str, str]
) -> None:
    _two_fans_from_tagged_links(system)
    long_ago = datetime.now(UTC) - timedelta(days=45)
    with system.store.session() as session:
        session.execute(update(OwedAction).values(outcome="delivered", done_at=long_ago, due_at=long_ago))
        session.execute(update(AuthorizationAttempt).values(created_at=long_ago))
    assert _run(system, "warehouse_job").success
    before = _marts(system)

    result = _run(system, "privacy_job")
    assert result.success
    with system.store.session() as session:
        grants = session.scalars(select(Grant).order_by(Grant.id)).all()
        attempts = session.scalars(select(AuthorizationAttempt)).all()
    retired = [g for g in grants if g.tokens_deleted_at is not None]
    assert [g.service for g in grants if g.tokens_deleted_at is None] == ["deezer"], (
        "nothing planned for it yet"
    )
    assert [g.service for g in retired] == ["spotify", "spotify"]
    assert all(g.access_token == "" and g.refresh_token is None and g.email is None for g in retired)
    assert all(g.service_user_id.startswith("retired:") for g in retired)
    assert attempts == []

    assert _run(system, "warehouse_job").success
    assert _marts(system) == before

    again = CliRunner(env=env).invoke(app, ["forget", "--service", "spotify", "--user", "fan-em"])
    assert "erased 1 grant(s)" in again.stdout, "a retired grant is still found from the fan's user id"


def test_grants_with_work_left_keep_their_tokens(system: System, env: dict[str, str]) -> None:
    _two_fans_from_tagged_links(system)
    long_ago = datetime.now(UTC) - timedelta(days=45)
    with system.store.session() as session:
        session.execute(update(OwedAction).values(outcome="delivered", done_at=long_ago))
        first = session.scalar(select(OwedAction.id).order_by(OwedAction.id))
        session.execute(update(OwedAction).where(OwedAction.id == first).values(outcome="queued"))
    assert _run(
        system, "privacy_job", {"ops": {"delete_expired_tokens": {"config": {"token_retention_days": 30}}}}
    ).success
    with system.store.session() as session:
        kept = session.scalars(
            select(Grant).where(Grant.tokens_deleted_at.is_(None)).order_by(Grant.id)
        ).all()
    assert [(g.id, g.service) for g in kept] == [(1, "spotify"), (2, "deezer")]  # work queued; none planned
    assert all(g.access_token for g in kept)


def _marts(system: System) -> dict[str, list[tuple]]:
    with Warehouse(system.settings.warehouse_path).reader() as connection:
        return {
            m.name: sorted(map(tuple, connection.execute(f"SELECT * FROM {m.name}").fetchall()), key=repr)
            for m in MARTS
        }
