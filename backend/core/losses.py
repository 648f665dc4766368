"""Attention-guidance losses on differentiable attention maps (B, H, W) in [0, 1].

Each guidance term returns one value per image; the trainer combines them as
``w_g * guidance + w_c * classification``. Terms are normalised so that they are
about where the attention mass goes, not how large the map is: an absolute
penalty on CAM values at weight 0.75 flattened the map and dropped accuracy to
chance in our prototype.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable

import torch
import torch.nn.functional as F

EPS = 1e-6


@dataclass
class GuidanceTargets:
    """Per-image targets at map size; ``has_*`` flag which images carry each kind."""

    positive: torch.Tensor  # (B, 2) mean positive click (x, y) in [0, 1]
    has_positive: torch.Tensor  # (B,) bool
    negative: torch.Tensor  # (B, H, W) 1 inside regions to ignore
    box: torch.Tensor  # (B, H, W) 1 inside the object box(es)
    has_box: torch.Tensor  # (B,) bool
    saliency: torch.Tensor  # (B, H, W) human saliency in [0, 1] (from boxes or masks)

    def apply(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> "GuidanceTargets":
        """The same targets with ``fn`` applied to every tensor (indexing a batch, moving to a device)."""
        return GuidanceTargets(**{f.name: fn(getattr(self, f.name)) for f in fields(self)})

    @property
    def has_negative(self) -> torch.Tensor:
        return self.negative.flatten(1).sum(1) > 0

    @property
    def has_saliency(self) -> torch.Tensor:
        return self.saliency.flatten(1).sum(1) > 0


def _mass(maps: torch.Tensor) -> torch.Tensor:
    return maps.flatten(1).sum(1).clamp_min(EPS)


def barycentre(maps: torch.Tensor) -> torch.Tensor:
    """Attention-weighted centre (x, y) of each map, in [0, 1] of width and height."""
    _, h, w = maps.shape
    ys = (torch.arange(h, device=maps.device, dtype=maps.dtype) + 0.5) / h
    xs = (torch.arange(w, device=maps.device, dtype=maps.dtype) + 0.5) / w
    mass = _mass(maps)
    x = (maps.sum(1) * xs).sum(1) / mass
    y = (maps.sum(2) * ys).sum(1) / mass
    return torch.stack([x, y], dim=1)


def positive_term(maps: torch.Tensor, targets: GuidanceTargets) -> torch.Tensor:
    """IUI 2023 eq. 3: distance from the attention barycentre to the mean positive click.

    Measured in fractions of the image size (so at most sqrt(2)), not pixels, which
    keeps it on the scale of the cross-entropy whatever the resolution.
    """
    distance = (barycentre(maps) - targets.positive).norm(dim=1)
    return distance * targets.has_positive.to(maps.dtype)


def negative_term(maps: torch.Tensor, targets: GuidanceTargets) -> torch.Tensor:
    """IUI 2023 eq. 4, normalised: share of the attention mass inside the regions to ignore.

    The paper sums raw values; dividing by the map's total mass makes the term
    redirect attention instead of shrinking the whole map, and bounds it by 1.
    """
    return (maps * targets.negative).flatten(1).sum(1) / _mass(maps)


def click_guidance(maps: torch.Tensor, targets: GuidanceTargets) -> torch.Tensor:
    """IUI 2023 (He et al.) ``loss_g = loss_pos + loss_neg`` per image."""
    return positive_term(maps, targets) + negative_term(maps, targets)


def box_guidance(maps: torch.Tensor, targets: GuidanceTargets) -> torch.Tensor:
    """Share of the attention mass outside the object box (box-level negative term, cf. MSABN's frac_attn_out)."""
    outside = (maps * (1 - targets.box)).flatten(1).sum(1) / _mass(maps)
    return outside * targets.has_box.to(maps.dtype)


def _gaussian_blur(x: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """Separable Gaussian filter of (B, 1, H, W) maps, zero-padded to keep the size."""
    coords = torch.arange(size, device=x.device, dtype=x.dtype) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    x = F.conv2d(x, g.view(1, 1, 1, size), padding=(0, size // 2))
    return F.conv2d(x, g.view(1, 1, size, 1), padding=(size // 2, 0))


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean structural similarity (Wang et al. 2004) of maps in [0, 1], one value per image."""
    x, y = a.unsqueeze(1), b.unsqueeze(1)
    size = min(window, x.shape[-1], x.shape[-2])
    size -= 1 - size % 2  # odd
    stacked = _gaussian_blur(torch.cat([x, y, x * x, y * y, x * y]), size, sigma)
    mu_x, mu_y, xx, yy, xy = stacked.split(x.shape[0])
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return index.flatten(1).mean(1)


def cyborg_guidance(maps: torch.Tensor, targets: GuidanceTargets) -> torch.Tensor:
    """CYBORG saliency term (Boyd et al., SAL paper eq. 1): (1 - SSIM) + L1 between CAM and human saliency.

    SSIM is a similarity, so the loss uses 1 - SSIM; both parts are 0 for a perfect match.
    The trainer weights it ``(1 - alpha)`` against ``alpha`` times the cross-entropy.
    """
    l1 = (maps - targets.saliency).abs().flatten(1).mean(1)
    return ((1 - ssim(maps, targets.saliency)) + l1) * targets.has_saliency.to(maps.dtype)


def mask_guidance(maps: torch.Tensor, targets: GuidanceTargets) -> torch.Tensor:
    """Share of the attention mass outside a full object mask (the simulator's full-mask upper bound)."""
    outside = (maps * (1 - targets.saliency)).flatten(1).sum(1) / _mass(maps)
    return outside * targets.has_saliency.to(maps.dtype)


def edited_attention(maps: torch.Tensor, targets: GuidanceTargets, radius: float = 0.06) -> torch.Tensor:
    """The attention map as the annotator edited it: the current map with the object (box or mask) at 1 and all
    outside it at 0, ignored regions at 0 and a disc of ``radius`` (share of the side) around the focus click at 1."""
    edited = maps.detach().clone()
    has_object = targets.has_saliency.view(-1, 1, 1)
    edited = torch.where(has_object, (targets.saliency > 0.5).to(maps.dtype), edited)
    edited = torch.where(targets.negative > 0.5, torch.zeros_like(edited), edited)
    _, h, w = maps.shape
    ys = (torch.arange(h, device=maps.device, dtype=maps.dtype) + 0.5) / h
    xs = (torch.arange(w, device=maps.device, dtype=maps.dtype) + 0.5) / w
    distance = ((xs.view(1, 1, w) - targets.positive[:, 0].view(-1, 1, 1)) ** 2
                + (ys.view(1, h, 1) - targets.positive[:, 1].view(-1, 1, 1)) ** 2).sqrt()
    near = (distance <= radius) & targets.has_positive.view(-1, 1, 1)
    return torch.where(near, torch.ones_like(edited), edited)


def reconstruction_guidance(maps: torch.Tensor, targets: GuidanceTargets) -> torch.Tensor:
    """Attention-map reconstruction (Mitsuhara et al. 2019): mean squared error between the map and its edited
    version (:func:`edited_attention`); meant for an attention branch's own map A(x), which gates the decision."""
    return (maps - edited_attention(maps, targets)).pow(2).flatten(1).mean(1)


GuidanceFn = Callable[[torch.Tensor, GuidanceTargets], torch.Tensor]
GUIDANCE: dict[str, GuidanceFn] = {
    "click": click_guidance,
    "box": box_guidance,
    "cyborg": cyborg_guidance,
    "mask": mask_guidance,
    "reconstruct": reconstruction_guidance,
}


def copy_replace(
    images: torch.Tensor, boxes: list[tuple[int, int, int, int]], labels: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """MSABN copy-replace (Gupta & Sintorn, sec. 3.3): paste each boxed object onto another boxed image's box.

    ``images`` (B, 3, H, W) all carry one pixel box (x_min, y_min, x_max, y_max). Image i
    receives the object of image perm[i], resized to i's box, and takes its label, so
    the background of i no longer predicts the class. Returns new images and labels.
    """
    count = images.shape[0]
    if count < 2:
        return images.clone(), labels.clone()
    shift = int(torch.randint(1, count, (1,), generator=generator))
    source = (torch.arange(count) + shift) % count  # a derangement: nobody keeps its own object
    out = images.clone()
    for i, j in enumerate(source.tolist()):
        sx0, sy0, sx1, sy1 = boxes[j]
        tx0, ty0, tx1, ty1 = boxes[i]
        patch = images[j : j + 1, :, sy0:sy1, sx0:sx1]
        out[i, :, ty0:ty1, tx0:tx1] = F.interpolate(patch, size=(ty1 - ty0, tx1 - tx0), mode="bilinear", align_corners=False)[0]
    return out, labels[source]
