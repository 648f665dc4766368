"""Class activation maps: a base class hooks the layer, each method supplies its weighting of the activations.

``CAM`` (Zhou et al. 2016) weights the last conv block's channels by the linear
head's weights; for a global-average-pool + linear head it equals Grad-CAM at that
layer and is differentiable for free. ``GradCAM`` (Selvaraju et al. 2017) weights
them by the spatially averaged gradient of the class score, ``GradCAMPlusPlus``
(Chattopadhyay et al. 2018) by a positive-gradient average with per-pixel
coefficients, and ``HiResCAM`` (Draelos & Carin 2020) multiplies gradients and
activations element-wise, so its map is faithful to what the score used. In
``differentiable`` mode the gradient is taken with ``create_graph=True`` so a loss
on the map reaches the weights. In inference mode the backbone runs without a
graph and only the head is differentiated, which costs about one forward pass.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class CAMResult:
    """Maps in [0, 1] at ``output_size`` (B, H, W), class logits (B, C), pooled features (B, K)."""

    maps: torch.Tensor
    logits: torch.Tensor
    embeddings: torch.Tensor
    targets: torch.Tensor


def normalize_maps(maps: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Min-max scale each (H, W) map of a (B, H, W) batch to [0, 1]; flat maps become 0."""
    flat = maps.flatten(1)
    low = flat.min(dim=1, keepdim=True).values
    high = flat.max(dim=1, keepdim=True).values
    return ((flat - low) / (high - low).clamp_min(eps)).view_as(maps)


@contextlib.contextmanager
def _frozen(model: nn.Module) -> Iterator[None]:
    """Temporarily stop parameters from recording gradients."""
    thawed = [p for p in model.parameters() if p.requires_grad]
    for p in thawed:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in thawed:
            p.requires_grad_(True)


class BaseCAM:
    """Hooks ``layer`` of ``model``; subclasses implement :meth:`weights`.

    ``embedding_layer``: where the pooled features for ranking come from when not the hooked layer.
    """

    needs_gradients = True
    normalized = True  # maps are min-max scaled per image; a map that is already in [0, 1] keeps its values

    def __init__(self, model: nn.Module, layer: str, embedding_layer: str | None = None):
        self.model = model
        self.layer_name = layer
        self.layer = model.get_submodule(layer)
        self.embedding_layer = model.get_submodule(embedding_layer) if embedding_layer else None

    def weights(self, activations: torch.Tensor, gradients: torch.Tensor | None, targets: torch.Tensor) -> torch.Tensor:
        """Weights of the (B, K, H, W) activations for each image's target class: (B, K) per channel or (B, K, H, W)."""
        raise NotImplementedError

    def __call__(
        self,
        images: torch.Tensor,
        targets: torch.Tensor | None = None,
        differentiable: bool = False,
        output_size: tuple[int, int] | None = None,
    ) -> CAMResult:
        """Attention maps of ``images`` (B, 3, H, W) for ``targets`` (default: the predicted class)."""
        captured: list[torch.Tensor] = []

        def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> torch.Tensor | None:
            if not differentiable and self.needs_gradients:
                output = output.detach().requires_grad_(True)
                captured.append(output)
                return output
            captured.append(output)
            return None

        pooled: list[torch.Tensor] = []
        handles = [self.layer.register_forward_hook(hook)]
        if self.embedding_layer is not None:
            handles.append(self.embedding_layer.register_forward_hook(lambda _m, _i, output: pooled.append(output.mean(dim=(2, 3)))))
        freeze = contextlib.nullcontext() if differentiable else _frozen(self.model)
        grad_mode = torch.enable_grad() if (differentiable or self.needs_gradients) else torch.no_grad()
        try:
            with freeze, grad_mode:
                logits = self.model(images)
                activations = captured[-1]
                if targets is None:
                    targets = logits.argmax(dim=1)
                gradients = None
                if self.needs_gradients:
                    score = logits.gather(1, targets.view(-1, 1)).sum()
                    (gradients,) = torch.autograd.grad(score, activations, create_graph=differentiable)
                weights = self.weights(activations, gradients, targets)
                if weights.dim() == 2:
                    weights = weights[:, :, None, None]
                raw = F.relu((weights * activations).sum(dim=1))
        finally:
            for handle in handles:
                handle.remove()
        size = output_size or tuple(images.shape[-2:])
        maps = F.interpolate(raw.unsqueeze(1), size=size, mode="bilinear", align_corners=False).squeeze(1)
        maps = normalize_maps(maps) if self.normalized else maps
        embeddings = pooled[-1] if pooled else activations.mean(dim=(2, 3))
        if not differentiable:
            maps, logits, embeddings = maps.detach(), logits.detach(), embeddings.detach()
        return CAMResult(maps=maps, logits=logits, embeddings=embeddings, targets=targets)


