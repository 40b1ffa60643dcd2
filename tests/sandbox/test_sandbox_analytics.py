"""The audience simulator: pre-savers lift week one, and the file looks like a Spotify for Artists export."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sandbox.analytics import ReleaseInput, simulate_audience_timeline, write_spotify_audience_timeline

RELEASE = date(2026, 3, 6)


def week_one_streams(presaves: int, seed: int = 7) -> int:
    days = simulate_audience_timeline(
        [ReleaseInput(RELEASE, presaves)],
        RELEASE - timedelta(days=30),
        RELEASE + timedelta(days=30),
        seed=seed,
    )
    return sum(d.streams for d in days if RELEASE <= d.date < RELEASE + timedelta(days=7))


def test_presavers_stream_more_in_week_one() -> None:
    assert week_one_streams(2000) > week_one_streams(0) + 2000 * 5


def test_same_seed_same_numbers_other_seed_other_numbers() -> None:
    assert week_one_streams(500, seed=1) == week_one_streams(500, seed=1)
    assert week_one_streams(500, seed=1) != week_one_streams(500, seed=2)


def test_streams_decay_after_week_one() -> None:
    days = simulate_audience_timeline(
        [ReleaseInput(RELEASE, 3000)], RELEASE, RELEASE + timedelta(days=40), seed=3, baseline_listeners=10
    )
    first_week = sum(d.streams for d in days[:7])
    fifth_week = sum(d.streams for d in days[28:35])
    assert fifth_week < first_week / 4


def test_followers_never_fall_and_grow_with_presaves() -> None:
    days = simulate_audience_timeline(
        [ReleaseInput(RELEASE, 1000)], RELEASE - timedelta(days=40), RELEASE + timedelta(days=10), seed=5
    )
    followers = [d.followers for d in days]
    assert followers == sorted(followers)
    assert followers[-1] - followers[0] > 700


def test_written_like_the_real_export(tmp_path: Path) -> None:
    days = simulate_audience_timeline(
        [ReleaseInput(RELEASE, 10)], RELEASE, RELEASE + timedelta(days=2), seed=1
    )
    path = write_spotify_audience_timeline(tmp_path, "Nova Lane", days)
    assert path.name == "Nova Lane-audience-timeline.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfdate,listeners,streams,followers\n")
    assert b"\r" not in raw
    lines = raw.decode("utf-8-sig").splitlines()
    assert len(lines) == 4
    first = lines[1].split(",")
    assert first[0] == "2026-03-06"
    assert all(part.isdigit() for part in first[1:])
