"""Future saves: opted-in fans carried over to the artist's next campaign once, saved through the ledger
once; withdrawn with one click."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from campaigns import message_ledger
from campaigns.future_saves import FUTURE_SCOPE, is_future_save, plan_future_saves
from campaigns.models import ActionKind, Campaign, ConsentRecord, FanMessage, Grant, OwedAction
from campaigns.store import Store
from campaigns.vault import TokenVault
from executor.plan import plan_campaign
from pipelines.future_saves.origins import TABLE, origin_counts, write_origins
from pipelines.warehouse import Warehouse
from tests.messages.world import add_fan, make_campaign

NOW = datetime(2026, 12, 10, tzinfo=UTC)


def opt_in(store: Store, grant_id: int, campaign_id: int) -> None:
    with store.session() as session:
        session.add(
            ConsentRecord(
                campaign_id=campaign_id,
                grant_id=grant_id,
                scope=FUTURE_SCOPE,
                text_version="1-test",
                text="Also save the next releases.",
                given_at=NOW - timedelta(days=30),
            )
        )


def next_campaign(store: Store, slug: str = "second-single", artist: str = "Nova Lane") -> Campaign:
    make_campaign(store, slug=slug, artist=artist, release_at="2027-01-15T00:00")
    with store.session() as session:
        return session.scalars(select(Campaign).where(Campaign.slug == slug)).one()


def carry(store: Store, campaign: Campaign) -> int:
    with store.session() as session:
        return plan_future_saves(session, campaign, NOW)


def grants_of(store: Store, campaign_id: int) -> list[Grant]:
    with store.session() as session:
        return list(session.scalars(select(Grant).where(Grant.campaign_id == campaign_id)))


def test_an_opted_in_fan_is_carried_to_the_artists_next_campaign_once_and_saved_once(
    store: Store, vault: TokenVault
) -> None:
    first = make_campaign(store)
    keen = add_fan(store, vault, first, "keen", email=None, consent=False)
    add_fan(store, vault, first, "once-only", email=None, consent=False)
    opt_in(store, keen, first)
    second = next_campaign(store)
    other_artist = next_campaign(store, slug="someone-else", artist="Mara Ellis")

    added = carry(store, second)
    again = carry(store, second)
    plan_campaign(store, second)
    plan_campaign(store, second)

    assert (added, again) == (1, 0)
    assert carry(store, other_artist) == 0
    [carried] = grants_of(store, second.id)
    with store.session() as session:
        source = session.get(Grant, keen)
        assert source is not None
        saves = session.scalars(
            select(OwedAction.grant_id).where(
                OwedAction.campaign_id == second.id, OwedAction.kind == ActionKind.SAVE_RELEASE
            )
        ).all()
    assert is_future_save(carried.choices)
    assert carried.fan_key == source.fan_key
    assert carried.granted_at == source.granted_at  # the refresh token's age is the fan's grant's
    assert carried.access_token == source.access_token
    assert Counter(saves) == {carried.id: 1}


def test_a_fan_who_pre_saved_the_next_release_themselves_is_not_carried_over_again(
    store: Store, vault: TokenVault
) -> None:
    first = make_campaign(store)
    keen = add_fan(store, vault, first, "keen", email=None, consent=False)
    opt_in(store, keen, first)
    second = next_campaign(store)
    add_fan(store, vault, second.id, "keen", email=None, consent=False, granted_at=NOW)

    assert carry(store, second) == 0
    assert len(grants_of(store, second.id)) == 1
    assert not is_future_save(grants_of(store, second.id)[0].choices)


def test_unsubscribing_stops_future_saves_still_to_come(store: Store, vault: TokenVault) -> None:
    first = make_campaign(store)
    keen = add_fan(store, vault, first, "keen", email="keen@mail.example")
    opt_in(store, keen, first)
    second = next_campaign(store)
    carry(store, second)
    with store.session() as session:
        message_ledger.plan(
            session,
            [
                {
                    "campaign_id": first,
                    "grant_id": keen,
                    "service": "spotify",
                    "kind": "release_day",
                    "recipient_key": "k",
                    "due_at": NOW,
                    "created_at": NOW,
                }
            ],
        )
        message_id = session.scalar(select(FanMessage.id))
    assert message_id is not None

    with store.session() as session:
        ended = message_ledger.unsubscribe(session, message_id, now=NOW)

    assert ended == 2  # the email consent and the future-save consent
    assert grants_of(store, second.id) == []
    assert carry(store, second) == 0


def test_one_time_and_future_pre_saves_are_counted_apart_in_the_warehouse(
    store: Store, vault: TokenVault, tmp_path: Path
) -> None:
    first = make_campaign(store)
    keen = add_fan(store, vault, first, "keen", email=None, consent=False)
    add_fan(store, vault, first, "casual", email=None, consent=False)
    add_fan(store, vault, first, "deezer-fan", email=None, consent=False, service="deezer")
    opt_in(store, keen, first)
    second = next_campaign(store)
    carry(store, second)
    add_fan(store, vault, second.id, "new-fan", email=None, consent=False)
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")

    with warehouse.writer() as connection:
        write_origins(connection, origin_counts(store, chunk=2))
    with warehouse.reader() as connection:
        rows = connection.execute(f"SELECT * FROM {TABLE} ORDER BY ALL").fetchall()

    assert rows == [
        ("midnight-drive", "deezer", 1, 0),
        ("midnight-drive", "spotify", 2, 0),
        ("second-single", "spotify", 1, 1),
    ]
