"""Object masks for the labelled images nobody annotated, read off the guided model's own attention.

Background swaps reach only the few annotated images; every other labelled image keeps rewarding the cue through
the classification term. Once annotated guidance has moved the model onto the object, its attention for the true
class outlines the object on many unannotated images too (Decompose-and-Compose, CVPR 2024, composes
counterfactuals from CAMs), so their backgrounds can be swapped as well. A mask is only kept where the model can be
trusted with it:

- per run: on the annotated images, whose objects are known, the thresholded attention must overlap the objects
  (median IoU at least :data:`AGREEMENT`); a model that still looks at the cue would otherwise paste the cue around
  and teach it;
- per image: the model gives the true class at least :data:`CONFIDENCE`, and the mask's area is within a factor
  :data:`AREA_FACTOR` of the annotated objects' median area (a map spread over the background, or a speck, is no
  object).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from backend.models.inference import model_cam

THRESHOLD = 0.5  # share of an attention map's maximum that counts as the object
AGREEMENT = 0.3  # median IoU with the annotated objects below which no mask is trusted
CONFIDENCE = 0.9  # probability of the true class below which an image keeps no mask
AREA_FACTOR = 2.0  # a kept mask's area lies within [median / f, median * f] of the annotated objects' areas


@dataclass(frozen=True)
class PseudoObjects:
    """Masks (N, S, S) bool over the labelled images, all False where dropped; why as many were kept."""

    masks: torch.Tensor
    agreement: float  # median IoU of the attention masks with the annotated objects
    kept: int


def attention_masks(model: nn.Module, arch: str, inputs: torch.Tensor, labels: torch.Tensor, cam_method: str = "auto",
                    cam_layer: str = "", batch: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """(masks, confidence): the pixels where ``model``'s attention for the given class reaches :data:`THRESHOLD` of
    its maximum (N, S, S) and the probability it gives that class (N,)."""
    was_training = model.training
    model.eval()
    cam = model_cam(model, arch, cam_method, cam_layer)
    device = next(model.parameters()).device
    masks, confidence = [], []
    try:
        for start in range(0, len(labels), batch):
            x, y = inputs[start : start + batch].to(device), labels[start : start + batch].to(device)
            out = cam(x, targets=y, output_size=tuple(inputs.shape[-2:]))
            peak = out.maps.flatten(1).amax(1).clamp_min(1e-8)[:, None, None]
            masks.append((out.maps >= THRESHOLD * peak).cpu())
            confidence.append(F.softmax(out.logits.float(), 1).gather(1, y[:, None])[:, 0].cpu())
    finally:
        model.train(was_training)
    if not masks:
        return torch.zeros((0, *inputs.shape[-2:]), dtype=torch.bool), torch.zeros(0)
    return torch.cat(masks), torch.cat(confidence)


def iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Intersection over union of two (N, S, S) boolean mask batches, per image (0 where both are empty)."""
    inter = (a & b).flatten(1).sum(1).float()
    union = (a | b).flatten(1).sum(1).float()
    return inter / union.clamp_min(1)


def pseudo_objects(model: nn.Module, arch: str, annotated: torch.Tensor, objects: torch.Tensor,
                   annotated_labels: torch.Tensor, inputs: torch.Tensor, labels: torch.Tensor,
                   cam_method: str = "auto", cam_layer: str = "") -> PseudoObjects:
    """Masks for ``inputs`` with their ``labels`` (the labelled images), trusted by the guards of the module docstring;
    ``annotated`` images with their known ``objects`` (N, S, S) and ``annotated_labels`` calibrate them."""
    none = PseudoObjects(torch.zeros((len(labels), *inputs.shape[-2:]), dtype=torch.bool), 0.0, 0)
    known = (objects.flatten(1).any(1)) & (annotated_labels >= 0)
    if not known.any() or len(labels) == 0:
        return none
    seen, _ = attention_masks(model, arch, annotated[known], annotated_labels[known], cam_method, cam_layer)
    agreement = float(iou(seen, objects[known].bool()).median())
    if agreement < AGREEMENT:
        return PseudoObjects(none.masks, agreement, 0)
    masks, confidence = attention_masks(model, arch, inputs, labels.clamp_min(0), cam_method, cam_layer)
    area = objects[known].flatten(1).sum(1).float().median()
    sizes = masks.flatten(1).sum(1).float()
    keep = (labels >= 0) & (confidence >= CONFIDENCE) & (sizes >= area / AREA_FACTOR) & (sizes <= area * AREA_FACTOR)
    masks &= keep[:, None, None]
    return PseudoObjects(masks, agreement, int(keep.sum()))
