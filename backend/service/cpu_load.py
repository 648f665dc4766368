"""How many cores other work keeps busy right now, so that a training run does not fight it for them.

Two OpenMP threads on a 2-core CPU beside one CPU-bound process made a fine-tuning step 3.9 s instead of 0.93 s
(the threads wait on each other); one thread made it about 2.5 s. The load average reacts in minutes; the kernel's
per-CPU counters over half a second say it at once.
"""
from __future__ import annotations

import os
import time
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


def busy_cores(seconds: float = SAMPLE_SECONDS) -> float | None:
    """Cores kept busy by every process on the machine over the next ``seconds`` (None when unknown)."""
    before = _cpu_times()
    time.sleep(seconds)
    after = _cpu_times()
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1]) * (os.cpu_count() or 1)


def free_threads(most: int) -> int:
    """Threads for a training run: at most ``most``, one per core that other work leaves free (at least one)."""
    busy = busy_cores()
    if busy is None:
        return most
    return max(1, min(most, (os.cpu_count() or 1) - round(busy)))
