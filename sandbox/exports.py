"""A simulation written as the artists' real exports look (layouts from the reference, section F).

- Spotify for Artists: `<Artist>-audience-timeline.csv` (`date,listeners,streams,followers`),
  `<Artist>-songs-<window>.csv` (`song,listeners,streams,saves,release_date`, titles double-quoted;
  in the `all` window listeners and saves are 0, as the real export has them) and
  `<Song>-timeline.csv` (`date,streams`): UTF-8 with a byte-order mark, LF.
- Apple Music for Artists ("Songs Performance", "Daily Plays", "Listeners"): English headers; the
  reference could not confirm a real file, so these follow the headers readers are known to map.
- DistroKid's "see excruciating detail" bank export: the 15-column tab-separated layout (every field
  double-quoted, as in the reference's sample), or the 13-column legacy comma-separated one; one row per
  store, track, country and sale month, reported two months after the sale month.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

import numpy as np

from sandbox.analytics import AudienceDay, Simulation
from sandbox.audience import COUNTRY_SHARES
from sandbox.markets import MARKET_ZONES
from sandbox.truth import FanTruth, GroundTruth

SpotifyWindow = Literal["all", "1year", "28d"]
UNIQUE_LISTENER_SHARE = 0.55  # daily listeners of a song over a window, counted once
SHAZAMS_PER_PLAY = 0.01
PURCHASES_PER_PLAY = 0.0004
REPORTING_LAG_MONTHS = 2
PER_STREAM_USD = {"Spotify": 0.0035, "Apple Music": 0.0075}
COUNTRY_RATE = {"US": 1.0, "GB": 0.95, "DE": 0.9, "FR": 0.85, "JP": 0.9, "CA": 0.85, "AU": 0.85, "NL": 0.9}
STORES = {"spotify": "Spotify", "apple": "Apple Music"}
DISTROKID_COLUMNS = [
    "Date Inserted",
    "Reporting Date",
    "Sale Month",
    "Store",
    "Artist",
    "Title",
    "ISRC",
    "UPC",
    "Quantity",
    "Team Percentage",
    "Source Type",
    "Country of Sale",
    "Songwriter Royalties Withheld (USD)",
    "Earnings (USD)",
    "Recoup (USD)",
]
DISTROKID_LEGACY_COLUMNS = [
    "Reporting Date",
    "Sale Month",
    "Store",
    "Artist",
    "Title",
    "ISRC",
    "UPC",
    "Quantity",
    "Team Percentage",
    "Song/Album",
    "Country of Sale",
    "Songwriter Royalties Withheld",
    "Earnings (USD)",
]


def _file_name(text: str) -> str:
    return text.replace("/", "-").replace("\\", "-").strip() or "Untitled"


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _s4a_writer(path: Path, header: str, lines: Sequence[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="\n") as handle:
        handle.write(header + "\n")
        for line in lines:
            handle.write(line + "\n")
    return path


def write_spotify_audience_timeline(directory: Path, artist: str, days: Sequence[AudienceDay]) -> Path:
    """`<Artist>-audience-timeline.csv`: UTF-8 with a BOM, LF, header `date,listeners,streams,followers`."""
    lines = [f"{d.date.isoformat()},{d.listeners},{d.streams},{d.followers}" for d in days]
    return _s4a_writer(
        directory / f"{_file_name(artist)}-audience-timeline.csv", "date,listeners,streams,followers", lines
    )


def _window_start(window: SpotifyWindow, as_of: date) -> date | None:
    return {"all": None, "1year": as_of - timedelta(days=365), "28d": as_of - timedelta(days=27)}[window]


def write_spotify_songs(directory: Path, simulation: Simulation, window: SpotifyWindow, as_of: date) -> Path:
    """`<Artist>-songs-<window>.csv`: one row per song, biggest first."""
    since = _window_start(window, as_of)
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    released: dict[str, str] = {}
    for row in simulation.songs:
        if row.service != "spotify" or row.date > as_of or (since is not None and row.date < since):
            continue
        bucket = totals[row.song]
        bucket[0] += row.listeners
        bucket[1] += row.streams
        bucket[2] += row.saves
    for release in simulation.releases:
        for song in release.song_list:
            released[song.title] = release.release_date.isoformat()
    lines = []
    for title, (listeners, streams, saves) in sorted(totals.items(), key=lambda kv: -kv[1][1]):
        # the real "since launch" export has no listeners or saves
        unique = 0 if window == "all" else int(listeners * UNIQUE_LISTENER_SHARE)
        shown_saves = 0 if window == "all" else saves
        lines.append(f"{_quoted(title)},{unique},{streams},{shown_saves},{released.get(title, '')}")
    name = f"{_file_name(simulation.artist)}-songs-{window}.csv"
    return _s4a_writer(directory / name, "song,listeners,streams,saves,release_date", lines)


def write_spotify_song_timeline(directory: Path, simulation: Simulation, song: str) -> Path:
    """`<Song>-timeline.csv`: `date,streams`; the title appears only in the file name."""
    per_day: dict[date, int] = defaultdict(int)
    for row in simulation.songs:
        if row.service == "spotify" and row.song == song:
            per_day[row.date] += row.streams
    day, lines = simulation.start, []
    while day <= simulation.end:
        lines.append(f"{day.isoformat()},{per_day.get(day, 0)}")
        day += timedelta(days=1)
    return _s4a_writer(directory / f"{_file_name(song)}-timeline.csv", "date,streams", lines)


def write_apple_music_for_artists(directory: Path, simulation: Simulation) -> list[Path]:
    """ "Songs Performance", "Daily Plays" and "Listeners" reports, UTF-8, LF."""
    directory.mkdir(parents=True, exist_ok=True)
    artist = _file_name(simulation.artist)
    plays: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    daily: dict[tuple[date, str], int] = defaultdict(int)
    for row in simulation.songs:
        if row.service != "apple":
            continue
        plays[row.song][0] += row.streams
        plays[row.song][1] += row.listeners
        daily[(row.date, row.song)] += row.streams
    performance = directory / f"{artist} - Songs Performance.csv"
    with performance.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["Song", "Plays", "Listeners", "Shazam", "Radio Spins", "Purchases"])
        for song, (count, listeners) in sorted(plays.items(), key=lambda kv: -kv[1][0]):
            writer.writerow(
                [
                    song,
                    count,
                    int(listeners * UNIQUE_LISTENER_SHARE),
                    int(count * SHAZAMS_PER_PLAY),
                    0,
                    int(count * PURCHASES_PER_PLAY),
                ]
            )
    daily_plays = directory / f"{artist} - Daily Plays.csv"
    with daily_plays.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["Date", "Song", "Plays"])
        for (day, song), count in sorted(daily.items()):
            writer.writerow([day.isoformat(), song, count])
    listeners_file = directory / f"{artist} - Listeners.csv"
    with listeners_file.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["Date", "Listeners"])
        for day, count in simulation.apple_listeners:
            writer.writerow([day.isoformat(), count])
    return [performance, daily_plays, listeners_file]


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _months_before(day: date, months: int) -> str:
    index = day.year * 12 + day.month - 1 - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def distrokid_rows(simulation: Simulation, reporting_date: date) -> list[dict[str, str]]:
    """One row per store, track, country and sale month reported by `reporting_date`."""
    last_month = _months_before(reporting_date, REPORTING_LAG_MONTHS)
    quantities: dict[tuple[str, str, str, str, str, str], int] = defaultdict(int)
    for row in simulation.songs:
        month = _month(row.date)
        if month > last_month or not row.streams:
            continue
        key = (month, STORES[row.service], row.song, row.isrc, row.upc, row.country)
        quantities[key] += row.streams
    rows = []
    for (month, store, title, isrc, upc, country), quantity in sorted(quantities.items()):
        earnings = quantity * PER_STREAM_USD[store] * COUNTRY_RATE.get(country, 0.4)
        rows.append(
            {
                "Date Inserted": reporting_date.isoformat(),
                "Reporting Date": reporting_date.isoformat(),
                "Sale Month": month,
                "Store": store,
                "Artist": simulation.artist,
                "Title": title,
                "ISRC": isrc,
                "UPC": upc,
                "Quantity": str(quantity),
                "Team Percentage": "100",
                "Source Type": "Song",
                "Country of Sale": country,
                "Songwriter Royalties Withheld (USD)": "0.00000",
                "Earnings (USD)": f"{earnings:.12f}",
                "Recoup (USD)": "",
            }
        )
    return rows


def write_distrokid(
    directory: Path, simulation: Simulation, reporting_date: date, *, legacy: bool = False
) -> Path:
    rows = distrokid_rows(simulation, reporting_date)
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"DistroKid_{_file_name(simulation.artist)}_{reporting_date.isoformat()}"
    if legacy:
        path = directory / f"{stem}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(DISTROKID_LEGACY_COLUMNS)
            for row in rows:
                writer.writerow(
                    [
                        row["Reporting Date"],
                        row["Sale Month"],
                        row["Store"],
                        row["Artist"],
                        row["Title"],
                        row["ISRC"],
                        row["UPC"],
                        row["Quantity"],
                        row["Team Percentage"],
                        row["Source Type"],
                        row["Country of Sale"],
                        "0",
                        f"{float(row['Earnings (USD)']):.2f}",
                    ]
                )
        return path
    path = directory / f"{stem}.tsv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("\t".join(DISTROKID_COLUMNS) + "\n")
        for row in rows:
            handle.write("\t".join(_quoted(row[c]) for c in DISTROKID_COLUMNS) + "\n")
    return path


def until(simulation: Simulation, as_of: date) -> Simulation:
    """The simulation's days up to `as_of`: an export never holds a day after the one it was taken on."""
    if as_of >= simulation.end:
        return simulation
    return replace(
        simulation,
        end=as_of,
        daily=[r for r in simulation.daily if r.date <= as_of],
        songs=[r for r in simulation.songs if r.date <= as_of],
        audience=[d for d in simulation.audience if d.date <= as_of],
        apple_listeners=[(d, n) for d, n in simulation.apple_listeners if d <= as_of],
    )


