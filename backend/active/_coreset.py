"""Core-set selection (Sener & Savarese): cover the embedding space with the fewest centres."""
from __future__ import annotations

import numpy as np

from backend.active.pool import Pool, Ranking, distances_to, greedy_ranking, register


def k_center_greedy(features: np.ndarray, candidates: np.ndarray, centers: np.ndarray, count: int, rng: np.random.Generator) -> tuple[list[int], list[float], np.ndarray]:
    """Sener & Savarese core-set: repeatedly take the candidate farthest from all centers."""
    points = features[candidates]
    nearest = distances_to(points, features[centers]) if len(centers) else None
    picks, values = [], []
    for _ in range(min(count, len(candidates))):
        if nearest is None:
            j = int(rng.integers(len(candidates)))
            nearest = np.full(len(candidates), np.inf)
        else:
            j = int(np.argmax(nearest))
        picks.append(int(candidates[j]))
        values.append(float(nearest[j]) if np.isfinite(nearest[j]) else 0.0)
        nearest = np.minimum(nearest, distances_to(points, points[j : j + 1]))
    distance = np.zeros(len(features))
    distance[candidates] = nearest if nearest is not None else 0.0
    return picks, values, distance


@register("coreset")
def coreset(pool: Pool, batch_size: int, rng: np.random.Generator) -> Ranking:
    """k-center greedy on penultimate-layer embeddings, starting from the annotated images."""
    features = pool.require("embeddings", "coreset").astype(np.float64)
    annotated = pool.annotated_indices
    picks, values, distance = k_center_greedy(features, pool.candidates, annotated, batch_size, rng)
    return greedy_ranking(pool, picks, values, distance, rng)
