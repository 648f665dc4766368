"""The training runner's lock (``ProjectDir.run_lock``): one runner per project, seen by every process."""
from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path
from typing import Iterator


class RunLock:
    """An exclusive, non-blocking ``flock`` on a file; released when its holder exits, even by SIGKILL."""

    def __init__(self, path: Path):
        self.path = path

    def is_held(self) -> bool:
        """Whether a process holds the lock now."""
        if not self.path.exists():
            return False
        with self.hold() as held:
            return not held

    @contextlib.contextmanager
    def hold(self) -> Iterator[bool]:
        """Try to take the lock; yields True while this process holds it, False when another one does."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
