"""What one annotated image tells the trainer: its class, where to look, what to ignore, where the object is.

Coordinates are in percent of the image (top-left origin), as Label Studio gives them, until an image is at hand.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backend.core.maps import resize_mask

Point = tuple[float, float]  # (x %, y %)
Box = tuple[float, float, float, float]  # (x_min %, y_min %, x_max %, y_max %)


@dataclass
class Example:
    """What one task's annotation says: class, where to look, what to ignore, the object's box."""

    task_id: Any
    image_url: str
    label: int | None = None
    positive: list[Point] = field(default_factory=list)
    negative: list[Point] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    ignore_masks: list[np.ndarray] = field(default_factory=list)  # accepted "Ignore" brush regions, original size
    saliency_masks: list[np.ndarray] = field(default_factory=list)  # painted or accepted "Object" brush regions
    annotation_id: Any = None

    @property
    def has_guidance(self) -> bool:
        return bool(self.positive or self.negative or self.boxes or self.ignore_masks or self.saliency_masks)

    @property
    def has_saliency(self) -> bool:
        """A person said where the object is (a box or an object region): SAL's human saliency."""
        return bool(self.boxes or self.saliency_masks)

    def saliency_mask(self) -> np.ndarray | None:
        """The union of the object regions, or None; regions kept at different sizes (all cover the whole image)
        meet at the largest."""
        if not self.saliency_masks:
            return None
        height, width = max(m.shape[0] for m in self.saliency_masks), max(m.shape[1] for m in self.saliency_masks)
        return np.logical_or.reduce([resize_mask(m, height, width) for m in self.saliency_masks])