class GradCAM(BaseCAM):
    """Grad-CAM: channel weight = spatial mean of d(score)/d(activation)."""

    def weights(self, activations, gradients, targets):  # type: ignore[override]
        return gradients.mean(dim=(2, 3))


class GradCAMPlusPlus(BaseCAM):
    """Grad-CAM++: channel weight = sum over pixels of alpha * relu(gradient), alpha from 2nd/3rd gradient powers."""

    def weights(self, activations, gradients, targets):  # type: ignore[override]
        squared, cubed = gradients.pow(2), gradients.pow(3)
        total = activations.sum(dim=(2, 3), keepdim=True)
        denominator = 2 * squared + total * cubed
        alpha = squared / denominator.where(denominator != 0, torch.ones_like(denominator))  # 0 where the gradient is 0
        return (alpha * F.relu(gradients)).sum(dim=(2, 3))


class HiResCAM(BaseCAM):
    """HiResCAM: each activation is weighted by its own gradient (no spatial averaging)."""

    def weights(self, activations, gradients, targets):  # type: ignore[override]
        return gradients


class CAM(BaseCAM):
    """CAM: channel weight = the linear head's weight for the target class (GAP + linear heads only)."""

    needs_gradients = False

    def __init__(self, model: nn.Module, layer: str, head: str):
        super().__init__(model, layer)
        self.head = model.get_submodule(head)
        if not isinstance(self.head, nn.Linear):
            raise ValueError(f"CAM needs a linear head, '{head}' is {type(self.head).__name__}")

    def weights(self, activations, gradients, targets):  # type: ignore[override]
        if self.head.in_features != activations.shape[1]:
            raise ValueError(
                f"CAM needs the layer feeding the head: '{self.layer_name}' has {activations.shape[1]} "
                f"channels, the head expects {self.head.in_features}"
            )
        return self.head.weight[targets]


class AttentionBranchMap(BaseCAM):
    """The attention map A(x) of an attention branch network, read from its output (no backward pass): the map
    the decision is gated with, not an explanation computed afterwards. Kept in its own [0, 1] scale."""

    needs_gradients = False
    normalized = False

    def weights(self, activations, gradients, targets):  # type: ignore[override]
        return torch.ones(activations.shape[:2], dtype=activations.dtype, device=activations.device)


METHODS: dict[str, type[BaseCAM]] = {"gradcam": GradCAM, "gradcam++": GradCAMPlusPlus, "hirescam": HiResCAM}
ATTENTION = "attention"  # the method name of AttentionBranchMap


def make_cam(model: nn.Module, method: str, layer: str, head: str | None) -> BaseCAM:
    """``method`` is ``cam``, ``gradcam``, ``gradcam++``, ``hirescam``, or ``auto`` (CAM when the head is a Linear fed by ``layer``)."""
    if method in METHODS:
        return METHODS[method](model, layer)
    if method == "cam":
        if head is None:
            raise ValueError("CAM needs the model's linear head")
        return CAM(model, layer, head)
    if method != "auto":
        raise ValueError(f"unknown CAM method '{method}'; choose auto, cam or one of {sorted(METHODS)}")
    if head is not None:
        module = model.get_submodule(head)
        probe = next((m for m in reversed(list(model.get_submodule(layer).modules())) if hasattr(m, "out_channels")), None)
        if isinstance(module, nn.Linear) and probe is not None and probe.out_channels == module.in_features:
            return CAM(model, layer, head)
    return GradCAM(model, layer)
