"""A generated image-classification dataset with a co-occurrence bias and known object masks.

Each image holds one object (an ellipse) whose stripe orientation is the true
class cue, plus a spurious cue (a coloured patch, or a background tint) that
matches the class in a ``bias`` fraction of the training images and is shifted
to the next class in ``shifted.csv``. A model trained on it from scratch takes
the shortcut: near-perfect in-distribution accuracy, near-zero shifted accuracy.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from backend.core.maps import mask_box

CUE_KINDS = ("patch", "background")
PALETTE = np.array(
    [[230, 40, 40], [40, 90, 230], [240, 200, 30], [170, 60, 200], [30, 190, 90], [250, 130, 20], [20, 200, 210], [240, 90, 170]],
    dtype=np.float32,
)
ORIENTATION_NAMES = {2: ("horizontal", "vertical"), 4: ("horizontal", "diagonal_up", "vertical", "diagonal_down")}


@dataclass(frozen=True)
class BiasSpec:
    """What to generate; counts are images per split."""

    size: int = 64
    classes: int = 2
    train: int = 600
    val: int = 100
    test: int = 200
    shifted: int = 200
    bias: float = 1.0
    cue: str = "patch"
    contrast: float = 11.0  # stripe amplitude: the true cue's strength
    seed: int = 0


def class_names(count: int) -> list[str]:
    if count in ORIENTATION_NAMES:
        return list(ORIENTATION_NAMES[count])
    return [f"angle_{round(180 * k / count)}" for k in range(count)]


def draw_sample(rng: np.random.Generator, spec: BiasSpec, label: int, cue_class: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """One RGB image, its object mask and box (x_min, y_min, x_max, y_max), exclusive max."""
    n = spec.size
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    base = rng.uniform(90, 160, size=3).astype(np.float32)
    if spec.cue == "background":
        base = 0.55 * base + 0.45 * PALETTE[cue_class % len(PALETTE)]
    image = base + rng.normal(0, 10, size=(n, n, 3)).astype(np.float32)
    ry, rx = rng.uniform(0.16, 0.28, size=2) * n
    cy, cx = rng.uniform(ry + 1, n - ry - 1), rng.uniform(rx + 1, n - rx - 1)
    mask = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
    angle = math.pi * label / spec.classes + rng.uniform(-0.25, 0.25)
    period = max(4.0, n / 12)
    phase = rng.uniform(0, 2 * math.pi)
    stripes = np.sin(2 * math.pi * (xx * math.sin(angle) + yy * math.cos(angle)) / period + phase)
    tone = rng.uniform(60, 200, size=3).astype(np.float32)
    texture = tone + spec.contrast * stripes[..., None] + rng.normal(0, 12, size=(n, n, 3)).astype(np.float32)
    image[mask] = texture[mask]
    if spec.cue == "patch":
        side = max(3, n // 8)
        for _ in range(50):
            py, px = rng.integers(0, n - side, size=2)
            if not mask[py : py + side, px : px + side].any():
                break
        image[py : py + side, px : px + side] = PALETTE[cue_class % len(PALETTE)]
    return np.clip(image, 0, 255).astype(np.uint8), mask, mask_box(mask)


def _cue_for(rng: np.random.Generator, spec: BiasSpec, label: int, split: str) -> int:
    if split == "shifted":
        return (label + 1) % spec.classes
    if split == "train" and rng.random() < spec.bias:
        return label
    if split == "train":
        return int(rng.integers(spec.classes))
    return label  # val and test follow the training distribution


def write_dataset(out: str | Path, spec: BiasSpec = BiasSpec(), progress: bool = False) -> Path:
    """Write the dataset folder (classes.txt, one CSV per split, images/ and masks/); return it."""
    if spec.cue not in CUE_KINDS:
        raise ValueError(f"unknown cue '{spec.cue}'; choose one of {CUE_KINDS}")
    if spec.classes < 2:
        raise ValueError("need at least two classes")
    out = Path(out)
    names = class_names(spec.classes)
    out.mkdir(parents=True, exist_ok=True)
    (out / "classes.txt").write_text("\n".join(names) + "\n")
    rng = np.random.default_rng(spec.seed)
    for split in ("train", "val", "test", "shifted"):
        count = getattr(spec, split)
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "masks" / split).mkdir(parents=True, exist_ok=True)
        rows = []
        for i in range(count):
            label = i % spec.classes
            image, mask, box = draw_sample(rng, spec, label, _cue_for(rng, spec, label, split))
            image_path = f"images/{split}/{i:05d}.png"
            mask_path = f"masks/{split}/{i:05d}.png"
            Image.fromarray(image).save(out / image_path)
            Image.fromarray(mask.astype(np.uint8) * 255).save(out / mask_path)
            rows.append([image_path, names[label], mask_path, *box])
        with open(out / f"{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["image", "label", "mask", "x_min", "y_min", "x_max", "y_max"])
            writer.writerows(rows)
        if progress:
            print(f"{split}: {count} images", flush=True)
    return out
