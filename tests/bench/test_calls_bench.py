"""`make bench BENCH=calls` at a tiny size: three fans grant through the landing app, then release day runs
on the executor; the table counts every Spotify call the sandbox answered, by kind and phase."""

from __future__ import annotations

import io

from rich.console import Console

from bench.calls import GRANT_TIME, RELEASE_DAY, Kind, calls_table, measure, summary_lines

FANS = 3


def test_the_calls_bench_counts_each_kind_of_call_per_fan_and_per_campaign() -> None:
    day = measure(fans=FANS, at_once=2)

    out = io.StringIO()
    console = Console(file=out, width=250)
    console.print(calls_table(day))
    for line in summary_lines(day):
        console.print(line)
    text = out.getvalue()

    rows = [line for line in text.splitlines() if GRANT_TIME in line or RELEASE_DAY in line]
    for kind in ("identify", "follow", "verify follow", "save", "verify save", "search / resolve"):
        listed = [row for row in rows if f"│ {kind} " in row]
        assert len(listed) == 4, kind  # both phases, both services, zero or not
    assert sum("all our calls made per fan" in row for row in rows) == 4
    assert day.grants.done == 2 * FANS
    grant_time, release_day = day.tallies[GRANT_TIME].calls, day.tallies[RELEASE_DAY].calls

    def spotify(name: str, route: str, per_fan: bool = True) -> Kind:
        return Kind("spotify", name, route, per_fan)

    def deezer(name: str, route: str, per_fan: bool = True) -> Kind:
        return Kind("deezer", name, route, per_fan)

    # each Spotify fan: the code exchange, /me and the artist follow while granting; on release day one
    # refresh (every token expired), the check of that follow (its answer proves nothing, reference H: the
    # sandbox kept it, so it is not sent again) and the save; the release is looked up once for the campaign
    assert grant_time[spotify("code exchange", "POST /api/token")] == FANS
    assert grant_time[spotify("identify", "GET /me")] == FANS
    assert grant_time[spotify("follow", "PUT /me/library")] == FANS
    assert release_day[spotify("token refresh", "POST /api/token")] == FANS
    assert release_day[spotify("verify follow", "GET /me/library/contains")] == FANS
    assert release_day[spotify("follow", "PUT /me/library")] == 0
    assert release_day[spotify("save", "PUT /me/library")] == FANS
    assert release_day[spotify("search / resolve", "GET /search", per_fan=False)] == 1
    # each Deezer fan: /me while granting; the save and the artist follow on release day
    assert grant_time[deezer("identify", "GET /user/me")] == FANS
    assert release_day[deezer("save", "POST /user/me/albums")] == FANS
    assert release_day[deezer("follow", "POST /user/me/artists")] == FANS
    assert f"release day: {4 * FANS} actions performed" in text
