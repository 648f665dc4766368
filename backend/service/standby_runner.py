"""The standby runner process: ``python -m backend.service.standby_runner MODEL_DIR LOCK_FD SECONDS``.

Started by :func:`~backend.service.standby.ensure_standby`, which holds the folder's standby lock and hands it
down. Its imports (everything a run needs) happen before anything else; then it waits on its socket for one run,
answers, lets the lock go (a successor may start) and runs it as :mod:`backend.service.runner` would, its output
in the project's training log. SIGTERM sends it away while it waits; a run it took ends like any runner's.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from backend.service import runner
from backend.service.cpu_load import LoadHistory
from backend.service.standby import STARTED_WITH, StandbyPaths
from backend.settings import LOG_FORMAT
from backend.storage.project_dir import ProjectDir

logger = logging.getLogger(__name__)

TICK = 0.5  # seconds between the checks of a waiting standby (and its CPU load samples)
LOAD_WINDOW = 5.0  # the run's threads follow the quietest TICK of the last seconds (cpu_load.LoadHistory)
MAX_MESSAGE = 1 << 16


@dataclass(frozen=True)
class Job:
    project: str
    settings: str
    env: dict[str, str]
    lock_fd: int
    slot_fd: int


def receive_job(connection: socket.socket) -> Job | None:
    """The run a scheduler of this code sent (answered ``ok``), or None (answered ``no``, descriptors closed)."""
    try:
        data, fds, _, _ = socket.recv_fds(connection, MAX_MESSAGE, 2)
    except OSError:
        return None
    try:
        message = json.loads(data)
        if len(fds) != 2 or message["code"] != STARTED_WITH:
            raise ValueError("not a run for the code this process imported")
        job = Job(str(message["project"]), str(message["settings"]), dict(message["env"]), fds[0], fds[1])
        connection.sendall(b"ok")
        return job
    except (ValueError, KeyError, TypeError, OSError):
        for fd in fds:
            os.close(fd)
        with contextlib.suppress(OSError):
            connection.sendall(b"no")
        return None


def _listen(path: Path) -> tuple[socket.socket, int]:
    """A listening socket at ``path`` (owner only), bound under a temporary name and moved into place whole."""
    staging = path.with_name(f"{path.name}.{os.getpid()}")
    staging.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(str(staging))
    os.chmod(staging, 0o600)
    listener.listen(4)
    os.replace(staging, path)
    return listener, path.stat().st_ino


def _still_mine(path: Path, inode: int) -> bool:
    try:
        return path.stat().st_ino == inode
    except FileNotFoundError:
        return False


def wait_for_job(paths: StandbyPaths, seconds: float) -> tuple[Job | None, LoadHistory]:
    """Wait on the socket for one run: (the run or None on leaving, the CPU load while it waited). A
    message it cannot take (another code's scheduler) makes it leave too: the next runner starts a current one."""
    listener, inode = _listen(paths.socket)
    deadline = time.monotonic() + seconds
    load = LoadHistory(LOAD_WINDOW, TICK)
    listener.settimeout(TICK)
    try:
        while time.monotonic() < deadline and _still_mine(paths.socket, inode):
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                load.add()
                continue
            with connection:
                job = receive_job(connection)
            return job, load
        return None, load
    finally:
        listener.close()
        if _still_mine(paths.socket, inode):
            paths.socket.unlink()


def serve(model_dir: str, lock: int, seconds: float) -> int:
    """The standby's life, holding the folder's standby lock its starter handed down: wait for one run, run it."""
    os.set_inheritable(lock, False)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop_standby: leave while waiting
    paths = StandbyPaths.of(model_dir)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logger.info("standby runner %d ready in %s", os.getpid(), model_dir)
    job, load = wait_for_job(paths, seconds)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a run it took ends like any runner's
    os.close(lock)  # from here a successor may start
    if job is None:
        logger.info("standby runner %d leaves without a run", os.getpid())
        return 0
    log = os.open(ProjectDir.at(model_dir, job.project).log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.environ.update(job.env)
    logger.info("project %s: standby runner %d takes the run", job.project, os.getpid())
    return runner.main(job.project, job.lock_fd, job.slot_fd, job.settings, busy=load.busy_cores)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m backend.service.standby_runner", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", help="the model folder whose runs it waits for")
    parser.add_argument("lock_fd", type=int, help="open descriptor holding the folder's standby lock")
    parser.add_argument("seconds", type=float, help="how long it waits for a run (TRAIN_STANDBY)")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _arguments()
    sys.exit(serve(arguments.model_dir, arguments.lock_fd, arguments.seconds))
