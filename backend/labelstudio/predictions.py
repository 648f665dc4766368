"""The prediction regions of one analysed image, one small builder per control: class, heat, ignore, object."""
from __future__ import annotations

import numpy as np

from backend.core.maps import resize_map
from backend.core.superpixels import Superpixels
from backend.labelstudio.brush_rle import mask_to_rle
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.regions import choice, region
from backend.models.inference import Analysis

HEAT_LEVELS = 8  # quantising the heat keeps the RLE short; 8 shades are plenty to see the gradient


def _brush(config: LabelConfig, label: str, mask: np.ndarray, **extra: object) -> dict:
    value = {"format": "rle", "rle": mask_to_rle(mask), "brushlabels": [label]}
    return region(config, config.brush_name, "brushlabels", value, mask.shape) | extra


def saliency_region(config: LabelConfig, saliency: np.ndarray, size: tuple[int, int], threshold: float = 0.5) -> list[dict]:
    """SAL's suggested object region (editable): the interpretability model's saliency above ``threshold``."""
    if not (config.brush_name and config.saliency_label):
        return []
    mask = resize_map(saliency, size[0], size[1]) >= threshold
    return [_brush(config, config.saliency_label, mask.astype(np.uint8) * 255)] if mask.any() else []


def choice_region(config: LabelConfig, analysis: Analysis) -> list[dict]:
    """The predicted class in the Choices control, its probability as score."""
    index = analysis.predicted
    return [choice(config, index) | {"score": float(analysis.probabilities[index])}]


def heat_alpha(attention: np.ndarray, height: int, width: int, floor: float) -> np.ndarray:
    """uint8 opacity of the heat overlay: 0 below ``floor``, then ``HEAT_LEVELS`` shades up to 255."""
    heat = resize_map(attention, height, width)
    levels = np.ceil((heat - floor) / (1.0 - floor) * HEAT_LEVELS).clip(0, HEAT_LEVELS)
    return (levels * (255 // HEAT_LEVELS)).astype(np.uint8)


def heat_region(config: LabelConfig, analysis: Analysis, size: tuple[int, int], floor: float) -> list[dict]:
    """The attention map as one graded BrushLabels region (opacity follows the attention, none below ``floor``)."""
    if not (config.brush_name and config.heat_label):
        return []
    alpha = heat_alpha(analysis.attention, size[0], size[1], floor)
    return [_brush(config, config.heat_label, alpha, readonly=True)]


def ignore_candidates(superpixels: Superpixels, attention: np.ndarray, limit: int, threshold: float) -> list[tuple[int, float]]:
    """Segments with the most attention outside the focus (the segment under the attention peak).

    Returns (segment id, mean attention) pairs, strongest first, whose mean
    attention reaches ``threshold`` times the strongest segment's.
    """
    h, w = superpixels.labels.shape
    heat = resize_map(attention, h, w)
    means = superpixels.mean_per_segment(heat)
    focus = int(superpixels.labels.flat[int(np.argmax(heat))])
    order = [int(s) for s in np.argsort(-means, kind="stable") if s != focus]
    top = means.max() if means.size else 0.0
    return [(s, float(means[s])) for s in order[:limit] if top > 0 and means[s] >= threshold * top]


def ignore_regions(
    config: LabelConfig, analysis: Analysis, superpixels: Superpixels, size: tuple[int, int], limit: int, threshold: float
) -> list[dict]:
    """Suggested "ignore" regions: one BrushLabels region per selected superpixel (see :func:`ignore_candidates`)."""
    if not (config.brush_name and config.ignore_region_label) or limit <= 0:
        return []
    regions = []
    for segment, mean in ignore_candidates(superpixels, analysis.attention, limit, threshold):
        mask = superpixels.mask([segment], size).astype(np.uint8) * 255
        regions.append(_brush(config, config.ignore_region_label, mask, score=round(mean, 4), meta={"segment": segment}))
    return regions
