"""Background training requests: one runner per project, at most ``TRAIN_MAX_CONCURRENT`` at once, first come
first served across projects.

A request drops the project's pending marker (kept from the first request, so its age is the project's place in
the line) and starts runners for the oldest pending projects while a training slot is free. Starting one means
taking the project's lock and a slot here, in the requesting process, and handing both open descriptors to the
runner: the standby runner of the model folder where one waits, already imported (:mod:`backend.service.standby`),
else a new ``python -m backend.service.runner PROJECT LOCK_FD SLOT_FD`` (see :mod:`backend.service.runner`), in its
own session, so that neither a webhook request nor a gunicorn worker restart waits on or kills training. A storm of
requests therefore starts no second process for a project, and no process at all when every slot is busy: the
runner that finishes hands its slot to the next project in line.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from typing import Any, TextIO

from backend.service.handoff import hand_over
from backend.service.standby import hand_to_standby
from backend.settings import LOG_FORMAT, Settings
from backend.storage.files import read_json
from backend.storage.project_dir import ProjectDir
from backend.storage.run_lock import RunLock, free_slot, try_lock


def mark_pending(folder: ProjectDir) -> None:
    """Drop the project's pending marker; an existing one keeps its age (the project's place in the line)."""
    folder.ensure()
    try:
        os.close(os.open(folder.pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        pass


def _request_time(folder: ProjectDir) -> float:
    try:
        return folder.pending.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def _log_line(log: TextIO, message: str, *args: object) -> None:
    """One line in the project's training log, formatted like the runner's own."""
    record = logging.LogRecord(__name__, logging.INFO, __file__, 0, message, args, None)
    log.write(logging.Formatter(LOG_FORMAT).format(record) + "\n")
    log.flush()


class TrainingScheduler:
    """Queues training runs of projects whose models live under ``settings.model_dir``."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def folder(self, project: object) -> ProjectDir:
        return project if isinstance(project, ProjectDir) else ProjectDir(self.settings.model_dir, project)

    def is_running(self, project: object) -> bool:
        return RunLock(self.folder(project).run_lock).is_held()

    def request(self, project: object) -> str:
        """Queue a run; returns ``started`` when a runner for it started now, else ``queued``."""
        folder = self.folder(project)
        mark_pending(folder)
        return "started" if folder.key in self.start_waiting() else "queued"

    def start_waiting(self) -> list[str]:
        """Start runners for pending projects, longest waiting first, while training slots are free; returns their
        keys."""
        waiting = [f for f in ProjectDir.all(self.settings.model_dir) if f.pending.exists()]
        started = []
        for folder in sorted(waiting, key=_request_time):
            slot = free_slot(self.settings.model_dir, self.settings.train_max_concurrent)
            if slot is None:
                break
            lock = try_lock(folder.run_lock)
            if lock is None:  # its runner is at work and will see the marker
                os.close(slot)
                continue
            try:
                self._spawn(folder, lock, slot)
            finally:
                os.close(lock)
                os.close(slot)
            started.append(folder.key)
        return started

    def _spawn(self, folder: ProjectDir, lock: int, slot: int) -> None:
        """Hand the run to the standby runner, else start a runner process."""
        secrets = hand_over(self.settings, folder)
        with open(folder.log, "a") as log:
            if hand_to_standby(self.settings.model_dir, folder.key, folder.run_settings, secrets, lock, slot):
                return  # the standby's first line in this log says it took the run
            _log_line(log, "project %s: starting a runner", folder.key)  # its start-up (imports) shows as the gap
            env = dict(os.environ, **secrets)
            subprocess.Popen(
                [sys.executable, "-m", "backend.service.runner", folder.key, str(lock), str(slot), str(folder.run_settings)],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                pass_fds=(lock, slot),
            )

    def status(self, project: object) -> dict[str, Any]:
        """The project's ``train_status.json`` (state, runs, failures, last version or error) and whether a run is
        queued; a run whose runner died says ``interrupted`` and counts as a failure from then on (the next runner
        keeps the count)."""
        folder = self.folder(project)
        status = read_json(folder.status)
        if not isinstance(status, dict):
            status = {"state": "idle", "runs": 0, "failures": 0}
        if status.get("state") == "running" and not self.is_running(folder):  # the runner died without finishing
            status.update(state="interrupted", failures=int(status.get("failures", 0)) + 1,
                          last_error="the previous run was interrupted (killed)")
        status["pending"] = folder.pending.exists()
        return status

    def wait(self, project: object, timeout: float = 300.0) -> dict[str, Any]:
        """Block until no run is in progress or queued (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(project)
            if not status["pending"] and not self.is_running(project):
                return status
            time.sleep(0.1)
        raise TimeoutError(f"project {self.folder(project).key}: training still running after {timeout} s")
