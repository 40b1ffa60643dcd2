"""The asset checks fail when they should, and say where without repeating what they found."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from campaigns.campaign_file import parse_campaign
from campaigns.models import Campaign, Grant
from campaigns.registry import create_campaign
from campaigns.settings import Settings
from campaigns.store import Store
from campaigns.vault import TokenVault
from pipelines.marts.assets import MARTS, asset_checks
from pipelines.marts.checks import secret_findings
from pipelines.operational.assets import grants as grants_asset
from pipelines.operational.assets import owed_actions as owed_actions_asset
from pipelines.operational.checks import grants_match_the_store, owed_actions_reconcile
from pipelines.resources import OperationalStore, WarehouseResource
from pipelines.warehouse import Warehouse
from tests.conftest import PSEUDONYM_KEY
from tests.pipelines.marts_fixtures import campaign, put

SPOTIFY_TOKEN = "BQ" + "x7Yk2" * 20
FERNET = "gAAAAABl" + "Zm9v" * 12
JWT = "eyJhbGciOiJFUzI1NiIsImtpZCI6IkFCQyJ9.eyJpc3MiOiJURUFNIn0.c2ln"


def test_the_secret_scan_names_table_and_column_never_the_value(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    put(warehouse, "campaigns", [campaign("midnight-drive", "2026-12-04")])
    base = {
        "campaign_slug": "midnight-drive",
        "occurred_at": pd.Timestamp("2026-11-20", tz="UTC"),
        "kind": "error",
    }
    put(
        warehouse,
        "landing_events",
        [
            {**base, "event_id": 1, "detail": f"refresh failed for token {SPOTIFY_TOKEN}"},
            {**base, "event_id": 2, "detail": "spotify answered 503"},
            {**base, "event_id": 3, "utm_campaign": FERNET, "referrer_domain": "mail.example.com"},
            {**base, "event_id": 4, "utm_medium": f"Bearer {JWT}"},
        ],
    )
    put(
        warehouse,
        "presave_fans",
        [
            {
                "campaign": "x",
                "presaved_on": "2026-11-20",
                "presaved_at": pd.Timestamp("2026-11-20"),
                "service": "spotify",
                "source": "ada.lovelace@example.com",
            }
        ],
    )
    with warehouse.reader() as connection:
        findings = secret_findings(connection)
    assert findings == [
        "landing_events.utm_medium: JSON web token (1 rows)",
        "landing_events.utm_campaign: Fernet token (sealed secret) (1 rows)",
        "landing_events.detail: Spotify access token (1 rows)",
        "presave_fans.source: email address (1 rows)",
    ]
    joined = "\n".join(findings)
    assert SPOTIFY_TOKEN not in joined
    assert "ada.lovelace" not in joined
    assert FERNET not in joined


def test_a_clean_warehouse_has_no_findings(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    put(warehouse, "campaigns", [campaign("midnight-drive", "2026-12-04")])
    with warehouse.reader() as connection:
        assert secret_findings(connection) == []


def test_every_mart_has_key_and_row_count_checks_and_the_warehouse_a_secret_scan() -> None:
    names = {key.name for check in asset_checks for key in check.check_keys}
    for mart in MARTS:
        assert {f"{mart.name}_keys", f"{mart.name}_row_count"} <= names
    assert {
        "warehouse_holds_no_secrets",
        "outcomes_sum_to_planned",
        "forecast_interval_holds_its_point",
    } <= names


def test_the_keys_check_fails_on_a_repeated_key(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    check = next(c for c in asset_checks if next(iter(c.check_keys)).name == "presaves_by_country_keys")
    row = {"campaign_slug": "c", "country": "FR", "service": "spotify", "presaves": 1, "share": 0.5}
    put(warehouse, "presaves_by_country", [row])
    assert check(warehouse=WarehouseResource(path=str(warehouse.path))).passed
    put(warehouse, "presaves_by_country", [row, {**row, "share": 0.5}])
    result = check(warehouse=WarehouseResource(path=str(warehouse.path)))
    assert not result.passed
    assert result.metadata["repeated_keys"].value == 1
    assert result.metadata["rows_with_an_empty_key"].value == 0  # NOT NULL keeps those out already


def _check(name: str):
    return next(c for c in asset_checks if next(iter(c.check_keys)).name == name)


def _passes(name: str, warehouse: Warehouse) -> bool:
    return bool(_check(name)(warehouse=WarehouseResource(path=str(warehouse.path))).passed)


def test_a_visitor_with_many_grants_is_caught(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    base = {"campaign_slug": "c", "occurred_at": pd.Timestamp("2026-11-20", tz="UTC"), "kind": "grant"}
    one_fan = [
        {**base, "event_id": i, "visitor_key": "v1", "fan_key": "f1", "service": "spotify"} for i in range(3)
    ]
    put(warehouse, "landing_events", one_fan)
    assert _passes("no_visitor_with_many_grants", warehouse)  # one fan granting again is a fan, not a merge
    merged = [
        {**base, "event_id": i, "visitor_key": "v1", "fan_key": f"f{i}", "service": "spotify"}
        for i in range(4)
    ]
    put(warehouse, "landing_events", merged)
    assert not _passes("no_visitor_with_many_grants", warehouse)


def test_a_share_above_one_is_caught(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    row = {"campaign_slug": "c", "country": "FR", "service": "spotify", "presaves": 3, "share": 1.0}
    put(warehouse, "presaves_by_country", [row])
    assert _passes("presaves_by_country_shares_within_zero_and_one", warehouse)
    put(warehouse, "presaves_by_country", [{**row, "share": 1.16}])
    assert not _passes("presaves_by_country_shares_within_zero_and_one", warehouse)


@pytest.mark.parametrize(
    ("grants", "low", "high", "passes"),
    [(0, 0.0, 0.0, True), (10, 1.0, 1.0, True), (5, 0.24, 0.76, True), (5, 0.5, 0.5, False)],
)
def test_a_zero_width_conversion_interval_is_caught_only_where_0_lt_k_lt_n(
    tmp_path: Path, grants: int, low: float, high: float, passes: bool
) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    row = {"campaign_slug": "c", "source": "(all)", "service": "spotify", "visitors": 10, "grants": grants}
    kinds = {"reminders": 0, "presaves": grants, "service_visitors": 10}
    put(warehouse, "service_conversion", [{**row, **kinds, "rate": grants / 10, "low": low, "high": high}])
    assert _passes("conversion_interval_has_width", warehouse) is passes


@pytest.mark.parametrize(
    ("grants", "reminders", "presaves", "passes"),
    [(3, 4, 7, True), (3, 0, 3, True), (3, 4, 3, False), (6, 5, 11, False)],  # the last: 11 of 10 visitors
)
def test_pre_saves_must_be_the_direct_grants_and_the_reminders_of_the_visitors(
    tmp_path: Path, grants: int, reminders: int, presaves: int, passes: bool
) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    row = {"campaign_slug": "c", "source": "(all)", "service": "spotify", "visitors": 10, "grants": grants}
    kinds = {"reminders": reminders, "presaves": presaves, "service_visitors": 10}
    put(warehouse, "service_conversion", [{**row, **kinds}])
    assert _passes("presaves_are_direct_and_reminders", warehouse) is passes


@pytest.mark.parametrize(
    ("direct", "reminders", "total", "clicks", "passes"),
    [(5, 40, 45, 12, True), (5, 40, 40, 12, False), (5, 10, 15, 11, False)],  # 11 clicks of 10 reminders
)
def test_a_campaigns_total_is_its_direct_saves_and_reminders_and_clicks_never_outnumber_them(
    tmp_path: Path, direct: int, reminders: int, total: int, clicks: int, passes: bool
) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    row = {
        "campaign_slug": "c",
        "service": "spotify",
        "direct": direct,
        "reminders": reminders,
        "total": total,
    }
    counts = {"direct_delivered": 0, "reminder_clicks": clicks, "turned_away": 0}
    put(warehouse, "presave_kinds", [{**row, **counts}])
    assert _passes("total_is_direct_and_reminders", warehouse) is passes


def test_a_zero_width_forecast_is_caught(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    row = {"campaign_slug": "c", "as_of_day": -5, "so_far": 600, "earlier_campaigns": 3, "is_latest": True}
    put(warehouse, "presave_forecast", [{**row, "point": 600.0, "low": 600.0, "high": 600.0}])
    assert not _passes("forecast_interval_has_width", warehouse)
    put(warehouse, "presave_forecast", [{**row, "point": 700.0, "low": 600.0, "high": 900.0}])
    assert _passes("forecast_interval_has_width", warehouse)


def test_days_that_have_not_happened_are_caught(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    today = pd.Timestamp.now(tz="UTC").normalize()
    row = {"campaign_slug": "c", "days_to_release": -3, "service": "spotify", "presaves": 1, "cumulative": 1}
    put(warehouse, "presaves_daily", [{**row, "date": (today + pd.Timedelta(days=1)).date()}])
    assert _passes("presaves_daily_not_in_the_future", warehouse)  # tomorrow in UTC is today in Kiribati
    put(warehouse, "presaves_daily", [{**row, "date": (today + pd.Timedelta(days=13)).date()}])
    assert not _passes("presaves_daily_not_in_the_future", warehouse)


@pytest.fixture
def store_and_warehouse(tmp_path: Path, settings: Settings, vault: TokenVault):
    store = Store.connect(f"sqlite:///{tmp_path / 'presave.db'}")
    spec = parse_campaign(
        {
            "slug": "midnight-drive",
            "artist": "Nova Lane",
            "title": "Midnight Drive",
            "upc": "198880045560",
            "release_at": "2026-12-04T00:00",
            "timezone": "UTC",
            "services": {"spotify": {"artist": "spotify:artist:4Z8W4fKeB5YxbusRsdQVPb"}},
        }
    )
    with store.session() as session:
        campaign_row = create_campaign(session, spec)
        for i in range(3):
            session.add(
                Grant(
                    campaign_id=campaign_row.id,
                    service="spotify",
                    service_user_id=f"u{i}",
                    fan_key=vault.pseudonym("spotify", f"u{i}"),
                    access_token=vault.seal("t"),
                    scopes="",
                )
            )
    resources = {
        "operational_store": OperationalStore(
            database_url=f"sqlite:///{tmp_path / 'presave.db'}",
            secret_key=settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
            pseudonym_key=PSEUDONYM_KEY,
        ),
        "warehouse": WarehouseResource(path=str(tmp_path / "warehouse.duckdb")),
    }
    yield store, resources
    store.dispose()


def test_the_grant_copy_reconciles_with_the_store_and_a_lost_grant_is_caught(store_and_warehouse) -> None:
    _store, resources = store_and_warehouse
    assert dg.materialize([grants_asset], resources=resources).success
    assert grants_match_the_store(**resources).passed
    with Warehouse(Path(resources["warehouse"].path)).writer() as connection:
        connection.execute("DELETE FROM grants WHERE fan_key = (SELECT min(fan_key) FROM grants)")
    result = grants_match_the_store(**resources)
    assert not result.passed
    assert result.metadata["first"].value == "midnight-drive/spotify: warehouse 2, store 3"


def test_planned_actions_must_cover_every_grant_and_outcomes_must_be_known(store_and_warehouse) -> None:
    store, resources = store_and_warehouse
    with store.session() as session:
        campaign_row = session.query(Campaign).one()
        grant_rows = session.query(Grant).order_by(Grant.id).all()
        from campaigns import ledger

        ledger.plan(
            session,
            [
                {
                    "campaign_id": campaign_row.id,
                    "grant_id": g.id,
                    "service": "spotify",
                    "kind": "save_release",
                    "target": "release",
                    "due_at": campaign_row.release_at,
                }
                for g in grant_rows[:2]
            ],
        )
    assert dg.materialize([grants_asset, owed_actions_asset], resources=resources).success
    result = owed_actions_reconcile(**resources)
    assert not result.passed
    assert result.metadata["grants_missing_an_action"].value == 1
    assert (
        "midnight-drive/spotify: 1 grant(s) without a save_release action" in result.metadata["first"].value
    )
    with store.session() as session:
        ledger.plan(
            session,
            [
                {
                    "campaign_id": campaign_row.id,
                    "grant_id": grant_rows[2].id,
                    "service": "spotify",
                    "kind": "save_release",
                    "target": "release",
                    "due_at": campaign_row.release_at,
                }
            ],
        )
    assert dg.materialize([owed_actions_asset], resources=resources).success
    assert owed_actions_reconcile(**resources).passed
    with Warehouse(Path(resources["warehouse"].path)).writer() as connection:
        connection.execute("UPDATE owed_actions SET outcome = 'lost' WHERE action_id = 1")
    failed = owed_actions_reconcile(**resources)
    assert not failed.passed
    assert failed.metadata["unknown_outcomes"].value == 1
