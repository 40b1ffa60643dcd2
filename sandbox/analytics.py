"""Simulated listening after releases: daily streams, listeners, saves and followers per release, song,
country and service, from one seeded generator.

The model, per release and country and day `t` after release:
- pre-savers (the country's share of the release's pre-saves) stream it heavily in week one, then
  taper off (`presaver_streams_per_day`); their saves land on release day (the pre-save itself), and
  the follows that came with the pre-saves accrue over the four weeks before release (or on the days
  given in `follows_by_day`, the ledger's follows);
- the artist's organic audience (a baseline of daily listeners split over countries) gets a bump
  on release that decays over about a week, with a small share saving and following;
- Apple Music gets its own, smaller organic audience plus the fans who pre-added there.
Counts are Poisson or binomial draws around those expectations. `sandbox.exports` writes the result
in the layouts of Spotify for Artists, Apple Music for Artists and DistroKid.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import numpy as np

from sandbox.audience import COUNTRY_SHARES

PRESAVE_WINDOW_DAYS = 28  # pre-saves (and the follows that come with them) accrue over this many days
WEEK_ONE_STREAMS_PER_PRESAVER = 1.6  # per day in week one
PRESAVER_DECAY_DAYS = 9.0
ORGANIC_BUMP = 0.8  # a release lifts daily listeners by this share of the baseline on day one
ORGANIC_DECAY_DAYS = 6.0
STREAMS_PER_LISTENER = 1.45
ORGANIC_SAVE_RATE = 0.04  # of a day's new organic listeners of a release
FOLLOW_RATE = 0.004  # of a day's listeners
PRESAVE_FOLLOW_RATE = 0.85  # pre-saves that also followed the artist
PRESAVE_DELIVERY_RATE = 0.97  # pre-saves still delivered on release day (grants lost before then)
APPLE_AUDIENCE_SHARE = 0.3  # Apple Music's organic audience, relative to Spotify's
DEFAULT_COUNTRY_SHARES: Mapping[str, float] = COUNTRY_SHARES  # the same mix as the simulated fans

Service = Literal["spotify", "apple"]


@dataclass(frozen=True)
class SongInput:
    title: str
    isrc: str


@dataclass(frozen=True)
class ReleaseInput:
    """One release of the artist: its day, and how many fans pre-saved it (in total, or per country)."""

    release_date: date
    presaves: int
    title: str = ""
    upc: str = ""
    songs: tuple[SongInput, ...] = ()
    presaves_by_country: Mapping[str, int] | None = None
    apple_preadds: int = 0
    follows_by_day: Mapping[date, int] | None = None  # the pre-savers' follows, when known per day

    def presaves_in(self, countries: Mapping[str, float]) -> dict[str, int]:
        if self.presaves_by_country is not None:
            return dict(self.presaves_by_country)
        return _split(self.presaves, countries)

    @property
    def song_list(self) -> tuple[SongInput, ...]:
        return self.songs or (SongInput(self.title or "Untitled", ""),)


@dataclass(frozen=True)
class DailyRow:
    """One release, country, service and day."""

    date: date
    service: Service
    release: str
    upc: str
    country: str
    streams: int
    listeners: int
    saves: int
    new_followers: int


@dataclass(frozen=True)
class SongDay:
    date: date
    service: Service
    release: str
    upc: str
    song: str
    isrc: str
    country: str
    streams: int
    listeners: int
    saves: int


@dataclass(frozen=True)
class AudienceDay:
    date: date
    listeners: int
    streams: int
    followers: int


@dataclass
class Simulation:
    artist: str
    start: date
    end: date
    releases: Sequence[ReleaseInput]
    daily: list[DailyRow] = field(default_factory=list)
    songs: list[SongDay] = field(default_factory=list)
    audience: list[AudienceDay] = field(default_factory=list)  # Spotify, catalogue-wide
    apple_listeners: list[tuple[date, int]] = field(default_factory=list)


def presaver_streams_per_day(days_since_release: int) -> float:
    """Expected streams per pre-saver on a day after release: heavy in week one, decaying after."""
    if days_since_release < 0:
        return 0.0
    week_one = math.exp(-min(days_since_release, 7) / (3 * PRESAVER_DECAY_DAYS))
    after = math.exp(-max(days_since_release - 7, 0) / PRESAVER_DECAY_DAYS)
    return WEEK_ONE_STREAMS_PER_PRESAVER * week_one * after


def organic_bump(days_since_release: int) -> float:
    return (
        ORGANIC_BUMP * math.exp(-days_since_release / ORGANIC_DECAY_DAYS) if days_since_release >= 0 else 0.0
    )


def _split(total: int, shares: Mapping[str, float]) -> dict[str, int]:
    """`total` over the countries by share, rounding so the parts add up to the total."""
    weight = sum(shares.values())
    raw = {c: total * s / weight for c, s in shares.items()}
    parts = {c: int(v) for c, v in raw.items()}
    for country in sorted(raw, key=lambda c: raw[c] - parts[c], reverse=True)[: total - sum(parts.values())]:
        parts[country] += 1
    return parts


def _song_weights(count: int) -> list[float]:
    """The focus track (the first) takes the most streams; the rest share what is left."""
    if count == 1:
        return [1.0]
    return [0.6] + [0.4 / (count - 1)] * (count - 1)


def simulate(
    artist: str,
    releases: Sequence[ReleaseInput],
    start: date,
    end: date,
    *,
    seed: int = 0,
    baseline_listeners: float = 40.0,
    baseline_followers: int = 120,
    countries: Mapping[str, float] = DEFAULT_COUNTRY_SHARES,
) -> Simulation:
    """Every day from `start` to `end` inclusive."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    rng = np.random.default_rng(seed)
    result = Simulation(artist, start, end, releases)
    followers = float(baseline_followers)
    shares = {c: s / sum(countries.values()) for c, s in countries.items()}
    presaves = [r.presaves_in(countries) for r in releases]
    apple_preadds = [_split(r.apple_preadds, countries) for r in releases]
    day = start
    while day <= end:
        weekly = 1 + 0.08 * math.sin(2 * math.pi * day.weekday() / 7)
        organic_listeners = int(rng.poisson(baseline_listeners * weekly))
        day_apple_listeners = int(rng.poisson(baseline_listeners * APPLE_AUDIENCE_SHARE * weekly))
        day_listeners = organic_listeners
        day_streams = int(rng.poisson(organic_listeners * STREAMS_PER_LISTENER))
        new_follows = float(rng.poisson(FOLLOW_RATE * organic_listeners * 10)) / 10
        for index, release in enumerate(releases):
            t = (day - release.release_date).days
            new_follows += _campaign_follows(release, day, t)
            if t < 0:
                continue
            for country, share in shares.items():
                audience = baseline_listeners * share * weekly
                apple_audience = baseline_listeners * APPLE_AUDIENCE_SHARE * share * weekly
                spotify = _release_day(rng, t, presaves[index].get(country, 0), audience)
                apple = _release_day(rng, t, apple_preadds[index].get(country, 0), apple_audience)
                new_follows += _recorded_day(rng, result, day, release, country, "spotify", spotify)
                new_follows += _recorded_day(rng, result, day, release, country, "apple", apple)
                day_listeners += spotify[1]
                day_streams += spotify[0]
                day_apple_listeners += apple[1]
        followers += new_follows
        result.audience.append(
            AudienceDay(day, day_listeners, max(day_streams, day_listeners), int(followers))
        )
        result.apple_listeners.append((day, day_apple_listeners))
        day += timedelta(days=1)
    return result


