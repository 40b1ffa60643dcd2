"""`make bench BENCH=landing` at a tiny size: the landing app on one uvicorn worker, SQLite and the sandbox
in their own processes; the tables have their rows and every fan who was answered has a grant stored.
Figures are not asserted (timings belong to the benchmark)."""

from __future__ import annotations

import io

from rich.console import Console

from bench.landing import Sizes, grants_table, measure, store_lines, views_table

TINY = Sizes(
    view_s=0.5,
    view_connections=2,
    grant_s=0.5,
    grant_fans_at_once=2,
    burst_fans=6,
    burst_at_once=3,
    warm_up_s=0.2,
)


def _text(*renderables: object) -> str:
    out = io.StringIO()
    console = Console(file=out, width=250)
    for renderable in renderables:
        console.print(renderable)
    return out.getvalue()


def test_the_landing_bench_measures_views_and_grants_and_loses_no_fan() -> None:
    result = measure(1, TINY)

    text = _text(views_table([result]), grants_table([result]), *store_lines([result]))
    grant_rows = [line for line in text.splitlines() if " steady " in line or " burst " in line]
    assert len(grant_rows) == 2
    assert result.views.done > 0
    assert result.burst.done == TINY.burst_fans
    assert result.counts["burst"] == TINY.burst_fans
    assert result.counts["steady"] == result.steady.done > 0
    assert "1 worker(s), after shutdown" in text
