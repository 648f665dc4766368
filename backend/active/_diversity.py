"""Diversity on top of any strategy: its utility mixed with the distance to images already chosen."""
from __future__ import annotations

import numpy as np

from backend.active.pool import Pool, Ranking, Strategy, attention_features, distances_to, get_strategy, greedy_ranking, register


def with_diversity(base: str, weight: float = 0.5) -> Strategy:
    """Greedy mix of a strategy's utility (rescaled to [0, 1]) and the distance to images already chosen."""

    def strategy(pool: Pool, batch_size: int, rng: np.random.Generator) -> Ranking:
        ranked = get_strategy(base)(pool, batch_size, rng)
        candidates = pool.candidates
        if len(candidates) == 0:
            return ranked
        score = ranked.utilities[candidates]
        span = np.nanmax(score) - np.nanmin(score)
        score = (score - np.nanmin(score)) / span if span > 0 else np.zeros_like(score)
        features = attention_features(pool.attention) if pool.attention is not None else pool.require("embeddings", base)
        points = features[candidates].astype(np.float64)
        annotated = pool.annotated_indices
        nearest = distances_to(points, features[annotated]) if len(annotated) else np.full(len(candidates), np.inf)
        picks, values, taken = [], [], []
        scale = None
        for _ in range(min(batch_size, len(candidates))):
            if scale is None:
                j = int(np.argmax(score))
            else:
                total = (1 - weight) * score + weight * np.minimum(nearest, scale) / scale
                total[taken] = -np.inf
                j = int(np.argmax(total))
            taken.append(j)
            picks.append(int(candidates[j]))
            values.append(float(ranked.utilities[candidates[j]]))
            nearest = np.minimum(nearest, distances_to(points, points[j : j + 1]))
            finite = nearest[np.isfinite(nearest)]
            scale = float(finite.max()) if len(finite) and finite.max() > 0 else 1.0
        return greedy_ranking(pool, picks, values, ranked.utilities, rng)

    strategy.__name__ = f"{base}_diverse"
    strategy.__doc__ = f"{base} utility mixed with k-center distance (weight {weight})."
    return strategy


register("gmm_diverse")(with_diversity("gmm"))
