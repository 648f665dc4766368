"""Training locks seen by every process: one runner per project (``ProjectDir.run_lock``) and a fixed number of
training slots for the whole model folder (``TRAIN_MAX_CONCURRENT``).

A lock is an exclusive ``flock`` on a file, released when its last holder exits, even by SIGKILL. The process that
decides to start a runner takes the locks and hands the open descriptors to the runner, so there is no moment in
which a second request could start a second runner.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

SLOTS_FOLDER = ".train_slots"


def try_lock(path: Path) -> int | None:
    """An inheritable descriptor holding an exclusive lock on ``path``, or None when another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.set_inheritable(fd, True)
    return fd


def free_slot(model_dir: Path, slots: int) -> int | None:
    """A descriptor holding one of the ``slots`` training slots under ``model_dir``, or None when all are taken."""
    for index in range(slots):
        fd = try_lock(Path(model_dir) / SLOTS_FOLDER / f"slot-{index}")
        if fd is not None:
            return fd
    return None


class RunLock:
    """A project's runner lock."""

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
        fd = try_lock(self.path)
        try:
            yield fd is not None
        finally:
            if fd is not None:
                os.close(fd)