def write_all(directory: Path, simulation: Simulation, as_of: date) -> list[Path]:
    """Every export of the simulation, as an artist would download them on `as_of` (no later day)."""
    simulation = until(simulation, as_of)
    spotify = directory / "spotify-for-artists"
    paths = [write_spotify_audience_timeline(spotify, simulation.artist, simulation.audience)]
    paths += [write_spotify_songs(spotify, simulation, window, as_of) for window in ("all", "1year", "28d")]
    songs = {s.title for r in simulation.releases for s in r.song_list}
    paths += [write_spotify_song_timeline(spotify, simulation, song) for song in sorted(songs)]
    paths += write_apple_music_for_artists(directory / "apple-music-for-artists", simulation)
    paths.append(write_distrokid(directory / "distrokid", simulation, as_of))
    return paths


FAN_EXPORT_SERVICES = (("Spotify", 0.68), ("Apple Music", 0.27), ("Deezer", 0.05))
FAN_EXPORT_COUNTRIES = tuple(COUNTRY_SHARES.items())  # the same mix as the fans the simulator walks
FAN_EXPORT_SERVICE_IDS = {"Spotify": "spotify", "Apple Music": "apple", "Deezer": "deezer"}
FAN_EXPORT_SOURCES = (("instagram", 0.4), ("tiktok", 0.3), ("newsletter", 0.2), ("", 0.1))


