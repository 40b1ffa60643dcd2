"""Backdated campaign histories: visitors, clicks per service, denials and abandonments at realistic rates,
written as the landing app would have, and the same story in the ground truth."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from campaigns.campaign_file import parse_campaign
from campaigns.models import Grant, LandingEvent, OwedAction
from campaigns.registry import create_campaign
from campaigns.store import Store
from campaigns.vault import PseudonymKeys, TokenVault
from sandbox.history import arrival_moments, write_campaign_history
from sandbox.truth import GroundTruth
from tests.conftest import PSEUDONYM_KEY

ARTIST = "spotify:artist:4Z8W4fKeB5YxbusRsdQVPb"


def _campaign(store: Store, slug: str, release_at: datetime) -> None:
    spec = parse_campaign(
        {
            "slug": slug,
            "artist": "Nova Lane",
            "title": slug.title(),
            "upc": "198880045560",
            "release_at": release_at.replace(tzinfo=None).isoformat(timespec="seconds"),
            "timezone": "UTC",
            "services": {"spotify": {"artist": ARTIST}, "apple": {}, "deezer": {"artist_id": "27"}},
        }
    )
    with store.session() as session:
        create_campaign(session, spec)


@pytest.fixture
def vault() -> TokenVault:
    return TokenVault([Fernet.generate_key().decode()], PseudonymKeys(PSEUDONYM_KEY))


def test_a_past_campaign_holds_visits_clicks_denials_and_abandonments(
    store: Store, vault: TokenVault
) -> None:
    release_at = datetime(2026, 9, 4, tzinfo=UTC)
    _campaign(store, "glass-harbour", release_at)
    truth = GroundTruth()
    written = write_campaign_history(store, vault, "glass-harbour", 300, seed=3, truth=truth)
    with store.session() as session:
        events = session.execute(
            select(LandingEvent.kind, LandingEvent.service, LandingEvent.visitor_id)
        ).all()
        grants = Counter(session.scalars(select(Grant.service)).all())
        actions = Counter(
            session.execute(select(OwedAction.kind, OwedAction.service, OwedAction.outcome)).all()
        )
    kinds = Counter((kind, service) for kind, service, _ in events)
    assert written == sum(grants.values()) == 300
    assert max(f.granted_at for f in truth.fans if f.granted_at) < release_at  # every one a pre-save
    assert set(grants) == {"spotify", "apple", "deezer"}
    visits = [visitor for kind, _, visitor in events if kind == "visit"]
    assert len(set(visits)) == len(visits) == len(truth.fans)
    for service in ("spotify", "apple", "deezer"):
        clicks = kinds[("click", service)]
        assert kinds[("grant", service)] == grants[service]
        assert 0.7 < grants[service] / clicks < 0.95  # denials and abandonments, not 100% by construction
    assert kinds[("denial", "spotify")] > 0
    assert kinds[("denial", "apple")] > 0
    abandoned = sum(kinds[("click", s)] - kinds[("grant", s)] - kinds[("denial", s)] for s in grants)
    assert abandoned == sum(1 for f in truth.fans if f.outcome == "abandoned") > 0
    assert 0.55 < sum(kinds[("click", s)] for s in grants) / len(visits) < 0.85
    saves = sum(n for (kind, _, _), n in actions.items() if kind == "save_release")
    assert saves == 300
    assert 0 < sum(n for (kind, _, outcome), n in actions.items() if outcome == "undeliverable") < 30
    assert actions[("follow_artist", "spotify", "delivered")] == grants["spotify"]
    truth_counts = Counter((f.service, f.outcome) for f in truth.fans)
    assert {s: truth_counts[(s, "granted")] for s in grants} == dict(grants)
    assert {s: truth_counts[(s, "declined")] for s in grants} == {s: kinds[("denial", s)] for s in grants}


def test_an_upcoming_campaign_collects_until_now_and_owes_its_release_day(
    store: Store, vault: TokenVault
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    _campaign(store, "tidewater", now + timedelta(days=10))
    truth = GroundTruth()
    write_campaign_history(store, vault, "tidewater", 150, seed=4, truth=truth, until=now, window_days=31)
    with store.session() as session:
        grants = session.scalars(select(Grant)).all()
        kinds = set(session.scalars(select(OwedAction.kind)).all())
    moments = [g.granted_at for g in grants]
    assert max(moments) <= now
    assert min(moments) >= now - timedelta(days=21)
    assert len({m.date() for m in moments}) >= 15  # pre-saves spread over the three weeks, not one day
    assert {g.status for g in grants} == {"active"}
    assert kinds == {"follow_artist"}  # the saves are owed at release, planned by the executor then


@pytest.mark.parametrize("days", [3, 28])
def test_arrivals_stay_inside_their_window_and_crowd_its_two_ends(days: int) -> None:
    import random

    release_at = datetime(2026, 9, 4, tzinfo=UTC)
    opens = release_at - timedelta(days=days)
    moments = arrival_moments(opens, release_at, release_at, 2000, random.Random(1))
    assert opens <= moments[0]
    assert moments[-1] < release_at
    if days == 28:
        per_day = Counter((m - opens).days for m in moments)
        assert per_day[0] > 2 * per_day[14]
        assert per_day[27] > 2 * per_day[14]
