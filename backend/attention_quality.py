"""How well attention maps match known objects: pointing game, Dice of the top-N pixels, attention outside the box."""
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


def box_mask(box: tuple[float, float, float, float], shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of a pixel box (x_min, y_min, x_max, y_max), exclusive max, in an image of ``shape``."""
    mask = np.zeros(shape, dtype=bool)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    mask[max(0, y0) : max(0, y1), max(0, x0) : max(0, x1)] = True
    return mask


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Pixel box (x_min, y_min, x_max, y_max), exclusive max, around a non-empty boolean mask."""
    rows, cols = np.nonzero(mask)
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1
