"""The image classifier: torchvision architectures and where their weights come from.

Load order (first that applies wins):
1. the newest complete version in ``MODEL_DIR`` for the project (an earlier training);
2. a user checkpoint at ``MODEL_PATH``;
3. torchvision ImageNet weights, from the torch hub cache or downloaded
   (``PRETRAINED_WEIGHTS=auto``), from the cache only (``cache``), or never (``none``);
4. random initialisation (seeded, so every worker serves the same model), with a warning.
"""
from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import backend  # noqa: F401  (torchvision compatibility first)
import torch
from torch import nn
from torchvision import models

from backend.checkpoints import ModelStore
from backend.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Architecture:
    """How to build one model and where its parts are."""

    build: Callable[..., nn.Module]
    weights: Any  # torchvision WeightsEnum member with ImageNet weights, None when there are none
    head: str  # attribute path of the final Linear layer
    last_block: str  # default layer for (Grad-)CAM


class SmallCNN(nn.Module):
    """Seven 3x3 conv layers (two with stride 2), global average pooling and a linear head.

    Not a torchvision model: the project's own small classifier for tests, the demo and
    CPU benchmarks. It trains in seconds on 64 px images and its CAM has 1/4 of the
    input resolution (16x16 at 64 px; ResNet-18 has 2x2 there).
    """

    def __init__(self, num_classes: int, width: int = 32):
        super().__init__()
        channels = [3, width, width, 2 * width, 2 * width, 4 * width, 4 * width, 4 * width]
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(channels, channels[1:])):
            stride = 2 if i in (1, 3) else 1
            layers += [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


ARCHITECTURES: dict[str, Architecture] = {
    "resnet18": Architecture(models.resnet18, models.ResNet18_Weights.IMAGENET1K_V1, "fc", "layer4"),
    "resnet50": Architecture(models.resnet50, models.ResNet50_Weights.IMAGENET1K_V2, "fc", "layer4"),
    "mobilenet_v3_large": Architecture(
        models.mobilenet_v3_large, models.MobileNet_V3_Large_Weights.IMAGENET1K_V2, "classifier.3", "features"
    ),
    "mobilenet_v3_small": Architecture(
        models.mobilenet_v3_small, models.MobileNet_V3_Small_Weights.IMAGENET1K_V1, "classifier.3", "features"
    ),
    "small_cnn": Architecture(SmallCNN, None, "fc", "features"),
}


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be used."""


@dataclass
class Classifier:
    """A loaded model and what describes it."""

    model: nn.Module
    arch: str
    classes: tuple[str, ...]
    image_size: int
    version: str
    source: str  # model_dir | model_path | imagenet | random


def architecture(arch: str) -> Architecture:
    try:
        return ARCHITECTURES[arch]
    except KeyError:
        raise ValueError(f"unknown MODEL_ARCH '{arch}'; choose one of {sorted(ARCHITECTURES)}") from None


def build_model(arch: str, num_classes: int, seed: int = 0) -> nn.Module:
    """A randomly initialised ``arch`` with ``num_classes`` outputs (deterministic for ``seed``)."""
    spec = architecture(arch)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return spec.build(num_classes=num_classes)


def replace_head(model: nn.Module, arch: str, num_classes: int) -> None:
    """Swap the final Linear layer for a fresh one with ``num_classes`` outputs."""
    parent_path, _, name = architecture(arch).head.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    old = getattr(parent, name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        setattr(parent, name, nn.Linear(old.in_features, num_classes))


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``); accept our dict or a bare state dict."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint not found: {path}") from None
    except Exception as exc:  # pickle, zip and weights_only errors all mean "unusable"
        raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(payload, dict):
        raise CheckpointError(f"checkpoint {path} holds {type(payload).__name__}, not a state dict")
    if "state_dict" not in payload:
        payload = {"state_dict": payload}
    return payload


def _load_weights(model: nn.Module, arch: str, state_dict: dict[str, torch.Tensor], num_classes: int) -> bool:
    """Load ``state_dict``; when only the head's size differs, keep a fresh head. True if the head was kept."""
    head = architecture(arch).head
    head_weight = state_dict.get(f"{head}.weight")
    if head_weight is not None and head_weight.shape[0] != num_classes:
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith(f"{head}.")}
        missing, unexpected = model.load_state_dict(state_dict, strict=False)
        if unexpected or any(not k.startswith(f"{head}.") for k in missing):
            raise CheckpointError(f"checkpoint does not fit {arch}: missing {missing[:3]}, unexpected {unexpected[:3]}")
        return False
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint does not fit {arch}: {exc}") from exc
    return True


