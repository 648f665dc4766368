"""The dataset folder layout: ``classes.txt`` and ``train/val/test[/shifted][/train_unbiased].csv``.

CSV columns: ``image,label`` and optionally ``mask`` (binary object mask) and
``x_min,y_min,x_max,y_max`` (object box in pixels). Paths are relative to the folder.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

SPLITS = ("train", "val", "test", "shifted", "train_unbiased")  # train_unbiased: the cue-free split, optional
BOX_COLUMNS = ("x_min", "y_min", "x_max", "y_max")


class DatasetError(ValueError):
    """The dataset folder has problems; the message lists every bad row."""


@dataclass(frozen=True)
class Sample:
    image: Path
    label: int
    mask: Path | None = None
    box: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class Dataset:
    root: Path
    classes: tuple[str, ...]
    splits: dict[str, list[Sample]]

    def images(self, split: str) -> list[np.ndarray]:
        return [np.asarray(Image.open(s.image).convert("RGB")) for s in self.splits[split]]

    def labels(self, split: str) -> np.ndarray:
        return np.array([s.label for s in self.splits[split]], dtype=np.int64)


def _parse_row(root: Path, row: dict[str, str], classes: tuple[str, ...], where: str, problems: list[str]) -> Sample | None:
    image = root / (row.get("image") or "")
    label = row.get("label")
    before = len(problems)
    if not row.get("image") or not image.is_file():
        problems.append(f"{where}: image file not found: '{row.get('image')}'")
    if label not in classes:
        problems.append(f"{where}: unknown label '{label}'")
    mask = root / row["mask"] if row.get("mask") else None
    if mask is not None and not mask.is_file():
        problems.append(f"{where}: mask file not found: '{row['mask']}'")
    box = None
    if all(row.get(c) not in (None, "") for c in BOX_COLUMNS):
        try:
            box = tuple(float(row[c]) for c in BOX_COLUMNS)
        except ValueError:
            problems.append(f"{where}: box values are not numbers")
        else:
            if image.is_file():
                width, height = Image.open(image).size
                x0, y0, x1, y1 = box
                if not (0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height):
                    problems.append(f"{where}: box {box} is outside the {width}x{height} image")
    if len(problems) > before:
        return None
    return Sample(image=image, label=classes.index(label), mask=mask, box=box)  # type: ignore[arg-type]


def load_dataset(root: str | Path, splits: tuple[str, ...] = SPLITS) -> Dataset:
    """Read and validate a dataset folder; raise DatasetError listing every bad row."""
    root = Path(root)
    classes_file = root / "classes.txt"
    if not classes_file.is_file():
        raise DatasetError(f"{root}: classes.txt not found")
    classes = tuple(line.strip() for line in classes_file.read_text().splitlines() if line.strip())
    problems: list[str] = []
    loaded: dict[str, list[Sample]] = {}
    for split in splits:
        path = root / f"{split}.csv"
        if not path.is_file():
            if split in ("train", "test"):
                problems.append(f"{path.name} not found")
            continue
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"image", "label"} <= set(reader.fieldnames):
                problems.append(f"{path.name}: needs the columns image,label")
                continue
            rows = [_parse_row(root, row, classes, f"{path.name} line {n}", problems) for n, row in enumerate(reader, start=2)]
        loaded[split] = [s for s in rows if s is not None]
    if problems:
        raise DatasetError(f"{root}: {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return Dataset(root=root, classes=classes, splits=loaded)
