"""Annotated examples as tensors at model size with their guidance targets at loss size."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from backend.core.examples import Example
from backend.core.losses import GuidanceTargets
from backend.core.maps import box_mask, box_pixels, resize_map
from backend.core.superpixels import SuperpixelParams, compute_superpixels
from backend.models.inference import to_batch

# Guidance targets and attention maps are compared at most at this resolution: the CAM
# itself has 1/32 of the input's (7x7 at 224 px), and SSIM at 224 px would cost more
# than the network's own forward and backward pass on a CPU.
LOSS_RESOLUTION = 64


@dataclass
class TrainingSet:
    """Annotated images as tensors at model input size, with their guidance targets."""

    inputs: torch.Tensor  # (N, 3, S, S) normalised
    labels: torch.Tensor  # (N,) class index, -1 when unknown
    targets: GuidanceTargets
    pixel_boxes: list[tuple[int, int, int, int] | None]

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: torch.Tensor) -> "TrainingSet":
        picked = self.targets.apply(lambda tensor: tensor[index])
        return TrainingSet(self.inputs[index], self.labels[index], picked, [self.pixel_boxes[i] for i in index.tolist()])


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
    for i, (example, image) in enumerate(zip(examples, images)):
        if example.positive:
            positive[i] = np.mean(np.asarray(example.positive, dtype=np.float32), axis=0) / 100.0
            has_positive[i] = True
        ignore = np.zeros(image.shape[:2], dtype=bool)
        if example.negative:
            segmentation = compute_superpixels(image, superpixels)
            segments = [segmentation.segment_at(x, y) for x, y in example.negative]
            ignore |= segmentation.mask(segments, image.shape[:2])
        for mask in example.ignore_masks:
            if mask.shape == ignore.shape:
                ignore |= mask
        if ignore.any():
            negative[i] = resize_map(ignore.astype(np.float32), loss_size, loss_size) > 0.5
        box[i] = box_mask(example.boxes, (loss_size, loss_size), unit=100)
        pixel_boxes.append(box_pixels(example.boxes[0], (size, size), unit=100) if example.boxes else None)
        given = saliency[i] if saliency is not None and saliency[i] is not None else example.saliency_mask()
        human[i] = resize_map(given.astype(np.float32), loss_size, loss_size) if given is not None else box[i]
    targets = GuidanceTargets(
        positive=torch.from_numpy(positive), has_positive=torch.from_numpy(has_positive),
        negative=torch.from_numpy(negative), box=torch.from_numpy(box),
        has_box=torch.from_numpy(box.reshape(n, -1).sum(1) > 0), saliency=torch.from_numpy(human),
    )
    labels = torch.tensor([-1 if e.label is None else e.label for e in examples], dtype=torch.long)
    return TrainingSet(to_batch(images, size), labels, targets, pixel_boxes)


