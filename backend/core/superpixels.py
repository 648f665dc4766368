"""Superpixels of an image, deterministic for an image and settings.

Segments are computed on the image resized so its long side is ``work_size`` and
are addressed in relative coordinates, so a click given in Label Studio's percent
coordinates maps back to the segment shown at predict time. Predict, training and
the simulator pass the same :class:`SuperpixelParams`, so they see the same segments.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from skimage.segmentation import felzenszwalb, slic

from backend.core.maps import resize_mask

METHODS = ("slic", "felzenszwalb")


@dataclass(frozen=True)
class SuperpixelParams:
    """How images are segmented: ``method`` (slic | felzenszwalb), about ``segments`` cells, long side ``work_size`` px."""

    method: str = "slic"
    segments: int = 64
    work_size: int = 160
    compactness: float = 30.0  # SLIC: higher gives more regular cells on noisy images


@dataclass(frozen=True)
class Superpixels:
    """A label map (h, w) of segment ids 0..n-1 at working resolution."""

    labels: np.ndarray

    @property
    def count(self) -> int:
        return int(self.labels.max()) + 1

    def segment_at(self, x_percent: float, y_percent: float) -> int:
        """Segment id under a point given in percent of the image's width and height."""
        if not (0 <= x_percent <= 100 and 0 <= y_percent <= 100):
            raise ValueError(f"point ({x_percent}, {y_percent}) is outside the image")
        h, w = self.labels.shape
        col = min(int(x_percent / 100 * w), w - 1)
        row = min(int(y_percent / 100 * h), h - 1)
        return int(self.labels[row, col])

    def mask(self, segment_ids: list[int] | np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
        """Boolean mask of ``segment_ids``, at working size or resized (nearest) to ``size`` = (H, W)."""
        mask = np.isin(self.labels, np.asarray(segment_ids))
        return mask if size is None else resize_mask(mask, *size)

    def mean_per_segment(self, values: np.ndarray) -> np.ndarray:
        """Mean of ``values`` (same shape as ``labels``) inside each segment."""
        flat = self.labels.ravel()
        sums = np.bincount(flat, weights=values.ravel(), minlength=self.count)
        counts = np.bincount(flat, minlength=self.count)
        return sums / np.maximum(counts, 1)


def working_shape(height: int, width: int, work_size: int) -> tuple[int, int]:
    """(h, w) with the long side ``work_size`` (never upscaled), keeping the aspect ratio."""
    scale = min(1.0, work_size / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def compute_superpixels(image: np.ndarray, params: SuperpixelParams = SuperpixelParams()) -> Superpixels:
    """Segment an RGB uint8 image (H, W, 3)."""
    if params.method not in METHODS:
        raise ValueError(f"unknown superpixel method '{params.method}'; choose one of {METHODS}")
    h, w = working_shape(image.shape[0], image.shape[1], params.work_size)
    small = np.asarray(Image.fromarray(image).resize((w, h), Image.BILINEAR)) if (h, w) != image.shape[:2] else image
    if params.method == "slic":
        labels = slic(small, n_segments=params.segments, compactness=params.compactness, start_label=0, enforce_connectivity=True)
    else:
        scale = max(1.0, h * w / max(params.segments, 1) / 4)
        labels = felzenszwalb(small, scale=scale, sigma=0.8, min_size=max(4, h * w // (params.segments * 4)))
    _, labels = np.unique(labels, return_inverse=True)  # ids 0..n-1 without gaps
    return Superpixels(labels.reshape(h, w).astype(np.int32))
