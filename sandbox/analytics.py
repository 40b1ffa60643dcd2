"""Simulated audience numbers after releases, written as the artists' real exports look.

The model, per day: an organic baseline of listeners (noisy around `baseline_listeners`); for each
release, pre-savers who stream it heavily in its first week and then taper off, plus an organic bump
that decays; followers that grow with pre-save follows (spread over the weeks before release) and
with listening. Everything draws from one seeded generator, so a seed gives the same files.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

PRESAVE_WINDOW_DAYS = 28  # pre-saves (and the follows that come with them) accrue over this many days
WEEK_ONE_STREAMS_PER_PRESAVER = 1.6  # per day in week one, for a pre-saver still listening
PRESAVER_DECAY_DAYS = 9.0
ORGANIC_BUMP = 0.8  # a release lifts daily listeners by this share of the baseline on day one
ORGANIC_DECAY_DAYS = 6.0
STREAMS_PER_LISTENER = 1.45


@dataclass(frozen=True)
class ReleaseInput:
    """One release of the artist: its day, and how many fans pre-saved it."""

    release_date: date
    presaves: int
    title: str = ""


@dataclass(frozen=True)
class AudienceDay:
    date: date
    listeners: int
    streams: int
    followers: int


def presaver_streams_per_day(days_since_release: int) -> float:
    """Expected streams per pre-saver on a day after release: heavy in week one, decaying after."""
    if days_since_release < 0:
        return 0.0
    if days_since_release < 7:
        return WEEK_ONE_STREAMS_PER_PRESAVER * math.exp(-days_since_release / (3 * PRESAVER_DECAY_DAYS))
    return (
        WEEK_ONE_STREAMS_PER_PRESAVER
        * math.exp(-7 / (3 * PRESAVER_DECAY_DAYS))
        * math.exp(-(days_since_release - 7) / PRESAVER_DECAY_DAYS)
    )


def simulate_audience_timeline(
    releases: Sequence[ReleaseInput],
    start: date,
    end: date,
    *,
    seed: int = 0,
    baseline_listeners: float = 40.0,
    baseline_followers: int = 120,
) -> list[AudienceDay]:
    """One row per day from `start` to `end` inclusive."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    rng = np.random.default_rng(seed)
    days = []
    followers = float(baseline_followers)
    day = start
    while day <= end:
        expected_listeners = baseline_listeners * (1 + 0.08 * math.sin(2 * math.pi * day.weekday() / 7))
        expected_streams = expected_listeners * STREAMS_PER_LISTENER
        new_follows = 0.0
        for release in releases:
            t = (day - release.release_date).days
            if -PRESAVE_WINDOW_DAYS <= t < 0:
                new_follows += 0.85 * release.presaves / PRESAVE_WINDOW_DAYS
            if t >= 0:
                bump = baseline_listeners * ORGANIC_BUMP * math.exp(-t / ORGANIC_DECAY_DAYS)
                presaver_streams = release.presaves * presaver_streams_per_day(t)
                presaver_listeners = presaver_streams / WEEK_ONE_STREAMS_PER_PRESAVER
                expected_listeners += bump + presaver_listeners
                expected_streams += bump * STREAMS_PER_LISTENER + presaver_streams
        listeners = int(rng.poisson(expected_listeners))
        streams = max(listeners, int(rng.poisson(expected_streams)))
        followers += new_follows + float(rng.poisson(0.004 * listeners * 10)) / 10
        days.append(AudienceDay(day, listeners, streams, int(followers)))
        day += timedelta(days=1)
    return days


def write_spotify_audience_timeline(directory: Path, artist: str, days: Sequence[AudienceDay]) -> Path:
    """`<Artist>-audience-timeline.csv`: UTF-8 with a BOM, LF, header `date,listeners,streams,followers`."""
    path = directory / f"{artist}-audience-timeline.csv"
    directory.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["date", "listeners", "streams", "followers"])
        for row in days:
            writer.writerow([row.date.isoformat(), row.listeners, row.streams, row.followers])
    return path
