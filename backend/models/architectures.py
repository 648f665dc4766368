"""The supported classifier architectures: how to build each and where its head and last conv block are."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

import backend  # noqa: F401  (torchvision compatibility first)
import torch
from torch import nn
from torchvision import models

from backend.models.attention_branch import abn_resnet, abn_small_cnn, imagenet_state_for


@dataclass(frozen=True)
class Architecture:
    """How to build one model and where its parts are."""

    build: Callable[..., nn.Module]
    weights: Any  # torchvision WeightsEnum member with ImageNet weights, None when there are none
    head: str  # attribute path of the final Linear layer
    last_block: str  # default layer for (Grad-)CAM
    attention_layer: str | None = None  # attention branch networks: the module whose output is A(x)
    imagenet_keys: Callable[[dict], dict] | None = None  # renames torchvision's ImageNet state dict to this model's


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
    "abn_small_cnn": Architecture(partial(abn_small_cnn, multi_scale=False), None, "fc", "perception", "branch.attention"),
    "msabn_small_cnn": Architecture(partial(abn_small_cnn, multi_scale=True), None, "fc", "perception", "branch.attention"),
    "abn_resnet18": Architecture(lambda num_classes: abn_resnet(models.resnet18(num_classes=num_classes), num_classes, False),
                                 models.ResNet18_Weights.IMAGENET1K_V1, "fc", "perception", "branch.attention", imagenet_state_for),
    "msabn_resnet18": Architecture(lambda num_classes: abn_resnet(models.resnet18(num_classes=num_classes), num_classes, True),
                                   models.ResNet18_Weights.IMAGENET1K_V1, "fc", "perception", "branch.attention", imagenet_state_for),
}


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
