"""Fine-tune a classifier on annotated examples with an attention-guidance loss."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from backend import distributed
from backend.annotations import Example
from backend.cam import make_cam
from backend.classifier import architecture
from backend.inference import to_batch
from backend.losses import GUIDANCE, GuidanceTargets, box_guidance, click_guidance, copy_replace
from backend.settings import Settings
from backend.superpixels import superpixels_for

logger = logging.getLogger(__name__)
LOSSES = ("auto", "ce", "copy_replace", *GUIDANCE)
# Guidance targets and attention maps are compared at most at this resolution: the CAM
# itself has 1/32 of the input's (7x7 at 224 px), and SSIM at 224 px would cost more
# than the network's own forward and backward pass on a CPU.
LOSS_RESOLUTION = 64


@dataclass
class TrainingSet:
    """Annotated images as tensors at model input size, with their guidance targets."""

    inputs: torch.Tensor  # (N, 3, S, S) normalised
    labels: torch.Tensor  # (N,) class index, -1 when unknown
    targets: GuidanceTargets
    pixel_boxes: list[tuple[int, int, int, int] | None]

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, index: torch.Tensor) -> "TrainingSet":
        picked = self.targets.apply(lambda tensor: tensor[index])
        return TrainingSet(self.inputs[index], self.labels[index], picked, [self.pixel_boxes[i] for i in index.tolist()])


def _resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    image = Image.fromarray(mask.astype(np.float32), mode="F").resize((size, size), Image.BILINEAR)
    return np.asarray(image, dtype=np.float32)


def _box_mask(boxes: list[tuple[float, float, float, float]], size: int) -> tuple[np.ndarray, tuple[int, int, int, int] | None]:
    mask = np.zeros((size, size), dtype=np.float32)
    first = None
    for x0, y0, x1, y1 in boxes:
        px = (int(np.floor(x0 / 100 * size)), int(np.floor(y0 / 100 * size)), int(np.ceil(x1 / 100 * size)), int(np.ceil(y1 / 100 * size)))
        px = (px[0], px[1], max(px[2], px[0] + 1), max(px[3], px[1] + 1))
        mask[px[1] : px[3], px[0] : px[2]] = 1.0
        first = first or px
    return mask, first


def prepare(examples: list[Example], images: list[np.ndarray], size: int, settings: Settings,
            saliency: list[np.ndarray | None] | None = None) -> TrainingSet:
    """Tensors and targets for ``examples`` with their RGB ``images``; ``saliency``: optional maps in [0, 1] per example
    (object masks, or SAL's machine saliency) that replace the example's own object regions and box as CYBORG target.

    Inputs are at model size ``size``; targets at ``min(size, LOSS_RESOLUTION)``.
    """
    n = len(examples)
    loss_size = min(size, LOSS_RESOLUTION)
    positive = np.zeros((n, 2), dtype=np.float32)
    has_positive = np.zeros(n, dtype=bool)
    negative = np.zeros((n, loss_size, loss_size), dtype=np.float32)
    box = np.zeros((n, loss_size, loss_size), dtype=np.float32)
    human = np.zeros((n, loss_size, loss_size), dtype=np.float32)
    pixel_boxes: list[tuple[int, int, int, int] | None] = []
    for i, (example, image) in enumerate(zip(examples, images)):
        if example.positive:
            positive[i] = np.mean(np.asarray(example.positive, dtype=np.float32), axis=0) / 100.0
            has_positive[i] = True
        ignore = np.zeros(image.shape[:2], dtype=bool)
        if example.negative:
            superpixels = superpixels_for(image, settings)
            segments = [superpixels.segment_at(x, y) for x, y in example.negative]
            ignore |= superpixels.mask(segments, image.shape[:2])
        for mask in example.ignore_masks:
            if mask.shape == ignore.shape:
                ignore |= mask
        if ignore.any():
            negative[i] = _resize_mask(ignore, loss_size) > 0.5
        box[i], _ = _box_mask(example.boxes, loss_size)
        pixel_boxes.append(_box_mask(example.boxes, size)[1])
        given = saliency[i] if saliency is not None and saliency[i] is not None else example.saliency_mask()
        human[i] = _resize_mask(given.astype(np.float32), loss_size) if given is not None else box[i]
    targets = GuidanceTargets(
        positive=torch.from_numpy(positive), has_positive=torch.from_numpy(has_positive),
        negative=torch.from_numpy(negative), box=torch.from_numpy(box),
        has_box=torch.from_numpy(box.reshape(n, -1).sum(1) > 0), saliency=torch.from_numpy(human),
    )
    labels = torch.tensor([-1 if e.label is None else e.label for e in examples], dtype=torch.long)
    return TrainingSet(to_batch(images, size), labels, targets, pixel_boxes)


@dataclass(frozen=True)
class TrainConfig:
    loss: str = "auto"
    lr: float = 5e-4
    steps: int = 100
    batch_size: int = 32
    unlabeled_batch: int = 32
    guidance_weight: float = 0.75
    class_weight: float = 0.25
    cyborg_alpha: float = 0.5
    seed: int = 0
    cam_method: str = "auto"
    cam_layer: str = ""
    batchnorm: str = "train"  # train: batch statistics (synchronised across GPUs under DDP); frozen: running statistics

    @classmethod
    def from_settings(cls, settings: Settings) -> "TrainConfig":
        return cls(
            loss=settings.train_loss, lr=settings.train_lr, steps=settings.train_steps, batch_size=settings.train_batch_size,
            unlabeled_batch=settings.train_unlabeled_batch, guidance_weight=settings.train_guidance_weight,
            class_weight=settings.train_class_weight, cyborg_alpha=settings.cyborg_alpha, seed=settings.train_seed,
            cam_method=settings.cam_method, cam_layer=settings.cam_layer, batchnorm=settings.train_batchnorm,
        )


def _mean_where(values: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    return (values * where).sum() / where.sum().clamp_min(1)


def _guidance(loss: str, maps: torch.Tensor, targets: GuidanceTargets) -> torch.Tensor:
    if loss == "auto":
        clicked = targets.has_positive | targets.has_negative
        return _mean_where(click_guidance(maps, targets), clicked.float()) + _mean_where(box_guidance(maps, targets), targets.has_box.float())
    flags = {
        "click": targets.has_positive | targets.has_negative,
        "box": targets.has_box,
        "cyborg": targets.has_saliency,
        "mask": targets.has_saliency,
    }[loss]
    return _mean_where(GUIDANCE[loss](maps, targets), flags.float())


def fine_tune(
    model: nn.Module,
    arch: str,
    data: TrainingSet,
    config: TrainConfig,
    extra: tuple[torch.Tensor, torch.Tensor] | None = None,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """Fine-tune ``model`` in place for ``config.steps`` steps; returns the mean losses of the last 10 steps.

    Each step draws ``batch_size`` annotated images (with replacement when there are fewer) and
    ``unlabeled_batch`` images from ``extra`` (inputs, labels) for the classification term only.
    Under ``torchrun`` with N processes every process draws the same batch, keeps every N-th image
    of it and DistributedDataParallel averages the gradients, so N processes take the steps of one.
    """
    if config.loss not in LOSSES:
        raise ValueError(f"unknown loss '{config.loss}'; choose one of {LOSSES}")
    if len(data) == 0:
        raise ValueError("no annotated examples to train on")
    world = distributed.current()
    device = distributed.device_for(world, torch.device(device))
    generator = torch.Generator().manual_seed(config.seed)  # the same draws in every process
    augmenter = torch.Generator().manual_seed(config.seed * 7919 + world.rank)
    torch.manual_seed(config.seed)
    if config.batchnorm not in ("train", "frozen"):
        raise ValueError(f"unknown batchnorm mode '{config.batchnorm}'; choose train or frozen")
    model.to(device).train()
    model.requires_grad_(True)
    batchnorms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if config.batchnorm == "frozen":
        for module in batchnorms:
            module.eval()
    spec = architecture(arch)
    net, prefix = model, ""
    if world.distributed:  # each process takes its share of every batch; DDP averages the gradients
        if device.type == "cuda" and config.batchnorm == "train" and batchnorms:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        net, prefix = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None), "module."
    cam = make_cam(net, config.cam_method, prefix + (config.cam_layer or spec.last_block), prefix + spec.head)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    w_g, w_c = (1 - config.cyborg_alpha, config.cyborg_alpha) if config.loss == "cyborg" else (config.guidance_weight, config.class_weight)
    use_amp = device.type == "cuda"
    guided = config.loss not in ("ce", "copy_replace")
    history: list[dict[str, float]] = []
    started = time.perf_counter()
    for step in range(config.steps):
        if len(data) >= config.batch_size:
            index = torch.randperm(len(data), generator=generator)[: config.batch_size]
        else:
            index = torch.randint(len(data), (config.batch_size,), generator=generator)
        batch = data.subset(distributed.shard(index, world))
        inputs, labels = batch.inputs, batch.labels
        if config.loss == "copy_replace":
            boxed = [i for i, b in enumerate(batch.pixel_boxes) if b is not None and labels[i] >= 0]
            if len(boxed) > 1:
                mixed, new_labels = copy_replace(inputs[boxed], [batch.pixel_boxes[i] for i in boxed], labels[boxed], augmenter)
                inputs, labels = inputs.clone(), labels.clone()
                inputs[boxed], labels[boxed] = mixed, new_labels
        annotated = len(labels)
        if extra is not None and config.unlabeled_batch > 0 and len(extra[1]) > 0:
            pick = distributed.shard(torch.randint(len(extra[1]), (config.unlabeled_batch,), generator=generator), world)
            inputs, labels = torch.cat([inputs, extra[0][pick]]), torch.cat([labels, extra[1][pick]])
        inputs, labels = inputs.to(device), labels.to(device)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
            if guided:  # one forward for the annotated and the extra images (DDP allows one per backward)
                known = labels >= 0
                out = cam(
                    inputs, targets=torch.where(known, labels, torch.zeros_like(labels)), differentiable=True,
                    output_size=tuple(batch.targets.negative.shape[-2:]),
                )
                logits = out.logits
                targets = batch.targets.apply(lambda tensor: tensor.to(device))
                guidance = _guidance(config.loss, out.maps[:annotated].float(), targets)
            else:
                logits = net(inputs)
                guidance = torch.zeros((), device=device)
            ce_logits, ce_labels = logits[labels >= 0], labels[labels >= 0]
            classification = F.cross_entropy(ce_logits.float(), ce_labels) if len(ce_labels) else torch.zeros((), device=device)
            loss = w_g * guidance + w_c * classification if guided else classification
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        history.append({"loss": float(loss.detach()), "guidance": float(guidance.detach()), "classification": float(classification.detach())})
        if (step + 1) % max(1, config.steps // 5) == 0 or step + 1 == config.steps:
            logger.info(
                "step %d/%d: loss %.4f (guidance %.4f, classification %.4f), %.1f s",
                step + 1, config.steps, history[-1]["loss"], history[-1]["guidance"], history[-1]["classification"],
                time.perf_counter() - started,
            )
    model.eval()
    tail = history[-10:]
    return {key: float(np.mean([h[key] for h in tail])) for key in tail[0]} | {"steps": config.steps, "examples": len(data)}
