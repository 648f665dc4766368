"""Rank a project's annotation queue: score its tasks with the served model, apply a strategy, push to Label Studio."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from backend.active import Pool, similar_tasks
from backend.active.annotation_queue import Queue, build_queue, queue_from_order
from backend.active.pool import POOL_ATTENTION_SIDE
from backend.core.maps import downsample_maps
from backend.labelstudio.client import annotated_ids, annotated_labels, connect, project_tasks, push_queue
from backend.labelstudio.config import LabelConfig
from backend.service.predictor import Predictor, PredictorCache
from backend.settings import Settings
from backend.storage.queue_file import save_queue
from backend.storage.score_cache import ScoreCache
from backend.training import distributed

logger = logging.getLogger(__name__)


@dataclass
class Ordering:
    """A ranked queue, the unannotated neighbours asked for (task id, similarity), and the seconds each step took
    (reading tasks, scoring, ranking, pushing to Label Studio)."""

    queue: Queue
    neighbours: list[tuple[int, float]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class ScoredTasks:
    """Outputs for the tasks that could be read, in ``task_ids`` order; predictions only when asked for."""

    task_ids: list[Any]
    probabilities: np.ndarray
    attention: np.ndarray
    embeddings: np.ndarray
    predictions: dict[Any, dict] = field(default_factory=dict)

    def pool(self, annotated: set | None = None, labels: dict | None = None) -> Pool:
        annotated = annotated or set()
        labels = labels or {}
        return Pool(
            probabilities=self.probabilities.astype(np.float64),
            attention=self.attention.astype(np.float32),
            embeddings=self.embeddings.astype(np.float32),
            annotated=np.array([t in annotated for t in self.task_ids], dtype=bool),
            labels=np.array([labels.get(t, -1) for t in self.task_ids], dtype=int),
        )


def score_tasks(
    model: Predictor, tasks: list[dict], with_predictions: bool = False, progress: bool = True
) -> ScoredTasks:
    """Probabilities, 16x16 attention and embeddings for every readable task (cached per model version);
    with ``with_predictions``, also each task's full pre-annotation (computed for every task by
    :meth:`Predictor.analyse`, the path ``/predict`` takes, so the queue's predictions are ``/predict``'s).

    Under ``torchrun`` each process scores every N-th task; all of them get the whole result and
    the first one writes the cache.
    """
    if model.analyzer is None:
        model.setup()
    world = distributed.current()
    cache = ScoreCache(model.project, model.model_version)
    entries = cache.load()
    todo = distributed.shard([t for t in tasks if with_predictions or str(t.get("id")) not in entries], world)
    scored: dict[str, dict[str, np.ndarray]] = {}
    predictions: dict[Any, dict] = {}
    batch = model.analyzer.batch_size
    bar = tqdm(total=len(todo), desc=f"scoring with {model.model_version}", unit="task", disable=not (progress and world.is_main))
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        found = [(task, a) for task, a in zip(chunk, model.analyse(chunk, with_predictions)) if a.analysis is not None]
        if found:
            small = downsample_maps(np.stack([a.analysis.attention for _, a in found]), POOL_ATTENTION_SIDE)
            for (task, analysed), attention in zip(found, small):
                analysis = analysed.analysis
                scored[str(task["id"])] = {"probabilities": analysis.probabilities, "attention": attention, "embeddings": analysis.embedding}
                if with_predictions and analysed.prediction["result"]:
                    predictions[task["id"]] = analysed.prediction
        bar.update(len(chunk))
    bar.close()
    for part, part_predictions in distributed.gather((scored, predictions), world):
        entries.update(part)
        predictions.update(part_predictions)
    if world.is_main:
        cache.save(entries)
    known = [t["id"] for t in tasks if str(t.get("id")) in entries]
    if not known:
        raise ValueError(f"none of the {len(tasks)} tasks could be scored")
    arrays = {key: np.stack([entries[str(t)][key] for t in known]) for key in ("probabilities", "attention", "embeddings")}
    return ScoredTasks(known, predictions=predictions, **arrays)


def rank(model: Predictor, tasks: list[dict], labels: dict[Any, int], strategy: str, batch_size: int, seed: int,
         per_class: bool = True, with_predictions: bool = True, progress: bool = True) -> tuple[Queue, ScoredTasks]:
    """Score ``tasks`` with ``model`` (with each task's /predict result when ``with_predictions``) and order the
    unannotated ones by ``strategy``; ``labels``: the class of each annotated task."""
    scored = score_tasks(model, tasks, with_predictions=with_predictions, progress=progress)
    pool = scored.pool(annotated_ids(tasks), labels)
    return build_queue(pool, scored.task_ids, strategy, model.model_version, batch_size, seed, per_class), scored


def publish_queue(client: Any, project_id: int, model: Predictor, queue: Queue, predictions: dict[Any, dict],
                  progress: bool = True) -> dict[str, float]:
    """Keep the queue beside the model (``/predict`` scores by it) and push it with its predictions to Label Studio."""
    save_queue(model.project, queue)
    return push_queue(client, project_id, queue, predictions, progress=progress)


def order_project(
    settings: Settings,
    project_id: int,
    strategy: str,
    batch_size: int = 32,
    dry_run: bool = False,
    similar_to: list[int] | None = None,
    per_class: bool = True,
    progress: bool = True,
) -> Ordering:
    """Rank the project's unannotated tasks with the served model; unless ``dry_run``, push the queue to Label Studio
    (the command-line path; a training run ranks with the model it just trained, see ``training_run``).

    ``similar_to``: task ids (e.g. corrected mistakes) whose nearest unannotated neighbours go to the head of the
    queue; they are also returned as (task id, similarity).
    """
    clock = _Clock()
    client = connect(settings.label_studio_url, settings.label_studio_api_key, settings.label_studio_timeout)
    project = client.projects.get(project_id)
    config = LabelConfig.parse(project.label_config, settings.label_roles)
    model = PredictorCache(settings).get(project_id, config)
    tasks = project_tasks(client, project_id)
    labels = annotated_labels(tasks, config)
    clock.lap("read")
    queue, scored = rank(model, tasks, labels, strategy, batch_size, settings.train.seed, per_class,
                         with_predictions=not dry_run, progress=progress)
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
    if not dry_run and distributed.current().is_main:
        pushed = publish_queue(client, project_id, model, queue, scored.predictions, progress=progress)
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

