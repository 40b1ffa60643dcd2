"""The audience simulator: pre-savers lift week one, and the file looks like a Spotify for Artists export."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

from sandbox.analytics import (
    ReleaseInput,
    SongInput,
    simulate,
    simulate_audience_timeline,
    totals_by,
    write_spotify_audience_timeline,
)
from sandbox.exports import (
    write_all,
    write_apple_music_for_artists,
    write_distrokid,
    write_spotify_song_timeline,
    write_spotify_songs,
)

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


# per release, country and service; the exports' layouts ------------------------------------------------

SONGS = (SongInput("Midnight Drive", "QZWFV2498114"), SongInput("Neon Skyline", "QZWFV2498115"))
START, END = date(2026, 1, 1), date(2026, 4, 30)


def two_releases(seed: int = 9):
    releases = [
        ReleaseInput(
            date(2026, 2, 6),
            0,
            title="Midnight Drive",
            upc="198880045560",
            songs=SONGS,
            presaves_by_country={"US": 1500, "GB": 0},
            apple_preadds=300,
        ),
        ReleaseInput(
            date(2026, 3, 20),
            200,
            title="Tidewater",
            upc="198880045577",
            songs=(SongInput("Tidewater", "QZWFV2498116"),),
        ),
    ]
    return simulate("Nova Lane", releases, START, END, seed=seed)


def test_presavers_lift_their_own_country_and_saves_land_on_release_day() -> None:
    sim = two_releases()
    week = [
        r
        for r in sim.daily
        if r.service == "spotify" and r.release == "Midnight Drive" and (r.date - date(2026, 2, 6)).days < 7
    ]
    by_country = totals_by(week, "country")
    us, gb = by_country[("US",)], by_country[("GB",)]
    assert us["streams"] > 10 * gb["streams"]  # GB has a third of the US audience but no pre-savers
    release_day = totals_by(
        [r for r in sim.daily if r.date == date(2026, 2, 6) and r.service == "spotify"], "release"
    )
    assert 1400 <= release_day[("Midnight Drive",)]["saves"] <= 1560
    assert ("Tidewater",) not in release_day  # not out yet


def test_every_release_has_rows_per_country_and_service() -> None:
    sim = two_releases()
    keys = set(totals_by(sim.daily, "release", "service"))
    assert keys == {(r, s) for r in ("Midnight Drive", "Tidewater") for s in ("spotify", "apple")}
    apple = totals_by([r for r in sim.daily if r.service == "apple"], "release")
    assert apple[("Midnight Drive",)]["streams"] > apple[("Tidewater",)]["streams"]  # the pre-adds
    song_streams = sum(s.streams for s in sim.songs if s.service == "spotify" and s.release == "Tidewater")
    assert (
        song_streams
        == totals_by([r for r in sim.daily if r.service == "spotify"], "release")[("Tidewater",)]["streams"]
    )


def test_spotify_for_artists_files(tmp_path: Path) -> None:
    sim = two_releases()
    songs_all = write_spotify_songs(tmp_path, sim, "all", END)
    songs_year = write_spotify_songs(tmp_path, sim, "1year", END)
    assert songs_all.name == "Nova Lane-songs-all.csv"
    assert songs_year.name == "Nova Lane-songs-1year.csv"
    raw = songs_year.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfsong,listeners,streams,saves,release_date\n")
    assert b"\r" not in raw
    rows = raw.decode("utf-8-sig").splitlines()[1:]
    assert rows[0].startswith('"Midnight Drive",')  # the focus track leads
    assert rows[0].endswith(",2026-02-06")
    assert any(row.startswith('"Tidewater",') and row.endswith(",2026-03-20") for row in rows)
    for line in songs_all.read_text(encoding="utf-8-sig").splitlines()[1:]:
        _song, listeners, streams, saves, _released = next(csv.reader([line]))
        assert (listeners, saves) == ("0", "0")
        assert int(streams) > 0
    timeline = write_spotify_song_timeline(tmp_path, sim, "Neon Skyline")
    assert timeline.name == "Neon Skyline-timeline.csv"
    lines = timeline.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "date,streams"
    assert len(lines) == 1 + (END - START).days + 1


def test_apple_music_for_artists_files(tmp_path: Path) -> None:
    performance, daily, listeners = write_apple_music_for_artists(tmp_path, two_releases())
    assert performance.read_text().splitlines()[0] == "Song,Plays,Listeners,Shazam,Radio Spins,Purchases"
    assert daily.read_text().splitlines()[0] == "Date,Song,Plays"
    assert listeners.read_text().splitlines()[0] == "Date,Listeners"
    assert len(listeners.read_text().splitlines()) == 1 + (END - START).days + 1


def test_distrokid_bank_export(tmp_path: Path) -> None:
    sim = two_releases()
    path = write_distrokid(tmp_path, sim, date(2026, 5, 25))
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == (
        "Date Inserted\tReporting Date\tSale Month\tStore\tArtist\tTitle\tISRC\tUPC\tQuantity\t"
        "Team Percentage\tSource Type\tCountry of Sale\tSongwriter Royalties Withheld (USD)\t"
        "Earnings (USD)\tRecoup (USD)"
    )
    rows = list(csv.reader(lines[1:-1], delimiter="\t"))
    assert all(len(r) == 15 for r in rows)
    assert all(line.startswith('"2026-05-25"\t') for line in lines[1:-1])  # every field double-quoted
    assert {r[2] for r in rows} == {"2026-02", "2026-03"}  # reported two months after the sale month
    assert {r[3] for r in rows} == {"Spotify", "Apple Music"}
    march_spotify = sum(int(r[8]) for r in rows if r[2] == "2026-03" and r[3] == "Spotify")
    simulated = sum(s.streams for s in sim.songs if s.service == "spotify" and s.date.month == 3)
    assert march_spotify == simulated
    assert all(len(r[13].split(".")[1]) == 12 for r in rows)
    legacy = write_distrokid(tmp_path, sim, date(2026, 5, 25), legacy=True)
    header = legacy.read_text().splitlines()[0]
    assert header == (
        "Reporting Date,Sale Month,Store,Artist,Title,ISRC,UPC,Quantity,Team Percentage,Song/Album,"
        "Country of Sale,Songwriter Royalties Withheld,Earnings (USD)"
    )


def test_same_seed_same_files(tmp_path: Path) -> None:
    first = write_all(tmp_path / "a", two_releases(seed=4), END)
    second = write_all(tmp_path / "b", two_releases(seed=4), END)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    third = write_all(tmp_path / "c", two_releases(seed=5), END)
    assert [p.read_bytes() for p in first] != [p.read_bytes() for p in third]
