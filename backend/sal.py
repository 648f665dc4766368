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

import copy
import json
import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from backend import distributed
from backend.annotations import Example
from backend.attention_quality import dice_top_n
from backend.cam import make_cam
from backend.checkpoints import Manifest, ModelStore, project_key
from backend.classifier import Classifier, architecture, load_newest
from backend.inference import resolve_device, to_batch
from backend.journal import atomic_write_json
from backend.regions import resize_map
from backend.settings import Settings
from backend.trainer import TrainConfig, fine_tune, prepare

logger = logging.getLogger(__name__)
ACCURACY_ALPHA, INTERPRETABILITY_ALPHA = 0.9, 0.1
INTERPRETABILITY = "interpretability"  # the second model's versions: MODEL_DIR/<project>/interpretability/vNNNN
STATE_FILE = "sal_state.json"
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
    """What the project's SAL loop has done so far (``MODEL_DIR/<project>/sal_state.json``)."""

    phase: str = "human"  # human | machine
    human: int = 0  # images with human saliency at the last run
    dice_history: list[float] = field(default_factory=list)  # interpretability Dice on unseen human saliency, per run
    seen: list[str] = field(default_factory=list)  # task ids whose human saliency the interpretability model trained on
    switched_at: int | None = None  # human count when the machine took over

    @classmethod
    def load(cls, settings: Settings, project: object) -> "SALState":
        path = Path(settings.model_dir) / project_key(project) / STATE_FILE
        try:
            return cls(**json.loads(path.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return cls()

    def save(self, settings: Settings, project: object) -> None:
        atomic_write_json(Path(settings.model_dir) / project_key(project) / STATE_FILE, asdict(self))


def interpretability_store(settings: Settings, project: object) -> ModelStore:
    return ModelStore(Path(settings.model_dir) / project_key(project))


def load_interpretability(settings: Settings, project: object, classes: tuple[str, ...]) -> Classifier | None:
    """The newest readable interpretability model of ``project`` for ``classes``, or None."""
    return load_newest(interpretability_store(settings, project), INTERPRETABILITY, classes)


def machine_saliency(model: nn.Module, arch: str, inputs: torch.Tensor, labels: torch.Tensor, method: str = "auto",
                     batch: int = 64) -> np.ndarray:
    """(N, H, W) saliency in [0, 1] at input size: the model's attention map for each image's labelled class."""
    spec = architecture(arch)
    cam = make_cam(model.eval(), method, spec.last_block, spec.head)
    maps = [cam(inputs[i : i + batch], labels[i : i + batch]).maps.numpy() for i in range(0, len(inputs), batch)]
    return np.concatenate(maps) if maps else np.zeros((0, *inputs.shape[-2:]), dtype=np.float32)


def _human_masks(examples: list[Example], images: list[np.ndarray]) -> list[np.ndarray | None]:
    """Each example's human saliency at image size: its object regions, else its boxes; None for label-only."""
    masks: list[np.ndarray | None] = []
    for example, image in zip(examples, images):
        mask = example.saliency_mask()
        if mask is None and example.boxes:
            h, w = image.shape[:2]
            mask = np.zeros((h, w), dtype=bool)
            for x0, y0, x1, y1 in example.boxes:
                mask[int(y0 / 100 * h) : int(np.ceil(y1 / 100 * h)), int(x0 / 100 * w) : int(np.ceil(x1 / 100 * w))] = True
        masks.append(mask)
    return masks


def interpretability_dice(model: Classifier, examples: list[Example], images: list[np.ndarray], masks: list[np.ndarray],
                          method: str = "auto") -> float:
    """Mean Dice of the top-N attention pixels (N = mask size) against human saliency (SAL's metric)."""
    size = model.image_size
    labels = torch.tensor([e.label or 0 for e in examples])
    maps = machine_saliency(model.model, model.arch, to_batch(images, size), labels, method)
    return float(np.mean([dice_top_n(a, resize_map(m.astype(np.float32), size, size) > 0.5) for a, m in zip(maps, masks)]))


def train_sal(project: object, settings: Settings, examples: list[Example], images: list[np.ndarray], base: Classifier,
              project_tasks: int) -> tuple[nn.Module, dict[str, Any]]:
    """One SAL run: both models fine-tuned on every annotation; returns the accuracy model (for the caller to save
    as the served version) and its training metrics with the SAL summary. The interpretability version is saved
    here, after both trained: a crash leaves at most a complete interpretability version beside the served model.
    """
    change_point = ChangePoint.parse(settings.sal_change_point)
    state = SALState.load(settings, project)
    human_masks = _human_masks(examples, images)
    human = [i for i, e in enumerate(examples) if e.has_saliency]
    teacher = load_interpretability(settings, project, base.classes)
    unseen = [i for i in human if str(examples[i].task_id) not in set(state.seen)]
    if teacher is not None and unseen and state.phase == "human":
        state.dice_history.append(round(interpretability_dice(teacher, [examples[i] for i in unseen], [images[i] for i in unseen],
                                                              [human_masks[i] for i in unseen], settings.cam_method), 4))
    if state.phase == "human" and teacher is not None and change_point.reached(len(human), project_tasks, state.dice_history):
        state.phase, state.switched_at = "machine", len(human)
        logger.info("project %s: SAL change point reached at %d images with human saliency", project, len(human))
    saliency: list[np.ndarray | None] = [None if m is None else m.astype(np.float32) for m in human_masks]
    label_only = [i for i, e in enumerate(examples) if not e.has_saliency and e.label is not None]
    if state.phase == "machine" and teacher is not None and label_only:
        inputs = to_batch([images[i] for i in label_only], teacher.image_size)
        labels = torch.tensor([examples[i].label for i in label_only])
        generated = machine_saliency(teacher.model, teacher.arch, inputs, labels, settings.cam_method)
        for i, mask in zip(label_only, generated):
            saliency[i] = resize_map(mask, *images[i].shape[:2])
        logger.info("project %s: interpretability model %s wrote saliency for %d label-only images", project, teacher.version,
                    len(label_only))
    data = prepare(examples, images, base.image_size, settings, saliency=saliency)
    device = resolve_device(settings.device)
    config = replace(TrainConfig.from_settings(settings), loss="cyborg")
    accuracy = copy.deepcopy(base.model)
    metrics = fine_tune(accuracy, base.arch, data, replace(config, cyborg_alpha=ACCURACY_ALPHA), device=device)
    interpretability = copy.deepcopy((teacher or base).model)
    interp_metrics = fine_tune(interpretability, base.arch, data, replace(config, cyborg_alpha=INTERPRETABILITY_ALPHA), device=device)
    summary = {"sal_phase": state.phase, "human_saliency": len(human),
               "machine_saliency": len(label_only) if state.phase == "machine" and teacher is not None else 0}
    if distributed.current().is_main:
        store = interpretability_store(settings, project)
        manifest = Manifest(version=store.next_version(INTERPRETABILITY), arch=base.arch, classes=list(base.classes),
                            image_size=base.image_size, parent=teacher.version if teacher else base.version,
                            annotation_count=len(examples), metrics=interp_metrics | summary)
        store.save(INTERPRETABILITY, {k: v.detach().cpu() for k, v in interpretability.state_dict().items()}, manifest)
        store.prune(INTERPRETABILITY, settings.keep_versions)
        state.human = len(human)
        state.seen = sorted({str(examples[i].task_id) for i in human})
        state.save(settings, project)
        summary["interpretability_version"] = manifest.version
    return accuracy, metrics | summary
