"""The checkpoint file format: what ``model.pt`` holds, reading it safely and loading it into a model."""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from backend.models.architectures import architecture
from backend.models.attention_branch import BRANCH_CLASS_AXES


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be used."""


@dataclass
class Manifest:
    """What is known about one saved model version."""

    version: str
    arch: str
    classes: list[str]
    image_size: int
    parent: str | None = None
    created: float = field(default_factory=time.time)
    annotation_count: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    checksum: str = ""  # SHA-256 of model.pt, written by ModelStore.save and checked on every load


def checkpoint_payload(state_dict: dict[str, torch.Tensor], manifest: Manifest) -> dict[str, Any]:
    """The dict saved in model.pt; loadable with ``torch.load(weights_only=True)``."""
    return {
        "arch": manifest.arch,
        "classes": list(manifest.classes),
        "image_size": int(manifest.image_size),
        "version": manifest.version,
        "state_dict": state_dict,
    }


def save_checkpoint(model: nn.Module, path: str | os.PathLike[str], arch: str, classes: list[str], image_size: int,
                    version: str) -> None:
    """Save ``model`` in the format ``MODEL_PATH`` accepts."""
    manifest = Manifest(version=version, arch=arch, classes=list(classes), image_size=image_size)
    torch.save(checkpoint_payload(model.state_dict(), manifest), path)


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
    broken = [k for k, v in payload["state_dict"].items() if isinstance(v, torch.Tensor) and v.is_floating_point()
              and not bool(torch.isfinite(v).all())]
    if broken:
        raise CheckpointError(f"checkpoint {path} has non-finite weights in {broken[:3]}")
    return payload


def load_weights(model: nn.Module, arch: str, state_dict: dict[str, torch.Tensor], num_classes: int,
                 partial: bool = False) -> bool:
    """Load ``state_dict``; when only the head's size differs, keep a fresh head. True if the head was kept.

    ``partial``: the weights cover only the backbone (ImageNet weights of an attention branch network, whose
    branches start fresh); every key they hold must fit.
    """
    head = architecture(arch).head
    if partial:
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith(f"{head}.")}
        _, unexpected = model.load_state_dict(state_dict, strict=False)
        if unexpected:
            raise CheckpointError(f"checkpoint does not fit {arch}: unexpected {unexpected[:3]}")
        return False
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


class ClassesError(CheckpointError):
    """The labeling config names classes the model was not trained for (a problem of the request's config)."""


def reorder_classes(state_dict: dict[str, torch.Tensor], arch: str, saved: list[str] | tuple[str, ...],
                    wanted: list[str] | tuple[str, ...]) -> dict[str, torch.Tensor]:
    """``state_dict`` of a model trained for classes ``saved``, with every class-indexed tensor (the head's rows, an
    attention branch's class channels) permuted to the order ``wanted``. CheckpointError naming the classes when
    the two are not the same set: a model cannot answer for a class it never learned."""
    unknown, unused = sorted(set(wanted) - set(saved)), sorted(set(saved) - set(wanted))
    if unknown or unused or len(saved) != len(wanted):
        raise ClassesError(f"the checkpoint was trained for classes {list(saved)}; the labeling config has "
                              f"{list(wanted)} (unknown to the model: {unknown}, missing from the config: {unused})")
    order = torch.tensor([list(saved).index(name) for name in wanted])
    head = architecture(arch).head
    axes = {f"{head}.weight": 0, f"{head}.bias": 0}
    if architecture(arch).attention_layer:
        axes |= BRANCH_CLASS_AXES
    return {k: v.index_select(axes[k], order) if k in axes else v for k, v in state_dict.items()}


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha1", length: int = 8) -> str:
    """Hex digest of a file's bytes; the short SHA-1 names a user checkpoint's version (a changed file is a new one)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:length]


def checksum(path: str | os.PathLike[str]) -> str:
    """The SHA-256 a version's manifest records for its model.pt."""
    return file_digest(path, "sha256", 64)
