"""The annotation queue: a strategy's ranking turned into an order and the scores Label Studio sorts by.

Label Studio shows a prediction's score as a percentage, so the score written for a task is its priority: 1 for
the head of the queue down to 0 for its tail (the first task reads "100%", not "0%" or "1%"), and the queue's
data-manager view sorts by it, highest first. Annotated tasks get 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from backend.active.batch import select_batch
from backend.active.pool import Pool, get_strategy

FIELDS = ("version", "strategy", "order", "scores", "utilities")


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

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}

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
    """A queue whose scores are priorities along ``order`` (1 first, 0 last); annotated tasks score 0."""
    last = max(len(order) - 1, 1)
    scores = {str(t): round(1.0 - rank / last, 6) for rank, t in enumerate(order)}
    scores.update({str(t): 0.0 for t in annotated})
    return Queue(version=version, strategy=strategy, order=list(order), scores=scores, utilities=utilities)
