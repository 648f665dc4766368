"""Active-learning strategies: which unannotated images to show annotators first.

Every strategy answers one call, ``strategy(pool, batch_size, rng) -> Ranking``: a pool
of model outputs in, the unannotated indices ranked best first and a utility per
image out (higher is more worth annotating; NaN for annotated images). Greedy
strategies (core-set, BADGE, the diversity combination) choose their first
``batch_size`` images jointly and rank the rest by their utility afterwards.
:func:`select_batch` then fills a batch, by default per predicted class
(shared/FINDINGS.md lesson 1: one-class batches never repaired the shortcut).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from sklearn.mixture import GaussianMixture

GMM_FEATURE_SIDE = 8  # attention maps are averaged down to 8x8 = 64 features for the GMM


@dataclass
class Pool:
    """Model outputs for N images; optional fields are None when unknown."""

    probabilities: np.ndarray  # (N, C)
    attention: np.ndarray | None = None  # (N, h, w) in [0, 1]
    embeddings: np.ndarray | None = None  # (N, D) penultimate-layer features
    annotated: np.ndarray | None = None  # (N,) bool
    labels: np.ndarray | None = None  # (N,) true class, -1 where unknown
    boxes: np.ndarray | None = None  # (N, 4) object box (x0, y0, x1, y1) in [0, 1], NaN where unknown

    def __len__(self) -> int:
        return int(self.probabilities.shape[0])

    @property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @property
    def annotated_indices(self) -> np.ndarray:
        """Indices of the annotated images."""
        if self.annotated is None:
            return np.array([], dtype=int)
        return np.flatnonzero(np.asarray(self.annotated, dtype=bool))

    @property
    def candidates(self) -> np.ndarray:
        """Indices of the unannotated images."""
        if self.annotated is None:
            return np.arange(len(self))
        return np.flatnonzero(~np.asarray(self.annotated, dtype=bool))

    def require(self, field: str, strategy: str) -> np.ndarray:
        value = getattr(self, field)
        if value is None:
            raise ValueError(f"strategy '{strategy}' needs the pool's {field}")
        return value


@dataclass
class Ranking:
    order: np.ndarray  # unannotated indices, best first
    utilities: np.ndarray  # (N,) higher = more worth annotating, NaN for annotated images


Strategy = Callable[[Pool, int, np.random.Generator], Ranking]
STRATEGIES: dict[str, Strategy] = {}


def register(name: str) -> Callable[[Strategy], Strategy]:
    def add(fn: Strategy) -> Strategy:
        STRATEGIES[name] = fn
        return fn

    return add


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy '{name}'; choose one of {sorted(STRATEGIES)}") from None


def rank_by_utility(pool: Pool, utility: np.ndarray, rng: np.random.Generator) -> Ranking:
    """Candidates by utility, highest first; ties broken at random (seeded)."""
    candidates = pool.candidates
    values = np.full(len(pool), np.nan)
    values[candidates] = utility[candidates]
    tie = rng.random(len(candidates))
    order = candidates[np.lexsort((tie, -np.nan_to_num(values[candidates], nan=-np.inf)))]
    return Ranking(order=order, utilities=values)


def _greedy_ranking(pool: Pool, picks: list[int], pick_utility: list[float], rest_utility: np.ndarray, rng: np.random.Generator) -> Ranking:
    """Greedy picks first (in pick order), then the other candidates by ``rest_utility``."""
    rest = rank_by_utility(pool, rest_utility, rng)
    picked = set(picks)
    order = np.array(picks + [i for i in rest.order if i not in picked], dtype=int)
    utilities = rest.utilities.copy()
    top = np.nanmax(rest_utility[pool.candidates]) if len(pool.candidates) else 0.0
    for rank, (i, value) in enumerate(zip(picks, pick_utility)):
        utilities[i] = max(value, top) + len(picks) - rank  # picks stay above everything else
    return Ranking(order=order, utilities=utilities)


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


def attention_features(attention: np.ndarray, side: int = GMM_FEATURE_SIDE) -> np.ndarray:
    """Flattened block means of (N, h, w) maps at about side x side."""
    n, h, w = attention.shape
    ys = np.linspace(0, h, min(side, h) + 1).astype(int)
    xs = np.linspace(0, w, min(side, w) + 1).astype(int)
    rows = np.add.reduceat(attention, ys[:-1], axis=1) / np.diff(ys)[None, :, None]
    blocks = np.add.reduceat(rows, xs[:-1], axis=2) / np.diff(xs)[None, None, :]
    return blocks.reshape(n, -1).astype(np.float64)


@register("gmm")
def gmm(pool: Pool, batch_size: int, rng: np.random.Generator) -> Ranking:
    """IUI 2023 sec. 3.5: log-likelihood under a 2-component diagonal GMM (100 EM iterations) fitted on the pool's attention."""
    features = attention_features(pool.require("attention", "gmm"))
    candidates = pool.candidates
    utility = np.full(len(pool), np.nan)
    if len(candidates) >= 2:
        model = GaussianMixture(n_components=2, covariance_type="diag", max_iter=100, reg_covar=1e-4,
                                random_state=int(rng.integers(2**31)))
        model.fit(features[candidates])
        utility[candidates] = model.score_samples(features[candidates])
    else:
        utility[candidates] = 0.0
    return rank_by_utility(pool, utility, rng)


