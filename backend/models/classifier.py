"""A loaded classifier and where its weights come from.

Load order (first that applies wins):
1. the newest complete version in the project's :class:`ModelStore` (an earlier training);
2. a user checkpoint (``MODEL_PATH``);
3. torchvision ImageNet weights, from the torch hub cache or downloaded
   (``auto``), from the cache only (``cache``), or never (``none``);
4. random initialisation (seeded, so every worker serves the same model), with a warning.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from backend.models.architectures import architecture, build_model
from backend.models.checkpoints import CheckpointError, file_digest, load_weights, read_checkpoint, reorder_classes
from backend.models.store import ModelStore

logger = logging.getLogger(__name__)
PRETRAINED_MODES = ("auto", "cache", "none")


@dataclass
class Classifier:
    """A loaded model and what describes it."""

    model: nn.Module
    arch: str
    classes: tuple[str, ...]
    image_size: int
    version: str
    source: str  # model_dir | model_path | imagenet | random


UNTRAINED_HEAD = "-untrained-head"  # in model_version, shown in Label Studio, until a training run replaces it


def cached_imagenet_file(arch: str) -> Path:
    """Where torch hub keeps (or would keep) the ImageNet weights of ``arch``."""
    url = architecture(arch).weights.url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def _imagenet_state_dict(arch: str, mode: str) -> dict[str, torch.Tensor] | None:
    if mode == "none" or architecture(arch).weights is None:
        return None
    cached = cached_imagenet_file(arch)
    rename = architecture(arch).imagenet_keys or (lambda state: state)
    if cached.is_file():
        return rename(read_checkpoint(cached)["state_dict"])
    if mode != "auto":
        return None
    try:
        return rename(architecture(arch).weights.get_state_dict(progress=False))
    except Exception as exc:  # offline hosts: URLError, timeouts, hash mismatch
        logger.warning("could not download ImageNet weights for %s: %s", arch, exc)
        return None


def imagenet_model(arch: str, num_classes: int, mode: str = "auto") -> nn.Module | None:
    """``arch`` with torchvision's ImageNet weights and a fresh head of ``num_classes`` (attention branches fresh
    too); None when ``mode`` (``auto``, ``cache``, ``none``) finds no weights."""
    state = _imagenet_state_dict(arch, mode)
    if state is None:
        return None
    model = build_model(arch, num_classes)
    load_weights(model, arch, state, num_classes, partial=architecture(arch).imagenet_keys is not None)
    return model


def load_newest(store: ModelStore, classes: tuple[str, ...]) -> Classifier | None:
    """The newest readable version in ``store`` trained for ``classes`` (unreadable ones are skipped)."""
    for manifest in reversed(store.versions()):
        if tuple(manifest.classes) != tuple(classes):
            logger.warning("ignoring %s in %s: trained for classes %s, config has %s", manifest.version, store.folder,
                           manifest.classes, classes)
            return None
        try:
            payload = read_checkpoint(store.verified_path(manifest))
            model = build_model(manifest.arch, len(classes))
            load_weights(model, manifest.arch, payload["state_dict"], len(classes))
        except (CheckpointError, ValueError) as exc:
            logger.error("skipping unreadable model version %s: %s", manifest.version, exc)
            continue
        return Classifier(model.eval(), manifest.arch, tuple(classes), manifest.image_size, manifest.version, "model_dir")
    return None


def load_classifier(store: ModelStore, classes: tuple[str, ...], model_path: str = "", arch: str = "resnet18",
                    image_size: int = 224, pretrained: str = "auto") -> Classifier:
    """The classifier to serve or fine-tune, following the documented load order.

    ``arch`` and ``image_size`` apply where the weights do not say (ImageNet or random initialisation).
    """
    newest = load_newest(store, classes)
    if newest is not None:
        return newest

    if model_path:
        payload = read_checkpoint(model_path)
        arch = str(payload.get("arch", arch))
        model = build_model(arch, len(classes))
        state = payload["state_dict"]
        if payload.get("classes") and tuple(payload["classes"]) != tuple(classes):  # matched by name, not position
            state = reorder_classes(state, arch, payload["classes"], classes)
            logger.info("MODEL_PATH classes %s reordered to the config's %s", payload["classes"], classes)
        fresh = not load_weights(model, arch, state, len(classes))
        if fresh:
            logger.warning("MODEL_PATH has a head for another class count: the head starts UNTRAINED and its class "
                           "predictions mean nothing until the first training run")
        size = int(payload.get("image_size", image_size))
        version = f"base-{arch}-{file_digest(model_path)}" + (UNTRAINED_HEAD if fresh else "")
        return Classifier(model.eval(), arch, tuple(classes), size, version, "model_path")

    model = imagenet_model(arch, len(classes), pretrained)
    if model is not None:
        logger.warning("serving an ImageNet %s backbone with a FRESH, UNTRAINED head for %s: its class predictions "
                       "mean nothing until the first training run (the attention maps are the backbone's)", arch, classes)
        return Classifier(model.eval(), arch, tuple(classes), image_size, f"base-{arch}-imagenet{UNTRAINED_HEAD}", "imagenet")
    model = build_model(arch, len(classes))
    logger.warning(
        "no saved version, no MODEL_PATH and no ImageNet weights for %s: "
        "serving a RANDOMLY INITIALISED model; its predictions and attention maps mean nothing until it is trained",
        arch,
    )
    return Classifier(model.eval(), arch, tuple(classes), image_size, f"base-{arch}-random", "random")