def _file_digest(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha1()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:8]


def cached_imagenet_file(arch: str) -> Path:
    """Where torch hub keeps (or would keep) the ImageNet weights of ``arch``."""
    url = architecture(arch).weights.url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def _imagenet_state_dict(arch: str, mode: str) -> dict[str, torch.Tensor] | None:
    if mode == "none" or architecture(arch).weights is None:
        return None
    cached = cached_imagenet_file(arch)
    if cached.is_file():
        return read_checkpoint(cached)["state_dict"]
    if mode != "auto":
        return None
    try:
        return architecture(arch).weights.get_state_dict(progress=False)
    except Exception as exc:  # offline hosts: URLError, timeouts, hash mismatch
        logger.warning("could not download ImageNet weights for %s: %s", arch, exc)
        return None


def load_newest(store: ModelStore, project: object, classes: tuple[str, ...]) -> Classifier | None:
    """The newest readable version of ``project`` in ``store`` trained for ``classes`` (unreadable ones are skipped)."""
    for manifest in reversed(store.versions(project)):
        if tuple(manifest.classes) != tuple(classes):
            logger.warning("ignoring %s in %s: trained for classes %s, config has %s", manifest.version, store.root,
                           manifest.classes, classes)
            return None
        try:
            payload = read_checkpoint(store.path(project, manifest.version))
            model = build_model(manifest.arch, len(classes))
            _load_weights(model, manifest.arch, payload["state_dict"], len(classes))
        except (CheckpointError, ValueError) as exc:
            logger.error("skipping unreadable model version %s: %s", manifest.version, exc)
            continue
        return Classifier(model.eval(), manifest.arch, tuple(classes), manifest.image_size, manifest.version, "model_dir")
    return None


def load_classifier(settings: Settings, classes: tuple[str, ...], project: object = None) -> Classifier:
    """Load the classifier for ``project`` following the documented order."""
    newest = load_newest(ModelStore(settings.model_dir), project, classes)
    if newest is not None:
        return newest

    if settings.model_path:
        payload = read_checkpoint(settings.model_path)
        arch = str(payload.get("arch", settings.model_arch))
        model = build_model(arch, len(classes))
        if payload.get("classes") and tuple(payload["classes"]) != tuple(classes):
            logger.warning("MODEL_PATH classes %s differ from the config's %s", payload["classes"], classes)
        if not _load_weights(model, arch, payload["state_dict"], len(classes)):
            logger.warning("MODEL_PATH has a head for another class count: the head starts untrained")
        image_size = int(payload.get("image_size", settings.image_size))
        version = f"base-{arch}-{_file_digest(settings.model_path)}"
        return Classifier(model.eval(), arch, tuple(classes), image_size, version, "model_path")

    arch = settings.model_arch
    model = build_model(arch, len(classes))
    state = _imagenet_state_dict(arch, settings.pretrained_weights)
    if state is not None:
        _load_weights(model, arch, state, len(classes))
        return Classifier(model.eval(), arch, tuple(classes), settings.image_size, f"base-{arch}-imagenet", "imagenet")
    logger.warning(
        "no checkpoint in MODEL_DIR, no MODEL_PATH and no ImageNet weights for %s: "
        "serving a RANDOMLY INITIALISED model; its predictions and attention maps mean nothing until it is trained",
        arch,
    )
    return Classifier(model.eval(), arch, tuple(classes), settings.image_size, f"base-{arch}-random", "random")
