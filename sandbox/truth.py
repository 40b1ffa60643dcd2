"""The simulator's ground truth: what every simulated fan did, and what the exports say per day.

Every part of the simulator that makes data writes what really happened here, so a reconciliation can
hold the warehouse's marts to it:

- `sandbox.fans.simulate_fans(..., truth=truth)`: the fans walked through the real landing flow over
  HTTP (`origin="live"`), each with the visitor id the landing app's cookie gave them;
- `sandbox.history.write_campaign_history(..., truth=truth)`: the backdated fans of earlier (and
  upcoming) campaigns written straight into the store (`origin="history"`);
- `truth.add_exports(simulation, as_of=...)`: the streams per day, service, release and song, and the
  artist's followers and listeners per day and service, exactly as the export files written from that
  simulation on `as_of` say them (`sandbox.exports.write_all`); one call per artist;
- `sandbox.exports.write_presave_fan_export(..., truth=truth, slug=...)`: the fans of a campaign run
  with another tool, as its fan export lists them (`origin="export"`, always `granted`, no visitor id);
- `truth.add_campaign(CampaignTruth(...))`: the campaigns, with their kind.

Use after a simulation (the demo also writes `<data dir>/truth.json`, read back with `load_truth`):

    from sandbox.truth import GroundTruth, load_truth
    truth = load_truth(data_dir / "truth.json")
    fans = truth.fans_frame()            # one row per simulated fan (FanTruth's fields)
    fans[fans.campaign == "midnight-drive"].groupby("service").outcome.value_counts()
    truth.conversion("midnight-drive")   # per service: visitors who chose it, granted, declined, abandoned
    truth.streams_frame()                # day, artist, service, upc, release, isrc, song, streams
    truth.audience_frame()               # day, artist, service, listeners, streams, followers (None: none)
    truth.campaigns                      # slug → CampaignTruth (artist, title, upc, release_at, kind)

A fan's `outcome` is one of `OUTCOMES`: `visited` (left without pressing a button), `abandoned` (pressed
one, never came back from the service), `declined` (refused at the service), `failed` (approved, but the
service failed the landing app, which asked the fan to try again: no grant), `granted`, `reminder` (the
page offered a reminder for their service, and they signed up: an email, no grant), `turned_away`
(authorized, refused by a development-mode Spotify app, then signed up for the reminder it offered).
`service` is the button pressed (None for `visited`). Times are UTC.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

if TYPE_CHECKING:
    from sandbox.analytics import Simulation

Outcome = Literal["visited", "abandoned", "declined", "failed", "granted", "reminder", "turned_away"]
OUTCOMES: tuple[Outcome, ...] = (
    "visited",
    "abandoned",
    "declined",
    "failed",
    "granted",
    "reminder",
    "turned_away",
)
TRUTH_FILE = "truth.json"


@dataclass(frozen=True)
class CampaignTruth:
    """A campaign the simulation made: `kind` is `history` (released before the demo), `live` (released
    during it), `upcoming` (still collecting) or `elsewhere` (run with another tool: only its exports)."""

    slug: str
    artist: str
    title: str
    upc: str
    release_at: datetime
    kind: str
    services: tuple[str, ...] = ("spotify",)


@dataclass(frozen=True)
class FanTruth:
    """One simulated fan's one visit to a campaign page, and what came of it."""

    campaign: str
    fan_id: str  # the fan's user id on the service they chose (the sandbox's fan id)
    visitor_id: str | None  # the landing's visitor cookie as it records it in landing events
    visited_at: datetime
    service: str | None
    outcome: Outcome
    source: str | None  # utm_source of the visit
    country: str
    timezone: str
    device: str  # "mobile" or "desktop", as the landing classes the user agent
    ip: str
    origin: Literal["live", "history", "export"]
    granted_at: datetime | None = None


@dataclass(frozen=True)
class StreamDay:
    """Streams of one song on one service on one day, as the per-song exports say."""

    day: date
    artist: str
    service: str
    upc: str
    release: str
    isrc: str
    song: str
    streams: int


@dataclass(frozen=True)
class AudienceDay:
    """The artist's whole catalogue on one service and day: the audience exports' numbers.

    `followers` is the cumulative count (Spotify's audience timeline); None where no export has one."""

    day: date
    artist: str
    service: str
    listeners: int
    streams: int | None
    followers: int | None


