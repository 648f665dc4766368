"""Background training requests: at most one run per project at a time and at most one queued behind it.

A request drops the project's pending marker and starts a runner process
(``python -m backend.service.runner PROJECT``, see :mod:`backend.service.runner`) in its
own session, so that neither a webhook request nor a gunicorn worker restart waits on
or kills training. A runner that finds another one holding the lock exits at once; the
holder sees the marker and trains again.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

from backend.settings import Settings
from backend.storage.files import read_json
from backend.storage.project_dir import ProjectDir
from backend.storage.run_lock import RunLock


class TrainingScheduler:
    """Queues training runs of projects whose models live under ``settings.model_dir``."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def folder(self, project: object) -> ProjectDir:
        return project if isinstance(project, ProjectDir) else ProjectDir(self.settings.model_dir, project)

    def is_running(self, project: object) -> bool:
        return RunLock(self.folder(project).run_lock).is_held()

    def request(self, project: object) -> str:
        """Queue a run; returns ``queued`` when one is in progress, else ``started``."""
        folder = self.folder(project)
        folder.ensure()
        folder.pending.touch()
        if self.is_running(folder):
            return "queued"
        env = dict(os.environ, **self.settings.to_env())
        with open(folder.log, "a") as log:
            subprocess.Popen(
                [sys.executable, "-m", "backend.service.runner", folder.key],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        return "started"

    def status(self, project: object) -> dict[str, Any]:
        """The project's ``train_status.json`` (state, runs, failures, last version or error) and whether a run is
        queued; a run whose runner died says ``interrupted``."""
        folder = self.folder(project)
        status = read_json(folder.status)
        if not isinstance(status, dict):
            status = {"state": "idle", "runs": 0, "failures": 0}
        if status.get("state") == "running" and not self.is_running(folder):
            status["state"] = "interrupted"  # the runner died without finishing
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
