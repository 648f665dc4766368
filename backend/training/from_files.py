"""Train a base classifier on image files streamed from disk: a team's own dataset of any size (20,000 images at
224 px would be 12 GB as one tensor), optionally from ImageNet weights, with a progress bar and a validation curve."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from backend.models.inference import to_batch
from backend.training.from_scratch import recalibrate_batchnorm
from backend.training.trainer import branch_cross_entropy

logger = logging.getLogger(__name__)
RECALIBRATION_IMAGES = 1024  # batch-norm statistics are recomputed on this many training images after training


class ImageFiles(Dataset):
    """(image tensor at ``size``, label) pairs read from ``paths`` when asked for, in worker processes."""

    def __init__(self, paths: list[Path], labels: list[int], size: int):
        self.paths, self.labels, self.size = paths, labels, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        with Image.open(self.paths[index]) as image:
            image.draft("RGB", (self.size, self.size))  # JPEGs decode at a fraction of their size
            pixels = np.asarray(image.convert("RGB"))
        return to_batch([pixels], self.size)[0], self.labels[index]


@dataclass
class History:
    """Per epoch: mean training loss and validation accuracy (None without a validation split)."""

    loss: list[float] = field(default_factory=list)
    validation_accuracy: list[float | None] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def train_from_files(
    model: torch.nn.Module,
    train: tuple[list[Path], list[int]],
    validation: tuple[list[Path], list[int]] | None,
    image_size: int,
    epochs: int,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    workers: int = 2,
    progress: bool = True,
) -> History:
    """Fit ``model`` (fresh, or with ImageNet weights and a fresh head) with Adam on ``train`` (paths, labels); after
    each epoch, measure accuracy on ``validation``. Memory holds a few batches, whatever the dataset's size."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(ImageFiles(*train, image_size), batch_size=batch_size, shuffle=True, generator=generator,
                        num_workers=workers, persistent_workers=workers > 0)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = History()
    for epoch in range(epochs):
        model.train()
        started, total, seen = time.perf_counter(), 0.0, 0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", unit="batch", disable=not progress)
        for inputs, labels in bar:
            loss = F.cross_entropy(model(inputs), labels) + branch_cross_entropy(model, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(labels)
            seen += len(labels)
            bar.set_postfix(loss=f"{total / seen:.4f}")
        recalibrate_batchnorm(model, _first_images(loader, RECALIBRATION_IMAGES))
        model.eval()
        history.loss.append(total / max(seen, 1))
        history.validation_accuracy.append(files_accuracy(model, *validation, image_size, batch_size, workers)
                                           if validation and validation[0] else None)
        history.seconds.append(round(time.perf_counter() - started, 1))
        logger.info("epoch %d/%d: loss %.4f, validation accuracy %s (%.1f s)", epoch + 1, epochs, history.loss[-1],
                    "-" if history.validation_accuracy[-1] is None else f"{history.validation_accuracy[-1]:.4f}",
                    history.seconds[-1])
    return history


def _first_images(loader: DataLoader, count: int) -> Iterator[torch.Tensor]:
    seen = 0
    for inputs, _ in loader:
        yield inputs
        seen += len(inputs)
        if seen >= count:
            return


def files_accuracy(model: torch.nn.Module, paths: list[Path], labels: list[int], image_size: int, batch_size: int = 64,
                   workers: int = 2) -> float:
    """Share of the images at ``paths`` whose predicted class is their label (eval mode, streamed)."""
    loader = DataLoader(ImageFiles(paths, labels, image_size), batch_size=batch_size, num_workers=workers)
    correct = 0
    model.eval()
    with torch.no_grad():
        for inputs, targets in loader:
            correct += int((model(inputs).argmax(1) == targets).sum())
    return correct / max(len(paths), 1)
