"""Turn a Label Studio task + annotation into a training example, one small reader per control tag.

Coordinates stay in Label Studio's percent of the image (top-left origin) until an
image is at hand; negative clicks map to the superpixel under them at training time
with the same segmentation as predict.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from backend.core.examples import Example, Point
from backend.core.maps import resize_mask
from backend.core.outlines import polygon_mask
from backend.core.shorten import shorten
from backend.labelstudio.brush_rle import RLEError, rle_to_alpha
from backend.labelstudio.config import LabelConfig
from backend.labelstudio.images import MAX_IMAGE_PIXELS

POLICIES = ("latest", "merge")
MAX_POLYGON_POINTS = 10_000
MASK_SIDE = 1024  # outlines and brush regions are kept as masks at most this large (training resizes them anyway)
BRUSH_BUDGET = 4  # brush pixels one annotation may decode, in MAX_IMAGE_PIXELS: the limit is per annotation
SILENT_TYPES = frozenset({"textarea", "rating", "number", "datetime", "taxonomy", "labels", "relation", "pairwise",
                          "ranker", "ellipselabels", "hypertextlabels", "paragraphlabels", "timeserieslabels"})
QUOTED = 100  # characters of an annotator's value quoted in a message (answers and logs stay small)


def _quote(value: object) -> str:
    return shorten(repr(value), QUOTED)


@dataclass
class Parsed:
    """An example (or None when nothing is usable), the messages explaining what was skipped, and whether a region
    went past a limit that no annotation of a real image reaches (a webhook refuses such an annotation)."""

    example: Example | None
    messages: list[str] = field(default_factory=list)
    over_limits: bool = False


def _unrotate(x: float, y: float, rotation: float) -> Point | None:
    """Map a point of an image shown rotated clockwise by ``rotation`` degrees back to the stored image."""
    turns = round(rotation / 90) % 4
    if not math.isclose(rotation % 90, 0, abs_tol=1e-6) and not math.isclose(rotation % 90, 90, abs_tol=1e-6):
        return None
    return [(x, y), (y, 100 - x), (100 - x, 100 - y), (100 - y, x)][turns]


def _finite(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def _annotation_time(annotation: dict) -> tuple:
    return (str(annotation.get("updated_at") or ""), str(annotation.get("created_at") or ""), str(annotation.get("id") or ""))


def select_annotations(annotations: list[dict], policy: str = "latest") -> tuple[list[dict], list[str]]:
    """Usable annotations of a task: the latest one, or all (``merge``); cancelled ones are skipped."""
    if policy not in POLICIES:
        raise ValueError(f"unknown annotation policy '{policy}'; choose one of {POLICIES}")
    messages = []
    usable = []
    for annotation in annotations:
        if not isinstance(annotation, dict):
            messages.append("annotation is not an object")
        elif annotation.get("was_cancelled"):
            messages.append(f"annotation {annotation.get('id')} was skipped by the annotator")
        else:
            usable.append(annotation)
    usable.sort(key=_annotation_time)
    return (usable[-1:] if policy == "latest" else usable), messages


class _RegionReader:
    """Reads the regions of one annotation into an Example, one method per control tag."""

    def __init__(self, config: LabelConfig, example: Example, messages: list[str], max_pixels: int):
        self.config = config
        self.max_pixels = max_pixels
        self.brush_left = BRUSH_BUDGET * max_pixels
        self.over_limits = False
        self.example = example
        self.messages = messages
        self.readers = {"choices": self._choices, "keypointlabels": self._keypointlabels,
                        "rectanglelabels": self._rectanglelabels, "polygonlabels": self._polygonlabels,
                        "brushlabels": self._brushlabels}
        self.unknown: set[str] = set()

    def read(self, region: dict) -> None:
        if not isinstance(region, dict) or not isinstance(region.get("value"), dict):
            self.messages.append("region without a 'value' object")
            return
        kind = str(region.get("type", "")).lower()
        reader = self.readers.get(kind)
        if reader is None:  # other controls (text areas, ratings) say nothing about attention
            if kind not in SILENT_TYPES and len(self.unknown) < 10:
                self.unknown.add(kind)
            return
        try:
            reader(region, region["value"])
        except Exception as exc:  # a region no check foresaw costs itself, never the annotation or a training run
            self.messages.append(f"{self._where(region)}: unreadable {_quote(kind)} region ({type(exc).__name__})")

    def _where(self, region: dict) -> str:
        return f"region {_quote(region.get('id', '?'))}"

    def _choices(self, region: dict, value: dict) -> None:
        if region.get("from_name") != self.config.choices_name:
            return
        choices = value.get("choices") or []
        if len(choices) != 1 or choices[0] not in self.config.classes:
            self.messages.append(f"{self._where(region)}: unknown class {_quote(choices)}; known: {_quote(list(self.config.classes))}")
            return
        self.example.label = self.config.classes.index(choices[0])

    def _point(self, region: dict, value: dict) -> Point | None:
        x, y = value.get("x"), value.get("y")
        if not _finite(x, y):
            self.messages.append(f"{self._where(region)}: point has no finite x/y")
            return None
        point = _unrotate(float(x), float(y), float(region.get("image_rotation") or 0))
        if point is None:
            self.messages.append(f"{self._where(region)}: image rotation {_quote(region.get('image_rotation'))} is not a multiple of 90")
            return None
        if not (0 <= point[0] <= 100 and 0 <= point[1] <= 100):
            self.messages.append(f"{self._where(region)}: point ({x:g}, {y:g}) is outside the image")
            return None
        return point

    def _keypointlabels(self, region: dict, value: dict) -> None:
        labels = value.get("keypointlabels") or []
        point = self._point(region, value)
        if point is None:
            return
        if self.config.focus_label in labels:
            self.example.positive.append(point)
        elif self.config.ignore_point_label in labels:
            self.example.negative.append(point)
        else:
            self.messages.append(f"{self._where(region)}: unknown keypoint label {_quote(labels)}")

    def _rectanglelabels(self, region: dict, value: dict) -> None:
        x, y, w, h = (value.get(k) for k in ("x", "y", "width", "height"))
        if not _finite(x, y, w, h) or w <= 0 or h <= 0:
            self.messages.append(f"{self._where(region)}: box needs finite x, y and positive width, height")
            return
        if value.get("rotation") or region.get("image_rotation"):
            self.messages.append(f"{self._where(region)}: rotated boxes are not supported")
            return
        box = (max(0.0, x), max(0.0, y), min(100.0, x + w), min(100.0, y + h))
        if box[0] >= box[2] or box[1] >= box[3]:
            self.messages.append(f"{self._where(region)}: box is outside the image")
            return
        self.example.boxes.append(box)

    def _polygonlabels(self, region: dict, value: dict) -> None:
        labels = value.get("polygonlabels") or []
        if self.config.overlay_ignore_label not in labels or region.get("from_name") != self.config.overlay_name:
            return  # the heat outlines are ours, not the annotator's
        points = value.get("points")
        if (not isinstance(points, list) or not 3 <= len(points) <= MAX_POLYGON_POINTS
                or not all(isinstance(p, list) and len(p) == 2 and _finite(*p) for p in points)):
            self.messages.append(f"{self._where(region)}: polygon needs 3 to {MAX_POLYGON_POINTS} finite [x, y] points")
            return
        width, height = region.get("original_width"), region.get("original_height")
        if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
            width, height = 1, 1  # only the shape matters: the mask is resized to the image
        mask = polygon_mask(np.clip(np.asarray(points, dtype=np.float64), 0, 100) / 100, _kept_shape(height, width))
        if mask.any():
            self.example.ignore_masks.append(mask)

    def _brushlabels(self, region: dict, value: dict) -> None:
        labels = value.get("brushlabels") or []
        wanted = {self.config.ignore_region_label, self.config.saliency_label} - {None}
        if not wanted & set(labels):
            return  # the heat overlay is ours, not the annotator's
        width, height = region.get("original_width"), region.get("original_height")
        if value.get("format") != "rle" or not isinstance(width, int) or not isinstance(height, int):
            self.messages.append(f"{self._where(region)}: brush region needs RLE and original_width/height")
            return
        if not (0 < width * height <= self.max_pixels) or width <= 0:
            self.messages.append(f"{self._where(region)}: brush region of {width}x{height} pixels (at most "
                                 f"{self.max_pixels}, MAX_IMAGE_PIXELS)")
            return
        if width * height > self.brush_left:
            self.over_limits = True
            self.messages.append(f"{self._where(region)}: the annotation's brush regions hold more than "
                                 f"{BRUSH_BUDGET} x MAX_IMAGE_PIXELS pixels in all")
            return
        self.brush_left -= width * height
        try:  # decoded one region at a time and kept reduced, so many regions cost one region's memory
            pixels = resize_mask(rle_to_alpha(value.get("rle"), height, width) > 0, *_kept_shape(height, width))
        except RLEError as exc:
            self.messages.append(f"{self._where(region)}: unreadable brush region ({exc})")
            return
        if self.config.ignore_region_label in labels:
            self.example.ignore_masks.append(pixels)
        else:
            self.example.saliency_masks.append(pixels)


def _kept_shape(height: int, width: int) -> tuple[int, int]:
    """The shape a mask of an image of ``height`` x ``width`` is kept at: at most ``MASK_SIDE`` on its long side."""
    scale = min(1.0, MASK_SIDE / max(width, height))
    return max(1, round(height * scale)), max(1, round(width * scale))


def parse_task(task: dict, annotations: list[dict] | None, config: LabelConfig, policy: str = "latest",
               max_pixels: int = MAX_IMAGE_PIXELS) -> Parsed:
    """The training example of ``task`` from its ``annotations`` (default: ``task['annotations']``); brush regions
    over ``max_pixels`` are skipped with a message before they are decoded."""
    messages: list[str] = []
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        return Parsed(None, ["task has no 'data' object"])
    url = task["data"].get(config.image_key)
    if not isinstance(url, str) or not url:
        return Parsed(None, [f"task {task.get('id')}: no '{config.image_key}' in task data"])
    chosen, skipped = select_annotations(annotations if annotations is not None else task.get("annotations") or [], policy)
    messages += [f"task {task.get('id')}: {m}" for m in skipped]
    if not chosen:
        return Parsed(None, messages + [f"task {task.get('id')}: no usable annotation"])
    example = Example(task_id=task.get("id"), image_url=url, annotation_id=chosen[-1].get("id"))
    reader = _RegionReader(config, example, messages, max_pixels)
    for annotation in chosen:
        regions = annotation.get("result") or []
        if not isinstance(regions, list):
            messages.append(f"task {task.get('id')}: annotation {annotation.get('id')} has a 'result' that is not a list")
            continue
        for region in regions:
            reader.read(region)
    if reader.unknown:
        messages.append(f"task {_quote(task.get('id'))}: region types {sorted(map(_quote, reader.unknown))} say "
                        "nothing about attention and were skipped")
    if example.label is None and not example.has_guidance:
        return Parsed(None, messages + [f"task {task.get('id')}: annotation has neither a class nor guidance"],
                      reader.over_limits)
    return Parsed(example, messages, reader.over_limits)


def context_clicks(task: dict, context: object, config: LabelConfig) -> list[tuple[float, float]]:
    """The ignore clicks (percent of the image, rotation undone) an annotator just placed with a smart keypoint
    tool, which Label Studio sends as ``/predict``'s ``context``; an alt-click (``is_positive: false``) with any
    keypoint label counts as an ignore click."""
    results = context.get("result") if isinstance(context, dict) else None
    if not isinstance(results, list) or not config.ignore_point_label:
        return []
    regions = []
    for region in results:
        if not isinstance(region, dict) or region.get("type") != "keypointlabels" or not isinstance(region.get("value"), dict):
            continue
        if region.get("is_positive") is False:
            region = region | {"value": region["value"] | {"keypointlabels": [config.ignore_point_label]}}
        regions.append(region)
    parsed = parse_task(task, [{"id": "context", "result": regions}], config) if regions else None
    return list(parsed.example.negative) if parsed is not None and parsed.example is not None else []
