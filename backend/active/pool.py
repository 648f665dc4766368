"""The contract every query strategy shares: a pool of model outputs in, a ranking out.

Every strategy answers one call, ``strategy(pool, batch_size, rng) -> Ranking``: the
unannotated indices ranked best first and a utility per image (higher is more worth
annotating; NaN for annotated images). Greedy strategies (core-set, BADGE, the
diversity combination) choose their first ``batch_size`` images jointly and rank the
rest by their utility afterwards. Strategies register under a name with :func:`register`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from backend.core.maps import downsample_maps

POOL_ATTENTION_SIDE = 16  # a pool's attention maps are 16x16 (what batch scoring caches)
ATTENTION_FEATURE_SIDE = 8  # attention maps are averaged down to 8x8 = 64 features (GMM, similarity, diversity)


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


def greedy_ranking(pool: Pool, picks: list[int], pick_utility: list[float], rest_utility: np.ndarray, rng: np.random.Generator) -> Ranking:
    """Greedy picks first (in pick order), then the other candidates by ``rest_utility``."""
    rest = rank_by_utility(pool, rest_utility, rng)
    picked = set(picks)
    order = np.array(picks + [i for i in rest.order if i not in picked], dtype=int)
    utilities = rest.utilities.copy()
    top = np.nanmax(rest_utility[pool.candidates]) if len(pool.candidates) else 0.0
    for rank, (i, value) in enumerate(zip(picks, pick_utility)):
        utilities[i] = max(value, top) + len(picks) - rank  # picks stay above everything else
    return Ranking(order=order, utilities=utilities)


def attention_features(attention: np.ndarray, side: int = ATTENTION_FEATURE_SIDE) -> np.ndarray:
    """(N, h, w) maps as N flattened side x side block means (float64 features)."""
    return downsample_maps(attention, side).reshape(len(attention), -1).astype(np.float64)


def distances_to(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Euclidean distance from each point to its nearest center."""
    best = np.full(len(points), np.inf)
    for start in range(0, len(centers), 1024):
        block = centers[start : start + 1024]
        d = (points**2).sum(1)[:, None] - 2 * points @ block.T + (block**2).sum(1)[None, :]
        best = np.minimum(best, d.min(axis=1))
    return np.sqrt(np.maximum(best, 0.0))
