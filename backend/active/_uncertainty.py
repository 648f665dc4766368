"""Uncertainty sampling (SAL paper baselines): random, entropy, margin, least confidence."""
from __future__ import annotations

import numpy as np

from backend.active.pool import Pool, Ranking, rank_by_utility, register


@register("random")
def random_strategy(pool: Pool, batch_size: int, rng: np.random.Generator) -> Ranking:
    return rank_by_utility(pool, rng.random(len(pool)), rng)


@register("entropy")
def entropy(pool: Pool, batch_size: int, rng: np.random.Generator) -> Ranking:
    p = np.clip(pool.probabilities, 1e-12, 1.0)
    return rank_by_utility(pool, -(p * np.log(p)).sum(axis=1), rng)


@register("margin")
def margin(pool: Pool, batch_size: int, rng: np.random.Generator) -> Ranking:
    top2 = np.sort(pool.probabilities, axis=1)[:, -2:]
    return rank_by_utility(pool, -(top2[:, 1] - top2[:, 0]), rng)


@register("least_confidence")
def least_confidence(pool: Pool, batch_size: int, rng: np.random.Generator) -> Ranking:
    return rank_by_utility(pool, 1.0 - pool.probabilities.max(axis=1), rng)
