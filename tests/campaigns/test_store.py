from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError

from campaigns.models import Campaign, CampaignVersion, Grant, OwedAction
from campaigns.store import Store, alembic_config, make_engine, migrate, pooler_args


def _campaign(slug: str = "midnight-drive") -> Campaign:
    return Campaign(
        slug=slug,
        artist="Nova Lane",
        title="Midnight Drive",
        upc="198880045560",
        release_at=datetime(2026, 12, 4, tzinfo=UTC),
        timezone="Europe/London",
        spec={"slug": slug},
    )


def test_migration_creates_every_table(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {"campaigns", "grants", "landing_events", "consent_records", "owed_actions"} <= tables
    assert "alembic_version" in tables


def test_migrating_twice_changes_nothing(store: Store) -> None:
    migrate(store.engine)
    with store.engine.connect() as connection:
        version = connection.execute(text("select version_num from alembic_version")).scalar_one()
    head = ScriptDirectory.from_config(alembic_config(str(store.engine.url))).get_current_head()
    assert version == head


def test_datetimes_come_back_aware_utc(store: Store) -> None:
    with store.session() as session:
        session.add(_campaign())
    with store.session() as session:
        campaign = session.scalars(select(Campaign)).one()
        assert campaign.release_at == datetime(2026, 12, 4, tzinfo=UTC)
        assert campaign.release_at.tzinfo is not None


def test_one_grant_per_service_account_and_campaign(store: Store) -> None:
    with store.session() as session:
        campaign = _campaign()
        session.add(campaign)
        session.flush()
        grant = dict(
            campaign_id=campaign.id, service="spotify", service_user_id="fan1", fan_key="k", access_token="x"
        )
        session.add(Grant(**grant))
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(Grant(**grant))


def test_an_owed_action_is_planned_once(store: Store) -> None:
    with store.session() as session:
        campaign = _campaign()
        session.add(campaign)
        session.flush()
        grant = Grant(
            campaign_id=campaign.id, service="spotify", service_user_id="f", fan_key="k", access_token="x"
        )
        session.add(grant)
        session.flush()
        action = dict(
            campaign_id=campaign.id,
            grant_id=grant.id,
            service="spotify",
            kind="save_album",
            target="spotify:album:abc",
            due_at=campaign.release_at,
        )
        session.add(OwedAction(**action))
    with pytest.raises(IntegrityError), store.session() as session:
        session.add(OwedAction(**action))


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:
    store = Store.connect(f"sqlite:///{tmp_path / 'p.db'}")
    with store.engine.connect() as connection:
        assert connection.execute(text("pragma journal_mode")).scalar_one() == "wal"
    store.dispose()


def test_campaigns_made_before_the_history_existed_start_it_as_version_one(store: Store) -> None:
    from alembic import command

    config = alembic_config(store.engine.url.render_as_string(hide_password=False))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005_messages")
    with store.session() as session:
        session.add(_campaign("older"))
    migrate(store.engine)
    with store.session() as session:
        [version] = session.scalars(select(CampaignVersion))
        assert (version.version, version.changed_by, version.spec) == (1, "before history", {"slug": "older"})


def _grant(session: object, campaign_id: int, user: str) -> Grant:
    grant = Grant(
        campaign_id=campaign_id, service="spotify", service_user_id=user, fan_key=user, access_token="x"
    )
    session.add(grant)  # type: ignore[attr-defined]
    session.flush()  # type: ignore[attr-defined]
    return grant


def test_the_id_of_an_erased_newest_grant_never_comes_back(store: Store) -> None:
    """A done-page cookie names its grant by id: a new fan must never get the id of one erased or merged."""
    with store.session() as session:
        campaign = _campaign()
        session.add(campaign)
        session.flush()
        _grant(session, campaign.id, "first")
        erased = _grant(session, campaign.id, "erased").id
    with store.session() as session:
        session.delete(session.get(Grant, erased))
    with store.session() as session:
        assert _grant(session, campaign.id, "next").id > erased


def test_upgrading_an_sqlite_store_keeps_every_grant_and_what_points_to_it(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    old = Store.connect(url, upgrade=False)
    config = alembic_config(url)
    with old.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0008_grant_merges")
    with old.session() as session:
        campaign = _campaign()
        session.add(campaign)
        session.flush()
        grants = [_grant(session, campaign.id, f"fan-{n}") for n in range(3)]
        for grant in grants:
            session.add(
                OwedAction(
                    campaign_id=campaign.id,
                    grant_id=grant.id,
                    service="spotify",
                    kind="save_release",
                    target="spotify:album:abc",
                    due_at=campaign.release_at,
                )
            )
        newest = grants[-1].id
    with old.session() as session:  # the newest merged into the first, as `campaigns.identity` does
        session.execute(text("DELETE FROM owed_actions WHERE grant_id = :id"), {"id": newest})
        session.execute(text("DELETE FROM grants WHERE id = :id"), {"id": newest})
        session.execute(
            text("INSERT INTO grant_merges VALUES (:merged, :into, CURRENT_TIMESTAMP)"),
            {"merged": newest, "into": grants[0].id},
        )
    old.dispose()

    store = Store.connect(url)

    with store.session() as session:
        assert len(session.scalars(select(Grant)).all()) == 2
        assert len(session.scalars(select(OwedAction)).all()) == 2
        assert _grant(session, campaign.id, "after").id > newest  # a merged grant's id stays its cookie's
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    store.dispose()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, {}),
        ({"prepare_threshold": "none"}, {"prepare_threshold": None}),
        ({"prepare_threshold": "None"}, {"prepare_threshold": None}),
        ({"prepare_threshold": "0"}, {"prepare_threshold": 0}),
        ({"sslmode": "require"}, {}),
    ],
)
def test_a_url_through_a_transaction_pooler_turns_psycopgs_prepared_statements_off(
    query: dict[str, str], expected: dict[str, object]
) -> None:
    assert pooler_args(query) == expected


def test_the_pooler_parameter_never_reaches_libpq() -> None:
    engine = make_engine("postgresql+psycopg://presave:pw@127.0.0.1:6432/presave?prepare_threshold=none")
    try:
        assert dict(engine.url.query) == {}
    finally:
        engine.dispose()
