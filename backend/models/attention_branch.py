"""Attention branch networks: ABN (Fukui et al. 2019) and the multi-scale MSABN (Gupta & Sintorn).

A backbone is cut into a feature extractor (blocks 1-3) and a perception branch (block 4, pooling, the linear
head). The attention branch reads block 3 (ABN) or blocks 1-3 brought to block 1's resolution and reduced by
1x1 convolutions (MSABN), gives its own class scores (trained with cross-entropy) and one attention map
A(x) in [0, 1]; the perception branch classifies g(x) * (1 + A(x)). The map is not an explanation computed
afterwards: it gates the features the decision is made from, so editing it changes what the model uses.

After each forward pass the model keeps ``attention_logits`` (for the second cross-entropy term) and the map
comes out of its ``attention`` module (a Sigmoid), where the CAM machinery hooks it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


# Where the attention branch indexes classes: (parameter or buffer name under the network, axis). With the head's
# rows these are what a change of class order permutes.
BRANCH_CLASS_AXES = {"branch.body.3.weight": 0, "branch.body.4.weight": 0, "branch.body.4.bias": 0,
                     "branch.body.4.running_mean": 0, "branch.body.4.running_var": 0, "branch.to_map.0.weight": 1}


class AttentionBranch(nn.Module):
    """Features (B, C, H, W) -> class scores (B, K) and an attention map (B, 1, H, W) in [0, 1]."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, num_classes, 1, bias=False), nn.BatchNorm2d(num_classes), nn.ReLU(inplace=True),
        )
        self.to_map = nn.Sequential(nn.Conv2d(num_classes, 1, 1, bias=False), nn.BatchNorm2d(1))
        self.attention = nn.Sigmoid()

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.body(features)
        return scores.mean(dim=(2, 3)), self.attention(self.to_map(scores))


class AttentionBranchNet(nn.Module):
    """An attention branch network over a backbone cut into ``blocks`` (the feature extractor, three stages),
    ``perception`` (the last stage) and a linear ``fc`` after global average pooling."""

    def __init__(self, blocks: nn.ModuleList, channels: list[int], perception: nn.Module, head_features: int,
                 num_classes: int, multi_scale: bool):
        super().__init__()
        self.blocks = blocks
        self.multi_scale = multi_scale
        branch_channels = channels[2]
        if multi_scale:  # MSABN: every block reduced by 1x1 convolutions to a share of block 3's channels
            shares = [branch_channels // 4, branch_channels // 4, branch_channels - 2 * (branch_channels // 4)]
            self.reduce = nn.ModuleList(nn.Sequential(nn.Conv2d(c, s, 1, bias=False), nn.BatchNorm2d(s), nn.ReLU(inplace=True))
                                        for c, s in zip(channels, shares))
        self.branch = AttentionBranch(branch_channels, num_classes)
        self.perception = perception
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(head_features, num_classes)
        self.attention_logits: torch.Tensor | None = None

    def attention_input(self, outputs: list[torch.Tensor]) -> torch.Tensor:
        if not self.multi_scale:
            return outputs[2]
        size = outputs[0].shape[-2:]
        scaled = [F.interpolate(o, size=size, mode="bilinear", align_corners=False) if o.shape[-2:] != size else o for o in outputs]
        return torch.cat([reduce(o) for reduce, o in zip(self.reduce, scaled)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = []
        for block in self.blocks:
            x = block(x)
            outputs.append(x)
        self.attention_logits, attention = self.branch(self.attention_input(outputs))
        gate = attention if attention.shape[-2:] == x.shape[-2:] else F.adaptive_avg_pool2d(attention, x.shape[-2:])
        features = self.perception(x * (1 + gate))
        return self.fc(torch.flatten(self.avgpool(features), 1))


def abn_small_cnn(num_classes: int, multi_scale: bool = False, width: int = 32) -> AttentionBranchNet:
    """The project's SmallCNN as ABN/MSABN: conv pairs 1-2, 3-4 and 5-6 are the blocks, conv 7 the perception."""
    def conv(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    c1, c2, c3 = width, 2 * width, 4 * width
    blocks = nn.ModuleList([nn.Sequential(*conv(3, c1), *conv(c1, c1, 2)), nn.Sequential(*conv(c1, c2), *conv(c2, c2, 2)),
                            nn.Sequential(*conv(c2, c3), *conv(c3, c3))])
    return AttentionBranchNet(blocks, [c1, c2, c3], nn.Sequential(*conv(c3, c3)), c3, num_classes, multi_scale)


def abn_resnet(resnet: nn.Module, num_classes: int, multi_scale: bool = False) -> AttentionBranchNet:
    """A torchvision ResNet as ABN/MSABN: stem + layer1, layer2 and layer3 are the blocks, layer4 the perception
    (its modules keep torchvision's names inside the blocks, so ImageNet weights load by name; see
    :func:`imagenet_state_for`)."""
    stem = nn.Sequential()
    for name in ("conv1", "bn1", "relu", "maxpool", "layer1"):
        stem.add_module(name, getattr(resnet, name))
    blocks = nn.ModuleList([stem, resnet.layer2, resnet.layer3])
    channels = [block[-1].conv2.out_channels if hasattr(block[-1], "conv2") else 0 for block in (resnet.layer1, resnet.layer2, resnet.layer3)]
    if hasattr(resnet.layer1[-1], "conv3"):  # bottleneck blocks
        channels = [block[-1].conv3.out_channels for block in (resnet.layer1, resnet.layer2, resnet.layer3)]
    return AttentionBranchNet(blocks, channels, resnet.layer4, resnet.fc.in_features, num_classes, multi_scale)


def imagenet_state_for(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A torchvision ResNet's state dict renamed to :func:`abn_resnet`'s modules (the head and the branches stay new)."""
    renamed = {}
    for key, value in state_dict.items():
        first, _, rest = key.partition(".")
        if first in ("conv1", "bn1", "layer1"):
            renamed[f"blocks.0.{key}"] = value
        elif first == "layer2":
            renamed[f"blocks.1.{rest}"] = value
        elif first == "layer3":
            renamed[f"blocks.2.{rest}"] = value
        elif first == "layer4":
            renamed[f"perception.{rest}"] = value
    return renamed
