"""Simulated annotators: the Label Studio annotation a person would submit, from a known object mask or box.

Each annotation is the JSON the project's templates produce (percent coordinates,
top-left origin) and goes through the same parser as real annotations. Its
``lead_time`` is the expected human time: IUI 2023's user study measured 5.3-6.7 s
per image for clicks and 7.3-8.7 s for polygons; a box is costed like a polygon.
"""
from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.ndimage import distance_transform_edt

from backend.core.maps import resize_map
from backend.core.superpixels import Superpixels
from backend.evaluation.dataset import Dataset
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.controls import BrushLabels, Choices, KeyPointLabels, RectangleLabels

CLICK_SECONDS = 6.0
BOX_SECONDS = 8.0
LABEL_SECONDS = 2.0  # choosing the class alone (SAL's label-only images)
MASK_SECONDS = 12.0  # painting the object with the brush: our estimate, above IUI 2023's 7.3-8.7 s for polygons


def _deepest_point(mask: np.ndarray) -> tuple[int, int]:
    depth = distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(depth)), mask.shape)
    return int(row), int(col)


def _percent(row: float, col: float, shape: tuple[int, int]) -> tuple[float, float]:
    return (col + 0.5) / shape[1] * 100.0, (row + 0.5) / shape[0] * 100.0


def _keypoint(config: LabelConfig, label: str, row: float, col: float, shape: tuple[int, int]) -> dict:
    return KeyPointLabels.write(config, label, *_percent(row, col, shape), shape)


def click_annotation(
    config: LabelConfig,
    label: int,
    mask: np.ndarray,
    attention: np.ndarray | None = None,
    superpixels: Superpixels | None = None,
    rng: np.random.Generator | None = None,
    noise: float = 0.0,
    max_negative: int = 3,
    threshold: float = 0.3,
) -> dict:
    """One positive click in the object and negative clicks on the segments with most attention outside it.

    ``noise`` moves the positive click by a Gaussian offset of ``noise`` times the object's
    size (kept inside the object); negative clicks go to the up to ``max_negative``
    superpixels that overlap the object by less than 10% and whose mean attention
    reaches ``threshold`` of the strongest such segment.
    """
    if not (config.keypoints_name and config.focus_label):
        raise ValueError("the labeling config has no KeyPointLabels control with a focus label")
    rng = rng or np.random.default_rng(0)
    shape = mask.shape
    row, col = _deepest_point(mask)
    if noise > 0:
        scale = noise * np.sqrt(mask.sum())
        for _ in range(20):
            r, c = np.round([row, col] + rng.normal(0, scale, 2)).astype(int)
            if 0 <= r < shape[0] and 0 <= c < shape[1] and mask[r, c]:
                row, col = int(r), int(c)
                break
    result = [Choices.write(config, label), _keypoint(config, config.focus_label, row, col, shape)]
    if attention is not None and superpixels is not None and max_negative > 0 and config.ignore_point_label:
        labels = superpixels.labels
        heat = resize_map(attention, *labels.shape)
        small_mask = resize_map(mask.astype(np.float32), *labels.shape) > 0.5
        means = superpixels.mean_per_segment(heat)
        inside = superpixels.mean_per_segment(small_mask.astype(np.float64))
        outside = [s for s in np.argsort(-means, kind="stable") if inside[s] < 0.1]
        top = means[outside[0]] if outside else 0.0
        for segment in outside[:max_negative]:
            if top <= 0 or means[segment] < threshold * top:
                break
            r, c = _deepest_point(labels == segment)
            result.append(_keypoint(config, config.ignore_point_label, r * shape[0] / labels.shape[0], c * shape[1] / labels.shape[1], shape))
    return {"result": result, "was_cancelled": False, "lead_time": CLICK_SECONDS, "meta": {"simulated": "click"}}


def box_annotation(
    config: LabelConfig,
    label: int,
    box: tuple[float, float, float, float],
    shape: tuple[int, int],
    rng: np.random.Generator | None = None,
    jitter: float = 0.0,
) -> dict:
    """The object's box (pixels, exclusive max) as a RectangleLabels region; ``jitter`` moves each side by that share of the box size."""
    if not (config.rectangles_name and config.object_labels):
        raise ValueError("the labeling config has no RectangleLabels control")
    rng = rng or np.random.default_rng(0)
    x0, y0, x1, y1 = (float(v) for v in box)
    if jitter > 0:
        w, h = x1 - x0, y1 - y0
        x0, x1 = x0 + rng.normal(0, jitter * w), x1 + rng.normal(0, jitter * w)
        y0, y1 = y0 + rng.normal(0, jitter * h), y1 + rng.normal(0, jitter * h)
    x0, x1 = sorted((float(np.clip(x0, 0, shape[1])), float(np.clip(x1, 0, shape[1]))))
    y0, y1 = sorted((float(np.clip(y0, 0, shape[0])), float(np.clip(y1, 0, shape[0]))))
    result = [Choices.write(config, label), RectangleLabels.write(config, (x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)), shape)]
    return {"result": result, "was_cancelled": False, "lead_time": BOX_SECONDS, "meta": {"simulated": "box"}}


def mask_annotation(config: LabelConfig, label: int, mask: np.ndarray) -> dict:
    """The object painted with the brush as an "Object" region (what a person gives for exact object masks)."""
    if not (config.brush_name and config.saliency_label):
        raise ValueError("the labeling config has no BrushLabels control with an object label")
    result = [Choices.write(config, label), BrushLabels.write(config, config.saliency_label, mask.astype(bool))]
    return {"result": result, "was_cancelled": False, "lead_time": MASK_SECONDS, "meta": {"simulated": "mask"}}


def click_event(data: Dataset, xml: str, index: int, project: int, action: str = "ANNOTATION_CREATED") -> dict:
    """The webhook body Label Studio sends when a person clicks the object of training image ``index`` of ``data``
    (served from ``data.root`` as Label Studio local files)."""
    sample = data.splits["train"][index]
    mask = np.asarray(Image.open(sample.mask)) > 0
    annotation = click_annotation(LabelConfig.parse(xml), sample.label, mask) | {"id": 1000 + index}
    task = {"id": index, "data": {"image": f"/data/local-files/?d={sample.image.relative_to(data.root)}"}}
    return {"action": action, "annotation": annotation, "task": task, "project": {"id": project, "label_config": xml}}
