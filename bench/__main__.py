"""`python -m bench [NAME...]`: run the benchmarks (all, or those named) and print their figures.

Each module in this package that defines `run() -> None` is a benchmark; it prints its own table.
Figures are printed, never asserted: speed is measured here, not in the test suite.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench
from bench._machine import read_cpu_ticks, shares_between


def main(names: list[str]) -> int:
    modules = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))
    chosen = [m for m in modules if not names or m in names]
    unknown = sorted(set(names) - set(modules))
    if unknown:
        print(f"bench: no benchmark {', '.join(unknown)} (have: {', '.join(modules)})", file=sys.stderr)
        return 2
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "run"):
            continue
        print(f"\n=== {name} ===", flush=True)
        started, ticks = time.perf_counter(), read_cpu_ticks()
        module.run()
        shares = shares_between(ticks, read_cpu_ticks())
        machine = f"; {shares.describe()}" if shares else ""
        print(f"({name}: {time.perf_counter() - started:.1f} s{machine})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
