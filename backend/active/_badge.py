"""BADGE (Ash et al.): uncertain and diverse images from k-means++ seeding on gradient embeddings."""
from __future__ import annotations

import numpy as np

from backend.active.pool import Pool, Ranking, distances_to, greedy_ranking, register


def gradient_embeddings(pool: Pool) -> np.ndarray:
    """BADGE: the cross-entropy gradient w.r.t. the last layer for the predicted label, (p - onehot) x embedding."""
    p = pool.probabilities
    e = pool.require("embeddings", "badge")
    residual = p.copy()
    residual[np.arange(len(p)), p.argmax(1)] -= 1.0
    return (residual[:, :, None] * e[:, None, :]).reshape(len(p), -1)


@register("badge")
def badge(pool: Pool, batch_size: int, rng: np.random.Generator) -> Ranking:
    """Ash et al. BADGE: k-means++ seeding on gradient embeddings (magnitude = uncertainty, spread = diversity)."""
    g = gradient_embeddings(pool).astype(np.float64)
    candidates = pool.candidates
    points = g[candidates]
    norms = np.sqrt((points**2).sum(1))
    picks: list[int] = []
    values: list[float] = []
    if len(candidates):
        first = int(np.argmax(norms))
        picks, values = [int(candidates[first])], [float(norms[first])]
        nearest = distances_to(points, points[first : first + 1])
        while len(picks) < min(batch_size, len(candidates)):
            weights = nearest**2
            if weights.sum() <= 0:
                break
            j = int(rng.choice(len(candidates), p=weights / weights.sum()))
            picks.append(int(candidates[j]))
            values.append(float(nearest[j]))
            nearest = np.minimum(nearest, distances_to(points, points[j : j + 1]))
    utility = np.zeros(len(pool))
    utility[candidates] = norms
    return greedy_ranking(pool, picks, values, utility, rng)
