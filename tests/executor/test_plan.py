"""Planning: what each grant is owed and when, from the campaign file and the fan's choices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from campaigns.campaign_file import parse_campaign
from campaigns.choices import FanChoices, parse_choices
from campaigns.models import Campaign, Grant, OwedAction
from campaigns.registry import create_campaign
from campaigns.store import Store
from executor.plan import CampaignPlan, GrantFacts, owed_actions, plan_campaign, release_moment

ARTIST = "spotify:artist:4Z8W4fKeB5YxbusRsdQVPb"
PLAYLIST = "spotify:playlist:37i9dQZF1DX0XUsuxWHRQd"
OTHER = "spotify:artist:0OdUWJ0sBjDrqHygGUXeCF"
GRANTED = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _plan(mode: str = "global", timezone: str = "Europe/London", **services: object) -> CampaignPlan:
    spec = parse_campaign(
        {
            "slug": "midnight-drive",
            "artist": "Nova Lane",
            "title": "Midnight Drive",
            "upc": "198880045560",
            "release_at": "2026-12-04T00:00",
            "timezone": timezone,
            "release_mode": mode,
            "services": services or {"spotify": {"artist": ARTIST, "follow": [PLAYLIST, OTHER]}},
        }
    )
    return CampaignPlan(1, spec, spec.release_at_utc, ZoneInfo(timezone), mode)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (None, FanChoices()),
        ({}, FanChoices()),
        ({"follows": [PLAYLIST], "playlist": None}, FanChoices((PLAYLIST,))),
        ({"follows": [PLAYLIST, PLAYLIST]}, FanChoices((PLAYLIST,))),
        ({"playlist": {"id": "abc"}}, FanChoices(playlist_id="abc")),
        ({"playlist": {"new": "  Nova on repeat "}}, FanChoices(new_playlist="Nova on repeat")),
        ({"follows": "oops"}, FanChoices()),
        ({"playlist": {"name": "x"}}, FanChoices()),
    ],
)
def test_choices_are_read_leniently(document: object, expected: FanChoices) -> None:
    assert parse_choices(document) == expected


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"follows": "oops"}, "choices.follows: expected a list"),
        ({"follows": [3]}, "choices.follows: 3 is not a URI"),
        ({"playlist": {"name": "x"}}, "choices.playlist"),
        (["not", "an", "object"], "expected an object"),
    ],
)
def test_malformed_choices_say_what_was_wrong(document: object, problem: str) -> None:
    assert any(problem in p for p in parse_choices(document).problems)


def test_a_spotify_grant_owes_the_save_the_follows_it_kept_and_its_playlist() -> None:
    plan = _plan()
    grant = GrantFacts(
        7,
        "spotify",
        GRANTED,
        {"follows": [PLAYLIST, "spotify:artist:notOffered"], "playlist": {"new": "Mine"}},
    )
    rows = {(r["kind"], r["target"]): r["due_at"] for r in owed_actions(plan, grant)}
    release = datetime(2026, 12, 4, 0, 0, tzinfo=UTC)  # midnight in London in December is UTC
    assert rows == {
        ("save_release", "release"): release,
        ("follow_artist", ARTIST): GRANTED,
        ("follow", PLAYLIST): GRANTED,
        ("add_to_playlist", "new:Mine"): release,
    }


def test_apple_and_deezer_grants_owe_their_services_actions() -> None:
    plan = _plan(spotify={"artist": ARTIST}, apple={"album_id": "1577502911"}, deezer={"artist_id": "27"})
    apple = {(r["kind"], r["target"]) for r in owed_actions(plan, GrantFacts(1, "apple", GRANTED, {}))}
    deezer = {(r["kind"], r["target"]) for r in owed_actions(plan, GrantFacts(2, "deezer", GRANTED, {}))}
    assert apple == {("save_release", "release")}
    assert deezer == {("save_release", "release"), ("follow_artist", "27")}
    assert owed_actions(_plan(), GrantFacts(3, "deezer", GRANTED, {})) == []  # Deezer not offered


def test_deezer_follows_on_release_day_and_a_preadded_apple_album_is_not_added_again() -> None:
    plan = _plan(apple={"album_id": "1577502911"}, deezer={"artist_id": "27"})
    deezer = owed_actions(plan, GrantFacts(1, "deezer", GRANTED, {"artist": "27"}))
    assert {r["due_at"] for r in deezer} == {plan.release_at}
    preadded = owed_actions(plan, GrantFacts(2, "apple", GRANTED, {"preadd": "1577502911"}))
    assert preadded == []  # Apple fills the pre-order in by itself at release


@pytest.mark.parametrize(
    ("service", "choices", "expected"),
    [
        ("apple", {"playlist": {"new": "Mine"}}, "new:Mine"),
        ("apple", {"preadd": "1577502911", "playlist": {"id": "p.QvDQE5RIVbzmkJ"}}, "p.QvDQE5RIVbzmkJ"),
        ("deezer", {"playlist": {"id": "908622995"}}, "908622995"),
        ("deezer", {"playlist": None}, None),
    ],
)
def test_apple_and_deezer_fans_are_owed_the_playlist_they_chose(
    service: str, choices: dict, expected: str | None
) -> None:
    plan = _plan(apple={"album_id": "1577502911"}, deezer={"artist_id": "27"})
    rows = owed_actions(plan, GrantFacts(1, service, GRANTED, choices))
    playlists = [(r["target"], r["due_at"]) for r in rows if r["kind"] == "add_to_playlist"]
    assert playlists == ([(expected, plan.release_at)] if expected else [])


@pytest.mark.parametrize(
    ("fan_timezone", "country", "expected_utc"),
    [
        ("Asia/Tokyo", None, datetime(2026, 12, 3, 15, 0, tzinfo=UTC)),
        ("America/Los_Angeles", "JP", datetime(2026, 12, 4, 8, 0, tzinfo=UTC)),  # the zone wins
        (None, "AU", datetime(2026, 12, 3, 13, 0, tzinfo=UTC)),  # Sydney in summer, UTC+11
        (None, "US", datetime(2026, 12, 4, 5, 0, tzinfo=UTC)),  # the most listened-in zone: New York
        ("Not/AZone", None, datetime(2026, 12, 4, 0, 0, tzinfo=UTC)),  # unknown: the campaign's zone
        (None, None, datetime(2026, 12, 4, 0, 0, tzinfo=UTC)),
    ],
)
def test_local_mode_is_midnight_where_the_fan_is(
    fan_timezone: str | None, country: str | None, expected_utc: datetime
) -> None:
    grant = GrantFacts(1, "spotify", GRANTED, {}, fan_timezone, country)
    assert release_moment(_plan("local"), grant) == expected_utc


def test_global_mode_is_one_moment_for_everyone() -> None:
    grant = GrantFacts(1, "spotify", GRANTED, {}, "Asia/Tokyo", "JP")
    assert release_moment(_plan("global", "Asia/Tokyo"), grant) == datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def _campaign(store: Store) -> Campaign:
    with store.session() as session:
        return create_campaign(session, _plan().spec)


def _grant(store: Store, campaign_id: int, user: str, choices: dict) -> int:
    with store.session() as session:
        grant = Grant(
            campaign_id=campaign_id,
            service="spotify",
            service_user_id=user,
            fan_key=user,
            access_token="sealed",
            choices=choices,
        )
        session.add(grant)
        session.flush()
        return grant.id


def _ledger(store: Store) -> set[tuple[int, str, str]]:
    with store.session() as session:
        return {
            tuple(row)
            for row in session.execute(select(OwedAction.grant_id, OwedAction.kind, OwedAction.target))
        }


def test_a_second_plan_adds_nothing_and_a_changed_choice_is_followed(store: Store) -> None:
    campaign = _campaign(store)
    first = _grant(store, campaign.id, "fan-1", {"follows": [PLAYLIST]})
    second = _grant(store, campaign.id, "fan-2", {})
    assert plan_campaign(store, campaign, chunk=1) == 5
    assert plan_campaign(store, campaign) == 0
    before = _ledger(store)

    with store.session() as session:  # the fan finishes the done page later: a playlist, no more follow
        grant = session.get_one(Grant, first)
        grant.choices = {"follows": [], "playlist": {"id": "abc"}}
        grant.updated_at = datetime.now(UTC) + timedelta(seconds=1)
    assert plan_campaign(store, campaign) == 1
    after = _ledger(store)
    assert after - before == {(first, "add_to_playlist", "abc")}
    assert before - after == {(first, "follow", PLAYLIST)}  # withdrawn: never attempted
    assert (second, "save_release", "release") in after


def test_planning_a_large_campaign_goes_in_bounded_chunks(store: Store) -> None:
    campaign = _campaign(store)
    with store.session() as session:
        session.execute(
            Grant.__table__.insert(),
            [
                {
                    "campaign_id": campaign.id,
                    "service": "spotify",
                    "service_user_id": f"fan-{n}",
                    "fan_key": f"k{n}",
                    "access_token": "sealed",
                    "scopes": "",
                    "status": "active",
                    "choices": {},
                    "granted_at": GRANTED,
                    "created_at": GRANTED,
                    "updated_at": GRANTED,
                }
                for n in range(2500)
            ],
        )
    assert plan_campaign(store, campaign, chunk=700) == 5000
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(OwedAction)) == 5000
        assert session.scalar(select(func.count()).where(Grant.planned_at.is_(None))) == 0


def test_grants_alike_and_a_fan_with_own_choices_are_planned_together(store: Store) -> None:
    campaign = _campaign(store)
    alike = [_grant(store, campaign.id, f"fan-{n}", {"follows": [PLAYLIST]}) for n in range(20)]
    own = _grant(store, campaign.id, "fan-own", {"playlist": {"new": "Mine"}})
    assert plan_campaign(store, campaign) == 20 * 3 + 3
    ledger = _ledger(store)
    assert all((grant, "follow", PLAYLIST) in ledger for grant in alike)
    assert (own, "add_to_playlist", "new:Mine") in ledger
    assert (own, "follow", PLAYLIST) not in ledger
    with store.session() as session:  # follows are due at each fan's own grant moment, the save at release
        due = session.execute(
            select(OwedAction.kind, OwedAction.due_at, Grant.granted_at).join(
                Grant, Grant.id == OwedAction.grant_id
            )
        ).all()
    assert all(
        row.due_at == row.granted_at
        for row in due
        if row.kind != "save_release" and row.kind != "add_to_playlist"
    )
    assert {row.due_at for row in due if row.kind == "save_release"} == {campaign.release_at}
