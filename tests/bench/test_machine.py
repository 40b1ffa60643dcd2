from pathlib import Path

import pytest

from bench._machine import CpuShares, read_cpu_ticks, shares_between


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ((0,) * 8, (50, 0, 10, 30, 5, 0, 5, 0), CpuShares(busy=0.65, idle=0.35, stolen=0.0)),
        ((10, 0, 0, 10, 0, 0, 0, 10), (40, 0, 0, 40, 0, 0, 0, 50), CpuShares(busy=0.3, idle=0.3, stolen=0.4)),
    ],
)
def test_shares_of_the_ticks_between_two_readings(before, after, expected) -> None:
    shares = shares_between(before, after)
    assert shares is not None
    assert (shares.busy, shares.idle, shares.stolen) == pytest.approx(
        (expected.busy, expected.idle, expected.stolen)
    )


@pytest.mark.parametrize(("before", "after"), [((), (1,) * 8), ((1,) * 8, (1,) * 8)])
def test_no_shares_when_the_readings_cannot_be_compared(before, after) -> None:
    assert shares_between(before, after) is None


def test_reads_the_first_cpu_line(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 1 1 1 1 1 1 1 0 0\n")
    assert read_cpu_ticks(stat) == (1, 2, 3, 4, 5, 6, 7, 8)
    assert read_cpu_ticks(tmp_path / "missing") == ()
