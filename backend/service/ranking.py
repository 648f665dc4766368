"""Rank a project's annotation queue: score its tasks with the served model (``scoring``), apply a strategy, push
to Label Studio."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from backend.active import similar_tasks
from backend.active.annotation_queue import Queue, build_queue, queue_from_order
from backend.labelstudio.client import LabelStudioAccess, annotated_examples, annotated_ids, connect, project_tasks, push_queue
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.instructions import report_address
from backend.service.predictor import Predictor, PredictorCache
from backend.service.scoring import ScoredTasks, score_tasks
from backend.service.shortcut_report import object_box, report_served_model
from backend.settings import ServingSettings
from backend.storage.queue_file import save_queue
from backend.training import distributed

logger = logging.getLogger(__name__)


@dataclass
class Ordering:
    """A ranked queue, the unannotated neighbours asked for (task id, similarity), and the seconds each step took
    (reading tasks, scoring, ranking, pushing to Label Studio)."""

    queue: Queue
    neighbours: list[tuple[int, float]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def rank(model: Predictor, tasks: list[dict], labels: dict[Any, int], strategy: str, batch_size: int, seed: int,
         per_class: bool = True, with_predictions: bool = True, progress: bool = True,
         boxes: dict[Any, tuple] | None = None) -> tuple[Queue, ScoredTasks]:
    """Score ``tasks`` with ``model`` (with each task's /predict result when ``with_predictions``) and order the
    unannotated ones by ``strategy``; ``labels``: the class of each annotated task, ``boxes``: its object's box."""
    scored = score_tasks(model, tasks, with_predictions=with_predictions, progress=progress)
    pool = scored.pool(annotated_ids(tasks), labels, boxes)
    return build_queue(pool, scored.task_ids, strategy, model.model_version, batch_size, seed, per_class), scored


def publish_queue(client: Any, project_id: int, model: Predictor, queue: Queue, predictions: dict[Any, dict],
                  progress: bool = True, public_url: str = "") -> dict[str, float]:
    """Keep the queue beside the model (``/predict`` scores by it) and push it with its predictions to Label Studio;
    given the backend's ``public_url``, the project's instructions link its shortcut report."""
    save_queue(model.project, queue)
    address = report_address(public_url, project_id) if public_url else ""
    return push_queue(client, project_id, queue, predictions, progress=progress, report_address=address)


def order_project(
    serving: ServingSettings,
    label_studio: LabelStudioAccess,
    project_id: int,
    strategy: str,
    batch_size: int = 32,
    seed: int = 0,
    dry_run: bool = False,
    similar_to: list[int] | None = None,
    per_class: bool = True,
    progress: bool = True,
    report: bool = False,
    public_url: str = "",
) -> Ordering:
    """Rank the project's unannotated tasks with the served model; unless ``dry_run``, push the queue to Label Studio
    (the command-line path; a training run ranks with the model it just trained, see ``training_run``).

    ``similar_to``: task ids (e.g. corrected mistakes) whose nearest unannotated neighbours go to the head of the
    queue; they are also returned as (task id, similarity). ``report``: also write the served version's shortcut
    report (the base model's, before any training run) from the same scores. ``public_url``: the backend's address
    in a browser, for the report's link in the project's instructions.
    """
    clock = _Clock()
    client = connect(label_studio)
    project = client.projects.get(project_id)
    config = LabelConfig.parse(project.label_config, serving.label_roles)
    model = PredictorCache(serving).get(project_id, config)
    tasks = project_tasks(client, project_id)
    examples = annotated_examples(tasks, config)
    labels = {e.task_id: e.label for e in examples if e.label is not None}
    boxes = {e.task_id: box for e in examples if (box := object_box(e)) is not None}
    clock.lap("read")
    queue, scored = rank(model, tasks, labels, strategy, batch_size, seed, per_class,
                         with_predictions=not dry_run, progress=progress, boxes=boxes)
    clock.lap("score")
    neighbours: list[tuple[int, float]] = []
    if similar_to:
        annotated = annotated_ids(tasks)
        pool = scored.pool(annotated, labels)
        index = {t: i for i, t in enumerate(scored.task_ids)}
        queries = [index[t] for t in similar_to if t in index]
        neighbours = [(scored.task_ids[i], s) for i, s in similar_tasks(pool, queries, batch_size, attention_weight=0.5)]
        front = [t for t, _ in neighbours]
        rest = [t for t in queue.order if t not in set(front)]
        queue = queue_from_order(queue.version, queue.strategy, front + rest, queue.utilities, sorted(annotated))
    clock.lap("rank")
    if report and distributed.current().is_main:
        report_served_model(model, tasks, examples, labels, scored, seed)
        clock.lap("report")
    if not dry_run and distributed.current().is_main:
        pushed = publish_queue(client, project_id, model, queue, scored.predictions, progress=progress,
                               public_url=public_url)
        clock.lap("push")
        clock.seconds["push_tasks_per_second"] = round(pushed["predictions"] / max(pushed["seconds"], 1e-9), 1)
    return Ordering(queue, neighbours, clock.seconds)


class _Clock:
    """Seconds between successive laps, by name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = round(now - self._last, 2)
        self._last = now

