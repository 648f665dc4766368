"""Label Studio control tags, one small class each: which of the config's names and labels it provides, how its
annotated regions read into a training example, and how the regions it carries are written.

Found by tag when a config is parsed and by region type when an annotation is read, so a region of a type no class
claims is reported and skipped instead of reaching code that was not written for it.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from backend.core.examples import Example, Point
from backend.core.maps import resize_mask
from backend.core.outlines import polygon_mask
from backend.core.shorten import shorten
from backend.labelstudio.brush_rle import RLEError, mask_to_rle, rle_to_alpha

if TYPE_CHECKING:  # the config is built from these classes, so they know it by type only
    from backend.labelstudio.config import LabelConfig, LabelRoles

POSITIVE_WORDS = ("focus", "look", "object", "positive")
NEGATIVE_WORDS = ("ignore", "background", "negative")
HEAT_WORDS = ("attention", "heat")
SALIENCY_WORDS = ("object", "salient", "saliency")
MAX_POLYGON_POINTS = 10_000
MASK_SIDE = 1024  # outlines and brush regions are kept as masks at most this large (training resizes them anyway)
BRUSH_BUDGET = 4  # brush pixels one annotation may decode, in MAX_IMAGE_PIXELS: the limit is per annotation
QUOTED = 100  # characters of an annotator's value quoted in a message (answers and logs stay small)


def quote(value: object) -> str:
    """``value`` as a short repr, safe to put in a message."""
    return shorten(repr(value), QUOTED)


def pick(labels: list[str], words: tuple[str, ...], names: tuple[str, ...] = ()) -> str | None:
    """The label named in ``names`` (any case), else the first label containing one of ``words``."""
    wanted = {name.lower() for name in names}
    for label in labels:
        if label.lower() in wanted:
            return label
    for label in labels:
        if any(word in label.lower() for word in words):
            return label
    return None


def region(config: LabelConfig, from_name: str | None, kind: str, value: dict, size: tuple[int, int] | None = None) -> dict:
    """One region of control ``from_name`` on the config's image; ``size`` (H, W) of the image where the control
    needs it (brushes, points, boxes)."""
    found = {"id": uuid.uuid4().hex[:10], "from_name": from_name, "to_name": config.image_name, "type": kind}
    if size is not None:
        found |= {"original_width": int(size[1]), "original_height": int(size[0]), "image_rotation": 0}
    return found | {"value": value}


@dataclass
class Reading:
    """One annotation being read: the example it fills, what was skipped and why, and the brush pixels left."""

    config: LabelConfig
    example: Example
    messages: list[str]
    max_pixels: int
    brush_left: int = 0
    over_limits: bool = False
    unknown: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.brush_left = BRUSH_BUDGET * self.max_pixels

    def skip(self, region: dict, why: str) -> None:
        self.messages.append(f"region {quote(region.get('id', '?'))}: {why}")


class Control:
    """A control tag. ``provides`` names the LabelConfig fields it fills (the first control of its kind wins);
    ``read`` adds one annotated region to the example."""

    tag: ClassVar[str]
    region_type: ClassVar[str]
    provides: ClassVar[str]  # the LabelConfig field naming the control; set once the control is found

    @classmethod
    def fields(cls, name: str, labels: list[str], roles: LabelRoles, found: dict[str, Any]) -> dict[str, Any]:
        """The LabelConfig fields this control fills, given those ``found`` so far (empty: it adds nothing)."""
        return {} if cls.provides in found else {cls.provides: name} | cls.labelled(labels, roles)

    @classmethod
    def labelled(cls, labels: list[str], roles: LabelRoles) -> dict[str, Any]:
        return {}

    @classmethod
    def read(cls, region: dict, value: dict, reading: Reading) -> None:
        """Controls whose regions say nothing about the image's attention read nothing."""


class Choices(Control):
    """The class (the first Choices on the image) and, as a second Choices with the same classes, the model's guess."""

    tag, region_type, provides = "Choices", "choices", "choices_name"

    @classmethod
    def fields(cls, name: str, labels: list[str], roles: LabelRoles, found: dict[str, Any]) -> dict[str, Any]:
        if "choices_name" not in found:
            return {"choices_name": name, "classes": tuple(labels)}
        if "guess_name" not in found and tuple(labels) == found["classes"]:
            return {"guess_name": name}
        return {}

    @classmethod
    def read(cls, region: dict, value: dict, reading: Reading) -> None:
        config = reading.config
        if region.get("from_name") != config.choices_name:
            return
        choices = value.get("choices") or []
        if len(choices) != 1 or choices[0] not in config.classes:
            reading.skip(region, f"unknown class {quote(choices)}; known: {quote(list(config.classes))}")
            return
        reading.example.label = config.classes.index(choices[0])

    @staticmethod
    def write(config: LabelConfig, label: int, control: str | None = None) -> dict:
        """Class ``label`` (an index into the config's classes) in the annotator's Choices, or in ``control``."""
        return region(config, control or config.choices_name, "choices", {"choices": [config.classes[label]]})


