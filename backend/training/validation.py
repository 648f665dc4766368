"""What a version is worth, measured on annotated images it did not train on: class accuracy, pointing game (the
attention's peak on the object) and attention outside the object's box, for the new version and its parent alike,
so rolling back is a decision, not a guess."""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch
from torch import nn

from backend.core.attention_quality import fraction_outside, pointing_game
from backend.core.maps import pixel_box_mask, resize_map
from backend.models.inference import cam_outputs, model_cam
from backend.training.training_set import TrainingSet

MIN_EXAMPLES = 5  # fewer annotated images are all trained on: a hold-out of zero or one image says nothing


def holdout_split(task_ids: list[Any], share: float) -> tuple[list[int], list[int]]:
    """(train, held-out) positions; a task is held out by a hash of its id, so every run holds out the same tasks
    (versions are compared on the same images) and a task, once held out, never trains a later version."""
    if share <= 0 or len(task_ids) < MIN_EXAMPLES:
        return list(range(len(task_ids))), []
    held = [i for i, t in enumerate(task_ids) if _unit(t) < share]
    if not held or len(held) == len(task_ids):  # keep at least one on each side
        ranked = sorted(range(len(task_ids)), key=lambda i: _unit(task_ids[i]))
        held = ranked[: max(1, min(len(task_ids) - 1, round(share * len(task_ids))))]
    kept = set(held)
    return [i for i in range(len(task_ids)) if i not in kept], sorted(held)


def _unit(task_id: Any) -> float:
    return int(hashlib.sha256(str(task_id).encode()).hexdigest()[:8], 16) / 0x100000000


def evaluate(model: nn.Module, arch: str, data: TrainingSet, cam_method: str = "auto", cam_layer: str = "") -> dict[str, float]:
    """Accuracy over images with a class, pointing game over images with a known object (mask, box or the region
    grown from a focus click), attention outside the box (threshold 0.2) over boxed images; each with its count."""
    model.eval()
    device = next(model.parameters()).device
    with torch.enable_grad():  # Grad-CAM needs gradients; the weights are not changed
        outputs = cam_outputs(model_cam(model, arch, cam_method, cam_layer), data.inputs.to(device))
    labels = data.labels.numpy()
    known = labels >= 0
    found: dict[str, float] = {"held_out": len(labels)}
    if known.any():
        found |= {"accuracy": float((outputs.probabilities.argmax(1)[known] == labels[known]).mean()), "with_class": int(known.sum())}
    objects = data.objects.numpy()
    size = objects.shape[-2:]
    hits = [pointing_game(resize_map(m, *size), o) for m, o in zip(outputs.maps, objects) if o.any()]
    if hits:
        found |= {"pointing_game": float(np.mean(hits)), "with_object": len(hits)}
    outside = [fraction_outside(resize_map(m, *size), pixel_box_mask(box, size)) for m, box in zip(outputs.maps, data.pixel_boxes)
               if box is not None]
    if outside:
        found |= {"attention_outside_box": float(np.mean(outside)), "with_box": len(outside)}
    return found
