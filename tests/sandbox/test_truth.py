"""The ground truth of the streaming side: exactly what the export files written from a simulation say."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

from sandbox.analytics import ReleaseInput, SongInput, simulate
from sandbox.exports import write_all, write_presave_fan_export
from sandbox.truth import GroundTruth, load_truth

RELEASE = date(2026, 3, 6)
SONGS = (
    SongInput("Midnight Drive", "QZWFV2645560"),
    SongInput("Midnight Drive (Night Version)", "QZWFV2745560"),
)


def _simulation(follows: dict[date, int] | None = None):
    release = ReleaseInput(
        RELEASE,
        300,
        title="Midnight Drive",
        upc="198880045560",
        songs=SONGS,
        presaves_by_country={"GB": 200, "US": 100},
        apple_preadds=80,
        follows_by_day=follows,
    )
    return simulate(
        "Nova Lane", [release], RELEASE - timedelta(days=30), RELEASE + timedelta(days=20), seed=2
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_truth_holds_what_the_exports_say_and_no_day_after_they_were_taken(tmp_path: Path) -> None:
    simulation = _simulation()
    as_of = RELEASE + timedelta(days=9)
    write_all(tmp_path, simulation, as_of)
    truth = GroundTruth()
    truth.add_exports(simulation, as_of)

    timeline = _rows(tmp_path / "spotify-for-artists" / "Midnight Drive-timeline.csv")
    streams = truth.streams_frame()
    spotify = streams[(streams.service == "spotify") & (streams.song == "Midnight Drive")]
    by_day = dict(zip(spotify.day, spotify.streams, strict=True))
    assert {date.fromisoformat(r["date"]): int(r["streams"]) for r in timeline if int(r["streams"])} == by_day
    assert max(date.fromisoformat(r["date"]) for r in timeline) == as_of

    audience = truth.audience_frame()
    followers = audience[audience.service == "spotify"].set_index("day").followers.to_dict()
    written = _rows(tmp_path / "spotify-for-artists" / "Nova Lane-audience-timeline.csv")
    assert {date.fromisoformat(r["date"]): int(r["followers"]) for r in written} == followers

    plays = _rows(tmp_path / "apple-music-for-artists" / "Nova Lane - Daily Plays.csv")
    apple = streams[streams.service == "apple"].streams.sum()
    assert sum(int(r["Plays"]) for r in plays) == apple > 0
    assert max(streams.day) <= as_of

    again = load_truth(truth.write(tmp_path / "truth.json"))
    assert again.streams == truth.streams
    assert again.audience == truth.audience


def test_followers_grow_on_the_days_the_presavers_followed() -> None:
    follow_day = RELEASE - timedelta(days=12)
    quiet = _simulation({})
    followed = _simulation({follow_day: 150})
    gained = {
        d.date: d.followers - q.followers for d, q in zip(followed.audience, quiet.audience, strict=True)
    }
    assert gained[follow_day - timedelta(days=1)] == 0
    assert gained[follow_day] == 150
    assert 150 <= gained[RELEASE + timedelta(days=20)] <= 151  # the organic follows' fractions round apart


def test_another_tools_fan_export_is_in_the_truth_fan_for_fan(tmp_path: Path) -> None:
    truth = GroundTruth()
    path = write_presave_fan_export(
        tmp_path, campaign="Old Flame", release_date=RELEASE, fans=120, seed=5, truth=truth, slug="old-flame"
    )
    rows = _rows(path)
    names = {"Spotify": "spotify", "Apple Music": "apple", "Deezer": "deezer"}
    assert [(names[r["Service"]], r["Country"]) for r in rows] == [(f.service, f.country) for f in truth.fans]
    assert {f.campaign for f in truth.fans} == {"old-flame"}
    assert {f.origin for f in truth.fans} == {"export"}
    assert all(f.granted_at is not None and f.granted_at.date() < RELEASE for f in truth.fans)
