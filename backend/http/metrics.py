"""Per-process counters, exposed in the Prometheus text format at ``/metrics``."""
from __future__ import annotations

import os
import threading
from collections import defaultdict

PREFIX = "attention_backend_"


class Metrics:
    """Counters and sums keyed by name and an optional label set."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
        self._lock = threading.Lock()

    def add(self, name: str, amount: float = 1.0, **labels: str) -> None:
        with self._lock:
            self._values[(name, tuple(sorted(labels.items())))] += amount

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._values[(name, tuple(sorted(labels.items())))] = value

    def render(self) -> str:
        """Prometheus exposition text; every sample carries this worker's pid."""
        lines = []
        with self._lock:
            items = sorted(self._values.items())
        for (name, labels), value in items:
            pairs = dict(labels, pid=str(os.getpid()))
            label_text = ",".join(f'{k}="{v}"' for k, v in sorted(pairs.items()))
            lines.append(f"{PREFIX}{name}{{{label_text}}} {value:g}")
        return "\n".join(lines) + "\n"