def _distances_to(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Euclidean distance from each point to its nearest center."""
    best = np.full(len(points), np.inf)
    for start in range(0, len(centers), 1024):
        block = centers[start : start + 1024]
        d = (points**2).sum(1)[:, None] - 2 * points @ block.T + (block**2).sum(1)[None, :]
        best = np.minimum(best, d.min(axis=1))
    return np.sqrt(np.maximum(best, 0.0))


def k_center_greedy(features: np.ndarray, candidates: np.ndarray, centers: np.ndarray, count: int, rng: np.random.Generator) -> tuple[list[int], list[float], np.ndarray]:
    """Sener & Savarese core-set: repeatedly take the candidate farthest from all centers."""
    points = features[candidates]
    nearest = _distances_to(points, features[centers]) if len(centers) else None
    picks, values = [], []
    for _ in range(min(count, len(candidates))):
        if nearest is None:
            j = int(rng.integers(len(candidates)))
            nearest = np.full(len(candidates), np.inf)
        else:
            j = int(np.argmax(nearest))
        picks.append(int(candidates[j]))
        values.append(float(nearest[j]) if np.isfinite(nearest[j]) else 0.0)
        nearest = np.minimum(nearest, _distances_to(points, points[j : j + 1]))
    distance = np.zeros(len(features))
    distance[candidates] = nearest if nearest is not None else 0.0
    return picks, values, distance


@register("coreset")
def coreset(pool: Pool, batch_size: int, rng: np.random.Generator) -> Ranking:
    """k-center greedy on penultimate-layer embeddings, starting from the annotated images."""
    features = pool.require("embeddings", "coreset").astype(np.float64)
    annotated = pool.annotated_indices
    picks, values, distance = k_center_greedy(features, pool.candidates, annotated, batch_size, rng)
    return _greedy_ranking(pool, picks, values, distance, rng)


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
        nearest = _distances_to(points, points[first : first + 1])
        while len(picks) < min(batch_size, len(candidates)):
            weights = nearest**2
            if weights.sum() <= 0:
                break
            j = int(rng.choice(len(candidates), p=weights / weights.sum()))
            picks.append(int(candidates[j]))
            values.append(float(nearest[j]))
            nearest = np.minimum(nearest, _distances_to(points, points[j : j + 1]))
    utility = np.zeros(len(pool))
    utility[candidates] = norms
    return _greedy_ranking(pool, picks, values, utility, rng)


def _attention_box(attention: np.ndarray, level: float = 0.5) -> tuple[float, float, float, float]:
    rows, cols = np.nonzero(attention >= level * attention.max()) if attention.max() > 0 else (np.array([0]), np.array([0]))
    h, w = attention.shape
    return cols.min() / w, rows.min() / h, (cols.max() + 1) / w, (rows.max() + 1) / h


@register("attention_outside")
def attention_outside(pool: Pool, batch_size: int, rng: np.random.Generator) -> Ranking:
    """MSABN: share of the attention (CAM >= 0.2) outside the object box; where no box is known,
    outside the box of the attention's own peak region (CAM >= 0.5), i.e. how scattered it is."""
    attention = pool.require("attention", "attention_outside")
    n, h, w = attention.shape
    utility = np.zeros(n)
    for i in pool.candidates:
        box = pool.boxes[i] if pool.boxes is not None and np.all(np.isfinite(pool.boxes[i])) else _attention_box(attention[i])
        x0, y0, x1, y1 = box
        inside = np.zeros((h, w), dtype=bool)
        inside[int(np.floor(y0 * h)) : int(np.ceil(y1 * h)), int(np.floor(x0 * w)) : int(np.ceil(x1 * w))] = True
        hot = attention[i] >= 0.2
        utility[i] = (hot & ~inside).sum() / max(hot.sum(), 1)
    return rank_by_utility(pool, utility, rng)


@register("wrong_first")
def wrong_first(pool: Pool, batch_size: int, rng: np.random.Generator) -> Ranking:
    """Thesis brief: images the model gets wrong (low probability on the known label) first, then the least confident."""
    p = pool.probabilities
    utility = 1.0 - p.max(axis=1)
    if pool.labels is not None:
        known = pool.labels >= 0
        utility[known] = 1.0 + (1.0 - p[np.flatnonzero(known), pool.labels[known]])
    return rank_by_utility(pool, utility, rng)


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
        nearest = _distances_to(points, features[annotated]) if len(annotated) else np.full(len(candidates), np.inf)
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
            nearest = np.minimum(nearest, _distances_to(points, points[j : j + 1]))
            finite = nearest[np.isfinite(nearest)]
            scale = float(finite.max()) if len(finite) and finite.max() > 0 else 1.0
        return _greedy_ranking(pool, picks, values, ranked.utilities, rng)

    strategy.__name__ = f"{base}_diverse"
    strategy.__doc__ = f"{base} utility mixed with k-center distance (weight {weight})."
    return strategy


register("gmm_diverse")(with_diversity("gmm"))


def select_batch(ranking: Ranking, pool: Pool, batch_size: int, per_class: bool = True) -> np.ndarray:
    """The batch to annotate: the top ``batch_size // C`` of each predicted class (default), the rest from the best
    leftovers when a class runs short; or plain top-k. Returned in ranking order."""
    order = ranking.order
    if not per_class:
        return order[:batch_size]
    predicted = pool.predicted[order]
    classes = pool.probabilities.shape[1]
    quota = batch_size // classes
    chosen = np.zeros(len(order), dtype=bool)
    for c in range(classes):
        chosen[np.flatnonzero(predicted == c)[:quota]] = True
    for position in range(len(order)):
        if chosen.sum() >= batch_size:
            break
        chosen[position] = True
    return order[chosen]
