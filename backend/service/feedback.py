"""Record what annotators did (webhook events) and ask for a training run when one is due; never trains here.

A webhook only writes the journal (one write per event) and, when due, drops a run request:
no model is loaded for it.
"""
from __future__ import annotations

from typing import Any

from backend.labelstudio.annotations import parse_task
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.events import TRAINING_EVENTS
from backend.labelstudio.images import ImageError, check_reference
from backend.service.project_settings import for_project
from backend.service.scheduler import TrainingScheduler
from backend.settings import Settings
from backend.storage.journal import AnnotationJournal
from backend.storage.project_dir import ProjectDir


class EventError(ValueError):
    """The webhook body lacks what its event needs."""


def _answer(problems: list[str], **fields: Any) -> dict:
    """A webhook answer, with the annotation's problems when there are any."""
    return fields | ({"problems": problems} if problems else {})


def record_event(settings: Settings, project: object, config: LabelConfig, event: str, data: dict) -> dict:
    """Record a webhook event's annotations and queue a background run when due; returns the webhook's answer."""
    if event not in TRAINING_EVENTS:
        return {"status": "ignored", "reason": f"event {event} does not trigger training"}
    folder = ProjectDir(settings.model_dir, project)
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
        problems = parse_task(task, [annotation], config, settings.annotation_policy, settings.max_image_pixels).messages
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
