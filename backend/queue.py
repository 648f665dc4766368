"""The annotation queue: a strategy's ranking turned into an order, Label Studio scores and a stored file.

Label Studio's "uncertainty sampling" serves the task with the *lowest* prediction
score first, and a data-manager view ordered by ``tasks:predictions_score`` sorts
ascending, so the score written for a task is its queue position scaled to [0, 1]
(0 = annotate first); annotated tasks get 1.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from backend.checkpoints import project_key
from backend.journal import atomic_write_json
from backend.strategies import Pool, get_strategy, select_batch

QUEUE_FILE = "queue.json"


@dataclass
class Queue:
    """Task ids in annotation order with each one's Label Studio score and utility."""

    version: str
    strategy: str
    order: list[Any]
    scores: dict[str, float]
    utilities: dict[str, float]

    @cached_property
    def _positions(self) -> dict[str, int]:
        return {str(t): i + 1 for i, t in enumerate(self.order)}

    def rank_of(self, task_id: Any) -> int | None:
        """1-based queue position of an unannotated task."""
        return self._positions.get(str(task_id))


def build_queue(
    pool: Pool, task_ids: list[Any], strategy: str, version: str, batch_size: int = 32, seed: int = 0, per_class: bool = True
) -> Queue:
    """Rank the unannotated tasks: the first batch as :func:`select_batch` fills it, then the strategy's order."""
    ranking = get_strategy(strategy)(pool, batch_size, np.random.default_rng(seed))
    first = select_batch(ranking, pool, batch_size, per_class=per_class)
    chosen = set(first.tolist())
    positions = list(first) + [i for i in ranking.order if i not in chosen]
    annotated = [task_ids[i] for i in pool.annotated_indices]
    utilities = {str(task_ids[i]): float(ranking.utilities[i]) for i in positions}
    return queue_from_order(version, strategy, [task_ids[i] for i in positions], utilities, annotated)


def queue_from_order(version: str, strategy: str, order: list[Any], utilities: dict[str, float], annotated: list[Any] = ()) -> Queue:
    """A queue whose scores follow ``order`` (0 first, 1 last); annotated tasks score 1."""
    last = max(len(order) - 1, 1)
    scores = {str(t): round(rank / last, 6) for rank, t in enumerate(order)}
    scores.update({str(t): 1.0 for t in annotated})
    return Queue(version=version, strategy=strategy, order=list(order), scores=scores, utilities=utilities)


def save_queue(model_dir: str, project: object, queue: Queue) -> Path:
    path = Path(model_dir) / project_key(project) / QUEUE_FILE
    fields = ("version", "strategy", "order", "scores", "utilities")
    atomic_write_json(path, {name: getattr(queue, name) for name in fields})
    return path


def load_queue(model_dir: str, project: object) -> Queue | None:
    try:
        return Queue(**json.loads((Path(model_dir) / project_key(project) / QUEUE_FILE).read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None