def write_presave_fan_export(
    directory: Path,
    *,
    campaign: str,
    release_date: date,
    fans: int,
    seed: int = 0,
    truth: GroundTruth | None = None,
    slug: str | None = None,
) -> Path:
    """The fan list another pre-save tool exports (Feature.fm style): one row per fan and service.

    Addresses are on example.com (reserved, never deliverable); the reader turns them into keyed hashes.
    With `truth`, each fan is recorded there under `slug` (origin `export`; their zone is their country's).
    """
    rng = np.random.default_rng(seed)
    release = datetime.combine(release_date, time(0), tzinfo=UTC)
    days_before = np.minimum(rng.exponential(6.0, fans), 27.99)  # most arrive in the last week
    services, service_weights = [s for s, _ in FAN_EXPORT_SERVICES], [w for _, w in FAN_EXPORT_SERVICES]
    countries, country_weights = [c for c, _ in FAN_EXPORT_COUNTRIES], [w for _, w in FAN_EXPORT_COUNTRIES]
    sources, source_weights = [s for s, _ in FAN_EXPORT_SOURCES], [w for _, w in FAN_EXPORT_SOURCES]
    path = directory / f"{_file_name(campaign)}-presave-fans.csv"
    directory.mkdir(parents=True, exist_ok=True)
    recorded: list[FanTruth] = []
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["Date", "Email", "Service", "Country", "Campaign", "Source", "Opt-in"])
        for index, before in enumerate(sorted(days_before, reverse=True)):
            moment = (release - timedelta(days=float(before))).replace(microsecond=0)
            fan = f"fan{seed}-{index:05d}"
            service = str(rng.choice(services, p=service_weights))
            country = str(rng.choice(countries, p=country_weights))
            source = str(rng.choice(sources, p=source_weights))
            writer.writerow(
                [
                    moment.strftime("%Y-%m-%d %H:%M:%S"),
                    f"{fan}@example.com",
                    service,
                    country,
                    campaign,
                    source,
                    "yes" if rng.random() < 0.35 else "no",
                ]
            )
            recorded.append(_exported_fan(slug or campaign, fan, moment, service, source, country))
    if truth is not None:
        truth.add_fans(recorded)
    return path


def _exported_fan(
    campaign: str, fan: str, moment: datetime, service: str, source: str, country: str
) -> FanTruth:
    """The truth about a fan of the export: granted when listed, their zone their country's."""
    return FanTruth(
        campaign=campaign,
        fan_id=fan,
        visitor_id=None,
        visited_at=moment,
        service=FAN_EXPORT_SERVICE_IDS[service],
        outcome="granted",
        source=source or None,
        country=country,
        timezone=MARKET_ZONES.get(country, "UTC"),
        device="",
        ip="",
        origin="export",
        granted_at=moment,
    )
