"""Train a classifier from scratch with cross-entropy: the biased base model of the demo and benchmarks."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F

from backend.models.architectures import build_model
from backend.models.inference import to_batch
from backend.training.trainer import branch_cross_entropy

logger = logging.getLogger(__name__)


def train_from_scratch(
    images: list[np.ndarray],
    labels: np.ndarray,
    num_classes: int,
    arch: str = "resnet18",
    image_size: int = 64,
    epochs: int = 2,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> torch.nn.Module:
    """A model of ``arch`` fitted to ``images``/``labels`` with Adam on ``device``; logs loss per epoch."""
    torch.manual_seed(seed)
    model = build_model(arch, num_classes, seed=seed).to(device).train()
    inputs = to_batch(images, image_size)
    targets = torch.as_tensor(labels, dtype=torch.long)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        started, total, seen = time.perf_counter(), 0.0, 0
        for index in torch.randperm(len(targets), generator=generator).split(batch_size):
            batch, truth = inputs[index].to(device), targets[index].to(device)
            loss = F.cross_entropy(model(batch), truth) + branch_cross_entropy(model, truth)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(index)
            seen += len(index)
        logger.info("epoch %d/%d: loss %.4f (%d images, %.1f s)", epoch + 1, epochs, total / seen, seen, time.perf_counter() - started)
    recalibrate_batchnorm(model, inputs, batch_size)
    return model.eval()


def recalibrate_batchnorm(model: torch.nn.Module, inputs: torch.Tensor | Iterable[torch.Tensor], batch_size: int = 32) -> None:
    """Recompute every batch-norm layer's running statistics as plain averages over ``inputs``.

    After a few epochs the exponential running averages still lag behind the weights: a small CNN trained for
    two epochs scored chance in eval mode and 1.00 with recomputed statistics, so short runs would otherwise
    report a model that has learned the task as one that has not.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    batches = inputs.split(batch_size) if isinstance(inputs, torch.Tensor) else inputs  # a tensor, or batches streamed
    device = next(model.parameters()).device
    with torch.no_grad():
        for batch in batches:
            model(batch.to(device))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum


def accuracy(model: torch.nn.Module, images: list[np.ndarray], labels: np.ndarray, image_size: int) -> float:
    """Share of ``images`` whose predicted class is ``labels`` (eval mode, batches of 128)."""
    with torch.no_grad():
        device = next(model.parameters()).device
        predicted = torch.cat([model(to_batch(images[i : i + 128], image_size).to(device)).argmax(1).cpu()
                               for i in range(0, len(images), 128)])
    return float((predicted.numpy() == labels).mean())
