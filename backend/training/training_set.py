"""Annotated examples as tensors at model size with their guidance targets at loss size."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from backend.core.examples import Example
from backend.core.losses import GuidanceTargets
from backend.core.maps import box_mask, box_pixels, resize_map, resize_mask
from backend.core.superpixels import SuperpixelParams, Superpixels, compute_superpixels
from backend.models.inference import to_batch

# Guidance targets and attention maps are compared at most at this resolution: the CAM
# itself has 1/32 of the input's (7x7 at 224 px), and SSIM at 224 px would cost more
# than the network's own forward and backward pass on a CPU.
LOSS_RESOLUTION = 64
logger = logging.getLogger(__name__)


@dataclass
class TrainingSet:
    """Annotated images as tensors at model input size, with their guidance targets."""

    inputs: torch.Tensor  # (N, 3, S, S) normalised
    labels: torch.Tensor  # (N,) class index, -1 when unknown
    targets: GuidanceTargets
    pixel_boxes: list[tuple[int, int, int, int] | None]
    objects: torch.Tensor  # (N, S, S) bool: where the object is (mask, box, or grown from the focus click)
    ignore: torch.Tensor  # (N, S, S) bool: what must not carry the class (ignore marks; outside a box or mask)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: torch.Tensor) -> "TrainingSet":
        picked = self.targets.apply(lambda tensor: tensor[index])
        return TrainingSet(self.inputs[index], self.labels[index], picked, [self.pixel_boxes[i] for i in index.tolist()],
                           self.objects[index], self.ignore[index])


def grow_from_clicks(image: np.ndarray, segmentation: Superpixels, points: list[tuple[float, float]],
                     tolerance: float = 1.0) -> np.ndarray:
    """The object around focus clicks (percent coordinates): the clicked superpixels and the connected ones whose
    mean colour is within ``tolerance`` times the colour spread of the clicked ones' pixels.

    Growth follows superpixel adjacency, so background joins only where it looks like the object. An estimate
    (a box or a brush mask is exact); returns a boolean mask at image size.
    """
    labels = segmentation.labels
    h, w = labels.shape
    small = np.asarray(Image.fromarray(image).resize((w, h), Image.BILINEAR), dtype=np.float64).reshape(-1, 3)
    flat = labels.ravel()
    counts = np.maximum(np.bincount(flat, minlength=segmentation.count), 1)
    means = np.stack([np.bincount(flat, weights=small[:, c], minlength=segmentation.count) for c in range(3)], 1) / counts[:, None]
    seeds = {segmentation.segment_at(x, y) for x, y in points}
    inside = np.isin(flat, list(seeds))
    centre = small[inside].mean(0)
    spread = float(np.sqrt(((small[inside] - centre) ** 2).sum(1).mean()))
    pairs = np.concatenate([np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], 1),
                            np.stack([labels[:-1].ravel(), labels[1:].ravel()], 1)])
    pairs = np.unique(np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1), axis=0)
    neighbours: dict[int, set[int]] = {}
    for a, b in pairs.tolist():
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    grown, frontier = set(seeds), list(seeds)
    while frontier:
        for other in neighbours.get(frontier.pop(), ()):
            if other not in grown and np.linalg.norm(means[other] - centre) <= tolerance * spread:
                grown.add(other)
                frontier.append(other)
    return resize_mask(np.isin(labels, list(grown)), *image.shape[:2])


def prepare(examples: list[Example], images: list[np.ndarray], size: int, superpixels: SuperpixelParams = SuperpixelParams(),
            saliency: list[np.ndarray | None] | None = None) -> TrainingSet:
    """Tensors and targets for ``examples`` with their RGB ``images``; ``saliency``: optional maps in [0, 1] per example
    (object masks, or SAL's machine saliency) that replace the example's own object regions and box as CYBORG target.

    Inputs are at model size ``size``; targets at ``min(size, LOSS_RESOLUTION)``.
    """
    n = len(examples)
    loss_size = min(size, LOSS_RESOLUTION)
    positive = np.zeros((n, 2), dtype=np.float32)
    has_positive = np.zeros(n, dtype=bool)
    negative = np.zeros((n, loss_size, loss_size), dtype=np.float32)
    box = np.zeros((n, loss_size, loss_size), dtype=np.float32)
    human = np.zeros((n, loss_size, loss_size), dtype=np.float32)
    pixel_boxes: list[tuple[int, int, int, int] | None] = []
    objects = np.zeros((n, size, size), dtype=bool)
    ignored = np.zeros((n, size, size), dtype=bool)
    labels = [-1 if e.label is None else e.label for e in examples]
    for i, (example, image) in enumerate(zip(examples, images)):
        try:
            box_at = _fill_targets(i, example, image, size, superpixels, saliency, positive, has_positive, negative,
                                   box, human, objects, ignored)
        except Exception as exc:  # one example whose targets cannot be built teaches nothing and fails nothing
            logger.warning("task %.100s left out of training: %s: %.300s", example.task_id, type(exc).__name__, exc)
            labels[i], has_positive[i], box_at = -1, False, None
            for array in (negative, box, human, objects, ignored):
                array[i] = 0
        pixel_boxes.append(box_at)
    targets = GuidanceTargets(
        positive=torch.from_numpy(positive), has_positive=torch.from_numpy(has_positive),
        negative=torch.from_numpy(negative), box=torch.from_numpy(box),
        has_box=torch.from_numpy(box.reshape(n, -1).sum(1) > 0), saliency=torch.from_numpy(human),
    )
    return TrainingSet(to_batch(images, size), torch.tensor(labels, dtype=torch.long), targets, pixel_boxes,
                       torch.from_numpy(objects), torch.from_numpy(ignored))


def _fill_targets(i: int, example: Example, image: np.ndarray, size: int, superpixels: SuperpixelParams,
                  saliency: list[np.ndarray | None] | None, positive: np.ndarray, has_positive: np.ndarray,
                  negative: np.ndarray, box: np.ndarray, human: np.ndarray, objects: np.ndarray,
                  ignored: np.ndarray) -> tuple[int, int, int, int] | None:
    """Write row ``i`` of the target arrays for one example; returns its first box in pixels at model size."""
    loss_size = negative.shape[-1]
    segmentation = compute_superpixels(image, superpixels) if example.negative or example.positive else None
    if example.positive:
        positive[i] = np.mean(np.asarray(example.positive, dtype=np.float32), axis=0) / 100.0
        has_positive[i] = True
    ignore = np.zeros(image.shape[:2], dtype=bool)
    if example.negative:
        segments = [segmentation.segment_at(x, y) for x, y in example.negative]
        ignore |= segmentation.mask(segments, image.shape[:2])
    for mask in example.ignore_masks:  # drawn at the full image's size, the image here is reduced
        ignore |= resize_mask(mask, *ignore.shape)
    if ignore.any():
        negative[i] = resize_map(ignore.astype(np.float32), loss_size, loss_size) > 0.5
    box[i] = box_mask(example.boxes, (loss_size, loss_size), unit=100)
    given = saliency[i] if saliency is not None and saliency[i] is not None else example.saliency_mask()
    human[i] = resize_map(given.astype(np.float32), loss_size, loss_size) if given is not None else box[i]
    if given is not None:
        exact = resize_map(given.astype(np.float32), size, size) > 0.5
    elif example.boxes:
        exact = box_mask(example.boxes, (size, size), unit=100)
    else:
        exact = None
    if exact is not None:
        objects[i], ignored[i] = exact, ~exact
    elif example.positive:
        objects[i] = resize_mask(grow_from_clicks(image, segmentation, example.positive), size, size)
    ignored[i] |= resize_mask(ignore, size, size)
    return box_pixels(example.boxes[0], (size, size), unit=100) if example.boxes else None


