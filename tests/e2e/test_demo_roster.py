"""The demo's roster: the committed campaign files, moved to the day the demo runs."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from presave.demo import LIVE_SLUG, ROSTER_DAY, ROSTER_DIR, load_roster


@pytest.mark.parametrize("today", [ROSTER_DAY, date(2027, 3, 15), date(2026, 6, 1)])
def test_the_roster_is_a_label_with_a_live_an_upcoming_and_past_campaigns_on_any_day(today: date) -> None:
    live_at = datetime.combine(today, datetime.min.time(), UTC) + timedelta(hours=9, minutes=1)
    roster = load_roster(ROSTER_DIR, live_at, today=today)
    kinds = Counter(c.kind for c in roster)
    assert len({c.spec.artist for c in roster}) >= 3
    assert len(roster) >= 10
    assert kinds == {"history": len(roster) - 2, "live": 1, "upcoming": 1}
    live = next(c for c in roster if c.kind == "live")
    assert live.slug == LIVE_SLUG
    assert live.release_at == live_at
    upcoming = next(c for c in roster if c.kind == "upcoming")
    assert timedelta(days=9) < upcoming.release_at - live_at < timedelta(days=11)
    assert all(c.release_at < live_at - timedelta(days=20) for c in roster if c.kind == "history")


def test_every_campaign_moves_by_the_same_whole_days() -> None:
    live_at = datetime(2026, 12, 2, 9, tzinfo=UTC)
    before = {c.slug: c.release_at for c in load_roster(ROSTER_DIR, live_at, today=ROSTER_DAY)}
    later = {
        c.slug: c.release_at for c in load_roster(ROSTER_DIR, live_at, today=ROSTER_DAY + timedelta(days=40))
    }
    moved = {slug: later[slug] - before[slug] for slug in before if slug != LIVE_SLUG}
    assert set(moved.values()) <= {
        timedelta(days=40),
        timedelta(days=40, hours=1),
        timedelta(days=40, hours=-1),
    }