def _campaign_follows(release: ReleaseInput, day: date, t: int) -> float:
    """The follows a release's pre-save campaign brings on day `t` relative to release: the given ones,
    else a share of its pre-savers spread over the window before release."""
    if release.follows_by_day is not None:
        return release.follows_by_day.get(day, 0)
    if -PRESAVE_WINDOW_DAYS <= t < 0:
        return PRESAVE_FOLLOW_RATE * release.presaves / PRESAVE_WINDOW_DAYS
    return 0


def _recorded_day(
    rng: np.random.Generator,
    result: Simulation,
    day: date,
    release: ReleaseInput,
    country: str,
    service: Service,
    figures: tuple[int, int, int],
) -> int:
    """One release's (streams, listeners, saves) in one country on one service, recorded with its songs'
    share; the follows it brought (Spotify's listeners follow, Apple has no follows)."""
    streams, listeners, saves = figures
    followed = int(rng.binomial(listeners, FOLLOW_RATE)) if service == "spotify" else 0
    result.daily.append(
        DailyRow(day, service, release.title, release.upc, country, streams, listeners, saves, followed)
    )
    _songs(rng, result, day, service, release, country, streams, listeners, saves)
    return followed


def _release_day(rng: np.random.Generator, t: int, presavers: int, audience: float) -> tuple[int, int, int]:
    """(streams, listeners, saves) of one release in one country on day `t` after release."""
    presaver_streams = int(rng.poisson(presavers * presaver_streams_per_day(t)))
    active = min(1.0, presaver_streams_per_day(t) / WEEK_ONE_STREAMS_PER_PRESAVER)
    presaver_listeners = min(presaver_streams, int(rng.binomial(presavers, active))) if presavers else 0
    organic_listeners = int(rng.poisson(audience * organic_bump(t)))
    organic_streams = int(rng.poisson(organic_listeners * STREAMS_PER_LISTENER))
    saves = int(rng.binomial(organic_listeners, ORGANIC_SAVE_RATE))
    if t == 0:
        saves += int(rng.binomial(presavers, PRESAVE_DELIVERY_RATE)) if presavers else 0
    listeners = presaver_listeners + organic_listeners
    return max(presaver_streams + organic_streams, listeners), listeners, saves


