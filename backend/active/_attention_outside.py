"""MSABN's selection: images whose attention lies outside the object (or is scattered)."""
from __future__ import annotations

import numpy as np

from backend.active.pool import Pool, Ranking, rank_by_utility, register
from backend.core.attention_quality import fraction_outside
from backend.core.maps import box_mask


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
        utility[i] = fraction_outside(attention[i], box_mask([box], (h, w), unit=1), threshold=0.2)
    return rank_by_utility(pool, utility, rng)