@dataclass
class GroundTruth:
    """Everything the simulation did; safe to fill from the simulator's threads."""

    campaigns: dict[str, CampaignTruth] = field(default_factory=dict)
    fans: list[FanTruth] = field(default_factory=list)
    streams: list[StreamDay] = field(default_factory=list)
    audience: list[AudienceDay] = field(default_factory=list)
    as_of: date | None = None  # the last day the exports cover
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    # filling ---------------------------------------------------------------------------------------------
    def add_campaign(self, campaign: CampaignTruth) -> None:
        with self._lock:
            self.campaigns[campaign.slug] = campaign

    def add_fan(self, fan: FanTruth) -> None:
        with self._lock:
            self.fans.append(fan)

    def add_fans(self, fans: Iterable[FanTruth]) -> None:
        with self._lock:
            self.fans.extend(fans)

    def add_exports(self, simulation: Simulation, as_of: date) -> None:
        """The days of `simulation` up to `as_of`, as `sandbox.exports.write_all(..., as_of)` writes them."""
        artist = simulation.artist
        streams: Counter[tuple[date, str, str, str, str, str, str]] = Counter()
        for row in simulation.songs:
            if row.date <= as_of:
                key = (row.date, artist, row.service, row.upc, row.release, row.isrc, row.song)
                streams[key] += row.streams
        audience = [
            AudienceDay(d.date, artist, "spotify", d.listeners, d.streams, d.followers)
            for d in simulation.audience
            if d.date <= as_of
        ]
        audience += [
            AudienceDay(day, artist, "apple", listeners, None, None)
            for day, listeners in simulation.apple_listeners
            if day <= as_of
        ]
        with self._lock:
            self.streams.extend(StreamDay(*key, count) for key, count in sorted(streams.items()))
            self.audience.extend(audience)
            self.as_of = as_of

    # reading ---------------------------------------------------------------------------------------------
    def fans_frame(self) -> pd.DataFrame:
        return _frame(self.fans, FanTruth)

    def streams_frame(self) -> pd.DataFrame:
        return _frame(self.streams, StreamDay)

    def audience_frame(self) -> pd.DataFrame:
        return _frame(self.audience, AudienceDay)

    def campaigns_frame(self) -> pd.DataFrame:
        return _frame(list(self.campaigns.values()), CampaignTruth)

    def conversion(self, campaign: str) -> dict[str, dict[str, int]]:
        """Per service pressed: `chose` (visitors who pressed it) and how many of them ended in each of
        `granted`, `declined`, `abandoned`, `failed`; plus `visited` (visitors of the page) under `page`."""
        table: dict[str, dict[str, int]] = {}
        visitors = 0
        for fan in self.fans:
            if fan.campaign != campaign:
                continue
            visitors += 1
            if fan.service is None:
                continue
            row = table.setdefault(fan.service, dict.fromkeys(("chose", *OUTCOMES[1:]), 0))
            row["chose"] += 1
            row[fan.outcome] += 1
        return {"page": {"visited": visitors}, **dict(sorted(table.items()))}

    # storing ---------------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "campaigns": [_plain(c) for c in self.campaigns.values()],
            "fans": [_plain(f) for f in self.fans],
            "streams": [_plain(s) for s in self.streams],
            "audience": [_plain(a) for a in self.audience],
        }

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.to_json()), encoding="utf-8")
        temporary.replace(path)
        return path

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> GroundTruth:
        campaigns = [
            CampaignTruth(
                **{
                    **c,
                    "release_at": datetime.fromisoformat(c["release_at"]),
                    "services": tuple(c["services"]),
                }
            )
            for c in document["campaigns"]
        ]
        fans = [
            FanTruth(
                **{
                    **f,
                    "visited_at": datetime.fromisoformat(f["visited_at"]),
                    "granted_at": datetime.fromisoformat(f["granted_at"]) if f["granted_at"] else None,
                }
            )
            for f in document["fans"]
        ]
        return cls(
            campaigns={c.slug: c for c in campaigns},
            fans=fans,
            streams=[StreamDay(**{**s, "day": date.fromisoformat(s["day"])}) for s in document["streams"]],
            audience=[
                AudienceDay(**{**a, "day": date.fromisoformat(a["day"])}) for a in document["audience"]
            ],
            as_of=date.fromisoformat(document["as_of"]) if document["as_of"] else None,
        )


def load_truth(path: Path) -> GroundTruth:
    """The ground truth a demo run wrote (`<data dir>/truth.json`)."""
    return GroundTruth.from_json(json.loads(path.read_text(encoding="utf-8")))


def _plain(record: object) -> dict[str, Any]:
    return {
        k: v.isoformat() if isinstance(v, date | datetime) else list(v) if isinstance(v, tuple) else v
        for k, v in asdict(record).items()  # type: ignore[call-overload]
    }


def _frame(records: list[Any], kind: type) -> pd.DataFrame:
    columns = [f.name for f in fields(kind)]
    return pd.DataFrame([asdict(r) for r in records], columns=columns)