def _finite(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def _unrotate(x: float, y: float, rotation: float) -> Point | None:
    """Map a point of an image shown rotated clockwise by ``rotation`` degrees back to the stored image."""
    turns = round(rotation / 90) % 4
    if not math.isclose(rotation % 90, 0, abs_tol=1e-6) and not math.isclose(rotation % 90, 90, abs_tol=1e-6):
        return None
    return [(x, y), (y, 100 - x), (100 - x, 100 - y), (100 - y, x)][turns]


class KeyPointLabels(Control):
    """Focus clicks on the object and ignore clicks on what the model should not use."""

    tag, region_type, provides = "KeyPointLabels", "keypointlabels", "keypoints_name"

    @classmethod
    def labelled(cls, labels: list[str], roles: LabelRoles) -> dict[str, Any]:
        return {"focus_label": pick(labels, POSITIVE_WORDS, roles.focus),
                "ignore_point_label": pick(labels, NEGATIVE_WORDS, roles.ignore)}

    @classmethod
    def read(cls, region: dict, value: dict, reading: Reading) -> None:
        x, y = value.get("x"), value.get("y")
        if not _finite(x, y):
            reading.skip(region, "point has no finite x/y")
            return
        point = _unrotate(float(x), float(y), float(region.get("image_rotation") or 0))
        if point is None:
            reading.skip(region, f"image rotation {quote(region.get('image_rotation'))} is not a multiple of 90")
            return
        if not (0 <= point[0] <= 100 and 0 <= point[1] <= 100):
            reading.skip(region, f"point ({x:g}, {y:g}) is outside the image")
            return
        labels = value.get("keypointlabels") or []
        if reading.config.focus_label in labels:
            reading.example.positive.append(point)
        elif reading.config.ignore_point_label in labels:
            reading.example.negative.append(point)
        else:
            reading.skip(region, f"unknown keypoint label {quote(labels)}")

    @staticmethod
    def write(config: LabelConfig, label: str, x: float, y: float, size: tuple[int, int]) -> dict:
        """A click at (``x``, ``y``) percent of the image with keypoint label ``label``."""
        return region(config, config.keypoints_name, "keypointlabels", {"x": x, "y": y, "width": 0.6, "keypointlabels": [label]}, size)


class RectangleLabels(Control):
    """Boxes around the object."""

    tag, region_type, provides = "RectangleLabels", "rectanglelabels", "rectangles_name"

    @classmethod
    def labelled(cls, labels: list[str], roles: LabelRoles) -> dict[str, Any]:
        return {"object_labels": tuple(labels)}

    @classmethod
    def read(cls, region: dict, value: dict, reading: Reading) -> None:
        x, y, w, h = (value.get(k) for k in ("x", "y", "width", "height"))
        if not _finite(x, y, w, h) or w <= 0 or h <= 0:
            reading.skip(region, "box needs finite x, y and positive width, height")
            return
        if value.get("rotation") or region.get("image_rotation"):
            reading.skip(region, "rotated boxes are not supported")
            return
        box = (max(0.0, x), max(0.0, y), min(100.0, x + w), min(100.0, y + h))
        if box[0] >= box[2] or box[1] >= box[3]:
            reading.skip(region, "box is outside the image")
            return
        reading.example.boxes.append(box)

    @staticmethod
    def write(config: LabelConfig, box: tuple[float, float, float, float], size: tuple[int, int]) -> dict:
        """The box (x0, y0, x1, y1 in pixels of an image of ``size`` (H, W)) with the config's first object label."""
        x0, y0, x1, y1 = box
        value = {"x": x0 / size[1] * 100, "y": y0 / size[0] * 100, "width": (x1 - x0) / size[1] * 100,
                 "height": (y1 - y0) / size[0] * 100, "rotation": 0, "rectanglelabels": [config.object_labels[0]]}
        return region(config, config.rectangles_name, "rectanglelabels", value, size)


def _kept_shape(height: int, width: int) -> tuple[int, int]:
    """The shape a mask of an image of ``height`` x ``width`` is kept at: at most ``MASK_SIDE`` on its long side."""
    scale = min(1.0, MASK_SIDE / max(width, height))
    return max(1, round(height * scale)), max(1, round(width * scale))


class PolygonLabels(Control):
    """The overlay the model draws into (heat outlines, suggested ignore regions); an annotator's ignore outline."""

    tag, region_type, provides = "PolygonLabels", "polygonlabels", "overlay_name"

    @classmethod
    def labelled(cls, labels: list[str], roles: LabelRoles) -> dict[str, Any]:
        return {"overlay_heat_label": pick(labels, HEAT_WORDS),
                "overlay_ignore_label": pick(labels, NEGATIVE_WORDS, roles.ignore)}

    @classmethod
    def read(cls, region: dict, value: dict, reading: Reading) -> None:
        config = reading.config
        if config.overlay_ignore_label not in (value.get("polygonlabels") or []) or region.get("from_name") != config.overlay_name:
            return  # the heat outlines are ours, not the annotator's
        points = value.get("points")
        if (not isinstance(points, list) or not 3 <= len(points) <= MAX_POLYGON_POINTS
                or not all(isinstance(p, list) and len(p) == 2 and _finite(*p) for p in points)):
            reading.skip(region, f"polygon needs 3 to {MAX_POLYGON_POINTS} finite [x, y] points")
            return
        width, height = region.get("original_width"), region.get("original_height")
        if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
            width, height = 1, 1  # only the shape matters: the mask is resized to the image
        mask = polygon_mask(np.clip(np.asarray(points, dtype=np.float64), 0, 100) / 100, _kept_shape(height, width))
        if mask.any():
            reading.example.ignore_masks.append(mask)

    @staticmethod
    def write(config: LabelConfig, label: str, points: np.ndarray, size: tuple[int, int], **extra: object) -> dict:
        """A closed outline (``points``: (N, 2) x, y in [0, 1]) with overlay label ``label``."""
        value = {"points": np.round(points * 100, 2).tolist(), "polygonlabels": [label], "closed": True}
        return region(config, config.overlay_name, "polygonlabels", value, size) | extra


class BrushLabels(Control):
    """Brush masks: the annotator's object or ignore regions; the heat and suggestions of configs without an overlay."""

    tag, region_type, provides = "BrushLabels", "brushlabels", "brush_name"

    @classmethod
    def labelled(cls, labels: list[str], roles: LabelRoles) -> dict[str, Any]:
        return {"heat_label": pick(labels, HEAT_WORDS), "ignore_region_label": pick(labels, NEGATIVE_WORDS, roles.ignore),
                "saliency_label": pick(labels, SALIENCY_WORDS, roles.object)}

    @classmethod
    def read(cls, region: dict, value: dict, reading: Reading) -> None:
        config = reading.config
        labels = value.get("brushlabels") or []
        if not ({config.ignore_region_label, config.saliency_label} - {None}) & set(labels):
            return  # the heat overlay is ours, not the annotator's
        width, height = region.get("original_width"), region.get("original_height")
        if value.get("format") != "rle" or not isinstance(width, int) or not isinstance(height, int):
            reading.skip(region, "brush region needs RLE and original_width/height")
            return
        if not (0 < width * height <= reading.max_pixels) or width <= 0:
            reading.skip(region, f"brush region of {width}x{height} pixels (at most {reading.max_pixels}, MAX_IMAGE_PIXELS)")
            return
        if width * height > reading.brush_left:
            reading.over_limits = True
            reading.skip(region, f"the annotation's brush regions hold more than {BRUSH_BUDGET} x MAX_IMAGE_PIXELS pixels in all")
            return
        reading.brush_left -= width * height
        try:  # decoded one region at a time and kept reduced, so many regions cost one region's memory
            pixels = resize_mask(rle_to_alpha(value.get("rle"), height, width) > 0, *_kept_shape(height, width))
        except RLEError as exc:
            reading.skip(region, f"unreadable brush region ({exc})")
            return
        if config.ignore_region_label in labels:
            reading.example.ignore_masks.append(pixels)
        else:
            reading.example.saliency_masks.append(pixels)

    @staticmethod
    def write(config: LabelConfig, label: str, mask: np.ndarray, **extra: object) -> dict:
        """``mask`` (uint8 opacity, or bool) as an RLE brush region with label ``label``."""
        alpha = mask.astype(np.uint8) * 255 if mask.dtype == bool else mask
        value = {"format": "rle", "rle": mask_to_rle(alpha), "brushlabels": [label]}
        return region(config, config.brush_name, "brushlabels", value, mask.shape) | extra


class Silent(Control):
    """Controls an annotator may add beside ours (text areas, ratings): known by region type, read as nothing; never
    looked up by tag, so they fill no field of the config."""

    tag, region_type, provides = "", "", ""


CONTROLS: tuple[type[Control], ...] = (Choices, KeyPointLabels, RectangleLabels, PolygonLabels, BrushLabels)
BY_TAG: dict[str, type[Control]] = {c.tag: c for c in CONTROLS}
SILENT_TYPES = frozenset({"textarea", "rating", "number", "datetime", "taxonomy", "labels", "relation", "pairwise",
                          "ranker", "ellipselabels", "hypertextlabels", "paragraphlabels", "timeserieslabels"})
BY_REGION_TYPE: dict[str, type[Control]] = {c.region_type: c for c in CONTROLS} | {t: Silent for t in SILENT_TYPES}
