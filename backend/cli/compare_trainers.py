"""Does ``attention-train-base`` (images streamed from files) learn as well as the in-memory trainer the bias suite
uses? Both train the same architecture with the same recipe, epochs, batch size, learning rate and seed on a
dataset's cue-free split (``train_unbiased``, where only the object tells the class; one is generated when --data
is not given), per seed; prints JSON with the test and shifted accuracy of each and the largest difference.
"""
from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import backend  # noqa: F401
from backend.cli import HelpFormatter
from backend.evaluation.dataset import load_dataset
from backend.evaluation.synthetic import CUE_KINDS, BiasSpec, write_dataset
from backend.models.architectures import ARCHITECTURES, build_model
from backend.training.from_files import train_from_files
from backend.training.from_scratch import accuracy, train_from_scratch


def parser() -> argparse.ArgumentParser:
    """The command's options (shown by --help with their defaults)."""
    found = argparse.ArgumentParser(prog="attention-compare-trainers", description=__doc__, formatter_class=HelpFormatter)
    found.add_argument("--data", help="dataset folder with a train_unbiased split (default: one generated, --kind)")
    found.add_argument("--kind", choices=CUE_KINDS, default="background", help="cue of the generated dataset (default: %(default)s)")
    found.add_argument("--train-images", type=int, default=1000, help="training images generated (default: %(default)s)")
    found.add_argument("--arch", choices=sorted(ARCHITECTURES), default="small_cnn", help="architecture (default: %(default)s)")
    found.add_argument("--image-size", type=int, default=64, help="model input size in px (default: %(default)s)")
    found.add_argument("--epochs", type=int, default=5, help="passes over the split (default: %(default)s)")
    found.add_argument("--seeds", type=int, default=3, help="seeds 0..S-1 (default: %(default)s)")
    return found


def compare(data_dir: Path, arch: str, image_size: int, epochs: int, seeds: int) -> dict:
    """Per seed, both trainers' test and shifted accuracy; and the largest difference between them."""
    data = load_dataset(data_dir)
    split = data.splits["train_unbiased"]
    paths, labels = [s.image for s in split], [s.label for s in split]
    evaluation = {name: (data.images(name), np.asarray(data.labels(name))) for name in ("test", "shifted") if name in data.splits}
    runs = []
    for seed in range(seeds):
        started = time.perf_counter()
        memory = train_from_scratch(data.images("train_unbiased"), np.asarray(labels), len(data.classes), arch,
                                    image_size=image_size, epochs=epochs, seed=seed)
        streamed = build_model(arch, len(data.classes), seed=seed)
        train_from_files(streamed, (paths, labels), None, image_size=image_size, epochs=epochs, seed=seed, workers=0,
                         progress=False)
        runs.append({"seed": seed, "seconds": round(time.perf_counter() - started, 1)} | {
            f"{trainer}_{name}": round(accuracy(model, images, truth, image_size), 4)
            for trainer, model in (("in_memory", memory), ("streamed", streamed)) for name, (images, truth) in evaluation.items()})
    differences = [abs(r[f"streamed_{name}"] - r[f"in_memory_{name}"]) for r in runs for name in evaluation]
    return {"data": str(data_dir), "arch": arch, "epochs": epochs, "runs": runs,
            "largest_difference": round(max(differences), 4),
            "mean_difference": {name: round(float(np.mean([r[f"streamed_{name}"] - r[f"in_memory_{name}"] for r in runs])), 4)
                                for name in evaluation}}


def main() -> None:
    args = parser().parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_flush_denormal(True)
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(args.data) if args.data else write_dataset(
            Path(scratch), BiasSpec(size=args.image_size, train=args.train_images, val=50, test=300, shifted=300, cue=args.kind))
        print(json.dumps(compare(data, args.arch, args.image_size, args.epochs, args.seeds), indent=1))


if __name__ == "__main__":
    main()
