"""The shortcut report's suspicion as a queue: tasks whose decision most likely rests off the object first."""
from __future__ import annotations

import numpy as np

from backend.active.pool import Pool, Ranking, rank_by_utility, register
from backend.core.maps import box_mask
from backend.core.shortcuts import Evidence, discover


def pool_evidence(pool: Pool) -> Evidence:
    """The report's evidence from a pool: its attention, embeddings, annotated classes and object boxes."""
    attention = pool.require("attention", "shortcut")
    n, h, w = attention.shape
    known = np.zeros(n, dtype=bool) if pool.boxes is None else np.all(np.isfinite(pool.boxes), axis=1)
    objects = np.zeros((n, h, w), dtype=bool)
    for i in np.flatnonzero(known):
        objects[i] = box_mask([tuple(pool.boxes[i])], (h, w), unit=1)
    labels = pool.labels if pool.labels is not None else np.full(n, -1)
    return Evidence(pool.probabilities, attention, pool.require("embeddings", "shortcut"), labels, objects, known)


@register("shortcut")
def shortcut(pool: Pool, batch_size: int, rng: np.random.Generator) -> Ranking:
    """Highest shortcut suspicion first: the model's doubt about a task's class (the annotated one where known),
    raised by the share of its peak attention off the object (measured on the annotated boxes, carried to the rest
    by their group), or its embedding's distance from its predicted class, whichever ranks it higher."""
    return rank_by_utility(pool, discover(pool_evidence(pool), seed=0).suspicion, rng)
