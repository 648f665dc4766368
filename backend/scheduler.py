"""Background training: at most one run per project at a time and at most one queued behind it.

A request drops a ``train.pending`` marker in the project's folder and starts a
runner process (``python -m backend.scheduler PROJECT``) in its own session, so
that neither a webhook request nor a gunicorn worker restart waits on or kills
training. The runner holds an exclusive lock on ``train.lock`` while it works and
trains again as long as the marker reappears; a second runner that cannot take
the lock exits at once. Status goes to ``train_status.json``, output to ``training.log``.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shlex
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from backend.checkpoints import Manifest, ModelStore, project_key
from backend.journal import AnnotationJournal, atomic_write_json
from backend.settings import Settings

logger = logging.getLogger(__name__)
PENDING, LOCK, STATUS, LOG = "train.pending", "train.lock", "train_status.json", "training.log"


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment variables that rebuild ``settings`` in a child process (secrets stay out of argv)."""
    env = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        env[f.name.upper()] = ",".join(value) if isinstance(value, tuple) else str(value)
    return env


class TrainingScheduler:
    """Queues training runs of projects whose models live under ``settings.model_dir``."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def folder(self, project: object) -> Path:
        return Path(self.settings.model_dir) / project_key(project)

    def is_running(self, project: object) -> bool:
        path = self.folder(project) / LOCK
        if not path.exists():
            return False
        with open(path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
        return False

    def request(self, project: object) -> str:
        """Queue a run; returns ``queued`` when one is in progress, else ``started``."""
        folder = self.folder(project)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / PENDING).touch()
        if self.is_running(project):
            return "queued"
        env = dict(os.environ, **settings_env(self.settings))
        with open(folder / LOG, "a") as log:
            subprocess.Popen(
                [sys.executable, "-m", "backend.scheduler", project_key(project)],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )
        return "started"

    def status(self, project: object) -> dict[str, Any]:
        try:
            status = json.loads((self.folder(project) / STATUS).read_text())
        except (FileNotFoundError, ValueError):
            status = {"state": "idle", "runs": 0, "failures": 0}
        if status.get("state") == "running" and not self.is_running(project):
            status["state"] = "interrupted"  # the runner died without finishing
        status["pending"] = (self.folder(project) / PENDING).exists()
        return status

    def wait(self, project: object, timeout: float = 300.0) -> dict[str, Any]:
        """Block until no run is in progress or queued (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(project)
            if not status["pending"] and not self.is_running(project):
                return status
            time.sleep(0.1)
        raise TimeoutError(f"project {project}: training still running after {timeout} s")


def _run_pending(project: str, settings: Settings) -> None:
    """Runner body: train while the pending marker reappears; the caller holds the lock."""
    from backend.training_run import NothingToTrain

    scheduler = TrainingScheduler(settings)
    folder = scheduler.folder(project)
    status = scheduler.status(project)
    while (folder / PENDING).exists():
        (folder / PENDING).unlink(missing_ok=True)
        status.update(state="running", started=time.time(), pid=os.getpid())
        atomic_write_json(folder / STATUS, status)
        try:
            manifest = launch_training(project, settings)
        except NothingToTrain as exc:
            logger.warning("%s", exc)
            status.update(state="idle", message=str(exc))
        except Exception as exc:  # a failed run must leave the served model alone and say why
            logger.exception("project %s: training failed", project)
            status.update(state="failed", failures=status.get("failures", 0) + 1, last_error=f"{type(exc).__name__}: {exc}")
        else:
            status.update(state="idle", runs=status.get("runs", 0) + 1, last_version=manifest.version, message="")
            _reorder_queue(project, settings, status)
        status.update(finished=time.time())
        status.pop("pending", None)
        atomic_write_json(folder / STATUS, status)


def launch_training(project: str, settings: Settings) -> Manifest:
    """One training run: in this process, or under ``TRAIN_LAUNCHER`` (e.g. torchrun) as ``-m backend.training_run``."""
    from backend.training_run import NothingToTrain, run_training

    if not settings.train_launcher:
        return run_training(project, settings)
    if not AnnotationJournal(settings.model_dir, project).read()["tasks"] and not settings.label_studio_url:
        raise NothingToTrain(f"project {project}: no annotated task recorded")
    store = ModelStore(settings.model_dir)
    before = store.latest(project)
    command = [*shlex.split(settings.train_launcher), "-m", "backend.training_run", project]
    logger.info("project %s: launching %s", project, " ".join(command))
    completed = subprocess.run(command, env=dict(os.environ, **settings_env(settings)), stdin=subprocess.DEVNULL)
    latest = store.latest(project)
    if completed.returncode != 0 or latest is None or (before is not None and latest.version == before.version):
        raise RuntimeError(f"'{settings.train_launcher}' exited with {completed.returncode} without a new version; see {LOG}")
    return latest


def _reorder_queue(project: str, settings: Settings, status: dict[str, Any]) -> None:
    """Push a fresh annotation queue for the new version when ``QUEUE_STRATEGY`` is set; failures do not fail training."""
    if not settings.queue_strategy:
        return
    from backend.ordering import order_project

    try:
        queue, _ = order_project(settings, int(project), settings.queue_strategy, settings.queue_batch_size, progress=False)
        status.update(queue_version=queue.version, queue_error="")
    except Exception as exc:  # Label Studio unreachable, project gone: the model is saved all the same
        logger.exception("project %s: could not re-order the Label Studio queue", project)
        status.update(queue_error=f"{type(exc).__name__}: {exc}")


def main(project: str) -> int:
    settings = Settings.from_env()
    settings.configure_logging()
    folder = TrainingScheduler(settings).folder(project)
    while True:
        with open(folder / LOCK, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # another runner is at work and will see the marker
            try:
                _run_pending(project, settings)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        if not (folder / PENDING).exists():  # a request that arrived while we released the lock
            return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main(sys.argv[1]))
