"""The thesis brief's first criterion: known mistakes first."""
from __future__ import annotations

import numpy as np

from backend.active.pool import Pool, Ranking, rank_by_utility, register


@register("wrong_first")
def wrong_first(pool: Pool, batch_size: int, rng: np.random.Generator) -> Ranking:
    """Thesis brief: images the model gets wrong (low probability on the known label) first, then the least confident."""
    p = pool.probabilities
    utility = 1.0 - p.max(axis=1)
    if pool.labels is not None:
        known = pool.labels >= 0
        utility[known] = 1.0 + (1.0 - p[np.flatnonzero(known), pool.labels[known]])
    return rank_by_utility(pool, utility, rng)