def _songs(
    rng: np.random.Generator,
    result: Simulation,
    day: date,
    service: Service,
    release: ReleaseInput,
    country: str,
    streams: int,
    listeners: int,
    saves: int,
) -> None:
    songs = release.song_list
    weights = _song_weights(len(songs))
    stream_parts = rng.multinomial(streams, weights) if streams else [0] * len(songs)
    save_parts = rng.multinomial(saves, weights) if saves else [0] * len(songs)
    for song, song_streams, song_saves in zip(songs, stream_parts, save_parts, strict=True):
        song_listeners = min(int(song_streams), listeners)
        result.songs.append(
            SongDay(
                day,
                service,
                release.title,
                release.upc,
                song.title,
                song.isrc,
                country,
                int(song_streams),
                song_listeners,
                int(song_saves),
            )
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
    """The Spotify for Artists audience timeline only: one row per day from `start` to `end`."""
    return simulate(
        "",
        releases,
        start,
        end,
        seed=seed,
        baseline_listeners=baseline_listeners,
        baseline_followers=baseline_followers,
    ).audience


def totals_by(rows: Sequence[DailyRow], *keys: str) -> dict[tuple[object, ...], dict[str, int]]:
    """Sums of streams, listeners, saves and new followers grouped by the named fields."""
    grouped: dict[tuple[object, ...], dict[str, int]] = defaultdict(
        lambda: {"streams": 0, "listeners": 0, "saves": 0, "new_followers": 0}
    )
    for row in rows:
        bucket = grouped[tuple(getattr(row, k) for k in keys)]
        bucket["streams"] += row.streams
        bucket["listeners"] += row.listeners
        bucket["saves"] += row.saves
        bucket["new_followers"] += row.new_followers
    return dict(grouped)


def write_spotify_audience_timeline(directory: Path, artist: str, days: Sequence[AudienceDay]) -> Path:
    """Kept here for the callers of phase 1; see `sandbox.exports`."""
    from sandbox.exports import write_spotify_audience_timeline as write

    return write(directory, artist, days)
