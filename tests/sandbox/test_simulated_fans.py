"""The fan simulator through the real landing flow: each fan is a visitor of their own, and the ground
truth it records matches what the landing app stored."""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest
from sqlalchemy import select

from campaigns.models import Grant, LandingEvent
from sandbox.fans import loopback_aliases, plan_fans, register_fans, simulate_fans
from sandbox.truth import GroundTruth, load_truth
from tests.integration.conftest import System, add_release, soon, system
from tests.integration.landing_helpers import add_campaign, flush

__all__ = ["system"]

SERVICES = (("spotify", 0.5), ("apple", 0.3), ("deezer", 0.2))


@pytest.fixture
def walked(system: System) -> tuple[System, GroundTruth]:
    add_release(system, "198880045560", soon())
    add_campaign(system, "midnight-drive", soon())
    plans = plan_fans(
        24,
        seed=4,
        services=SERVICES,
        decline_rates={"spotify": 0.2, "apple": 0.2, "deezer": 0.2},
        abandon_rates={"spotify": 0.2, "apple": 0.2, "deezer": 0.2},
    )
    register_fans(system.sandbox_url, plans)
    truth = GroundTruth()
    report = simulate_fans(
        system.landing_url,
        "midnight-drive",
        plans,
        sandbox_url=system.sandbox_url,
        concurrency=8,
        truth=truth,
    )
    assert set(report.outcomes) <= {"visited", "abandoned", "declined", "failed", "granted"}, report.outcomes
    flush(system)
    return system, truth


def test_no_two_simulated_fans_share_a_visitor_in_the_landing_events(
    walked: tuple[System, GroundTruth],
) -> None:
    system, truth = walked
    with system.store.session() as session:
        recorded = session.execute(select(LandingEvent.visitor_id, LandingEvent.kind)).all()
    visits = [visitor for visitor, kind in recorded if kind == "visit"]
    assert len(visits) == len(truth.fans)
    assert len(set(visits)) == len(visits), Counter(visits).most_common(3)
    fans_of_visitor: dict[str, set[str]] = defaultdict(set)
    for fan in truth.fans:
        assert fan.visitor_id is not None
        fans_of_visitor[fan.visitor_id].add(fan.fan_id)
    shared = {v: fans for v, fans in fans_of_visitor.items() if len(fans) > 1}
    assert not shared
    assert {visitor for visitor, _ in recorded} == set(fans_of_visitor)  # every event is a known fan's


@pytest.mark.skipif(not loopback_aliases(), reason="this system routes only 127.0.0.1 to loopback")
def test_each_simulated_fan_reaches_the_landing_app_from_an_address_of_their_own(
    walked: tuple[System, GroundTruth],
) -> None:
    system, truth = walked
    with system.store.session() as session:
        addresses = session.execute(
            select(LandingEvent.visitor_id, LandingEvent.ip_hash).where(LandingEvent.kind == "visit")
        ).all()
    hashes = [ip_hash for _, ip_hash in addresses]
    assert None not in hashes
    assert len(set(hashes)) == len(truth.fans)  # the landing app hashes the peer address it sees


def test_the_truth_counts_what_the_landing_app_stored_per_fan(walked: tuple[System, GroundTruth]) -> None:
    system, truth = walked
    with system.store.session() as session:
        grants = Counter(session.scalars(select(Grant.service)).all())
        denials = Counter(
            session.scalars(select(LandingEvent.service).where(LandingEvent.kind == "denial")).all()
        )
        zones = set(session.scalars(select(Grant.fan_timezone)).all())
    outcomes = Counter((f.service, f.outcome) for f in truth.fans)
    assert grants == Counter({s: n for (s, o), n in outcomes.items() if o == "granted"})
    assert denials == Counter({s: n for (s, o), n in outcomes.items() if o == "declined"})
    assert {o for _, o in outcomes} == {"visited", "abandoned", "declined", "granted"}
    assert zones == {f.timezone for f in truth.fans if f.outcome == "granted"}
    assert len({f.ip for f in truth.fans}) == len(truth.fans)


def test_the_truth_reads_back_as_it_was_written(walked: tuple[System, GroundTruth], tmp_path) -> None:
    _, truth = walked
    again = load_truth(truth.write(tmp_path / "truth.json"))
    assert again.fans == truth.fans
    conversion = again.conversion("midnight-drive")
    assert conversion["page"]["visited"] == len(truth.fans)
    assert sum(row["granted"] for key, row in conversion.items() if key != "page") == 24
