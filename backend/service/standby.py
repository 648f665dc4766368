"""A runner process started ahead of the run it will do (``TRAIN_STANDBY`` seconds of waiting at most).

A runner spends its first 4-5 s of CPU importing torch, torchvision, scikit-learn and the Label Studio SDK: on a
2-core machine that is a sixth of the time from an annotator's last submit to the new queue. A standby runner has
done those imports before the run is asked for. It waits on a Unix socket in ``MODEL_DIR/.standby`` (readable by
its owner only); the scheduler hands it a run there as it would hand one to a new process, the project's lock and
training slot as open descriptors (``SCM_RIGHTS``), the settings document's path and the secrets in the message,
and starts a new process only where no standby answers. A standby takes one run, so a run never shares a process
with another; the runner that finishes starts the next standby. One waits per model folder (an ``flock`` held for
its life, its pid inside); it leaves when it has waited ``TRAIN_STANDBY`` seconds, when its socket is removed or
replaced, when stopped (:func:`stop_standby`, the server's exit) or when a scheduler of other code (a new checkout
on disk) offers it a run, which then goes to a new process. The process itself: :mod:`backend.service.standby_runner`.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from backend.storage.run_lock import try_lock

logger = logging.getLogger(__name__)

FOLDER = ".standby"
ANSWER_SECONDS = 10.0  # a waiting standby answers within milliseconds; silence after the hand-over means it has the run
SOCKET_PATH_MAX = 107  # sockaddr_un's sun_path, less its final NUL


@dataclass(frozen=True)
class StandbyPaths:
    """Where a model folder's standby runner waits (socket), holds its flock (with its pid) and logs."""

    folder: Path

    @classmethod
    def of(cls, model_dir: str | os.PathLike[str]) -> "StandbyPaths":
        return cls(Path(model_dir).absolute() / FOLDER)

    @property
    def socket(self) -> Path:
        return self.folder / "runner.sock"

    @property
    def lock(self) -> Path:
        return self.folder / "runner.lock"

    @property
    def log(self) -> Path:
        return self.folder / "standby.log"

    def usable(self) -> bool:
        """Whether the socket's path fits the kernel's limit (a deep MODEL_DIR has no standby)."""
        return len(os.fsencode(self.socket)) <= SOCKET_PATH_MAX


def code_stamp() -> str:
    """The interpreter and the newest modification of the backend's modules: a standby that imported other code
    than a scheduler's must not run that scheduler's run."""
    package = Path(__file__).resolve().parents[1]
    newest = max(path.stat().st_mtime_ns for path in package.rglob("*.py"))
    return f"{sys.executable}:{package}:{newest}"


STARTED_WITH = code_stamp()  # this process's code (a scheduler's, or what a standby imported)


def ensure_standby(model_dir: str | os.PathLike[str], seconds: float) -> bool:
    """Start a standby runner for ``model_dir`` unless one is waiting or starting (or ``seconds`` is 0); returns
    whether one was started."""
    paths = StandbyPaths.of(model_dir)
    if seconds <= 0 or not paths.usable():
        return False
    paths.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = try_lock(paths.lock)  # taken here and handed down, so that two servers never start two standbys
    if lock is None:
        return False
    try:
        with open(paths.log, "a") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", "backend.service.standby_runner", str(Path(model_dir).absolute()), str(lock), f"{seconds:g}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, pass_fds=(lock,))
        os.ftruncate(lock, 0)
        os.pwrite(lock, f"{child.pid}\n".encode(), 0)  # for stop_standby
    finally:
        os.close(lock)
    return True


def stop_standby(model_dir: str | os.PathLike[str]) -> bool:
    """Stop the folder's standby runner, waiting or still importing (a server's shutdown); a run it took goes on.
    Returns whether one was there."""
    paths = StandbyPaths.of(model_dir)
    if not paths.lock.exists():
        return False
    lock = try_lock(paths.lock)
    if lock is not None:  # nobody holds it: no standby (one that took a run has let it go)
        os.close(lock)
        return False
    with contextlib.suppress(ValueError, OSError):
        os.kill(int(paths.lock.read_text().strip()), signal.SIGTERM)
        return True
    return False


def hand_to_standby(model_dir: str | os.PathLike[str], project: str, settings_path: Path, secrets: dict[str, str],
                    lock_fd: int, slot_fd: int) -> bool:
    """Give the run of ``project`` to the standby runner; False when none took it (the caller starts a process).
    The caller keeps its own descriptors and closes them as usual."""
    paths = StandbyPaths.of(model_dir)
    if not paths.usable() or not paths.socket.exists():
        return False
    message = json.dumps({"project": project, "settings": str(settings_path), "env": secrets, "code": STARTED_WITH})
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as connection:
        connection.settimeout(ANSWER_SECONDS)
        try:
            connection.connect(str(paths.socket))
            socket.send_fds(connection, [message.encode()], [lock_fd, slot_fd])
        except OSError:  # nobody listens (gone, or taken by another run a moment ago)
            return False
        try:
            answer = connection.recv(16)
        except TimeoutError:
            logger.warning("project %s: the standby runner took the run without answering", project)
            return True  # it holds the descriptors: starting a second runner could train the project twice
        except OSError:
            return False
    return answer == b"ok"
