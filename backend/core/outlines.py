"""Masks and maps as polygons in relative coordinates, and polygons back to masks.

A 12-megapixel image makes a full-resolution mask expensive to send (tens to hundreds of kB of run lengths per
region), while its outline at the resolution it was computed at is a few dozen points. Outlines run through the
midpoints between pixel centres (marching squares at 0.5), so rasterising one at the same resolution, pixel
centre inside or not, gives the mask back.
"""
from __future__ import annotations

import numpy as np
from skimage.draw import polygon as fill_polygon
from skimage.measure import find_contours

Polygon = np.ndarray  # (K, 2) points (x, y) as fractions of the image's width and height


def _to_fractions(contour: np.ndarray, shape: tuple[int, int]) -> Polygon:
    """(row, col) contour points of a map padded by one pixel -> (x, y) fractions of the unpadded map."""
    h, w = shape
    rows, cols = contour[:, 0] - 1, contour[:, 1] - 1
    return np.stack([(cols + 0.5) / w, (rows + 0.5) / h], axis=1).clip(0.0, 1.0)


def _corners(contour: np.ndarray) -> np.ndarray:
    """The points of a closed contour where its direction changes (collinear points add nothing)."""
    steps = np.diff(contour, axis=0, append=contour[:1])
    turns = np.any(np.abs(steps - np.roll(steps, 1, axis=0)) > 1e-9, axis=1)
    return contour[turns]


def _contours(values: np.ndarray, level: float) -> list[np.ndarray]:
    padded = np.pad(values.astype(np.float32), 1, constant_values=float(values.min()) - 1.0)
    found = []
    for contour in find_contours(padded, level):
        corners = _corners(contour[:-1])  # closed: the first point repeats at the end
        if len(corners) >= 3:
            found.append(corners)
    return found


def mask_outline(mask: np.ndarray) -> Polygon | None:
    """The exact outer outline of the largest connected part of ``mask`` (holes are left out); None when empty."""
    contours = _contours(mask.astype(np.float32), 0.5)
    if not contours:
        return None
    largest = max(contours, key=lambda c: _area(c))
    return _to_fractions(largest, mask.shape)


def level_outlines(values: np.ndarray, levels: list[float], points: int = 48) -> list[tuple[int, Polygon]]:
    """(level index, polygon) of every region of ``values`` at or above each of ``levels``, lowest level first;
    each outline keeps at most ``points`` evenly spaced points (for display, not for training)."""
    found = []
    for index, level in enumerate(levels):
        for contour in _contours(values, level):
            if len(contour) > points:
                contour = contour[np.linspace(0, len(contour), points, endpoint=False).astype(int)]
            found.append((index, _to_fractions(contour, values.shape)))
    return found


def _area(contour: np.ndarray) -> float:
    rows, cols = contour[:, 0], contour[:, 1]
    return 0.5 * abs(float(np.dot(rows, np.roll(cols, 1)) - np.dot(cols, np.roll(rows, 1))))


def polygon_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean (H, W) mask of the pixels whose centre lies inside ``points`` ((x, y) fractions)."""
    h, w = shape
    rows = np.asarray(points[:, 1], dtype=np.float64) * h - 0.5
    cols = np.asarray(points[:, 0], dtype=np.float64) * w - 0.5
    mask = np.zeros(shape, dtype=bool)
    rr, cc = fill_polygon(rows, cols, shape)
    mask[rr, cc] = True
    return mask
