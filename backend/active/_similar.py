"""Repeated mistakes: images like the annotated ones the model got wrong (the thesis brief's similarity search)."""
from __future__ import annotations

import numpy as np

from backend.active._uncertainty import least_confidence
from backend.active.pool import Pool, Ranking, attention_features, rank_by_utility, register


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def similarity_to(pool: Pool, queries: np.ndarray, attention_weight: float = 0.0) -> np.ndarray:
    """Highest cosine similarity of each image to any query image (embeddings, optionally blended with attention)."""
    features = _unit(pool.require("embeddings", "similar").astype(np.float64))
    similarity = (features @ features[queries].T).max(axis=1) if len(queries) else np.zeros(len(pool))
    if attention_weight > 0 and pool.attention is not None and len(queries):
        maps = _unit(attention_features(pool.attention))
        similarity = (1 - attention_weight) * similarity + attention_weight * (maps @ maps[queries].T).max(axis=1)
    return similarity


def similar_tasks(pool: Pool, queries: list[int] | np.ndarray, k: int, attention_weight: float = 0.0) -> list[tuple[int, float]]:
    """The ``k`` unannotated images most similar to ``queries`` (e.g. a corrected task): (index, similarity)."""
    similarity = similarity_to(pool, np.asarray(queries, dtype=int), attention_weight)
    candidates = [i for i in pool.candidates if i not in set(int(q) for q in queries)]
    candidates.sort(key=lambda i: -similarity[i])
    return [(int(i), float(similarity[i])) for i in candidates[:k]]


@register("similar")
def similar(pool: Pool, batch_size: int, rng: np.random.Generator) -> Ranking:
    """Images like the annotated ones the model got wrong (repeated mistakes); like all annotated ones if none is known wrong."""
    annotated = pool.annotated_indices
    if len(annotated) == 0:
        return least_confidence(pool, batch_size, rng)
    queries = annotated
    if pool.labels is not None:
        wrong = annotated[(pool.labels[annotated] >= 0) & (pool.predicted[annotated] != pool.labels[annotated])]
        queries = wrong if len(wrong) else annotated
    return rank_by_utility(pool, similarity_to(pool, queries, attention_weight=0.5), rng)
