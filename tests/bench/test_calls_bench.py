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
    for kind in ("identify (GET /me)", "follow (PUT /me/library)", "verify follow", "save (PUT /me/library)"):
        assert sum(kind in row for row in rows) == 2, kind  # listed in both phases, zero or not
    assert sum("all our calls made per fan" in row for row in rows) == 2
    assert day.grants.done == FANS
    grant_time, release_day = day.tallies[GRANT_TIME].calls, day.tallies[RELEASE_DAY].calls
    # each fan: one code exchange, /me and the follow while granting; one refresh and one save on release day
    assert grant_time[Kind("code exchange", True)] == FANS
    assert grant_time[Kind("identify (GET /me)", True)] == FANS
    assert grant_time[Kind("follow (PUT /me/library)", True)] == FANS
    assert release_day[Kind("token refresh", True)] == FANS
    assert release_day[Kind("save (PUT /me/library)", True)] == FANS
    assert release_day[Kind("search / resolve (GET /search)", False)] == 1  # once for the campaign
    assert f"release day: {FANS} actions performed" in text
