"""Saliency in Active Learning (SAL, Boyd et al.): an accuracy model and an interpretability model per project.

Both fine-tune with CYBORG on the same annotations. The accuracy model (alpha 0.9) serves predictions and
ranks the queue; the interpretability model (alpha 0.1) learns where the object is. Until the change point
people give saliency (a box or an "Object" region); after it, images that people only labelled get the
interpretability model's saliency as their CYBORG target, and predictions suggest that saliency as an
"Object" region the annotator can accept or correct (accepted, it counts as human saliency).

``SAL_CHANGE_POINT``: a count of images with human saliency ("40"), a fraction of the project's tasks
("0.2" or "20%", the paper's default), or "auto": switch once the interpretability model's Dice on newly
arrived human saliency, which it has not trained on, stops improving. Empty: SAL is off.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from backend.core.attention_quality import dice_top_n
from backend.core.examples import Example
from backend.core.maps import box_mask, resize_map
from backend.models.inference import cam_outputs, model_cam, to_batch

ACCURACY_ALPHA, INTERPRETABILITY_ALPHA = 0.9, 0.1
AUTO_MIN_GAIN, AUTO_PATIENCE = 0.01, 2  # "stops improving": two runs in a row gaining less than 0.01 Dice


@dataclass(frozen=True)
class ChangePoint:
    kind: str  # count | fraction | auto
    value: float = 0.0

    @classmethod
    def parse(cls, text: str) -> "ChangePoint":
        text = text.strip().lower()
        if text == "auto":
            return cls("auto")
        try:
            if text.endswith("%"):
                return cls("fraction", float(text[:-1]) / 100)
            number = float(text)
        except ValueError:
            raise ValueError(f"SAL_CHANGE_POINT '{text}' is not auto, a count, a fraction or a percentage") from None
        if number <= 0:
            raise ValueError(f"SAL_CHANGE_POINT must be positive, got '{text}'")
        return cls("fraction", number) if number < 1 else cls("count", number)

    def reached(self, human: int, tasks: int, dice_history: list[float]) -> bool:
        """Whether human saliency can stop: ``human`` images carry it out of ``tasks`` in the project."""
        if self.kind == "count":
            return human >= self.value
        if self.kind == "fraction":
            return tasks > 0 and human >= self.value * tasks
        gains = np.diff(dice_history[-(AUTO_PATIENCE + 1):])
        return len(gains) == AUTO_PATIENCE and bool(np.all(gains < AUTO_MIN_GAIN))


@dataclass
class SALState:
    """What a project's SAL loop has done so far (kept between runs by the service)."""

    phase: str = "human"  # human | machine
    human: int = 0  # images with human saliency at the last run
    dice_history: list[float] = field(default_factory=list)  # interpretability Dice on unseen human saliency, per run
    seen: list[str] = field(default_factory=list)  # task ids whose human saliency the interpretability model trained on
    switched_at: int | None = None  # human count when the machine took over


def machine_saliency(model: nn.Module, arch: str, inputs: torch.Tensor, labels: torch.Tensor, method: str = "auto",
                     batch: int = 64) -> np.ndarray:
    """(N, H, W) saliency in [0, 1] at input size: the model's attention map for each image's labelled class."""
    return cam_outputs(model_cam(model.eval(), arch, method), inputs, labels, batch).maps


def human_masks(examples: list[Example], images: list[np.ndarray]) -> list[np.ndarray | None]:
    """Each example's human saliency at image size: its object regions, else its boxes; None for label-only."""
    masks: list[np.ndarray | None] = []
    for example, image in zip(examples, images):
        mask = example.saliency_mask()
        if mask is None and example.boxes:
            mask = box_mask(example.boxes, image.shape[:2], unit=100)
        masks.append(mask)
    return masks


def interpretability_dice(model: nn.Module, arch: str, size: int, examples: list[Example], images: list[np.ndarray],
                          masks: list[np.ndarray], method: str = "auto") -> float:
    """Mean Dice of the top-N attention pixels (N = mask size) against human saliency (SAL's metric)."""
    labels = torch.tensor([e.label or 0 for e in examples])
    maps = machine_saliency(model, arch, to_batch(images, size), labels, method)
    return float(np.mean([dice_top_n(a, resize_map(m.astype(np.float32), size, size) > 0.5) for a, m in zip(maps, masks)]))
