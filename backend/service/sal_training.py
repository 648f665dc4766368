"""One SAL run of a project (see :mod:`backend.training.sal`): both models trained, the interpretability model
versioned beside the served one, the loop's state kept in ``ProjectDir.sal_state``."""
from __future__ import annotations

import copy
import logging
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from backend.core.examples import Example
from backend.core.maps import resize_map
from backend.models.checkpoints import Manifest
from backend.models.classifier import Classifier
from backend.models.inference import to_batch
from backend.service.classifiers import interpretability_classifier
from backend.settings import TrainingSettings
from backend.storage.files import atomic_write_json, read_json
from backend.storage.project_dir import ProjectDir
from backend.training import distributed
from backend.training.sal import (
    ACCURACY_ALPHA,
    INTERPRETABILITY_ALPHA,
    ChangePoint,
    SALState,
    human_masks,
    interpretability_dice,
    machine_saliency,
)
from backend.training.trainer import fine_tune
from backend.training.training_set import prepare

logger = logging.getLogger(__name__)


def load_sal_state(project: ProjectDir) -> SALState:
    """The project's SAL state; a fresh one when there is none or it cannot be read."""
    try:
        return SALState(**read_json(project.sal_state, {}))
    except TypeError:
        return SALState()


def train_sal(project: ProjectDir, settings: TrainingSettings, examples: list[Example], images: list[np.ndarray], base: Classifier,
              project_tasks: int) -> tuple[nn.Module, dict[str, Any]]:
    """One SAL run: both models fine-tuned on every annotation; returns the accuracy model (for the caller to save
    as the served version) and its training metrics with the SAL summary. The interpretability version is saved
    here, after both trained: a crash leaves at most a complete interpretability version beside the served model.
    """
    change_point = ChangePoint.parse(settings.sal_change_point)
    state = load_sal_state(project)
    masks = human_masks(examples, images)
    human = [i for i, e in enumerate(examples) if e.has_saliency]
    teacher = interpretability_classifier(project, base.classes)
    unseen = [i for i in human if str(examples[i].task_id) not in set(state.seen)]
    if teacher is not None and unseen and state.phase == "human":
        dice = interpretability_dice(teacher.model, teacher.arch, teacher.image_size, [examples[i] for i in unseen],
                                     [images[i] for i in unseen], [masks[i] for i in unseen], settings.train.cam_method)
        state.dice_history.append(round(dice, 4))
    if state.phase == "human" and teacher is not None and change_point.reached(len(human), project_tasks, state.dice_history):
        state.phase, state.switched_at = "machine", len(human)
        logger.info("project %s: SAL change point reached at %d images with human saliency", project.key, len(human))
    saliency: list[np.ndarray | None] = [None if m is None else m.astype(np.float32) for m in masks]
    label_only = [i for i, e in enumerate(examples) if not e.has_saliency and e.label is not None]
    if state.phase == "machine" and teacher is not None and label_only:
        inputs = to_batch([images[i] for i in label_only], teacher.image_size)
        labels = torch.tensor([examples[i].label for i in label_only])
        generated = machine_saliency(teacher.model, teacher.arch, inputs, labels, settings.train.cam_method)
        for i, mask in zip(label_only, generated):
            saliency[i] = resize_map(mask, *images[i].shape[:2])
        logger.info("project %s: interpretability model %s wrote saliency for %d label-only images", project.key,
                    teacher.version, len(label_only))
    data = prepare(examples, images, base.image_size, settings.superpixels, saliency=saliency)
    device = distributed.resolve_device(settings.device)
    config = replace(settings.train, loss="cyborg")
    accuracy = copy.deepcopy(base.model)
    metrics = fine_tune(accuracy, base.arch, data, replace(config, cyborg_alpha=ACCURACY_ALPHA), device=device)
    interpretability = copy.deepcopy((teacher or base).model)
    interp_metrics = fine_tune(interpretability, base.arch, data, replace(config, cyborg_alpha=INTERPRETABILITY_ALPHA),
                               device=device)
    summary = {"sal_phase": state.phase, "human_saliency": len(human),
               "machine_saliency": len(label_only) if state.phase == "machine" and teacher is not None else 0}
    if distributed.current().is_main:
        store = project.interpretability_models
        manifest = Manifest(version=store.next_version(), arch=base.arch, classes=list(base.classes),
                            image_size=base.image_size, parent=teacher.version if teacher else base.version,
                            annotation_count=len(examples), metrics=interp_metrics | summary)
        store.save({k: v.detach().cpu() for k, v in interpretability.state_dict().items()}, manifest)
        store.prune(settings.keep_versions)
        state.human = len(human)
        state.seen = sorted({str(examples[i].task_id) for i in human})
        atomic_write_json(project.sal_state, asdict(state))
        summary["interpretability_version"] = manifest.version
    return accuracy, metrics | summary
