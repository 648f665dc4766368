"""The prediction regions of one analysed image, one small builder per control: class, heat, ignore, object.

The heat and the suggested regions go into the config's PolygonLabels overlay as outlines (a few kB at any image
size); configs without one get full-resolution BrushLabels masks, which grow with the image."""
from __future__ import annotations

import numpy as np

from backend.core.maps import resize_map
from backend.core.outlines import level_outlines, mask_outline
from backend.core.superpixels import Superpixels
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.controls import BrushLabels, Choices, PolygonLabels
from backend.models.inference import Analysis

HEAT_LEVELS = 8  # quantising the heat keeps the RLE short; 8 shades are plenty to see the gradient
OVERLAY_LEVELS = 4  # nested heat outlines in the overlay control
HEAT_OUTLINE_SIDE = 64  # the heat is outlined on the attention map at this size (it is smooth; the outline is short)


def saliency_region(config: LabelConfig, saliency: np.ndarray, size: tuple[int, int], threshold: float = 0.5) -> list[dict]:
    """SAL's suggested object region (editable): the interpretability model's saliency above ``threshold``."""
    if not (config.brush_name and config.saliency_label):
        return []
    mask = resize_map(saliency, size[0], size[1]) >= threshold
    return [BrushLabels.write(config, config.saliency_label, mask)] if mask.any() else []


def choice_region(config: LabelConfig, analysis: Analysis, prefill: bool = False) -> list[dict]:
    """The predicted class, its probability as score: as the model's guess where the config has a place for it, and
    ticked as the annotator's answer only with ``prefill`` (a pre-ticked answer invites accepting it unchecked)."""
    index = analysis.predicted
    score = {"score": float(analysis.probabilities[index])}
    controls = ([config.guess_name] if config.guess_name else []) + ([config.choices_name] if prefill else [])
    return [Choices.write(config, index, control) | score for control in controls]


def heat_alpha(attention: np.ndarray, height: int, width: int, floor: float) -> np.ndarray:
    """uint8 opacity of the heat overlay: 0 below ``floor``, then ``HEAT_LEVELS`` shades up to 255."""
    heat = resize_map(attention, height, width)
    levels = np.ceil((heat - floor) / (1.0 - floor) * HEAT_LEVELS).clip(0, HEAT_LEVELS)
    return (levels * (255 // HEAT_LEVELS)).astype(np.uint8)


def heat_region(config: LabelConfig, analysis: Analysis, size: tuple[int, int], floor: float) -> list[dict]:
    """The attention map, drawn where it reaches ``floor``: nested outlines at ``OVERLAY_LEVELS`` levels in the
    overlay control (each level adds the control's opacity, so the shade follows the attention), or, in configs
    without one, a graded BrushLabels region at the image's full size."""
    if config.overlay_name and config.overlay_heat_label:
        heat = analysis.attention
        if max(heat.shape) > HEAT_OUTLINE_SIDE:
            heat = resize_map(heat, HEAT_OUTLINE_SIDE, HEAT_OUTLINE_SIDE)
        levels = [floor + k * (1.0 - floor) / OVERLAY_LEVELS for k in range(OVERLAY_LEVELS)]
        return [PolygonLabels.write(config, config.overlay_heat_label, points, size, readonly=True, meta={"level": index + 1})
                for index, points in level_outlines(heat, levels)]
    if not (config.brush_name and config.heat_label):
        return []
    alpha = heat_alpha(analysis.attention, size[0], size[1], floor)
    return [BrushLabels.write(config, config.heat_label, alpha, readonly=True)]


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


def _segment_region(config: LabelConfig, superpixels: Superpixels, segment: int, size: tuple[int, int],
                    **extra: object) -> dict | None:
    """Segment ``segment`` as an ignore region: its exact outline in the overlay control, or, in configs without
    one, a brush mask at the image's full size; None where the config has neither (or the outline is empty)."""
    if config.overlay_name and config.overlay_ignore_label:
        points = mask_outline(superpixels.labels == segment)
        return None if points is None else PolygonLabels.write(config, config.overlay_ignore_label, points, size, **extra)
    if config.brush_name and config.ignore_region_label:
        return BrushLabels.write(config, config.ignore_region_label, superpixels.mask([segment], size), **extra)
    return None


def ignore_regions(
    config: LabelConfig, analysis: Analysis, superpixels: Superpixels, size: tuple[int, int], limit: int, threshold: float
) -> list[dict]:
    """Suggested "ignore" regions, one per selected superpixel (see :func:`ignore_candidates`)."""
    if limit <= 0 or not config.suggests_ignore_regions:  # nowhere to draw them: no segment is ranked
        return []
    # no region score: Label Studio would show it as an unexplained number; the mean attention stays in meta
    found = (_segment_region(config, superpixels, segment, size, meta={"segment": segment, "attention": round(mean, 4)})
             for segment, mean in ignore_candidates(superpixels, analysis.attention, limit, threshold))
    return [r for r in found if r is not None]


def clicked_regions(config: LabelConfig, superpixels: Superpixels, points: list[tuple[float, float]],
                    size: tuple[int, int]) -> list[dict]:
    """The superpixel under each ignore click (percent coordinates), as training will use it; each segment once."""
    segments = dict.fromkeys(superpixels.segment_at(x, y) for x, y in points)
    found = (_segment_region(config, superpixels, segment, size, meta={"segment": segment}) for segment in segments)
    return [r for r in found if r is not None]
