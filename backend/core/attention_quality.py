"""How well an attention map matches a known object: pointing game, Dice of the top-N pixels, attention outside a region."""
from __future__ import annotations

import numpy as np


def pointing_game(attention: np.ndarray, mask: np.ndarray) -> bool:
    """True when the map's maximum lies inside the object mask (same shape)."""
    return bool(mask.ravel()[int(np.argmax(attention))])


def dice_top_n(attention: np.ndarray, mask: np.ndarray) -> float:
    """Dice between the mask and the map's N highest pixels, N = mask size (SAL paper)."""
    n = int(mask.sum())
    if n == 0:
        return 0.0
    top = np.zeros(attention.size, dtype=bool)
    top[np.argpartition(-attention.ravel(), n - 1)[:n]] = True
    return float(2 * np.logical_and(top, mask.ravel()).sum() / (n + n))


def fraction_outside(attention: np.ndarray, region: np.ndarray, threshold: float = 0.2) -> float:
    """Share of the map's pixels at or above ``threshold`` that lie outside ``region`` (MSABN frac_attn_out)."""
    hot = attention >= threshold
    count = int(hot.sum())
    return float(np.logical_and(hot, ~region.astype(bool)).sum() / count) if count else 0.0
