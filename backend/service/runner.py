"""The training runner process: ``python -m backend.service.runner PROJECT LOCK_FD SLOT_FD SETTINGS``.

It is started by :class:`~backend.service.scheduler.TrainingScheduler` holding the project's lock and a
training slot, runs one :class:`~backend.service.training_run.TrainingRun` (with ``QUEUE_STRATEGY`` set, its
last stages push a fresh annotation queue for the new version), writes ``train_status.json`` from its stages; then it gives the lock and the slot back and starts the runner of the
project that has waited longest. Training happens in this process or under ``TRAIN_LAUNCHER`` (e.g. torchrun).
Settings come as the document its parent handed over (:mod:`backend.service.handoff`), and go on the same way.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shlex
import subprocess
import sys
import time
from typing import Any, Callable

from backend.service.cpu_load import CpuSample, busy_cores, free_threads

STARTED = CpuSample.now()  # the imports below take seconds of CPU: with that taken out, they are the load sample

import torch  # noqa: E402

from backend.service.handoff import hand_over, take_over  # noqa: E402
from backend.service.project_settings import for_project  # noqa: E402
from backend.service.scheduler import TrainingScheduler  # noqa: E402
from backend.service.standby import ensure_standby  # noqa: E402
from backend.service.training_run import (  # noqa: E402
    QUEUE_STAGES,
    NothingToTrain,
    RunResult,
    StageReport,
    error_text,
    read_report,
    run_training,
)
from backend.settings import Settings  # noqa: E402
from backend.storage.files import atomic_write_json  # noqa: E402
from backend.storage.journal import AnnotationJournal  # noqa: E402
from backend.storage.project_dir import ProjectDir  # noqa: E402

logger = logging.getLogger(__name__)


def launch_training(project: ProjectDir, settings: Settings) -> RunResult:
    """One run through every stage: in this process, or under ``TRAIN_LAUNCHER`` as ``-m backend.service.training_run``,
    whose first process writes the stage reports this reads back: the outcome is what the stages returned."""
    if not settings.train_launcher:
        return run_training(project, settings)
    if not AnnotationJournal(project).read()["tasks"] and not settings.label_studio.url:
        raise NothingToTrain(f"project {project.key}: no annotated task recorded")
    project.run_report.unlink(missing_ok=True)
    secrets = hand_over(settings, project)
    command = [*shlex.split(settings.train_launcher), "-m", "backend.service.training_run", project.key,
               str(project.run_settings)]
    logger.info("project %s: launching %s", project.key, " ".join(command))
    completed = subprocess.run(command, env=dict(os.environ, **secrets), stdin=subprocess.DEVNULL)
    reports = read_report(project)
    failed = next((r for r in reports if r.outcome == "failed" and r.stage not in QUEUE_STAGES), None)
    if failed is not None and failed.result.get("nothing_to_train"):
        raise NothingToTrain(failed.error.partition(": ")[2])
    published = next((r for r in reports if r.stage == "publish" and r.outcome == "done"), None)
    latest = project.models.latest()
    if published is None or latest is None or latest.version != published.result.get("version"):
        why = failed.error if failed is not None else f"exited with {completed.returncode}"
        raise RuntimeError(f"'{settings.train_launcher}' published no version ({why}); see {project.log.name}")
    return RunResult(latest, reports)


def _record(status: dict[str, Any], reports: list[StageReport]) -> None:
    """Each stage's outcome, seconds and result into ``train_status.json`` (for people and ``/metrics``)."""
    status["stages"] = {r.stage: {"outcome": r.outcome, "seconds": r.seconds} | r.result | ({"error": r.error} if r.error else {})
                        for r in reports}


def _run_once(project: ProjectDir, settings: Settings) -> None:
    """Runner body: one training run for the pending request; the caller holds the project's lock and a slot."""
    settings = for_project(settings, project)  # the project's loss, steps and queue strategy from its model card
    status = TrainingScheduler(settings).status(project)
    if status.get("state") == "running":  # a killed previous run, seen as running since this runner holds the lock
        status.update(failures=status.get("failures", 0) + 1, last_error="the previous run was interrupted (killed)")
    project.pending.unlink(missing_ok=True)
    status.update(state="running", started=time.time(), pid=os.getpid())
    status.pop("stages", None)
    atomic_write_json(project.status, status)
    try:
        result = launch_training(project, settings)
    except NothingToTrain as exc:
        logger.warning("%s", exc)
        status.update(state="idle", message=str(exc))
    except Exception as exc:  # a failed run must leave the served model alone and say why
        logger.exception("project %s: training failed", project.key)
        status.update(state="failed", failures=status.get("failures", 0) + 1,
                      last_error=error_text(exc))
    else:
        status.update(state="idle", runs=status.get("runs", 0) + 1, last_version=result.manifest.version, message="")
        _record(status, result.reports)
        if settings.queue.strategy:
            status.update(queue_error=result.queue_error)
            ranked = next((r for r in result.reports if r.stage == "rank" and r.outcome == "done"), None)
            if ranked is not None and not result.queue_error:
                status.update(queue_version=ranked.result["version"])
    status.update(finished=time.time())
    status.pop("pending", None)
    atomic_write_json(project.status, status)


def main(key: str, lock_fd: int, slot_fd: int, handed_over: str,
         busy: Callable[[], float | None] = lambda: busy_cores(STARTED)) -> int:
    """Train ``key`` once with the project lock, training slot and settings the scheduler handed over, give the lock
    and slot back, start whoever waits longest (this project again only when its new request is the oldest), then
    a standby runner for the next run (``TRAIN_STANDBY``). ``busy``: the cores other work keeps busy (by default
    from the kernel's counters since this process started)."""
    settings = take_over(handed_over)
    settings.configure_logging()
    load = None if settings.train_threads else busy()
    threads = settings.train_threads or free_threads(torch.get_num_threads(), load)
    torch.set_num_threads(threads)
    logger.info("project %s: %d torch threads (TRAIN_THREADS=%d, other work kept %s cores busy)", key, threads,
                settings.train_threads, "?" if load is None else f"{load:.2f}")
    try:
        _run_once(ProjectDir.at(settings.model_dir, key), settings)
    finally:
        os.close(slot_fd)
        os.close(lock_fd)
    TrainingScheduler(settings).start_waiting()
    ensure_standby(settings.model_dir, settings.training.standby)
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m backend.service.runner", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", help="the project's folder name under MODEL_DIR")
    parser.add_argument("lock_fd", type=int, help="open descriptor holding the project's train.lock")
    parser.add_argument("slot_fd", type=int, help="open descriptor holding a training slot")
    parser.add_argument("settings", help="the settings document handed over (secrets come from the environment)")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _arguments()
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main(arguments.project, arguments.lock_fd, arguments.slot_fd, arguments.settings))
