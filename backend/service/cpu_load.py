"""How many cores other work keeps busy right now, so that a training run does not fight it for them.

Two OpenMP threads on a 2-core CPU beside one CPU-bound process made a fine-tuning step 3.9 s instead of 0.93 s
(the threads wait on each other); one thread made it about 2.5 s. The load average reacts in minutes; the kernel's
per-CPU counters over half a second say it at once. A runner spends its first seconds importing torch: sampled from
its start, with its own CPU time taken out, those seconds are the sample and nobody waits for it.
"""
from __future__ import annotations

import os
import time
from collections import deque
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


def busy_between(start: CpuSample, end: CpuSample) -> float | None:
    """Cores kept busy by every other process between two samples of one process; None when unknown."""
    if end.total <= start.total:
        return None
    others = max(0.0, end.busy - start.busy - (end.own - start.own))
    return others / (end.total - start.total) * (os.cpu_count() or 1)


def busy_cores(since: CpuSample | None = None, seconds: float = SAMPLE_SECONDS) -> float | None:
    """Cores kept busy by every other process from ``since`` (default: now) until at least ``seconds`` after it
    (waiting for what is left of them); None when unknown."""
    start = since or CpuSample.now()
    if start is None:
        return None
    time.sleep(max(0.0, start.at + seconds - time.monotonic()))
    end = CpuSample.now()
    return None if end is None else busy_between(start, end)


class LoadHistory:
    """The counters of the last ``seconds``, sampled every ``tick`` by a process that waits for work (a standby
    runner), so that the work need not wait for a sample. A CPU-bound neighbour is busy in every interval; the
    requests that woke it (Label Studio saving annotations, the web worker recording them) keep cores busy for
    moments, which is no work that stays. So the load is the quietest interval's, and where none was quiet, the
    lesser of that and a fresh sample taken once the requests are answered."""

    def __init__(self, seconds: float, tick: float):
        self.samples: deque[CpuSample] = deque(maxlen=round(seconds / tick) + 1)
        self.add()

    def add(self) -> None:
        sample = CpuSample.now()
        if sample is not None:
            self.samples.append(sample)

    def busy_cores(self) -> float | None:
        samples = list(self.samples)
        loads = [load for a, b in zip(samples, samples[1:]) if (load := busy_between(a, b)) is not None]
        quietest = min(loads) if loads else None
        if quietest is not None and round(quietest) == 0:
            return quietest
        known = [load for load in (quietest, busy_cores()) if load is not None]
        return min(known) if known else None


def free_threads(most: int, busy: float | None) -> int:
    """Threads for a training run: at most ``most``, one per core that other work (``busy`` cores, None: unknown)
    leaves free, at least one."""
    if busy is None:
        return most
    return max(1, min(most, (os.cpu_count() or 1) - round(busy)))
