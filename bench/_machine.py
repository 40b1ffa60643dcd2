"""What the machine did during a benchmark: busy, idle and stolen shares of its CPUs, from /proc/stat.

On a shared virtual machine the hypervisor can take a large share of the cores ("steal"), and figures
from such a run read low; printing the share beside them says how far to trust a comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# /proc/stat's "cpu" line: user nice system idle iowait irq softirq steal guest guest_nice
_IDLE = (3, 4)
_STEAL = 7
_COUNTED = 8  # guest time is already inside user


@dataclass(frozen=True)
class CpuShares:
    busy: float
    idle: float
    stolen: float

    def describe(self) -> str:
        return f"CPUs busy {self.busy:.0%}, idle {self.idle:.0%}, stolen by the hypervisor {self.stolen:.0%}"


def read_cpu_ticks(stat: Path = Path("/proc/stat")) -> tuple[int, ...]:
    try:
        first = stat.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return ()
    return tuple(int(v) for v in first[1 : 1 + _COUNTED])


def shares_between(before: tuple[int, ...], after: tuple[int, ...]) -> CpuShares | None:
    """The shares of the ticks that passed between two readings; None when they cannot be compared."""
    if len(before) != _COUNTED or len(after) != _COUNTED:
        return None
    delta = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(delta)
    if total <= 0:
        return None
    idle = sum(delta[i] for i in _IDLE) / total
    stolen = delta[_STEAL] / total
    return CpuShares(busy=1 - idle - stolen, idle=idle, stolen=stolen)
