"""Record what annotators did (webhook events) and ask for a training run when one is due; never trains here.

A webhook only writes the journal (one write per event) and, when due, drops a run request:
no model is loaded for it.
"""
from __future__ import annotations

from typing import Any

from backend.core.shorten import shorten
from backend.labelstudio.annotations import parse_task
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.events import TRAINING_EVENTS
from backend.labelstudio.images import ImageError, check_reference
from backend.service.project_settings import for_project
from backend.service.scheduler import TrainingScheduler
from backend.settings import Settings, TrainingSettings
from backend.storage.journal import AnnotationJournal
from backend.storage.project_dir import ProjectDir

MAX_PROBLEMS = 20  # problems listed in a webhook answer, each at most PROBLEM_CHARACTERS long
PROBLEM_CHARACTERS = 300


class EventError(ValueError):
    """The webhook body lacks what its event needs."""


class ProjectLimitError(RuntimeError):
    """A new project would pass ``MAX_PROJECTS``."""


def admit_project(training: TrainingSettings, folder: ProjectDir) -> None:
    """ProjectLimitError when ``folder`` is new and ``MAX_PROJECTS`` folders exist already: ids a caller makes up
    cannot grow ``MODEL_DIR`` or ``/metrics`` without bound."""
    if not folder.path.exists() and len(ProjectDir.all(training.model_dir)) >= training.max_projects:
        raise ProjectLimitError(f"MAX_PROJECTS ({training.max_projects}) projects have folders under MODEL_DIR already; "
                                "remove one or raise the limit")


def _answer(problems: list[str], **fields: Any) -> dict:
    """A webhook answer, with the annotation's problems (a few, shortened) when there are any."""
    shown = [shorten(p, PROBLEM_CHARACTERS) for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        shown.append(f"... and {len(problems) - MAX_PROBLEMS} more")
    return fields | ({"problems": shown} if shown else {})


def record_event(settings: Settings, project: object, config: LabelConfig, event: str, data: dict) -> dict:
    """Record a webhook event's annotations and queue a background run when due; returns the webhook's answer."""
    if event not in TRAINING_EVENTS:
        return {"status": "ignored", "reason": f"event {event} does not trigger training"}
    folder = ProjectDir(settings.model_dir, project)
    admit_project(settings.training, folder)
    settings = for_project(settings, folder)  # the project's training cadence from its model card
    journal = AnnotationJournal(folder)
    problems: list[str] = []
    if event in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED"):
        annotation, task = data.get("annotation"), data.get("task")
        if not isinstance(annotation, dict) or not isinstance(task, dict) or task.get("id") is None:
            raise EventError(f"{event} needs 'annotation' and 'task' objects")
        reference = task.get("data", {}).get(config.image_key) if isinstance(task.get("data"), dict) else None
        if not isinstance(reference, str):
            raise EventError(f"{event}: the task has no '{config.image_key}' string in its data")
        try:  # a reference no image can have would be recorded and fail every later run
            check_reference(reference)
        except ImageError as exc:
            raise EventError(f"{event}: {exc}") from None
        parsed = parse_task(task, [annotation], config, settings.annotation_policy, settings.max_image_pixels)
        if parsed.over_limits:  # no annotation of a real image gets there: record nothing
            raise EventError(f"{event}: {next(m for m in parsed.messages if 'MAX_IMAGE_PIXELS' in m)}")
        problems = parsed.messages
        changes, due = journal.upsert(task, annotation, config.xml, settings.train_every)
        if not due:
            return _answer(problems, status="recorded", changes_since_training=changes)
    elif event == "ANNOTATIONS_DELETED":
        deleted = data.get("annotations")
        if not isinstance(deleted, list):
            raise EventError("ANNOTATIONS_DELETED needs an 'annotations' list")
        removed, left = journal.delete([a.get("id") if isinstance(a, dict) else a for a in deleted], config.xml)
        if left == 0 or removed == 0:  # nothing left to learn from, or nothing we knew of changed
            return {"status": "recorded", "removed": removed}
    else:
        journal.training_requested(config.xml)
    return _answer(problems, status=TrainingScheduler(settings).request(folder), project=folder.key)
