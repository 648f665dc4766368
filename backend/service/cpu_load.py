"""How many cores other work keeps busy right now, so that a training run does not fight it for them.

Two OpenMP threads on a 2-core CPU beside one CPU-bound process made a fine-tuning step 3.9 s instead of 0.93 s
(the threads wait on each other); one thread made it about 2.5 s. The load average reacts in minutes; the kernel's
per-CPU counters over half a second say it at once. A runner spends its first seconds importing torch: sampled from
its start, with its own CPU time taken out, those seconds are the sample and nobody waits for it.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

SAMPLE_SECONDS = 0.5
STAT = Path("/proc/stat")


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies over all cores, or None where the kernel does not say (not Linux)."""
    try:
        fields = [int(v) for v in STAT.read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _own_jiffies() -> float:
    """CPU time this process has used (all its threads), in the kernel's jiffies."""
    times = os.times()
    return (times.user + times.system) * os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSample:
    """The machine's busy and total jiffies and this process's own, at one moment."""

    busy: int
    total: int
    own: float
    at: float  # time.monotonic()

    @classmethod
    def now(cls) -> "CpuSample | None":
        """None where the kernel does not say (not Linux)."""
        times = _cpu_times()
        return None if times is None else cls(times[0], times[1], _own_jiffies(), time.monotonic())


def busy_cores(since: CpuSample | None = None, seconds: float = SAMPLE_SECONDS) -> float | None:
    """Cores kept busy by every other process from ``since`` (default: now) until at least ``seconds`` after it
    (waiting for what is left of them); None when unknown."""
    start = since or CpuSample.now()
    if start is None:
        return None
    time.sleep(max(0.0, start.at + seconds - time.monotonic()))
    end = CpuSample.now()
    if end is None or end.total <= start.total:
        return None
    others = max(0.0, end.busy - start.busy - (end.own - start.own))
    return others / (end.total - start.total) * (os.cpu_count() or 1)


def free_threads(most: int, since: CpuSample | None = None) -> int:
    """Threads for a training run: at most ``most``, one per core that other work leaves free (at least one)."""
    busy = busy_cores(since)
    if busy is None:
        return most
    return max(1, min(most, (os.cpu_count() or 1) - round(busy)))
